"""failure workflow: failed-claim statuses and repairs, review audit, claim versions and history

Revision ID: p0004
Revises: p0003
Create Date: 2026-11-25 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "p0004"
down_revision: str | None = "p0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "('new', 'retrying', 'review')"
ALL = "('new', 'retrying', 'review', 'repaired', 'resolved', 'voided')"


def upgrade() -> None:
    op.add_column("claims", sa.Column("version", sa.Integer(), server_default="1", nullable=False))
    op.add_column("claims", sa.Column("status", sa.Text(), server_default="active", nullable=False))
    op.add_column("claims", sa.Column("amended_at", sa.DateTime(timezone=True), nullable=True))
    op.create_check_constraint("ck_claims_status", "claims", "status IN ('active','voided')")

    op.add_column(
        "failed_claims",
        sa.Column("repairs", postgresql.JSONB(), server_default=sa.text("'[]'::jsonb"), nullable=False),
    )
    op.add_column("failed_claims", sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True))
    op.drop_constraint("uq_failed_claims_claim_id", "failed_claims", type_="unique")
    op.create_check_constraint("ck_failed_claims_status", "failed_claims", f"status IN {ALL}")
    op.create_index(
        "uq_failed_claims_open_claim",
        "failed_claims",
        ["claim_id"],
        unique=True,
        postgresql_where=sa.text(f"status IN {OPEN}"),
    )
    op.create_index("ix_failed_claims_claim_id", "failed_claims", ["claim_id"])
    op.create_index("ix_failed_claims_status_priority", "failed_claims", ["status", "priority"])

    op.create_table(
        "review_actions",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("failed_claim_id", sa.BigInteger(), nullable=True),
        sa.Column("claim_id", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("before", postgresql.JSONB(), nullable=False),
        sa.Column("after", postgresql.JSONB(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_actions")),
    )
    op.create_index("ix_review_actions_claim_id", "review_actions", ["claim_id"])

    op.create_table(
        "claim_history",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("claim_id", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("claim", postgresql.JSONB(), nullable=False),
        sa.Column("lines", postgresql.JSONB(), nullable=False),
        sa.Column("diagnoses", postgresql.JSONB(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("reason IN ('replaced','voided')", name=op.f("ck_claim_history_reason")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_history")),
    )
    op.create_index("uq_claim_history_version", "claim_history", ["claim_id", "version"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_claim_history_version", table_name="claim_history")
    op.drop_table("claim_history")
    op.drop_index("ix_review_actions_claim_id", table_name="review_actions")
    op.drop_table("review_actions")
    op.drop_index("ix_failed_claims_status_priority", table_name="failed_claims")
    op.drop_index("ix_failed_claims_claim_id", table_name="failed_claims")
    op.drop_index("uq_failed_claims_open_claim", table_name="failed_claims")
    op.drop_constraint("ck_failed_claims_status", "failed_claims", type_="check")
    op.create_unique_constraint("uq_failed_claims_claim_id", "failed_claims", ["claim_id"])
    op.drop_column("failed_claims", "resolved_at")
    op.drop_column("failed_claims", "repairs")
    op.drop_constraint("ck_claims_status", "claims", type_="check")
    op.drop_column("claims", "amended_at")
    op.drop_column("claims", "status")
    op.drop_column("claims", "version")
