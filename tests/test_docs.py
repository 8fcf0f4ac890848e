"""The docs say what the code does.

The tables printed from code match it, code cites sections of docs/ that exist, the
README's Layout names what is there, and `make help` lists every target the docs name.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from quantum_grpc.service.status_rules import TRANSITIONS, Cause

REPO = Path(__file__).resolve().parent.parent
STATUS_MODEL = REPO / "docs" / "status-model.md"
README = REPO / "README.md"


def _gen_docs() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_docs", REPO / "scripts" / "gen_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_generated_parts_of_the_docs_match_the_code() -> None:
    assert "<!-- BEGIN generated:transitions" in STATUS_MODEL.read_text()
    stale = _gen_docs().stale_documents()
    assert not stale, f"{[p.name for p in stale]} differ from the code: run make docs"


def test_the_status_model_prints_every_transition_of_the_rules() -> None:
    """Each (from, to, causes) of TRANSITIONS is a row of its kind's table, and no other."""
    text = STATUS_MODEL.read_text()
    for kind, moves in TRANSITIONS.items():
        table = re.search(rf"^{kind.capitalize()}:\n\n(\| from → to .*?)\n\n", text, re.S | re.M)
        assert table, f"docs/status-model.md has no transition table for {kind}"
        rows = {
            tuple(cell.strip() for cell in line.strip("|").split("|"))
            for line in table.group(1).splitlines()[2:]
        }
        expected = {
            (f"{before} → {after}", ", ".join(c.value for c in Cause if c in causes))
            for (before, after), causes in moves.items()
        }
        assert rows == expected, kind


def test_the_generator_restores_an_edited_table(tmp_path: Path) -> None:
    gen_docs = _gen_docs()
    (tmp_path / "status-model.md").write_text(
        STATUS_MODEL.read_text().replace("| ERROR → PROVISIONING | change |\n", "")
    )
    assert gen_docs.stale_documents(tmp_path) == [tmp_path / "status-model.md"]
    assert gen_docs.render((tmp_path / "status-model.md").read_text()) == STATUS_MODEL.read_text()


SOURCES = ("quantum_grpc", "plugins", "clients/python", "scripts", "bench", "tests")
# `docs/NAME.md`, optionally followed by `, "Section"` or ` ("Section"`.
CITATION = re.compile(r'docs/([a-z-]+\.md)(?:,? \(?"([^"]+)")?')
# What code cited before the docs existed: a design document outside the repository.
OUTSIDE_DESIGN = re.compile(r"DESIGN(?:\.md)?|§ ?\d|\brules? \d")


def _source_files() -> list[Path]:
    return [
        path
        for folder in SOURCES
        for path in sorted((REPO / folder).rglob("*.py"))
        if not path.name.endswith(("_pb2.py", "_pb2_grpc.py")) and path != Path(__file__)
    ]


def _headings(document: Path) -> list[str]:
    return re.findall(r"^#+ (.+)$", document.read_text(), re.M)


def _citation_error(document: str, section: str) -> str | None:
    target = REPO / "docs" / document
    if not target.exists():
        return f"docs/{document} does not exist"
    section = re.sub(r"\s*\n\s*(?:#\s*)?", " ", section)  # a citation may wrap
    if section and not any(heading.startswith(section) for heading in _headings(target)):
        return f'docs/{document} has no section "{section}"'
    return None


def test_code_cites_sections_of_docs_that_exist() -> None:
    wrong = [
        f"{path.relative_to(REPO)}: {error}"
        for path in _source_files()
        for document, section in CITATION.findall(path.read_text())
        if (error := _citation_error(document, section))
    ]
    assert not wrong, "\n".join(wrong)


def test_code_cites_no_design_document_outside_the_repository() -> None:
    found = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in _source_files()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if OUTSIDE_DESIGN.search(line)
    ]
    assert not found, "cite docs/ instead:\n" + "\n".join(found)


def _layout_paths() -> list[str]:
    """The paths the README's Layout block names (an indented entry is in the one above)."""
    block = re.search(r"^## Layout\n.*?```\n(.*?)```", README.read_text(), re.S | re.M)
    assert block, "README.md has no Layout block"
    paths, parent = [], ""
    for line in block.group(1).splitlines():
        indent = len(line) - len(line.lstrip())
        names = re.match(r"\s*([^\s,]+(?:, [^\s,]+)*)", line)
        if names is None or indent > 2:  # a description's continuation
            continue
        for name in names.group(1).split(", "):
            paths.append(parent + name if indent else name)
        if not indent:
            parent = names.group(1)
    return paths


def test_the_readme_layout_names_paths_that_exist() -> None:
    paths = _layout_paths()
    assert "plugins/sim/" in paths and "clients/python/quantum_client/" in paths, paths
    missing = [path for path in paths if not (REPO / path).exists()]
    assert not missing, f"the README's Layout names paths that do not exist: {missing}"
    packages = {
        f"{init.parent.relative_to(REPO)}/"
        for folder in ("quantum_grpc", "plugins")
        for init in (REPO / folder).glob("*/__init__.py")
    }
    unnamed = sorted(packages - set(paths))
    assert not unnamed, f"the README's Layout does not name these packages: {unnamed}"


def _make_help() -> set[str]:
    done = subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return set(re.findall(r"^\s*make (\S+)", done.stdout, re.M))


def test_make_help_lists_every_target_the_docs_name() -> None:
    named: dict[str, list[str]] = {}
    for path in [README, *sorted((REPO / "docs").glob("*.md"))]:
        for target in re.findall(r"`make ([a-z][a-z-]*)", path.read_text()):
            named.setdefault(target, []).append(path.name)
    assert "test" in named, "the README names no make target"
    missing = {target: where for target, where in named.items() if target not in _make_help()}
    assert not missing, f"`make help` does not list these targets the docs name: {missing}"


def test_gen_docs_check_exits_0_on_the_committed_docs() -> None:
    done = subprocess.run(
        [sys.executable, "scripts/gen_docs.py", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
