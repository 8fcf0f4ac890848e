"""Credentials that expire while a watch or a wait is open end that call, on time.

A loop timer (``asyncio.timeout_at``), not a check between events: an idle watch ends the
moment its token expires, with ``UNAUTHENTICATED`` ``TOKEN_EXPIRED`` after the last event
it sent, resumable with a fresh token (docs/security.md, "Watches and waits").
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

from quantum_api.errors import TokenExpired


@contextlib.asynccontextmanager
async def until_expiry(
    expires_at: float | None, revision: Callable[[], int] | None = None
) -> AsyncIterator[None]:
    """Run the block until ``expires_at`` (epoch seconds; None: no end), then raise
    TokenExpired carrying ``revision()`` (the last revision sent) as metadata."""
    if expires_at is None:
        yield
        return
    loop = asyncio.get_running_loop()
    timer = asyncio.timeout_at(loop.time() + (expires_at - time.time()))
    try:
        async with timer:
            yield
    except TimeoutError:
        if not timer.expired():
            raise  # someone else's timeout
        metadata = {} if revision is None else {"revision": str(revision())}
        raise TokenExpired(
            "the token expired while this call was open; call again with a fresh token"
            + (" from the revision in the metadata" if revision is not None else ""),
            metadata=metadata,
        ) from None
