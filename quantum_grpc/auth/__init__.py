"""Who is calling the client API: bearer tokens (``--auth jwt``) or headers (``--auth none``).

docs/security.md, "Authentication".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeAlias

from quantum_grpc.service.caller import Caller

Metadata: TypeAlias = Sequence[tuple[str, str | bytes]]


class Authenticator(Protocol):
    """Turns a call's metadata into its Caller, or raises the catalogue's UNAUTHENTICATED."""

    def authenticate(self, metadata: Metadata) -> Caller:
        """The caller of a call with this metadata."""
        ...
