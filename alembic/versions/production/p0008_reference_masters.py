"""reference masters in production: facilities, payers, financial classes

Revision ID: p0008
Revises: p0007
Create Date: 2026-11-27 10:00:00

Production becomes the authority the rules check a claim's facility, payer and financial class against
(claims_tasks/reference_cache.py reads these tables through a per-process cache). The rows come from
staging's tables of the same names: whatever loads reference data there brings these in step
(db/production_reference.py sync_production_reference). Same columns and types as staging's.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "p0008"
down_revision: str | None = "p0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "facilities",
        sa.Column("facility_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("npi", sa.Text(), nullable=True),
        sa.Column("state", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.PrimaryKeyConstraint("facility_id", name=op.f("pk_facilities")),
    )
    op.create_table(
        "payers",
        sa.Column("payer_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("payer_type", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.PrimaryKeyConstraint("payer_id", name=op.f("pk_payers")),
    )
    op.create_table(
        "financial_classes",
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_financial_classes")),
    )


def downgrade() -> None:
    op.drop_table("financial_classes")
    op.drop_table("payers")
    op.drop_table("facilities")
