"""model: which A/B variant scored each claim, the review routing, and per-batch score histograms (drift)

Revision ID: p0002
Revises: p0001
Create Date: 2026-11-25 22:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "p0002"
down_revision: str | None = "p0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("claims", sa.Column("model_variant", sa.Text(), nullable=True))
    op.add_column(
        "claims", sa.Column("routed_to_review", sa.Boolean(), server_default=sa.text("false"), nullable=False)
    )
    # One row per chunk message and model (replaced, not added to, when the same message is processed
    # again), and the batch's sums with their PSI, recomputed from those rows under the row's lock.
    op.create_table(
        "batch_score_chunks",
        sa.Column("batch_id", sa.Text(), nullable=False),
        sa.Column("model_version", sa.Text(), nullable=False),
        sa.Column("variant", sa.Text(), nullable=False),
        sa.Column("chunk_key", sa.Text(), nullable=False),
        sa.Column("bins", postgresql.ARRAY(sa.BigInteger()), nullable=False),
        sa.Column("scored", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "batch_id", "model_version", "variant", "chunk_key", name=op.f("pk_batch_score_chunks")
        ),
    )
    op.create_table(
        "batch_scores",
        sa.Column("batch_id", sa.Text(), nullable=False),
        sa.Column("model_version", sa.Text(), nullable=False),
        sa.Column("variant", sa.Text(), nullable=False),
        sa.Column("bins", postgresql.ARRAY(sa.BigInteger()), nullable=False),
        sa.Column("expected", postgresql.ARRAY(sa.Float()), nullable=False),
        sa.Column("scored", sa.BigInteger(), nullable=False),
        sa.Column("psi", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("batch_id", "model_version", "variant", name=op.f("pk_batch_scores")),
    )


def downgrade() -> None:
    op.drop_table("batch_scores")
    op.drop_table("batch_score_chunks")
    op.drop_column("claims", "routed_to_review")
    op.drop_column("claims", "model_variant")
