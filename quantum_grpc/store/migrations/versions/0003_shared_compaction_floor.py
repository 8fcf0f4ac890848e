"""The compaction floor lives in the database, so every replica refuses the same resumes.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "revision_counter",
        sa.Column("floor", sa.BigInteger(), nullable=False, server_default="0"),
    )
    # What each core used to derive at start: just below the oldest kept event, or the head
    # when the log is empty.
    op.execute(
        "UPDATE revision_counter SET floor = "
        "coalesce((SELECT min(revision) - 1 FROM events), value)"
    )


def downgrade() -> None:
    with op.batch_alter_table("revision_counter") as batch:
        batch.drop_column("floor")
