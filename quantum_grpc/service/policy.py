"""Who may call what: the one role table of the client API (docs/security.md, "Roles and
policy").

Every RPC of quantum.v1 is either a read (Get, List, Watch, Wait) or a mutation. A
``reader`` may read in its tenant, a ``member`` may also mutate in its tenant, an ``admin``
may do both in any tenant (the tenant scope itself is the Caller's, see
:meth:`Caller.acting_tenant`); ``service`` is the identity of back-ends and agents, which
call the internal services only, so it may call no RPC of the client API. A method of
quantum.v1 that the table does not name is refused: a new RPC is closed until it is added.
"""

from __future__ import annotations

from enum import StrEnum

from quantum_api.errors import RoleForbidden
from quantum_api.v1 import (
    attachment_service_pb2,
    network_service_pb2,
    port_service_pb2,
    watch_service_pb2,
)
from quantum_grpc.service.caller import Caller

CLIENT_PACKAGE = "quantum.v1"


class Role(StrEnum):
    """The roles a token may carry."""

    READER = "reader"
    MEMBER = "member"
    ADMIN = "admin"
    SERVICE = "service"


class Access(StrEnum):
    """What an RPC does to the resources it names."""

    READ = "read"
    MUTATE = "mutate"


# The roles each kind of access needs. `service` appears in neither row.
ROLES_FOR: dict[Access, frozenset[Role]] = {
    Access.READ: frozenset({Role.READER, Role.MEMBER, Role.ADMIN}),
    Access.MUTATE: frozenset({Role.MEMBER, Role.ADMIN}),
}

_READ_PREFIXES = ("Get", "List", "Watch", "Wait")
_CLIENT_SERVICES = (
    network_service_pb2.DESCRIPTOR.services_by_name["NetworkService"],
    port_service_pb2.DESCRIPTOR.services_by_name["PortService"],
    attachment_service_pb2.DESCRIPTOR.services_by_name["AttachmentService"],
    watch_service_pb2.DESCRIPTOR.services_by_name["WatchService"],
)


def _access_of(rpc: str) -> Access:
    return Access.READ if rpc.startswith(_READ_PREFIXES) else Access.MUTATE


# Full method name ("/quantum.v1.NetworkService/CreateNetwork") -> what it does.
ACCESS: dict[str, Access] = {
    f"/{service.full_name}/{method.name}": _access_of(method.name)
    for service in _CLIENT_SERVICES
    for method in service.methods
}

# Full method name -> the roles that may call it: the policy.
POLICY: dict[str, frozenset[Role]] = {method: ROLES_FOR[a] for method, a in ACCESS.items()}


def governs(method: str) -> bool:
    """Whether ``method`` (a full method name) belongs to the client API this table rules."""
    return method.startswith(f"/{CLIENT_PACKAGE}.")


def is_mutation(method: str) -> bool:
    """Whether ``method`` changes resources (and so is audited)."""
    return ACCESS.get(method) is Access.MUTATE


def authorize(method: str, caller: Caller) -> None:
    """Allow the call, or raise RoleForbidden (PERMISSION_DENIED) naming the roles needed.

    Methods outside the client API (health, reflection, the internal services) are not
    ruled here; an unknown method of the client API is refused.
    """
    if not governs(method):
        return
    allowed = POLICY.get(method, frozenset())
    if caller.roles & allowed:
        return
    rpc = method.rsplit("/", 1)[-1]
    held = ", ".join(sorted(caller.roles)) or "none"
    needed = " or ".join(sorted(allowed)) or "a role no token has (unknown method)"
    raise RoleForbidden(
        f"{rpc} needs the role {needed}; this caller has {held}",
        metadata={"method": method, "roles": ",".join(sorted(allowed))},
    )
