"""Alembic environment: runs the packaged migrations against the configured URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool, text

from quantum_grpc.store.models import Base

# Replicas starting together all migrate: on PostgreSQL they take turns on this advisory
# lock (per schema), held until the migration's transaction ends; the next one then finds
# the schema current. Its first key differs from the leader's (quantum_grpc/leader.py).
MIGRATION_LOCK = 0x7175616F

config = context.config
connectable = engine_from_config(
    config.get_section(config.config_ini_section, {}),
    prefix="sqlalchemy.",
    poolclass=pool.NullPool,
)
with connectable.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key, hashtext(current_schema()))"),
                {"key": MIGRATION_LOCK},
            )
        context.run_migrations()
connectable.dispose()
