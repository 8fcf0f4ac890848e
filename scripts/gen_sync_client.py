"""Write the SDK's blocking ``Client`` (_sync.py) from its ``AsyncClient`` (_aio.py).

Usage: python scripts/gen_sync_client.py [--check]

unasync drops ``async``/``await`` and renames the asyncio names token by token; the few
words it cannot reach (docstrings, ``grpc.aio.``) are rewritten below, then ruff sorts the
imports and formats the result. With --check nothing is written: the script exits 1 when
the committed _sync.py differs from what _aio.py produces (``make check-sync``).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import unasync

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "clients" / "python" / "quantum_client"
SOURCE = PACKAGE / "_aio.py"
TARGET = PACKAGE / "_sync.py"
RUFF = Path(sys.executable).parent / "ruff"

# Names unasync renames besides its own (AsyncIterator -> Iterator, __aenter__ ...).
TOKENS = {"AsyncClient": "Client", "asyncio": "time", "aclose": "close"}
# Prose of the async client that says otherwise for the blocking one; each must be found,
# so a reworded docstring fails the generation instead of leaking "await" into _sync.py.
PROSE = (
    ('"""The asyncio client (grpc.aio)."""', '"""The blocking client."""'),
    (
        "An asyncio client of the Quantum API; create it inside the running event loop.",
        "A blocking client of the Quantum API.",
    ),
    (
        "An async generator of events, markers included; ``aclose()`` it (or use\n"
        "            ``contextlib.aclosing``) to end the stream.",
        "A generator of events, markers included; close it to end the stream.",
    ),
)
# What is left of asyncio in the docstrings' examples and annotations.
PATTERNS = (
    (re.compile(r"\bgrpc\.aio\."), "grpc."),
    (re.compile(r"\bAsyncClient\b"), "Client"),
    (re.compile(r"\basync (with|for) "), r"\1 "),
    (re.compile(r"\bawait "), ""),
    # typing.Generator wants its send and return types too (AsyncGenerator has no return).
    (re.compile(r"\bGenerator\[(\w+), None\]"), r"Generator[\1, None, None]"),
)
HEADER = "# Generated from _aio.py by scripts/gen_sync_client.py: edit _aio.py, then run it.\n"


def _unasynced(source: Path) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp, source.name)
        shutil.copyfile(source, copy)
        unasync.unasync_files([str(copy)], [unasync.Rule("_aio.py", "_sync.py", TOKENS)])
        return Path(tmp, "_sync.py").read_text()


def _ruff(text: str, *args: str) -> str:
    done = subprocess.run(
        [str(RUFF), *args, "--stdin-filename", str(TARGET), "-"],
        input=text,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise SystemExit(f"ruff {' '.join(args)} failed on the generated client:\n{done.stderr}")
    return done.stdout


def render(source: Path = SOURCE) -> str:
    """The text _sync.py must have."""
    text = _unasynced(source)
    for old, new in PROSE:
        if old not in text:
            raise SystemExit(f"gen_sync_client: _aio.py no longer says {old!r}; update PROSE")
        text = text.replace(old, new)
    for pattern, replacement in PATTERNS:
        text = pattern.sub(replacement, text)
    text = _ruff(text, "check", "--fix", "--unsafe-fixes", "--select", "I,UP028", "--quiet")
    return HEADER + _ruff(text, "format", "--quiet")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    args = parser.parse_args()
    wanted = render()
    if args.check:
        if TARGET.read_text() != wanted:
            print(
                f"{TARGET.relative_to(ROOT)} is not what {SOURCE.name} produces: "
                "run python scripts/gen_sync_client.py",
                file=sys.stderr,
            )
            return 1
        return 0
    TARGET.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
