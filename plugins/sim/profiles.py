"""Behaviour profiles of the simulated back-end.

A profile says which changes the sim applies synchronously (answering DONE), how long an
asynchronous change takes (steps x delay), and what share of changes fail. The profiles
mimic the back-ends the Quantum status debate had in mind: a synchronous one, a multi-step
802.1Qbh switch fabric, an OVS-like mix with an agent, and a faulty one.
"""

from __future__ import annotations

from dataclasses import dataclass

from quantum_plugins.common.changes import (
    CREATE,
    DELETE,
    ENSURE,
    NETWORK,
    PLUG,
    PORT,
    UPDATE,
    VALID_CHANGES,
    Change,
    change_label,
)

__all__ = [
    "FAILING_ACTIONS",
    "PROFILE_NAMES",
    "Profile",
    "make_profile",
]

#: Actions a fault can hit. Deletes and unplugs never fail, so everything can be cleaned up.
FAILING_ACTIONS: frozenset[int] = frozenset({CREATE, UPDATE, PLUG, ENSURE})

PROFILE_NAMES: tuple[str, ...] = ("sync", "async", "mixed", "faulty")

_ALL_SYNC: frozenset[Change] = frozenset(c for c in VALID_CHANGES if c[1] != ENSURE)
# OVS-like: the server configures networks and ports itself; an agent on the hypervisor
# applies what touches the datapath of a port (admin state, QoS, plug, unplug).
_MIXED_SYNC: frozenset[Change] = frozenset(
    {(NETWORK, CREATE), (NETWORK, UPDATE), (NETWORK, DELETE), (PORT, CREATE), (PORT, DELETE)}
)


@dataclass(frozen=True)
class Profile:
    """How the sim behaves: what is synchronous, how slow, how faulty."""

    name: str
    #: (kind, action) pairs answered DONE; ENSURE follows UPDATE and is never listed here.
    synchronous: frozenset[Change]
    #: Steps an asynchronous change goes through before its report is pushed.
    steps: int = 1
    #: Seconds per step.
    step_delay: float = 0.05
    #: Share (0..1) of CREATE/UPDATE/PLUG/ENSURE changes that end in ERROR.
    failure_rate: float = 0.0
    #: Seed of the fault draw, for reproducible runs; None draws from the OS.
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError("steps must be at least 1")
        if self.step_delay < 0:
            raise ValueError("step_delay must not be negative")
        if not 0.0 <= self.failure_rate <= 1.0:
            raise ValueError("failure_rate must be between 0 and 1")

    def is_synchronous(self, kind: int, action: int) -> bool:
        """Whether this change is applied before ApplyChange returns."""
        # A resync's ENSURE converges like an update does, so it is as fast as one.
        return (kind, UPDATE if action == ENSURE else action) in self.synchronous

    def may_fail(self, action: int) -> bool:
        """Whether a change with this action is subject to fault injection."""
        return self.failure_rate > 0 and action in FAILING_ACTIONS

    def synchronous_labels(self) -> list[str]:
        """The synchronous changes as DescribeBackend lists them, sorted."""
        return sorted(change_label(k, a) for k, a in VALID_CHANGES if self.is_synchronous(k, a))

    def describe(self) -> str:
        """A one-line human summary of the profile."""
        sync = len([c for c in VALID_CHANGES if self.is_synchronous(*c)])
        text = (
            f"profile {self.name}: {sync} of {len(VALID_CHANGES)} change kinds synchronous, "
            f"asynchronous ones take {self.steps} step(s) of {self.step_delay:g} s"
        )
        if self.failure_rate:
            text += f", {self.failure_rate:.0%} of create/update/plug/ensure fail"
        return text


def make_profile(
    name: str,
    *,
    steps: int | None = None,
    step_delay: float = 0.05,
    failure_rate: float = 0.2,
    seed: int | None = None,
) -> Profile:
    """Build one of the named profiles (see :data:`PROFILE_NAMES`).

    ``steps`` defaults to 3 for ``async`` and ``faulty`` (a multi-step fabric) and to 1
    otherwise (one agent round trip). ``failure_rate`` and ``seed`` only matter to ``faulty``.
    """
    shapes: dict[str, tuple[frozenset[Change], int]] = {
        "sync": (_ALL_SYNC, 1),
        "async": (frozenset(), 3),
        "mixed": (_MIXED_SYNC, 1),
        "faulty": (frozenset(), 3),
    }
    if name not in shapes:
        raise ValueError(f"unknown profile {name!r}; expected one of {', '.join(PROFILE_NAMES)}")
    synchronous, default_steps = shapes[name]
    return Profile(
        name,
        synchronous,
        steps=default_steps if steps is None else steps,
        step_delay=step_delay,
        failure_rate=failure_rate if name == "faulty" else 0.0,
        seed=seed,
    )
