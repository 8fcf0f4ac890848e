"""The page-token signing key lives in the database, so every replica honours every token.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Left empty: the first core to start fills it (store/page_key.py), so a deleted row
    # (a rotation, docs/operations.md "Page tokens") is made again the same way.
    op.create_table(
        "page_token_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("page_token_key")
