"""Why a job runs again, in words: which part of its fingerprint or settings changed since it last ran.

Snakemake says "Params have changed" and shows hashes. Each rule's ``code`` param is the fingerprint of its script
(:func:`ddei.provenance.fingerprints.fingerprint_parts`); the workflow keeps the parts of every fingerprint it computes
(:func:`remember`), and every job keeps the params it ran with (:func:`log_reasons`, called by the rule scripts'
preamble). When a job runs again, its log begins with what changed: the script or ``_preamble.py``, a ``ddei``
module, a package version, data read by path (the ``*_digest`` params), or the run configuration (``cfg``, key by
key). ``python -m ddei.provenance.reasons <output>`` says, before anything runs, what changed in the code of the rule
that made an output, and the settings it was made with.

Records live in ``.snakemake/ddei/`` of the working directory, beside Snakemake's own. This module imports only the
standard library and :mod:`ddei.provenance.fingerprints`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

from ddei.provenance.fingerprints import changed_parts, fingerprint, fingerprint_parts

#: Where the records live, under the working directory.
RECORDS = Path(".snakemake") / "ddei"


def remember(script: str | os.PathLike, root: str | os.PathLike = ".") -> str:
    """The fingerprint of a rule's script, its parts kept under ``RECORDS/fingerprints/<fingerprint>.json``.

    :param script: the rule's script.
    :param root: the working directory.
    :return: :func:`ddei.provenance.fingerprints.fingerprint` of its parts.
    """
    parts = fingerprint_parts(script)
    value = fingerprint(parts)
    path = Path(root) / RECORDS / "fingerprints" / f"{value}.json"
    if not path.is_file():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(parts, indent=1, sort_keys=True))
            os.replace(tmp, path)
        except OSError:  # a read-only working directory: the reasons will be vaguer, nothing else changes
            pass
    return value


def _parts(value, root: Path) -> dict | None:
    path = root / RECORDS / "fingerprints" / f"{value}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _record_path(output: str, root: Path) -> Path:
    key = hashlib.sha256(os.path.normpath(output).encode()).hexdigest()[:32]
    return root / RECORDS / "jobs" / f"{key}.json"


def _plain(value):
    """A param as JSON (Snakemake params are plain values, lists and dicts; anything else as its repr)."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        return repr(value)


def _flat(d, prefix: str = "") -> dict:
    if not isinstance(d, dict):
        return {prefix: d}
    out = {}
    for key, value in d.items():
        out |= _flat(value, f"{prefix}.{key}" if prefix else str(key))
    return out


def differences(old: dict, new: dict, root: str | os.PathLike = ".") -> list[str]:
    """What changed between two records of a job's params, one line each.

    :param dict old: ``{name: value}`` the job ran with last time.
    :param dict new: ``{name: value}`` it runs with now.
    :param root: the working directory (its fingerprint records).
    """
    root = Path(root)
    lines = []
    for name in sorted(set(old) | set(new)):
        a, b = old.get(name), new.get(name)
        if a == b:
            continue
        if name == "code":
            before, now = _parts(a, root), _parts(b, root)
            lines += (
                [f"code: {line}" for line in changed_parts(before, now)]
                if before and now
                else ["code: its fingerprint changed (no record of its parts)"]
            )
        elif name.endswith("digest"):
            lines.append(f"data read by path ({name}): files replaced, added or removed")
        elif isinstance(a, dict) and isinstance(b, dict):
            fa, fb = _flat(a), _flat(b)
            lines += [
                f"{name}: {key}: {fa.get(key, 'unset')!r} -> {fb.get(key, 'unset')!r}"
                for key in sorted(set(fa) | set(fb))
                if fa.get(key) != fb.get(key)
            ]
        else:
            lines.append(f"{name}: {a!r} -> {b!r}")
    return lines


def log_reasons(snakemake, root: str | os.PathLike = ".") -> list[str]:
    """Print in the job's log why it runs (what changed since its outputs were last made), and keep its params for
    the next time.

    :param snakemake: the job's ``snakemake`` object.
    :return: the lines printed.
    """
    root = Path(root)
    params = {name: _plain(value) for name, value in snakemake.params.items()}
    outputs = [str(o) for o in snakemake.output]
    old = None
    for output in outputs:
        try:
            old = json.loads(_record_path(output, root).read_text())
            break
        except (OSError, ValueError):
            continue
    if old is None:
        lines = ["no record of an earlier run of this job: its first run, or made before records were kept"]
    else:
        lines = differences(old["params"], params, root) or [
            "its settings and code are unchanged: it runs because of its inputs, or because it was forced"
        ]
    print(f"Why rule {snakemake.rule} runs:", *(f"  - {line}" for line in lines), sep="\n", flush=True)
    script = Path(sys.argv[0]).name.split(".", 1)[-1] if sys.argv and sys.argv[0] else ""
    record = {"rule": snakemake.rule, "script": script, "params": params, "outputs": outputs,
              "time": time.strftime("%Y-%m-%d %H:%M:%S")}  # fmt: skip
    for output in outputs:
        path = _record_path(output, root)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(record, indent=1))
            os.replace(tmp, path)
        except OSError:
            pass
    return lines


def explain(
    output: str, root: str | os.PathLike = ".", scripts: str | os.PathLike = "workflow/scripts"
) -> str:
    """What changed in the code of the rule that made ``output`` since it was made, and the settings it was made
    with (``snakemake -n`` names the params that changed; this says what they were).

    :param str output: an output of the workflow, as the rules name it (e.g. ``results/models/ddei/acc4/seed0/model.pt``).
    :param root: the working directory.
    :param scripts: the folder of the rules' scripts.
    """
    root = Path(root)
    try:
        record = json.loads(_record_path(output, root).read_text())
    except (OSError, ValueError):
        return f"{output}: no record of the job that made it (made before records were kept, or by another folder)"
    lines = [f"{output} was made by rule {record['rule']} on {record['time']}."]
    code = record["params"].get("code")
    script = Path(scripts) / record["script"]
    if code is not None and script.is_file():
        before, now = _parts(code, root), fingerprint_parts(script)
        changes = changed_parts(before, now) if before else ["(no record of its code's parts)"]
        lines.append("Its code since then: " + ("; ".join(changes) if changes else "unchanged"))
    lines.append("Its settings then (params):")
    lines += [f"  {name} = {json.dumps(value)}" for name, value in record["params"].items() if name != "code"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="Why an output of the workflow would be made again.")
    parser.add_argument("outputs", nargs="+")
    parser.add_argument("--directory", default=".", help="the working directory (default: here)")
    args = parser.parse_args()
    for output in args.outputs:
        print(explain(output, args.directory, Path(args.directory) / "workflow" / "scripts"))


if __name__ == "__main__":
    main()
