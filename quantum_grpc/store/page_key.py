"""The key list page tokens are signed with, shared by every core of one database.

docs/operations.md, "Page tokens": one row, made by the first core to start on a database
and read by every core at start-up, so a token issued by one replica (or before a
restart) is honoured by the others.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from quantum_grpc.store.models import PageTokenKey
from quantum_grpc.store.store import Store, now

KEY_BYTES = 32
_ROW = 1


async def page_token_key(store: Store) -> bytes:
    """The database's key, made first if there is none yet.

    Insert-if-absent, then read: of replicas starting together, one insert wins and every
    replica reads the winner's key.
    """
    dialect = postgresql if store.engine.dialect.name == "postgresql" else sqlite
    candidate = {"id": _ROW, "key": secrets.token_bytes(KEY_BYTES), "created_at": now()}
    async with store.write() as tx:
        await tx.connection.execute(
            dialect.insert(PageTokenKey).values(candidate).on_conflict_do_nothing()
        )
        key = await tx.connection.scalar(select(PageTokenKey.key).where(PageTokenKey.id == _ROW))
    if key is None:  # deleted by hand between this insert and this read; a restart mends it
        raise RuntimeError("the page-token key row is missing right after its insert")
    return bytes(key)
