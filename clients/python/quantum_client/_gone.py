"""What ``wait_deleted`` waits for: a resource gone, judged by the same :class:`Waiter`."""

from __future__ import annotations

from dataclasses import dataclass

from quantum_client._watching import WaitSpec
from quantum_client.resources import KindLike, parse_kind
from quantum_client.types import AnyResource


@dataclass(frozen=True)
class GoneSpec(WaitSpec):
    """No status ends this wait: only the resource's DELETED event, or its absence from the
    listing, which the Waiter raises as ResourceDeleted."""

    def wanted_label(self) -> str:
        """What the timeout message says it waited for."""
        return "deleted"

    def reached(self, resource: AnyResource) -> bool:
        """Never: a resource still listed is not gone."""
        return False

    @property
    def fails_on_error(self) -> bool:
        """A resource in ERROR may still be deleted."""
        return False


def gone_spec(kind: KindLike, resource_id: str) -> GoneSpec:
    """The spec for ``resource_id`` of ``kind`` (an attachment: its port's id)."""
    return GoneSpec(parse_kind(kind), resource_id, frozenset())
