"""Input checks: each raises InvalidArgument naming the field and what to fix.

Every limit here is checked before the database sees a value, and each is listed in
docs/architecture.md ("Limits of client input"): a value the storage cannot hold must be
the client's error, never a database error (which would read as an outage).
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
import uuid

from google.protobuf.descriptor import EnumDescriptor

from quantum_api.errors import InvalidArgument

MAX_NAME = 255  # names, interface ids and tenant ids: the String(255) columns
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
MAX_REVISION = 2**63 - 1  # revisions are signed 64-bit (BigInteger) columns
MAX_RATE_KBPS = 1_000_000_000  # 1 Tbit/s: above any port a back-end can shape
MAX_BURST_KBYTES = 4 * 1024 * 1024  # 4 GiB: the largest token bucket Linux tc holds (u32)

# Characters that make a name display as something else: bidirectional overrides,
# embeddings, isolates and marks, zero-width characters and the byte-order mark.
_INVISIBLE = frozenset(
    "\u061c\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2066\u2067\u2068\u2069\ufeff"
)
# C0, DEL and C1 controls, and the line and paragraph separators.
_CONTROL_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})
_ECHO = 64
_TENANT_RE = re.compile(r"^[A-Za-z0-9._@-]{1,255}$")


def uuid_field(value: str, field: str) -> str:
    """A required UUID, in canonical lower-case form."""
    if not value:
        raise InvalidArgument(f"{field} is required", field=field)
    try:
        return str(uuid.UUID(value))
    except ValueError:
        # Echo only a prefix: the message travels in a header, which has a size limit.
        shown = repr(value) if len(value) <= _ECHO else f"{value[:_ECHO]!r}..."
        raise InvalidArgument(
            f"{field} must be a UUID such as 6f1c0a9e-5b1d-4c1e-9a55-0d5e2b8c7f10, got {shown}",
            field=field,
        ) from None


def optional_uuid(value: str, field: str) -> str:
    """An optional UUID; empty stays empty."""
    return uuid_field(value, field) if value else ""


def text_field(value: str, field: str) -> str:
    """A required printable string of 1 to 255 characters."""
    if not value or not value.strip():
        raise InvalidArgument(f"{field} must not be empty", field=field)
    if len(value) > MAX_NAME:
        raise InvalidArgument(
            f"{field} is {len(value)} characters long; the limit is {MAX_NAME}", field=field
        )
    if any(unicodedata.category(ch) in _CONTROL_CATEGORIES for ch in value):
        raise InvalidArgument(f"{field} must not contain control characters", field=field)
    hidden = next((ch for ch in value if ch in _INVISIBLE), None)
    if hidden is not None:
        raise InvalidArgument(
            f"{field} must not contain invisible or text-direction characters "
            f"(found U+{ord(hidden):04X})",
            field=field,
        )
    return value


def optional_text(value: str, field: str) -> str:
    """An optional filter on a text field; empty means "any", anything else is a name."""
    return text_field(value, field) if value else ""


def tenant_field(value: str, field: str) -> str:
    """A tenant id: 1 to 255 letters, digits or . _ @ -."""
    if not _TENANT_RE.match(value):
        raise InvalidArgument(
            f"{field} must be 1 to {MAX_NAME} letters, digits or . _ @ -", field=field
        )
    return value


def enum_field(value: int, descriptor: EnumDescriptor, field: str) -> int:
    """An enum value the contract defines (UNSPECIFIED allowed: it means "any")."""
    if value not in descriptor.values_by_number:
        names = ", ".join(v.name for v in descriptor.values if v.number)
        raise InvalidArgument(f"{field} has unknown value {value}; use one of {names}", field=field)
    return value


def bounded(value: int, field: str, low: int, high: int) -> int:
    """An integer within [low, high], inclusive."""
    if not low <= value <= high:
        raise InvalidArgument(f"{field} must be between {low} and {high}, got {value}", field=field)
    return value


def expected_revision(value: int) -> int:
    """A compare-and-swap revision: 0 (none) or positive."""
    return bounded(value, "expected_revision", 0, MAX_REVISION)


def page_size(value: int) -> int:
    """A list's page size; 0 means the default."""
    return bounded(value, "page_size", 0, MAX_PAGE_SIZE) or DEFAULT_PAGE_SIZE


def qos(rate_kbps: int, burst_kbytes: int) -> tuple[int, int]:
    """A QoS policy; a burst without a rate means nothing and is refused."""
    bounded(rate_kbps, "qos.rate_kbps", 0, MAX_RATE_KBPS)
    bounded(burst_kbytes, "qos.burst_kbytes", 0, MAX_BURST_KBYTES)
    if burst_kbytes and not rate_kbps:
        raise InvalidArgument("qos.burst_kbytes needs a qos.rate_kbps", field="qos.burst_kbytes")
    return rate_kbps, burst_kbytes


def request_fingerprint(**payload: object) -> str:
    """A digest of what a create asked for, to tell a retry from a reused request_id."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
