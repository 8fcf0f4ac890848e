"""Regenerate the parts of docs/ that are printed from code.

Usage: python scripts/gen_docs.py [--check]

A generated part sits between ``<!-- BEGIN generated:NAME ... -->`` and
``<!-- END generated:NAME -->`` in a document; everything between the markers is replaced
by what ``GENERATORS[NAME]`` renders. With --check nothing is written: the script exits 1
and names the documents that differ (tests/test_docs.py runs the same comparison).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path

from quantum_grpc.service.policy import ACCESS, POLICY, Role
from quantum_grpc.service.status_rules import TRANSITIONS, Cause

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
ARROW = " → "


def render_transitions() -> str:
    """The transition tables of docs/status-model.md, one per resource kind."""
    parts: list[str] = []
    for kind, moves in TRANSITIONS.items():
        rows = [
            f"| {ARROW.join(move)} | {', '.join(c.value for c in Cause if c in causes)} |"
            for move, causes in moves.items()
        ]
        table = ["| from → to | caused by |", "|---|---|", *rows]
        parts.append(f"{kind.capitalize()}:\n\n" + "\n".join(table))
    return "\n\n".join(parts)


def render_policy() -> str:
    """The role table of docs/security.md: one row per client RPC, one column per role."""
    header = "| RPC | access | " + " | ".join(f"`{role}`" for role in Role) + " |"
    rule = "|---|---|" + "---|" * len(Role)
    rows = [
        f"| `{method.strip('/')}` | {ACCESS[method]} | "
        + " | ".join("yes" if role in roles else "no" for role in Role)
        + " |"
        for method, roles in POLICY.items()
    ]
    return "\n".join([header, rule, *rows])


GENERATORS: dict[str, Callable[[], str]] = {
    "transitions": render_transitions,
    "policy": render_policy,
}
SECTION = re.compile(
    r"(?P<begin><!-- BEGIN generated:(?P<name>[\w-]+)[^>]*-->\n)"
    r"(?P<body>.*?)"
    r"(?P<end><!-- END generated:(?P=name) -->)",
    re.S,
)


def render(text: str) -> str:
    """``text`` with every generated part replaced by what its generator renders now."""

    def fill(found: re.Match[str]) -> str:
        name = found["name"]
        if name not in GENERATORS:
            raise SystemExit(f"unknown generated part {name!r}; known: {sorted(GENERATORS)}")
        return f"{found['begin']}\n{GENERATORS[name]()}\n\n{found['end']}"

    return SECTION.sub(fill, text)


def stale_documents(docs: Path = DOCS) -> list[Path]:
    """The documents whose generated parts differ from what the code renders."""
    stale = []
    for path in sorted(docs.glob("*.md")):
        text = path.read_text()
        if render(text) != text:
            stale.append(path)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 on a diff")
    args = parser.parse_args(argv)
    stale = stale_documents()
    if args.check:
        for path in stale:
            print(f"{path.relative_to(ROOT)} differs from the code: run scripts/gen_docs.py")
        return 1 if stale else 0
    for path in stale:
        path.write_text(render(path.read_text()))
        print(f"rewrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
