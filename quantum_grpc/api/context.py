"""The caller of an RPC, from its metadata."""

from __future__ import annotations

import re
from typing import Any, TypeAlias

import grpc

from quantum_grpc.errors import InvalidArgument, TenantRequired
from quantum_grpc.service.caller import Caller

Context: TypeAlias = grpc.aio.ServicerContext[Any, Any]

TENANT_HEADER = "x-tenant-id"
ADMIN_HEADER = "x-quantum-admin"
_TENANT_RE = re.compile(r"^[A-Za-z0-9._@-]{1,255}$")


def caller_of(context: Context) -> Caller:
    """The tenant (``x-tenant-id``) and admin flag (``x-quantum-admin: true``) of a call."""
    metadata = {key: value for key, value in (context.invocation_metadata() or ())}
    tenant = str(metadata.get(TENANT_HEADER, ""))
    if not tenant:
        raise TenantRequired(f"set the {TENANT_HEADER} metadata to your tenant id")
    if not _TENANT_RE.match(tenant):
        raise InvalidArgument(
            f"{TENANT_HEADER} must be 1 to 255 letters, digits or . _ @ -", field=TENANT_HEADER
        )
    return Caller(tenant_id=tenant, admin=str(metadata.get(ADMIN_HEADER, "")).lower() == "true")
