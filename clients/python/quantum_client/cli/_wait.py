"""`quantum wait` and the ``--wait`` of the changing verbs, with one spinner on stderr.

A cut stream is answered by a fresh wait (a listing from revision 0, which answers at once
with the resource's current state), so the spinner says "reconnecting" only while it is
true and shows the status again as soon as the server is back.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from rich.text import Text

from quantum_api.errors import WaitTimeout
from quantum_client._render import styled
from quantum_client._sync import Client
from quantum_client._watching import OnRetry, OnUpdate
from quantum_client.cli._errors import UsageError
from quantum_client.cli._find import Finder, short
from quantum_client.cli._format import Output
from quantum_client.cli._parser import DEFAULT_WAIT_STATUS
from quantum_client.cli._watch import Cut, Reconnects, notice, raise_cut
from quantum_client.resources import APPLIED, kind_label, kind_of, link_label, status_label
from quantum_client.types import AnyResource, Attachment, Network, Port

DELETE = "DELETE"
T = TypeVar("T")


class Spinner:
    """The spinner of a wait on stderr (nothing when stderr is not a terminal)."""

    def __init__(self, out: Output, text: str) -> None:
        self._console = out.err
        self._status = out.err.status(text, spinner="dots") if out.err.is_terminal else None

    def __enter__(self) -> Spinner:
        if self._status is not None:
            self._status.start()
        return self

    def __exit__(self, *_: object) -> None:
        if self._status is not None:
            self._status.stop()

    def update(self, text: str) -> None:
        """Show ``text`` next to the spinner, on one line (cut with an ellipsis)."""
        if self._status is not None:
            line = Text(text, no_wrap=True, overflow="ellipsis")
            line.truncate(self._console.width - 2, overflow="ellipsis")  # the spinner's room
            self._status.update(line)

    def note(self, text: str) -> None:
        """Show ``text`` next to the spinner, or as a line on stderr without one."""
        if self._status is not None:
            self.update(text)
        else:
            notice(text)


def describe(resource: AnyResource, applied: bool) -> str:
    """``"ACTIVE, link UP"`` (and the generation applied when that is awaited)."""
    extra = ""
    if isinstance(resource, Port):
        extra = f", link {link_label(resource)}"
        if resource.link_status_reason:
            extra += f" ({resource.link_status_reason})"
    if applied and not isinstance(resource, Attachment):
        extra += f", generation {resource.observed_generation}/{resource.generation} applied"
    return f"{status_label(resource)}{extra}"


@dataclass(frozen=True)
class Goal:
    """One resource to wait for, and what for: statuses, APPLIED, or DELETE."""

    kind: str
    resource_id: str
    wanted: tuple[str, ...]

    @property
    def noun(self) -> str:
        return f"{self.kind} {self.resource_id}"

    @property
    def short_noun(self) -> str:
        """The noun with the id as tables show it, for the spinner's one line."""
        return f"{self.kind} {short(self.resource_id)}"

    @property
    def delete(self) -> bool:
        return self.wanted == (DELETE,)

    @property
    def applied(self) -> bool:
        return APPLIED in self.wanted


def _resilient(
    client: Client,
    goal: Goal,
    deadline: float,
    spinner: Spinner,
    call: Callable[[float, OnUpdate, OnRetry], T],
    prefix: str = "",
) -> T:
    reconnects = Reconnects()

    def on_update(resource: AnyResource) -> None:
        reconnects.attempt = 0
        spinner.update(
            f"{prefix}{goal.short_noun}: {describe(resource, goal.applied)} — waiting for "
            f"{'/'.join(goal.wanted).lower() if goal.delete else '/'.join(goal.wanted)}"
        )

    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WaitTimeout(f"{goal.noun} did not reach {'/'.join(goal.wanted)} in time")
        try:
            return call(remaining, on_update, raise_cut)
        except Cut as cut:
            pause = min(client.retry.backoff(reconnects.attempt + 1), max(0.0, remaining))
            spinner.note(f"{prefix}{goal.short_noun}: {reconnects.note(cut.error, pause)}")
            time.sleep(pause)


def settle(
    client: Client, out: Output, goal: Goal, timeout: float, prefix: str = ""
) -> AnyResource | None:
    """Wait for ``goal`` with the spinner; the resource as it reached it (None: deleted)."""
    deadline = time.monotonic() + timeout
    with Spinner(out, f"{prefix}waiting for {goal.short_noun}…") as spinner:
        if goal.delete:

            def gone(remaining: float, on_update: OnUpdate, on_retry: OnRetry) -> None:
                client.wait_deleted(
                    goal.kind, goal.resource_id, timeout=remaining, on_update=on_update,
                    on_retry=on_retry,
                )  # fmt: skip

            _resilient(client, goal, deadline, spinner, gone, prefix)
            return None

        def reach(remaining: float, on_update: OnUpdate, on_retry: OnRetry) -> AnyResource:
            return client.wait_for(
                goal.kind, goal.resource_id, list(goal.wanted), timeout=remaining,
                on_update=on_update, on_retry=on_retry,
            )  # fmt: skip

        return _resilient(client, goal, deadline, spinner, reach, prefix)


def wanted_of(statuses: list[str] | None, kind: str) -> tuple[str, ...]:
    """The statuses ``--for`` names (comma-separated or repeated), upper-cased."""
    items = [s.strip().upper() for item in statuses or [] for s in item.split(",")]
    items = [s for s in items if s] or [DEFAULT_WAIT_STATUS[kind]]
    if DELETE in items and len(items) > 1:
        raise UsageError("--for delete goes alone")
    return tuple(items)


def _kind_of(resource: AnyResource) -> str:
    return kind_label(kind_of(resource))


def goals(client: Client, args: argparse.Namespace, finder: Finder) -> list[Goal]:
    """What `quantum wait` waits for, its ids resolved (kinds found from the ids)."""
    if not args.ids and not args.network:
        raise UsageError("name at least one ID, or --network NET")
    delete = any(DELETE in (s.upper() for s in item.split(",")) for item in args.statuses or [])
    found: list[Goal] = []
    for ref in args.ids:
        if args.kind is not None:
            lookup = finder.network if args.kind == "network" else finder.port
            resource_id, kind = lookup(ref), args.kind
        else:
            resource: AnyResource | None = finder.exists(ref) if delete else finder.any(ref)
            if resource is None:  # nothing has that id: it is gone already
                found.append(Goal("resource", ref, (DELETE,)))
                continue
            resource_id, kind = resource.id, _kind_of(resource)
        found.append(Goal(kind, resource_id, wanted_of(args.statuses, kind)))
    if args.network:
        network_id = finder.network(args.network)
        for port in client.list_ports(network_id):
            found.append(Goal("port", port.id, wanted_of(args.statuses, "port")))
    return found


def run(client: Client, args: argparse.Namespace, out: Output, finder: Finder) -> int:
    """`quantum wait`: each goal in turn, within one overall timeout."""
    targets = goals(client, args, finder)
    deadline = time.monotonic() + args.timeout
    for number, goal in enumerate(targets, 1):
        if goal.kind == "resource":
            report(out, goal, None)
            continue
        prefix = f"({number}/{len(targets)}) " if len(targets) > 1 else ""
        found = settle(client, out, goal, max(0.001, deadline - time.monotonic()), prefix)
        report(out, goal, found)
    return 0


def report(out: Output, goal: Goal, found: AnyResource | None) -> None:
    """What a wait reached: a line for people, the resource for programs."""
    if found is None:
        if out.machine:
            out.document({"kind": goal.kind, "id": goal.resource_id, "deleted": True})
        else:
            out.console.print(f"{goal.noun} is gone")
        return
    if out.machine:
        out.resource(found)
        return
    done = ""
    if goal.applied and not isinstance(found, Attachment):
        done = f" (generation {found.generation} applied)"
    label = status_label(found)
    out.console.print(Text(f"{goal.noun} is ").append(styled(label)).append(done))


def goal_for(resource: Network | Port, wanted: str) -> Goal:
    """The goal of ``--wait`` after a change to ``resource``."""
    return Goal(_kind_of(resource), resource.id, (wanted,))
