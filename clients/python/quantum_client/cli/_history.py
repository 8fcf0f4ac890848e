"""`quantum events ID`: a resource's recent history, read from the event log.

WatchStatus serves it: a listing (start revision 0) gives the newest revision that concerns
the resource, then a stream from the oldest revision the log keeps replays every event
after it, up to that one. A port's history includes its attachment's. The API resumes
*after* a revision, so the log's very first event (revision 1) cannot be replayed.
"""

from __future__ import annotations

from collections import deque

from quantum_api.errors import RevisionCompacted
from quantum_client import _render
from quantum_client._sync import Client
from quantum_client.cli._find import short
from quantum_client.cli._format import Output
from quantum_client.resources import event_label, is_marker, kind_label, kind_of, resource_of
from quantum_client.types import AnyResource, EventType, Port, WatchEvent

HEADERS = ("REVISION", "TIME", "EVENT", "KIND", "ID", "STATUS", "REASON")


def _newest(client: Client, resource_id: str) -> int:
    events = client.watch(resource_ids=[resource_id])
    newest = 0
    try:
        for event in events:
            if event.type == EventType.EVENT_TYPE_SYNCED:
                return newest
            newest = max(newest, event.revision)
    finally:
        events.close()
    return newest


def _replay(client: Client, resource_id: str, upto: int, limit: int) -> list[WatchEvent]:
    start = 1
    while True:
        kept: deque[WatchEvent] = deque(maxlen=limit or None)
        events = client.watch(resource_ids=[resource_id], start_revision=start)
        try:
            for event in events:
                if not is_marker(event):
                    kept.append(event)
                if event.revision >= upto:
                    return list(kept)
        except RevisionCompacted as error:
            start = int(error.metadata.get("oldest_revision", start + 1))
        finally:
            events.close()


def _row(event: WatchEvent, wide: bool) -> list[str]:
    resource = resource_of(event.resource)
    assert resource is not None
    when = resource.update_time.ToDatetime().strftime("%Y-%m-%d %H:%M:%S")
    reason = _render.error_label(resource)
    if isinstance(resource, Port) and not reason:
        reason = resource.link_status_reason
    label = event_label(event)
    status = _render.status_cell(resource).plain
    return [
        str(event.revision), when, label, kind_label(kind_of(resource)),
        resource.id if wide else short(resource.id), status, reason,
    ]  # fmt: skip


def history(client: Client, out: Output, resource: AnyResource, limit: int, wide: bool) -> None:
    """Print the newest ``limit`` events of ``resource`` (0: all the log keeps)."""
    upto = _newest(client, resource.id)
    events = _replay(client, resource.id, upto, limit) if upto > 1 else []
    if out.json:
        for event in events:
            out.line(_render.event_dict(event))
        return
    rows = [_row(event, wide or out.machine) for event in events]
    out.rows(HEADERS, rows, f"events of {kind_label(kind_of(resource))} {resource.id}")
