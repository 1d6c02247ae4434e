"""dead letters beside the ledger; a batch counter for failures closed without production

Revision ID: s0004
Revises: s0003
Create Date: 2026-11-25 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "s0004"
down_revision: str | None = "s0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("batches", sa.Column("resolved", sa.Integer(), server_default="0", nullable=False), schema="staging")
    op.create_index("ix_batches_created_at", "batches", ["created_at"], schema="staging")
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("task_name", sa.Text(), nullable=False),
        sa.Column("args", postgresql.JSONB(), nullable=False),
        sa.Column("args_digest", sa.Text(), nullable=False),
        sa.Column("queue", sa.Text(), nullable=False),
        sa.Column("batch_id", sa.Text(), nullable=True),
        sa.Column("exception", sa.Text(), nullable=False),
        sa.Column("traceback", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="1", nullable=False),
        sa.Column("replays", sa.Integer(), server_default="0", nullable=False),
        sa.Column("status", sa.Text(), server_default="dead", nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_replayed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('dead','replayed','resolved','purged')", name=op.f("ck_dead_letters_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
        sa.UniqueConstraint("args_digest", name=op.f("uq_dead_letters_args_digest")),
        schema="staging",
    )
    op.create_index("ix_dead_letters_status", "dead_letters", ["status"], schema="staging")


def downgrade() -> None:
    op.drop_index("ix_dead_letters_status", table_name="dead_letters", schema="staging")
    op.drop_table("dead_letters", schema="staging")
    op.drop_index("ix_batches_created_at", table_name="batches", schema="staging")
    op.drop_column("batches", "resolved", schema="staging")
