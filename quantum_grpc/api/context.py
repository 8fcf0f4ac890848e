"""The caller of an RPC, from its metadata."""

from __future__ import annotations

from typing import Any, TypeAlias

import grpc

from quantum_api.errors import TenantRequired
from quantum_grpc.service.caller import Caller
from quantum_grpc.service.validation import tenant_field

Context: TypeAlias = grpc.aio.ServicerContext[Any, Any]

TENANT_HEADER = "x-tenant-id"
ADMIN_HEADER = "x-quantum-admin"


def caller_of(context: Context) -> Caller:
    """The tenant (``x-tenant-id``) and admin flag (``x-quantum-admin: true``) of a call."""
    metadata = {key: value for key, value in (context.invocation_metadata() or ())}
    tenant = str(metadata.get(TENANT_HEADER, ""))
    if not tenant:
        raise TenantRequired(f"set the {TENANT_HEADER} metadata to your tenant id")
    return Caller(
        tenant_id=tenant_field(tenant, TENANT_HEADER),
        admin=str(metadata.get(ADMIN_HEADER, "")).lower() == "true",
    )
