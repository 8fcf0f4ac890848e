"""Input checks: each raises InvalidArgument naming the field and what to fix."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import unicodedata
import uuid

from google.protobuf.descriptor import EnumDescriptor

from quantum_grpc.errors import InvalidArgument

MAX_NAME = 255
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def uuid_field(value: str, field: str) -> str:
    """A required UUID, in canonical lower-case form."""
    if not value:
        raise InvalidArgument(f"{field} is required", field=field)
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise InvalidArgument(
            f"{field} must be a UUID such as 6f1c0a9e-5b1d-4c1e-9a55-0d5e2b8c7f10, got {value!r}",
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
    if any(unicodedata.category(ch) == "Cc" for ch in value):  # C0, DEL and C1 controls
        raise InvalidArgument(f"{field} must not contain control characters", field=field)
    return value


def enum_field(value: int, descriptor: EnumDescriptor, field: str) -> int:
    """An enum value the contract defines (UNSPECIFIED allowed: it means "any")."""
    if value not in descriptor.values_by_number:
        names = ", ".join(v.name for v in descriptor.values if v.number)
        raise InvalidArgument(f"{field} has unknown value {value}; use one of {names}", field=field)
    return value


def expected_revision(value: int) -> int:
    """A compare-and-swap revision: 0 (none) or positive."""
    if value < 0:
        raise InvalidArgument("expected_revision must be 0 or positive", field="expected_revision")
    return value


def qos(rate_kbps: int, burst_kbytes: int) -> tuple[int, int]:
    """A QoS policy; a burst without a rate means nothing and is refused."""
    if burst_kbytes and not rate_kbps:
        raise InvalidArgument("qos.burst_kbytes needs a qos.rate_kbps", field="qos.burst_kbytes")
    return rate_kbps, burst_kbytes


def _fingerprint(filters: dict[str, object]) -> str:
    return hashlib.sha256(json.dumps(filters, sort_keys=True).encode()).hexdigest()[:16]


def page(page_size: int, page_token: str, filters: dict[str, object]) -> tuple[int, int]:
    """Page size and the create revision to start after, from a list request."""
    if page_size < 0 or page_size > MAX_PAGE_SIZE:
        raise InvalidArgument(
            f"page_size must be between 0 and {MAX_PAGE_SIZE}, got {page_size}", field="page_size"
        )
    size = page_size or DEFAULT_PAGE_SIZE
    if not page_token:
        return size, 0
    try:
        decoded = json.loads(base64.urlsafe_b64decode(page_token.encode()))
        after, fingerprint = int(decoded["after"]), str(decoded["filters"])
    except (ValueError, KeyError, TypeError, OverflowError, binascii.Error):
        raise InvalidArgument(
            "page_token is not a token this server returned", field="page_token"
        ) from None
    if fingerprint != _fingerprint(filters):
        raise InvalidArgument(
            "page_token belongs to a list request with other filters", field="page_token"
        )
    return size, after


def next_page_token(last_create_revision: int, filters: dict[str, object]) -> str:
    """An opaque token continuing after ``last_create_revision`` with the same filters."""
    raw = json.dumps({"after": last_create_revision, "filters": _fingerprint(filters)})
    return base64.urlsafe_b64encode(raw.encode()).decode()
