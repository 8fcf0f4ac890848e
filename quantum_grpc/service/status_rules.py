"""Pure status rules: the values each status can take, the port derivation and readiness.

No I/O here. The store calls these when it writes; tests call them directly. Every rule in this
module is stated in docs/status-model.md ("Port: derived", "Readiness", "Transitions").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class NetworkStatus(StrEnum):
    """Observed status of a network."""

    PROVISIONING = "PROVISIONING"
    AVAILABLE = "AVAILABLE"
    ERROR = "ERROR"


class PortStatus(StrEnum):
    """Derived status of a port."""

    PROVISIONING = "PROVISIONING"
    DOWN = "DOWN"
    ACTIVE = "ACTIVE"
    ERROR = "ERROR"


class AttachmentStatus(StrEnum):
    """Observed status of an attachment."""

    PROVISIONING = "PROVISIONING"
    AVAILABLE = "AVAILABLE"
    ERROR = "ERROR"


class LinkStatus(StrEnum):
    """Logical link status of a port."""

    UP = "UP"
    DOWN = "DOWN"
    UNKNOWN = "UNKNOWN"


class ObservedState(StrEnum):
    """What a back-end reached for one generation of a resource."""

    PENDING = "PENDING"
    READY = "READY"
    ERROR = "ERROR"
    DELETED = "DELETED"


class Readiness(StrEnum):
    """Server policy for changes to resources not yet ready (docs/status-model.md, "Readiness")."""

    ACCEPT = "accept"
    REJECT = "reject"


# Reasons the core itself gives for a link that is not UP; back-ends add their own.
REASON_NO_ATTACHMENT = "no attachment"
REASON_BACKEND_UNAVAILABLE = "backend unavailable"


@dataclass(frozen=True)
class PortFacts:
    """Everything the port status derivation depends on."""

    create_confirmed: bool
    failed: bool
    admin_state_up: bool
    link_status: LinkStatus
    attachment_status: AttachmentStatus | None


def derive_port_status(facts: PortFacts) -> PortStatus:
    """Derive a port's status; the order of the checks is the contract (port.proto)."""
    if facts.failed:
        return PortStatus.ERROR
    if not facts.create_confirmed:
        return PortStatus.PROVISIONING
    if not facts.admin_state_up or facts.link_status is not LinkStatus.UP:
        return PortStatus.DOWN
    if facts.attachment_status is AttachmentStatus.AVAILABLE:
        return PortStatus.ACTIVE
    return PortStatus.DOWN


def network_is_ready(status: NetworkStatus, deleting: bool) -> bool:
    """A network is ready for dependent changes once the back-end confirmed it."""
    return status is NetworkStatus.AVAILABLE and not deleting


def port_is_ready(create_confirmed: bool, failed: bool, deleting: bool) -> bool:
    """A port is ready for changes once its create is confirmed and it is not failed."""
    return create_confirmed and not failed and not deleting


class Cause(StrEnum):
    """What moves a status: a client's change, a back-end's report, or liveness."""

    CHANGE = "change"
    REPORT = "report"
    LIVENESS = "liveness"


_C, _R, _L = Cause.CHANGE, Cause.REPORT, Cause.LIVENESS
NEW = "NEW"  # the "from" of a resource's first event
GONE = "GONE"  # the "to" of a delete

# (from, to) -> the causes allowed to make that move. Staying put is always allowed, and
# so is any status going to GONE once the back-end confirmed a delete. Everything else is
# impossible: the core rejects such a report, and the conformance suite fails a back-end
# whose watched events contain one. docs/status-model.md prints these tables.
TRANSITIONS: dict[str, dict[tuple[str, str], frozenset[Cause]]] = {
    "NETWORK": {
        (NEW, "PROVISIONING"): frozenset({_C}),
        ("PROVISIONING", "AVAILABLE"): frozenset({_R}),
        ("PROVISIONING", "ERROR"): frozenset({_R}),
        ("AVAILABLE", "PROVISIONING"): frozenset({_C}),
        ("AVAILABLE", "ERROR"): frozenset({_R}),
        ("ERROR", "PROVISIONING"): frozenset({_C}),
    },
    "PORT": {
        (NEW, "PROVISIONING"): frozenset({_C}),
        ("PROVISIONING", "DOWN"): frozenset({_R}),
        ("PROVISIONING", "ACTIVE"): frozenset({_R}),
        ("PROVISIONING", "ERROR"): frozenset({_R}),
        ("DOWN", "ACTIVE"): frozenset({_C, _R}),
        ("ACTIVE", "DOWN"): frozenset({_C, _R, _L}),
        ("DOWN", "ERROR"): frozenset({_R}),
        ("ACTIVE", "ERROR"): frozenset({_R}),
        ("ERROR", "PROVISIONING"): frozenset({_C}),
        ("ERROR", "DOWN"): frozenset({_C}),
        ("ERROR", "ACTIVE"): frozenset({_C}),
    },
    "ATTACHMENT": {
        (NEW, "PROVISIONING"): frozenset({_C}),
        ("PROVISIONING", "AVAILABLE"): frozenset({_R}),
        ("PROVISIONING", "ERROR"): frozenset({_R}),
        ("AVAILABLE", "ERROR"): frozenset({_R}),
        ("ERROR", "PROVISIONING"): frozenset({_C}),
    },
}


def transition_allowed(kind: str, before: str, after: str, cause: Cause | None = None) -> bool:
    """Whether ``kind`` may move from ``before`` to ``after`` (by ``cause``, or by any)."""
    if before == after or after == GONE:
        return True
    causes = TRANSITIONS[kind].get((before, after))
    return causes is not None and (cause is None or cause in causes)
