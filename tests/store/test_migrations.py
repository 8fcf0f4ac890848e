"""Alembic migrations: they build the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from quantum_grpc.store.engine import sync_url, upgrade
from quantum_grpc.store.models import Base
from tests.helpers.postgres import pg_schema

TABLES = {
    "networks",
    "ports",
    "attachments",
    "events",
    "outbox",
    "revision_counter",
    "page_token_key",
    "alembic_version",
}


def _check_schema(url: str) -> None:
    upgrade(url)
    upgrade(url)  # a second run is a no-op, as every `serve` start does it
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) >= TABLES
            assert connection.execute(text("select value from revision_counter")).all() == [(0,)]
            drift = compare_metadata(MigrationContext.configure(connection), Base.metadata)
            assert drift == [], f"models and migrations disagree: {drift}"
    finally:
        engine.dispose()


def test_migrations_build_an_empty_sqlite_file(tmp_path: Path) -> None:
    target = tmp_path / "nested" / "dir" / "quantum.db"
    _check_schema(f"sqlite:///{target}")
    assert target.exists()


@pytest.mark.postgres
def test_migrations_build_the_postgresql_test_database() -> None:
    with pg_schema() as url:
        _check_schema(url)
