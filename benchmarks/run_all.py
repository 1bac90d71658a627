"""Run every benchmark of benchmarks/ in turn and print its report (speed and memory ratios).

python benchmarks/run_all.py            # or: make bench
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent

if __name__ == "__main__":
    failed = []
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"\n=== {script.name} ===", flush=True)
        if subprocess.run([sys.executable, str(script)]).returncode:
            failed.append(script.name)
    sys.exit(f"failed: {failed}" if failed else 0)
