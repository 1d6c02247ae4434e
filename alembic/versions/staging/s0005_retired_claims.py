"""retired claims: what is left in the ledger of a claim whose staging rows retention removed (issue 9)

Revision ID: s0005
Revises: s0004
Create Date: 2026-11-25 23:00:00

`claims-tasks retention` removes staging claims in a final state (done, resolved) past
CLAIMS_RETENTION_STAGING_DAYS; a row here keeps the claim's id, final state, batch and line/diagnosis
counts (no patient data), so reconcile still counts and checks it (db/ledger.py).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "s0005"
down_revision: str | None = "s0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "retired_claims",
        sa.Column("claim_id", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("batch_id", sa.Text(), nullable=True),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("diagnoses", sa.Integer(), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("retention_run", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("status IN ('done','resolved')", name=op.f("ck_retired_claims_status")),
        sa.PrimaryKeyConstraint("claim_id", name=op.f("pk_retired_claims")),
        schema="staging",
    )
    op.create_index("ix_retired_claims_batch_id", "retired_claims", ["batch_id"], schema="staging")


def downgrade() -> None:
    op.drop_index("ix_retired_claims_batch_id", table_name="retired_claims", schema="staging")
    op.drop_table("retired_claims", schema="staging")
