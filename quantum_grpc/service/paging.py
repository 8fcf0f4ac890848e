"""Page tokens: opaque, signed, and bound to the list query that issued them.

A token is the create revision to continue after (8 bytes) and an HMAC-SHA256 tag (16
bytes) over that revision and the query (list kind, tenant, filters), urlsafe base64.
Anything else — garbage, an altered revision, a token of another query, or one signed
with another key — fails the tag and is refused with INVALID_PAGE_TOKEN. A core signs with
the key its database keeps (store/page_key.py), so every replica of one database honours
every token, across restarts too (docs/architecture.md, "Limits of client input").
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from quantum_api.errors import InvalidPageToken
from quantum_grpc.service import validation as v

_AFTER_BYTES = 8
_TAG_BYTES = 16
_TOKEN_CHARS = 32  # base64 of 24 bytes, no padding needed
_REFUSED = "page_token is not a token this server issued for this list request"


@dataclass(frozen=True)
class PageQuery:
    """What a token is bound to: the list (``kind``) and everything that filters it."""

    kind: str
    filters: Mapping[str, object]

    def encoded(self) -> bytes:
        canonical = {"kind": self.kind, **self.filters}
        return json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class PageTokens:
    """Issues and checks page tokens with one key (a random one unless given)."""

    key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

    def _tag(self, after: bytes, query: PageQuery) -> bytes:
        return hmac.new(self.key, after + query.encoded(), hashlib.sha256).digest()[:_TAG_BYTES]

    def issue(self, last_create_revision: int, query: PageQuery) -> str:
        """A token continuing ``query`` after ``last_create_revision``."""
        after = last_create_revision.to_bytes(_AFTER_BYTES, "big", signed=True)
        return base64.urlsafe_b64encode(after + self._tag(after, query)).decode()

    def read(self, page_size: int, page_token: str, query: PageQuery) -> tuple[int, int]:
        """The page size and the create revision to start after, for a list request."""
        size = v.page_size(page_size)
        if not page_token:
            return size, 0
        if len(page_token) != _TOKEN_CHARS:
            raise InvalidPageToken(_REFUSED, field="page_token")
        try:
            raw = base64.urlsafe_b64decode(page_token.encode("ascii"))
        except (UnicodeEncodeError, binascii.Error, ValueError):
            raise InvalidPageToken(_REFUSED, field="page_token") from None
        after, tag = raw[:_AFTER_BYTES], raw[_AFTER_BYTES:]
        if len(tag) != _TAG_BYTES or not hmac.compare_digest(tag, self._tag(after, query)):
            raise InvalidPageToken(_REFUSED, field="page_token")
        return size, int.from_bytes(after, "big", signed=True)
