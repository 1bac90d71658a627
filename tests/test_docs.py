"""The documentation states facts that the code and the results pages hold: every key of the config schema is
described and listed in docs/configuration.md, every link of the README and of docs/ resolves, every number that
the README quotes of a docs/results/ page is on that page, the citation and licence files agree with the project,
and nothing in the project speaks of how or where it was developed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
import config_reference  # noqa: E402

SCHEMA = yaml.safe_load(config_reference.SCHEMA.read_text())
README = REPO / "README.md"
PAGES = sorted([README, *(REPO / "docs").rglob("*.md")])
#: The keywords a node of the config schema may use (a misquoted YAML flow mapping adds others, silently).
KEYWORDS = {"$schema", "$ref", "type", "enum", "const", "description", "default", "properties", "items", "minItems",
            "maxItems", "uniqueItems", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "pattern",
            "oneOf", "additionalProperties", "required", "definitions"}  # fmt: skip


# The configuration reference


def test_every_schema_key_has_a_description():
    assert not config_reference.undescribed(SCHEMA), config_reference.undescribed(SCHEMA)


def test_the_configuration_reference_lists_every_key_as_the_schema_has_it():
    page = config_reference.PAGE.read_text()
    assert config_reference.render(page, SCHEMA) == page, (
        "out of date: run python scripts/config_reference.py"
    )
    for key in config_reference.keys(SCHEMA):
        assert f"| `{key}` |" in page, key


def test_the_reference_walks_every_level_of_the_schema():
    """Keys from a definition (``training`` through ``$ref``), nested objects and required flags, by hand."""
    found = config_reference.keys(SCHEMA)
    for key in ("results", "data.synthetic.patients", "training.epochs", "training.channels_last",
                "resources.train.gpu_share", "reconstruct.seed"):  # fmt: skip
        assert key in found, key
    assert found["training.epochs"]["required"] and not found["training.lr"]["required"]
    assert found["training.lr"]["default"] == 0.001  # the top level's default, on the definition's type
    assert found["training.lr"]["type"] == "number"


def test_the_schema_uses_only_schema_keywords():
    """A description with a comma in an unquoted YAML flow mapping becomes an extra key (and a truncated text)."""

    def walk(node, path: str):
        if isinstance(node, dict):
            for key, value in node.items():
                named = path.endswith((".properties", ".definitions")) or path == ".definitions"
                if not named:
                    assert key in KEYWORDS, f"{path}: {key!r} is no schema keyword (a misquoted description?)"
                yield from walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for item in node:
                yield from walk(item, path)
        yield path

    list(walk(SCHEMA, ""))


# Links


def slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return {slug(m) for m in re.findall(r"^#+ (.+)$", text, flags=re.M)}


def links(page: Path) -> list[str]:
    """The targets of the page's Markdown links and images, outside code blocks and spans."""
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    text = re.sub(r"`[^`\n]*`", "", text)
    return re.findall(r"\]\(([^)\s]+)\)", text)


def test_slug_is_githubs():
    assert slug("Reruns: what a change reruns") == "reruns-what-a-change-reruns"
    assert slug("The reference code's transform") == "the-reference-codes-transform"
    assert slug("A GPU host without a package index") == "a-gpu-host-without-a-package-index"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_link_resolves(page):
    broken = []
    for target in links(page):
        if re.match(r"[a-z]+:", target):
            continue  # a web address
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target}: no heading #{anchor} in {file.relative_to(REPO)}")
    assert not broken, broken


def test_every_results_page_is_linked_from_the_results_index():
    index = REPO / "docs" / "results" / "README.md"
    linked = {(index.parent / t.partition("#")[0]).resolve() for t in links(index)}
    pages = set((REPO / "docs" / "results").glob("*.md")) - {index}
    assert not pages - linked, sorted(p.name for p in pages - linked)


# Results pages


#: The pages that a driver writes whole, and where the driver puts the page's one hand-written notes file.
DRIVEN = {
    "convergence_cpu.md": "end",
    "undersampled.md": "end",
    "gpu_experiment.md": "after the title",
    "baselines.md": "end",
}


@pytest.mark.parametrize("name", sorted(DRIVEN))
def test_a_driven_results_page_holds_its_notes_file_as_its_driver_places_it(name):
    """Hand-written text on a driven page lives in its notes file, so that regenerating the page keeps it (the
    drivers: experiments/converge.py, experiments/undersampled.py, experiments/gpu_results.py and
    experiments/baselines.py)."""
    page = (REPO / "docs" / "results" / name).read_text()
    notes = (REPO / "docs" / "results" / name.replace(".md", "_notes.md")).read_text().strip()
    if DRIVEN[name] == "end":
        assert page.endswith("\n\n" + notes + "\n"), f"{name} does not end with its notes file"
    else:
        assert page.split("\n\n", 1)[1].startswith(notes + "\n\n## "), (
            f"{name}: its notes do not follow the title"
        )


# The README


def numbers(text: str) -> set[str]:
    """The quantities a text states: signed or decimal numbers (``+2.93``, ``0.65``) and durations (``8 min 35 s``),
    with the minus sign and bold marks normalised."""
    text = text.replace("−", "-").replace("**", "")
    found = set(re.findall(r"\b\d+ min \d+ s\b", text))
    return found | set(re.findall(r"(?<![\w.])[+-]?\d+\.\d+(?![\w.])", text))


def test_numbers_finds_what_a_page_states():
    assert numbers("**+2.93 dB** and −0.72, 8 min 35 s, not 2026-12-03 or 32×32 or v0.3.1") == {
        "+2.93", "-0.72", "8 min 35 s"}  # fmt: skip


def test_readme_numbers_are_on_the_results_pages_they_cite():
    """Each paragraph, list item or table row of the README that links one docs/results/ page quotes only numbers
    that the page holds; one that links none or several may quote none."""
    text = README.read_text()
    blocks = [b for b in re.split(r"\n\s*\n|\n(?=[-|] )", text) if numbers(b)]
    missing = []
    for block in blocks:
        cited = set(re.findall(r"\(docs/results/([\w.-]+\.md)\)", block))
        if len(cited) != 1:
            assert not cited, f"a README block quotes numbers and cites several results pages: {block}"
            continue
        page = numbers((REPO / "docs" / "results" / cited.pop()).read_text())
        quoted = {n.lstrip("+") for n in numbers(block)}
        missing += [f"{n} ({block[:60]}...)" for n in quoted if n not in {p.lstrip("+") for p in page}]
    assert not missing, missing


def test_readme_is_read_in_five_minutes_and_starts_with_the_two_commands():
    text = README.read_text()
    assert len(text.splitlines()) <= 150
    quick = text.split("## Quick start")[1].split("\n## ")[0]
    commands = re.findall(r"^(make \w+)", quick.split("```bash")[1].split("```")[0], flags=re.M)
    assert commands == ["make run", "make test"]
    makefile = (REPO / "Makefile").read_text()
    assert all(re.search(rf"^{c.split()[1]}:", makefile, flags=re.M) for c in commands)


# Citation and licence


def test_citation_names_the_paper_and_the_software():
    cff = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "software"
    paper = cff["preferred-citation"]
    assert paper["year"] == 2025 and "diffeo-temporal equivariance" in paper["title"]
    assert [a["family-names"] for a in paper["authors"]] == ["Wang", "Davies"]
    assert "2410.08646" in paper["url"]
    version = re.search(r'^version = "([^"]+)"', (REPO / "pyproject.toml").read_text(), flags=re.M)[1]
    assert str(cff["version"]) == version


def test_licence_is_the_one_citation_names_and_compatible_with_deepinv():
    assert yaml.safe_load((REPO / "CITATION.cff").read_text())["license"] == "BSD-3-Clause"
    text = (REPO / "LICENSE").read_text()
    assert text.startswith("BSD 3-Clause License") and "Neither the name of the copyright holder" in text


# What the project speaks of

#: Words of a development log (issue numbers, the machines and tools it was developed with); written so that this
#: file does not match it itself.
TRACES = re.compile(
    r"issues?[ ][0-9]+|this[ ]session|no[ ]session|(was|were|is)[ ]lent|lent[ ](H1|H2|a[ ]GPU)|KIND[S]\.md"
    r"|run[(]carry|our[ ](slowest|machines)",
    flags=re.I,
)


def test_traces_matches_what_it_should():
    assert TRACES.search("as issue" + " 16 asks") and TRACES.search("on our" + " slowest CPU")
    assert not TRACES.search("the issue's bar") and not TRACES.search("a login session")


def test_nothing_speaks_of_how_the_project_was_developed():
    """Every tracked file: code, tests, configs, envs, profiles, scripts, docs and the changelog."""
    files = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    found = []
    for name in files:
        path = REPO / name
        try:
            lines = path.read_text().splitlines()
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue
        found += [
            f"{name}:{i}: {line.strip()[:100]}" for i, line in enumerate(lines, 1) if TRACES.search(line)
        ]
    assert not found, "\n".join(found)
