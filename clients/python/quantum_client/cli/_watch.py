"""`quantum watch`: a live table that fits the terminal and says how the stream is, or
``--stream``: one line per event.

The table re-lists on every reconnect (a fresh stream from revision 0 answers at once with
the current state and a SYNCED marker, which proves the stream is up) and marks what
changed while it was away; the stream and JSON modes resume exactly after the last
revision instead, so a pipe gets every event once.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from rich import box
from rich.console import Group
from rich.live import Live
from rich.table import Column, Table
from rich.text import Text

from quantum_api.errors import QuantumError, RevisionCompacted
from quantum_client import _render
from quantum_client._settings import RetryPolicy
from quantum_client._sync import Client
from quantum_client.cli._find import short
from quantum_client.cli._format import Output
from quantum_client.resources import (
    event_label,
    is_marker,
    kind_label,
    kind_of,
    resource_of,
    status_label,
)
from quantum_client.types import AnyResource, EventType, Port, WatchEvent

#: Lines the table needs besides its rows: header, its rule, the state line, and the one
#: the cursor rests on (a frame as tall as the screen would scroll it by a line).
CHROME = 4


class Reconnects:
    """Counts reconnects in a row and words them: ``reconnecting (attempt 3, UNAVAILABLE: …)``."""

    def __init__(self) -> None:
        self.attempt = 0

    def note(self, error: QuantumError | None, pause: float) -> str:
        """Count one more reconnect; the words that say so."""
        self.attempt += 1
        why = f"{error.code.name}: {error.message}" if error else "the stream ended"
        return " ".join(
            f"reconnecting (attempt {self.attempt}, {why}); next try in {pause:.2g} s".split()
        )


def notice(message: str) -> None:
    """A state line on stderr, for when stdout carries events."""
    print(f"quantum: {message}", file=sys.stderr, flush=True)


class Cut(Exception):
    """A stream the SDK would resume: the table re-lists instead."""

    def __init__(self, error: QuantumError | None) -> None:
        super().__init__(str(error))
        self.error = error


def raise_cut(error: QuantumError | None, _pause: float) -> None:
    """An ``on_retry`` that ends the SDK's stream instead of letting it resume."""
    raise Cut(error)


@dataclass
class Row:
    """One resource in the table: its last snapshot and the event that brought it."""

    resource: AnyResource
    event: str
    revision: int


@dataclass
class Screen:
    """What the live table shows: the rows, the stream's state and the revision."""

    wide: bool = False
    rows: dict[tuple[str, str], Row] = field(default_factory=dict)
    state: str = "connecting"
    revision: int = 0
    away: str = ""

    @staticmethod
    def key(resource: AnyResource) -> tuple[str, str]:
        return (kind_label(kind_of(resource)), resource.id)

    def apply(self, event: WatchEvent) -> None:
        """A live event: its row is updated and goes to the top."""
        self.revision = max(self.revision, event.revision)
        resource = None if is_marker(event) else resource_of(event.resource)
        if resource is not None:
            self.rows[self.key(resource)] = Row(resource, event_label(event), event.revision)
            self.away = ""

    def resynced(self, listed: dict[tuple[str, str], Row], revision: int) -> None:
        """A fresh listing after a reconnect: keep it, and mark what differs from before."""
        changed = 0
        for key, row in listed.items():
            before = self.rows.get(key)
            if before is None or before.revision != row.revision:
                row.event = "ADDED (away)" if before is None else "CHANGED (away)"
                changed += 1
            else:
                row.event = before.event
        for key, before in self.rows.items():
            if key not in listed and before.event != "DELETED":
                listed[key] = Row(before.resource, "DELETED (away)", revision)
                changed += 1
        self.rows = listed
        self.revision = max(self.revision, revision)
        self.away = f"resynced: {changed} changed while away"

    def frame(self, width: int, height: int) -> Group:
        """The table and the state line, fitted to ``width`` by ``height``."""
        id_width = 36 if self.wide else 8
        table = Table(
            Column("KIND", no_wrap=True, min_width=10),
            Column("ID", no_wrap=True, min_width=id_width, max_width=id_width),
            Column("NAME / INTERFACE", no_wrap=True, overflow="ellipsis", ratio=1, min_width=8),
            Column("STATUS", no_wrap=True, overflow="ellipsis", ratio=2, min_width=12),
            Column("REVISION", no_wrap=True, justify="right"),
            Column("EVENT", no_wrap=True, overflow="ellipsis", max_width=14),
            box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1), width=width,
        )  # fmt: skip
        newest = sorted(self.rows.values(), key=lambda row: row.revision, reverse=True)
        room = max(0, height - CHROME)
        shown = newest[:room]
        for row in shown:
            resource = row.resource
            rid = resource.id if self.wide else short(resource.id)
            table.add_row(
                kind_label(kind_of(resource)), rid, _render.name_of(resource),
                _render.state_text(resource, row.event.split()[0]), str(row.revision), row.event,
            )  # fmt: skip
        # The state first: on a narrow screen the end of the line is what gets cut.
        parts = [self.state]
        if self.away and self.state == "live":
            parts.append(self.away)
        parts.append(f"revision {self.revision}")
        count = f"{len(self.rows)} resource{'' if len(self.rows) == 1 else 's'}"
        if len(shown) < len(self.rows):
            count += f", {len(shown)} newest shown"
        parts += [count, "Ctrl-C to stop"]
        style = "bold green" if self.state == "live" else "bold yellow"
        line = Text(" · ".join(parts), no_wrap=True, overflow="ellipsis", style=style)
        line.truncate(width, overflow="ellipsis")
        return Group(table, line)


def _filters(args: argparse.Namespace, network_id: str) -> dict[str, object]:
    return {"kinds": args.kind, "resource_ids": args.id, "network_id": network_id}


def run(client: Client, args: argparse.Namespace, out: Output, network_id: str) -> int:
    """`quantum watch`: the live table, or one line per event."""
    try:
        if out.mode == "table" and not args.stream:
            return _table(client, args, out, network_id)
        return _lines(client, args, out, network_id)
    except KeyboardInterrupt:
        return 0


def _lines(client: Client, args: argparse.Namespace, out: Output, network_id: str) -> int:
    reconnects = Reconnects()

    def on_retry(error: QuantumError | None, pause: float) -> None:
        notice(reconnects.note(error, pause))

    events = client.watch(
        **_filters(args, network_id),  # type: ignore[arg-type]
        start_revision=args.start_revision,
        relist=True,
        on_retry=on_retry,
    )
    try:
        for event in events:
            if reconnects.attempt:
                notice(f"live again after {reconnects.attempt} reconnects")
                reconnects.attempt = 0
            if out.json:
                out.line(_render.event_dict(event))
            elif not is_marker(event):
                print(stream_line(event, out.wide), flush=True)
    finally:
        events.close()
    return 0


def stream_line(event: WatchEvent, wide: bool) -> str:
    """One event as one line: revision, event, kind, id, name, status (and link, error)."""
    resource = resource_of(event.resource)
    assert resource is not None
    label = event_label(event)
    status = "DELETED" if label == "DELETED" else status_label(resource)
    if isinstance(resource, Port) and label != "DELETED":
        status += f" link {_render.link_label(resource)}"
        if resource.link_status_reason:
            status += f" ({resource.link_status_reason})"
    if resource.error.code:
        status += f" {_render.error_label(resource)}"
    rid = resource.id if wide else short(resource.id)
    kind = kind_label(kind_of(resource))
    name = _render.name_of(resource)
    return f"{event.revision:>8}  {label:<8}  {kind:<10}  {rid}  {name}  {status}"


def _listing(
    client: Client, args: argparse.Namespace, network_id: str, start: int
) -> Iterator[WatchEvent]:
    events = client.watch(
        **_filters(args, network_id),  # type: ignore[arg-type]
        start_revision=start,
        on_retry=raise_cut,
    )
    try:
        yield from events
    finally:
        events.close()


def _table(client: Client, args: argparse.Namespace, out: Output, network_id: str) -> int:
    screen = Screen(wide=out.wide, revision=args.start_revision)
    console = out.console
    policy: RetryPolicy = client.retry
    reconnects = Reconnects()

    def frame() -> Group:
        return screen.frame(console.size.width, console.size.height)

    with Live(
        frame(), console=console, auto_refresh=False, redirect_stdout=False,
        redirect_stderr=False, vertical_overflow="crop", get_renderable=frame,
    ) as live:  # fmt: skip
        start = args.start_revision
        synced = bool(start)  # resuming: the rows so far are the ones to compare with
        while True:
            listed: dict[tuple[str, str], Row] | None = {} if start == 0 else None
            if not reconnects.attempt:  # while reconnecting, that stays the truth until data
                screen.state = "syncing" if start == 0 else f"resuming after revision {start}"
            try:
                for event in _listing(client, args, network_id, start):
                    if listed is not None and event.type == EventType.EVENT_TYPE_SYNCED:
                        if synced:  # a table was shown before: say what changed meanwhile
                            screen.resynced(listed, event.revision)
                        else:
                            screen.rows, screen.revision = listed, event.revision
                        listed, synced = None, True
                    elif listed is not None:
                        resource = resource_of(event.resource)
                        if resource is not None:
                            listed[Screen.key(resource)] = Row(
                                resource, event_label(event), event.revision
                            )
                        continue
                    else:
                        screen.apply(event)
                    reconnects.attempt = 0
                    screen.state = "live"
                    live.refresh()
            except (Cut, RevisionCompacted) as cut:
                error = cut.error if isinstance(cut, Cut) else cut
                if args.max_retries is not None and reconnects.attempt >= args.max_retries:
                    ended = QuantumError("the watch stream keeps ending; giving up")
                    raise error or ended from None
                pause = policy.backoff(reconnects.attempt + 1)
                screen.state = reconnects.note(error, pause)
                live.refresh()
                time.sleep(pause)
                start = 0
