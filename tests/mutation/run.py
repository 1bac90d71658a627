"""Mutation testing of the science and statistics code: apply each mutant of ``mutants.json`` (a literal
replacement in one file) to a copy of this checkout, run the tests it names, and say whether a test failed
(killed) or none did (survived). The checkout itself is never changed.

    python tests/mutation/run.py [--only NAME ...]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: Upkeep of this list, not a test of behaviour: it fails whenever a mutant touches its text, so it kills nothing.
UPKEEP = "tests/test_methods.py::test_every_mutant_still_applies_to_the_code"


def copy_checkout(dest: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True,
                           text=True, check=True).stdout.split()  # fmt: skip
    for name in files:
        if name.startswith("results/") or not (REPO / name).is_file():
            continue
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, dest / name)
    return dest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", help="mutant names (substrings)")
    args = parser.parse_args()
    mutants = json.loads((Path(__file__).parent / "mutants.json").read_text())
    if args.only:
        mutants = [m for m in mutants if any(o in m["name"] for o in args.only)]
    survived, killed, other = [], [], []  # other: not applied, or the tests could not run (no test, an error)
    with tempfile.TemporaryDirectory() as tmp:
        root = copy_checkout(Path(tmp))
        for m in mutants:
            path = root / m["file"]
            source = path.read_text()
            if m["old"] not in source:
                print(f"NOT APPLIED  {m['name']}: its text is no longer in {m['file']}", flush=True)
                other.append(m["name"])
                continue
            path.write_text(source.replace(m["old"], m["new"], 1))
            try:
                cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "--deselect", UPKEEP,
                       *m["tests"]]  # fmt: skip
                result = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
            finally:
                path.write_text(source)
            failed = [
                line.split("::")[-1].split(" ")[0]
                for line in result.stdout.splitlines()
                if line.startswith("FAILED")
            ]
            # pytest: 0 all passed (survived), 1 a test failed (killed); anything else ran no verdict
            verdict = {0: ("survived", survived), 1: ("killed  ", killed)}.get(result.returncode)
            verdict = verdict or (f"NO VERDICT (pytest exit {result.returncode})", other)
            verdict[1].append(m["name"])
            print(f"{verdict[0]}  {m['name']}  {' '.join(failed)}", flush=True)
    tried = len(killed) + len(survived)
    print(f"{len(killed)} of {tried} killed ({100 * len(killed) / max(tried, 1):.0f} %); {len(other)} without a "
          f"verdict (not applied, or no test ran): {other}")  # fmt: skip
    return 1 if survived or other else 0


if __name__ == "__main__":
    sys.exit(main())
