"""`quantum watch` as a person sees it: in pseudo-terminals of 80x24 and 200x50 against a
real core, through a server restart; and `--stream`, one line per event, for pipes."""

from __future__ import annotations

import asyncio
import re
import signal
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from quantum_client.cli._watch import Row, Screen
from quantum_client.types import Network
from quantum_grpc.config import Settings
from quantum_grpc.server import App, build_server
from tests.clients.terminal import STATES, Terminal, shows, state_line, whole
from tests.clients.test_cli import QUANTUM, TENANT, _env
from tests.conftest import Sim
from tests.helpers import Api
from tests.helpers.processes import free_port


@pytest.fixture
async def terminals() -> AsyncIterator[list[Terminal]]:
    """Terminals a test opens, killed at teardown whatever happened."""
    opened: list[Terminal] = []
    yield opened
    for terminal in opened:
        terminal.kill()


def _fits(screen: list[str], rows: int) -> None:
    header, rule = screen[0], screen[1]
    assert header.split()[:2] == ["KIND", "ID"] and "STATUS" in header and "EVENT" in header
    assert set(rule.strip()) == {"─"}
    state = state_line(screen)
    assert state.startswith(STATES)
    assert screen.index(state) <= rows - 2  # the cursor's line is spare: nothing scrolls


SIZES = [(80, 24), (200, 50)]


async def test_the_table_fits_the_terminal_with_100_resources_newest_first(
    stack_factory: Any, terminals: list[Terminal]
) -> None:
    stack = await stack_factory("sync")
    long_name = "a-network-name-much-longer-than-any-column-of-an-80-column-terminal-allows"
    await asyncio.gather(*(stack.api.create_network(f"n{i}-{long_name}") for i in range(100)))
    watches = [Terminal("watch", address=stack.app.address, cols=c, rows=r) for c, r in SIZES]
    terminals += watches
    for watch, (cols, rows) in zip(watches, SIZES, strict=True):
        screen = await watch.until(shows("live", "100 resources"))
        _fits(screen, rows)
        shown = rows - 4
        assert f"100 resources, {shown} newest shown" in state_line(screen)
        body = screen[2 : 2 + shown]
        revisions = [int(line.split()[-2]) for line in body]
        assert revisions == sorted(revisions, reverse=True)  # newest first
        for line in body:
            kind, short_id, name, *_ = line.split()
            assert kind == "network" and re.fullmatch(r"[0-9a-f]{8}", short_id)
            assert name.endswith("…") and len(line) <= cols  # cut, not wrapped

    newest = await stack.api.create_network("newest")
    for watch, (_, rows) in zip(watches, SIZES, strict=True):
        screen = await watch.until(whole(lambda s: s[2].split()[1:3] == [newest.id[:8], "newest"]))
        _fits(screen, rows)
        assert await watch.interrupt() == 0


async def _core(database_url: str, sim: Sim, listen: str) -> App:
    return await build_server(
        Settings(
            database_url=database_url,
            backends=(sim.target,),
            listen=listen,
            health_retry=0.1,
            backend_retry_max=0.2,
            grace=0,
        )
    )


async def test_watch_and_wait_say_reconnecting_while_the_server_is_down_then_live(
    sim_factory: Any, channel_factory: Any, database_url: str, terminals: list[Terminal]
) -> None:
    # A core of its own, at an address it gets back when it restarts on the same database.
    sim = await sim_factory("sync")
    address = f"127.0.0.1:{free_port()}"
    core = await _core(database_url, sim, address)
    api = Api(channel_factory(address))
    try:
        net = await api.create_network("blue")
        port = await api.create_port(net.id)  # DOWN until plugged
        watch = Terminal("watch", "--max-backoff", "0.3", address=address)
        wait = Terminal("wait", port.id[:8], "--max-backoff", "0.3", address=address)
        terminals += [watch, wait]
        screen = await watch.until(shows("live", "2 resources"))
        assert screen[3].split()[:3] == ["network", net.id[:8], "blue"]
        waiting = f"port {port.id[:8]}: DOWN, link DOWN (no attachment) — waiting for ACTIVE"
        await wait.until(lambda s: waiting in s[0])

        stopped = time.monotonic()
        await core.stop(0)
        screen = await watch.until(shows("reconnecting (attempt"), timeout=2.0)
        assert time.monotonic() - stopped < 2.0
        assert "UNAVAILABLE" in state_line(screen)
        # Refreshed as it changes: the attempts are counted on screen.
        await watch.until(shows("reconnecting (attempt 3,"), timeout=5.0)
        assert screen[3].split()[:3] == ["network", net.id[:8], "blue"]  # the rows stay
        screen = await wait.until(lambda s: f"port {port.id[:8]}: reconnecting (attempt" in s[0])
        assert screen[0].rstrip().endswith("…") and not screen[1].strip()  # cut, not wrapped

        core = await _core(database_url, sim, address)
        screen = await watch.until(shows("live", "resynced: 0 changed while away"))
        _fits(screen, 24)
        await wait.until(lambda s: waiting in s[0])  # the spinner tells the truth again
        await api.plug(port.id, "vif-1")
        screen = await wait.until(lambda s: f"port {port.id} is ACTIVE" in "".join(s))
        assert wait.process.wait(10) == 0
        await api.create_network("green")
        screen = await watch.until(whole(lambda s: "green" in s[2]))
        assert "resynced" not in state_line(screen) and "live" in state_line(screen)
        assert await watch.interrupt() == 0
    finally:
        await core.stop(0)


def test_a_resync_marks_what_changed_while_away() -> None:
    def row(name: str, revision: int) -> Row:
        return Row(Network(id=f"{name:0<8}-id", name=name), "ADDED", revision)

    screen = Screen()
    screen.rows = {("network", r.resource.id): r for r in (row("kept", 1), row("gone", 2))}
    screen.rows.update({("network", row("moved", 3).resource.id): row("moved", 3)})
    listed = {("network", r.resource.id): r for r in (row("kept", 1), row("moved", 7))}
    listed[("network", row("new", 8).resource.id)] = row("new", 8)
    screen.resynced(listed, 9)
    events = {key[1].split("0")[0].split("-")[0]: r.event for key, r in screen.rows.items()}
    assert events == {
        "kept": "ADDED", "gone": "DELETED (away)", "moved": "CHANGED (away)",
        "new": "ADDED (away)",
    }  # fmt: skip
    screen.state = "live"
    assert "resynced: 3 changed while away" in screen.frame(120, 24).renderables[1].plain  # type: ignore[union-attr]


LINE = re.compile(
    r"^\s*(\d+)  (ADDED|MODIFIED|DELETED)\s+(network|port|attachment)\s+([0-9a-f]{8})  "
)


async def test_stream_prints_one_line_per_event(stack_factory: Any) -> None:
    stack = await stack_factory("async", step_delay=0.01)
    net = await stack.api.create_network("n")
    watch = await asyncio.create_subprocess_exec(
        QUANTUM, "watch", "--stream",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=_env(stack.app.address, TENANT),
    )  # fmt: skip
    assert watch.stdout is not None
    try:

        async def line() -> re.Match[str]:
            text = (await asyncio.wait_for(watch.stdout.readline(), 10)).decode()  # type: ignore[union-attr]
            found = LINE.match(text)
            assert found, text
            return found

        first = await line()
        assert (first[2], first[3], first[4]) == ("ADDED", "network", net.id[:8])
        events = stack.api.watch(start_revision=int(first[1]))
        port = await stack.api.create_port(net.id)
        await stack.api.plug(port.id, "vif-1")
        expected: list[tuple[int, str]] = []
        async for event in events:
            if event.type == 4:  # a PROGRESS marker would follow an idle stream only
                continue
            kind = event.resource.WhichOneof("kind")
            expected.append((event.revision, kind or ""))
            if kind == "port" and event.resource.port.status == 3:  # ACTIVE: all settled
                break
        await events.aclose()
        got = [await line() for _ in expected]
        assert [(int(m[1]), m[3]) for m in got] == expected
    finally:
        watch.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(watch.wait(), 10) == 0
    assert b"Traceback" not in await watch.stderr.read()  # type: ignore[union-attr]
