"""What a WaitForStatus waits for: wanted statuses, and perhaps the latest change applied.

"Applied" is Kubernetes' ``observedGeneration == generation``: the back-end confirmed the
resource's newest desired change (docs/status-model.md, "Generations").
"""

from __future__ import annotations

from dataclasses import dataclass

from quantum_api.errors import InvalidArgument
from quantum_api.v1 import watch_service_pb2 as pb
from quantum_grpc.service import validation as v
from quantum_grpc.watch.events import LogEvent

ERROR = "ERROR"
# The kinds whose resources carry generation and observed_generation.
GENERATION_KINDS = frozenset({"NETWORK", "PORT"})


@dataclass(frozen=True)
class WaitGoal:
    """Statuses to reach (empty: any but ERROR) and whether the latest change must be applied."""

    statuses: frozenset[str]
    applied: bool = False

    def reached(self, event: LogEvent) -> bool:
        """Whether the snapshot ``event`` carries ends the wait."""
        in_status = event.status in self.statuses if self.statuses else event.status != ERROR
        return in_status and (not self.applied or applied(event.resource))

    @property
    def fails_on_error(self) -> bool:
        """Whether ERROR fails the wait (it does unless ERROR is wanted)."""
        return ERROR not in self.statuses

    def describe(self) -> str:
        """``"ACTIVE or DOWN"``, ``"applied"`` or ``"ACTIVE, applied"``, for messages."""
        parts = [" or ".join(sorted(self.statuses))] if self.statuses else []
        if self.applied:
            parts.append("applied")
        return ", ".join(parts)


def applied(resource: pb.Resource) -> bool:
    """Whether the back-end confirmed the resource's latest desired change."""
    which = resource.WhichOneof("kind")
    if which not in ("network", "port"):
        return False
    message = resource.network if which == "network" else resource.port
    return message.observed_generation == message.generation


def wait_goal(kind: str, statuses: frozenset[str], condition: int) -> WaitGoal:
    """The goal of a WaitForStatusRequest for ``kind``, validated.

    Raises:
        InvalidArgument: no status and no condition, or APPLIED for a kind without
            generations (attachments: wait for their port instead).
    """
    v.enum_field(condition, pb.WaitCondition.DESCRIPTOR, "condition")
    wants_applied = condition == pb.WAIT_CONDITION_APPLIED
    if wants_applied and kind not in GENERATION_KINDS:
        raise InvalidArgument(
            f"condition WAIT_CONDITION_APPLIED is for networks and ports, not {kind.lower()}s; "
            "wait for the port instead",
            field="condition",
        )
    if not statuses and not wants_applied:
        field = f"{kind.lower()}_statuses"
        raise InvalidArgument(
            f"{field} must name at least one status to wait for, or set condition",
            field=field,
        )
    return WaitGoal(statuses, wants_applied)
