"""Every example `quantum --help` shows runs, in order, against a real core with the
simulated back-end's "mixed" profile (what `make run` serves)."""

from __future__ import annotations

import asyncio
import os
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from quantum_client.cli import VERBS
from tests.clients.terminal import Screen, Terminal, shows
from tests.clients.test_cli import QUANTUM, TENANT, _env

# They run until stopped, need a shell of their own, or (retry) a resource the back-end
# failed: tests/clients/test_cli_retry.py runs that one.
APART = ("watch", "completion", "retry")


def script() -> str:
    """The examples of every verb but watch and completion, one after the other."""
    lines = ["set -euo pipefail -x"]
    for verb, (_, examples) in VERBS.items():
        if verb not in APART:
            lines += examples
    return "\n".join(lines) + "\n"


def bash(text: str, address: str) -> subprocess.CompletedProcess[str]:
    """``text`` run by bash with `quantum` first on PATH."""
    env = _env(address, TENANT)
    env["PATH"] = f"{Path(QUANTUM).parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        ["bash", "-c", text], capture_output=True, text=True, env=env, timeout=120
    )


def _watch_check(argv: list[str]) -> Callable[[Screen], bool]:
    if "--stream" in argv:
        return lambda screen: any(" ADDED " in line for line in screen)
    if "json" in argv:
        return lambda screen: any('"type":"SYNCED"' in line for line in screen)
    return shows("live")


async def run_watch_example(example: str, address: str) -> None:
    """A `quantum watch` example in a terminal: it draws what it should, Ctrl-C ends it."""
    argv = shlex.split(example, comments=True)
    assert argv[:2] == ["quantum", "watch"], example
    terminal = Terminal(*argv[1:], address=address)
    try:
        await terminal.until(_watch_check(argv))
        assert await terminal.interrupt() == 0, example
    finally:
        terminal.kill()


async def test_every_help_example_runs(stack_factory: Any) -> None:
    stack = await stack_factory("mixed")
    address = stack.app.address
    done = await asyncio.to_thread(bash, script(), address)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    await asyncio.gather(*(run_watch_example(example, address) for example in VERBS["watch"][1]))
    completion = VERBS["completion"][1]
    done = await asyncio.to_thread(bash, "\n".join([*completion, "complete -p quantum"]), address)
    assert done.returncode == 0 and "quantum" in done.stdout, done.stderr
