"""The policy check of every client-API call, made right after its caller is authenticated
(docs/security.md, "Roles and policy")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from quantum_api.errors import RoleForbidden
from quantum_grpc.api import audit
from quantum_grpc.service.caller import Caller
from quantum_grpc.service.policy import authorize, is_mutation


def authorize_call(method: str, caller: Caller) -> None:
    """Allow ``method`` for ``caller`` or raise RoleForbidden; a refused mutation is
    audited (who tried what), a refused read is not."""
    try:
        authorize(method, caller)
    except RoleForbidden as error:
        if is_mutation(method):
            audit.refused(method, caller, error)
        raise


def audit_mutations(method: str, behavior: Callable[..., Any]) -> Callable[..., Any]:
    """The handler's behaviour, audited when ``method`` is a mutation; else as it is."""
    return audit.audited(method, behavior) if is_mutation(method) else behavior
