"""Creates remember what they asked for, so a reused request_id can be told from a retry.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = ("networks", "ports")


def upgrade() -> None:
    # Rows created before this revision keep NULL: their retries are accepted as before.
    for table in TABLES:
        op.add_column(table, sa.Column("request_fingerprint", sa.String(length=64), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("request_fingerprint")
