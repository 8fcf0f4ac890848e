"""Metadata read for identity: each identity header at most once, and ``--auth none``.

A header sent twice is refused rather than resolved: a proxy that appends its own
``x-tenant-id`` (or a client that adds a second ``authorization``) must not get to choose
by order which one wins (docs/security.md, "Authentication").
"""

from __future__ import annotations

from collections import Counter

from quantum_api.errors import DuplicateMetadata, TenantRequired
from quantum_grpc.auth import Metadata
from quantum_grpc.service.caller import Caller
from quantum_grpc.service.validation import tenant_field

TENANT_HEADER = "x-tenant-id"
ADMIN_HEADER = "x-quantum-admin"
AUTHORIZATION_HEADER = "authorization"
IDENTITY_HEADERS = (TENANT_HEADER, ADMIN_HEADER, AUTHORIZATION_HEADER)


def refuse_duplicates(metadata: Metadata) -> None:
    """DuplicateMetadata if any identity header appears more than once."""
    counts = Counter(key.lower() for key, _value in metadata)
    for header in IDENTITY_HEADERS:
        if counts[header] > 1:
            raise DuplicateMetadata(
                f"the {header} metadata appears {counts[header]} times; send it once",
                metadata={"header": header},
            )


def header(metadata: Metadata, name: str) -> str:
    """The value of ``name`` ("" when absent); call refuse_duplicates first."""
    for key, value in metadata:
        if key.lower() == name:
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return ""


class HeaderAuthenticator:
    """``--auth none``: the caller says who it is (``x-tenant-id``, ``x-quantum-admin``).

    Only safe where every listener is loopback (docs/security.md, "Safe defaults").
    """

    def authenticate(self, metadata: Metadata) -> Caller:
        refuse_duplicates(metadata)
        tenant = header(metadata, TENANT_HEADER)
        if not tenant:
            raise TenantRequired(f"set the {TENANT_HEADER} metadata to your tenant id")
        admin = header(metadata, ADMIN_HEADER).lower() == "true"
        tenant_id = tenant_field(tenant, TENANT_HEADER)
        if admin:
            return Caller(tenant_id=tenant_id, admin=True, roles=frozenset({"admin"}))
        return Caller(tenant_id=tenant_id)
