"""Why a job runs again, in words: which part of its fingerprint or settings changed since it last ran.

Snakemake says "Params have changed" and shows hashes. Each rule's ``code`` param is the fingerprint of its script
(:func:`ddei.provenance.fingerprints.fingerprint_parts`); the workflow keeps the parts of every fingerprint it computes
(:func:`remember`), and every job keeps the params it ran with (:func:`log_reasons`, called by the rule scripts'
preamble). When a job runs again, its log begins with what changed: the script or ``_preamble.py``, a ``ddei``
module, a package version, data read by path (the ``*_digest`` params), or the run configuration (``cfg``, key by
key). ``python -m ddei.provenance.reasons <output>`` says, before anything runs, what changed in the code of the rule
that made an output, and the settings it was made with; ``python -m ddei.provenance.reasons --planned [-- ARGS]`` says
it for every job that ``snakemake -n ARGS`` plans (Snakemake itself shows the params' values, and hashes for the
code).

Records live in ``.snakemake/ddei/`` of the working directory, beside Snakemake's own. This module imports only the
standard library and :mod:`ddei.provenance.fingerprints`.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import re
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


_CHANGED = re.compile(r"Params have changed since last execution: .*?before: (.*) now: (.*?)\s*$")


def _values(text: str) -> list | None:
    """The params of Snakemake's "before: ... now: ..." (their reprs joined by commas), or ``None`` if unreadable."""
    text = text.strip()
    if text == "<nothing exclusive>":
        return []
    values, pending = [], ""
    for piece in text.split(","):
        pending = f"{pending},{piece}" if pending else piece
        try:
            values.append(ast.literal_eval(pending.strip()))
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            continue
        pending = ""
    return None if pending.strip() else values


def _key(value) -> str:
    return json.dumps(_plain(value), sort_keys=True)


def _pair(then: dict, before: list, now: list) -> tuple[dict, dict]:
    """The params that changed, by name: ``(old, new)``. A new value goes to the changed param of its type (for
    dicts: with the most keys in common)."""
    gone = {_key(v) for v in before}
    changed = {name: value for name, value in then.items() if _key(value) in gone}
    new = {}
    for value in now:
        kin = [n for n in changed if n not in new and type(_plain(changed[n])) is type(_plain(value))]
        if isinstance(value, dict):
            kin.sort(key=lambda n: -len(set(changed[n]) & set(value)))
        new[kin[0] if kin else f"(a new param #{len(new) + 1})"] = _plain(value)
    return changed, new


def _planned_jobs(text: str) -> list[dict]:
    """``[{"rule", "output", "reason"}]`` of the jobs a dry run lists."""
    jobs, job = [], None
    for line in text.splitlines():
        found = re.match(r"^(?:local)?rule (\w+):$", line.strip())
        if found:
            job = {"rule": found.group(1), "output": "", "reason": ""}
            jobs.append(job)
        elif job is not None and line.strip().startswith(("output:", "reason:")):
            key, _, value = line.strip().partition(": ")
            job[key] = value.split(", ")[0] if key == "output" else value
    return jobs


def planned(snakemake_args: list[str], root: str | os.PathLike = ".") -> str:
    """Why every job a dry run plans would run: for a job whose params changed, what changed (the code's parts, a
    setting with its old and new values, data read by path, as its log would say); for the others, Snakemake's
    reason. One command for all of ``snakemake -n``'s "Params have changed" and their hashes.

    :param list snakemake_args: the arguments of the ``snakemake`` command (its targets, ``--configfile``, ...).
    :param root: the working directory (``--directory``), where the records are.
    :raises RuntimeError: the dry run failed (its last lines).
    """
    import subprocess

    run = subprocess.run([sys.executable, "-m", "snakemake", "-n", *snakemake_args], capture_output=True, text=True,
                         cwd=root)  # fmt: skip
    if run.returncode != 0:
        raise RuntimeError(f"snakemake -n failed:\n{(run.stdout + run.stderr)[-3000:]}")
    lines = []
    for job in _planned_jobs(run.stdout + run.stderr):
        lines.append(f"rule {job['rule']}: {job['output']}")
        found = _CHANGED.search(job["reason"])
        record = None
        try:
            record = json.loads(_record_path(job["output"], Path(root)).read_text())
        except (OSError, ValueError):
            pass
        before, now = (_values(found.group(1)), _values(found.group(2))) if found else (None, None)
        if found and record is not None and before is not None and now is not None:
            old, new = _pair(record["params"], before, now)
            lines += [f"  - {line}" for line in differences(old, new, root)]
        for reason in job["reason"].split("; "):
            if (
                not reason.startswith("Params have changed")
                or record is None
                or before is None
                or now is None
            ):
                lines.append(f"  - {reason}")
    if not lines:
        return "Nothing to be done: every output is up to date"
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(
        description="Why an output of the workflow would be made again; with --planned, why every job that "
        "`snakemake -n` plans would run.",
        epilog="e.g. python -m ddei.provenance.reasons --planned -- --configfile config/paper.yaml",
    )
    parser.add_argument("outputs", nargs="*", help="outputs, as the rules name them")
    parser.add_argument("--directory", default=".", help="the working directory (default: here)")
    parser.add_argument("--planned", action="store_true",
                        help="every job of `snakemake -n ARGS`, ARGS after `--planned --`, with what changed")  # fmt: skip
    ours, snakemake_args = argv, None
    if "--planned" in argv:
        at = argv.index("--planned")
        ours, snakemake_args = argv[: at + 1], argv[at + 1 :]
        snakemake_args = snakemake_args[1:] if snakemake_args[:1] == ["--"] else snakemake_args
    args = parser.parse_args(ours)
    if args.planned:
        print(planned(snakemake_args, args.directory))
        return
    if not args.outputs:
        parser.error("name an output, or use --planned")
    for output in args.outputs:
        print(explain(output, args.directory, Path(args.directory) / "workflow" / "scripts"))


if __name__ == "__main__":
    main()
