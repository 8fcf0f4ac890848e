"""Back-ends and host agents as installable commands, found through entry points.

The core imports no back-end. ``quantum-grpc plugin NAME`` and ``quantum-grpc agent NAME``
look ``NAME`` up in the entry-point groups below and hand it the rest of the command line,
so a third-party back-end installs its own command the same way the shipped ones do
(docs/plugin-guide.md, "Installing a back-end as a command"). An entry point names a
module (or any object) with:

- ``add_arguments(parser: argparse.ArgumentParser) -> None``: its options;
- ``run(args: argparse.Namespace) -> int``: runs it, returns the exit status;
- a docstring, whose first line is its help text.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Protocol, cast

GROUPS = {"plugin": "quantum_grpc.plugins", "agent": "quantum_grpc.agents"}


class Command(Protocol):
    """What an entry point of :data:`GROUPS` provides."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


def installed(kind: str) -> dict[str, EntryPoint]:
    """The commands of ``kind`` ("plugin" or "agent") installed in this environment."""
    return {ep.name: ep for ep in entry_points(group=GROUPS[kind])}


def add_parser(commands: Any, kind: str, help_text: str) -> None:
    """``quantum-grpc KIND NAME [options]``: the options are the command's own, parsed
    only once NAME is known, so nothing is imported for the other commands."""
    names = sorted(installed(kind))
    parser = commands.add_parser(
        kind,
        help=help_text,
        description=f"{help_text}. Installed: {', '.join(names) or 'none'} "
        f"(entry-point group {GROUPS[kind]}). Run `quantum-grpc {kind} NAME --help` "
        "for a command's options.",
    )
    parser.add_argument("name", metavar="NAME", choices=names, help=" | ".join(names))
    parser.add_argument("options", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)


def run(kind: str, name: str, options: Sequence[str]) -> int:
    """Load command ``name`` of ``kind``, parse ``options`` with its parser, run it."""
    command = cast(Command, installed(kind)[name].load())
    doc = (getattr(command, "__doc__", None) or "").strip()
    parser = argparse.ArgumentParser(
        prog=f"quantum-grpc {kind} {name}", description=doc.splitlines()[0] if doc else None
    )
    command.add_arguments(parser)
    return command.run(parser.parse_args(list(options)))
