"""Who is calling: the subject, the tenant every request is scoped to, and its roles."""

from __future__ import annotations

from dataclasses import dataclass

from quantum_api.errors import TenantMismatch
from quantum_grpc.service.validation import tenant_field


@dataclass(frozen=True)
class Caller:
    """The caller's tenant and whether it may act for every tenant.

    Attributes:
        tenant_id: the tenant (project) the caller belongs to.
        admin: whether it may act for every tenant (role ``admin``).
        subject: who it is (a token's ``sub``); empty without authentication.
        roles: its roles (``reader``, ``member``, ``admin``, ``service``); without
            authentication every caller is a ``member`` (an ``admin`` with the header).
        expires_at: when its credentials expire (epoch seconds), if they do.
    """

    tenant_id: str
    admin: bool = False
    subject: str = ""
    roles: frozenset[str] = frozenset({"member"})
    expires_at: float | None = None

    def acting_tenant(self, requested: str) -> str:
        """The tenant a request acts for: the caller's own unless an admin names another."""
        if not requested or requested == self.tenant_id:
            return self.tenant_id
        tenant_field(requested, "tenant_id")  # also keeps the message below short
        if self.admin:
            return requested
        raise TenantMismatch(
            f"tenant_id '{requested}' is not the caller's tenant '{self.tenant_id}'",
            field="tenant_id",
        )

    def listing_tenant(self, requested: str) -> str | None:
        """The tenant a list is limited to; None (every tenant) for an admin naming none."""
        if not requested and self.admin:
            return None
        return self.acting_tenant(requested)

    def sees(self, tenant_id: str) -> bool:
        """Whether a resource of ``tenant_id`` is visible to this caller."""
        return self.admin or tenant_id == self.tenant_id
