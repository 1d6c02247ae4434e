"""edit catalogue reference tables: ICD-10-CM code sets, known CPT/HCPCS codes, modifiers, MUE, NCCI PTP,
payer prior authorisation, the reference version row; an index for the duplicate-claim lookup

Revision ID: s0003
Revises: s0002
Create Date: 2026-11-25 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "s0003"
down_revision: str | None = "s0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "staging"


def upgrade() -> None:
    op.create_table(
        "icd10_editions",
        sa.Column("edition", sa.Text(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("edition", name=op.f("pk_icd10_editions")),
        schema=S,
    )
    op.create_table(
        "icd10_codes",
        sa.Column("edition", sa.Text(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("billable", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("edition", "code", name=op.f("pk_icd10_codes")),
        schema=S,
    )
    op.create_table(
        "hcpcs_codes",
        sa.Column("procedure_code", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("procedure_code", name=op.f("pk_hcpcs_codes")),
        schema=S,
    )
    op.create_table(
        "modifiers",
        sa.Column("modifier", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("modifier", name=op.f("pk_modifiers")),
        schema=S,
    )
    op.create_table(
        "mue_limits",
        sa.Column("procedure_code", sa.Text(), nullable=False),
        sa.Column("max_units", sa.Integer(), nullable=False),
        sa.Column("mai", sa.SmallInteger(), nullable=False),
        sa.CheckConstraint("max_units > 0", name=op.f("ck_mue_limits_max_units")),
        sa.CheckConstraint("mai IN (1, 2, 3)", name=op.f("ck_mue_limits_mai")),
        sa.PrimaryKeyConstraint("procedure_code", name=op.f("pk_mue_limits")),
        schema=S,
    )
    op.create_table(
        "ncci_pairs",
        sa.Column("column1", sa.Text(), nullable=False),
        sa.Column("column2", sa.Text(), nullable=False),
        sa.Column("modifier_indicator", sa.SmallInteger(), nullable=False),
        sa.Column("rationale", sa.Text(), nullable=True),
        sa.CheckConstraint("modifier_indicator IN (0, 1)", name=op.f("ck_ncci_pairs_modifier_indicator")),
        sa.PrimaryKeyConstraint("column1", "column2", name=op.f("pk_ncci_pairs")),
        schema=S,
    )
    op.create_table(
        "payer_prior_auth",
        sa.Column("payer_id", sa.Text(), nullable=False),
        sa.Column("procedure_code", sa.Text(), nullable=False),
        sa.Column("service", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("payer_id", "procedure_code", name=op.f("pk_payer_prior_auth")),
        schema=S,
    )
    op.create_table(
        "reference_versions",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="1", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_reference_versions")),
        schema=S,
    )
    # The duplicate-claim lookup finds a patient's other claims through this index (db/duplicates.py).
    op.create_index("ix_claims_subscriber_dob", "claims", ["subscriber_id", "date_of_birth"], unique=False, schema=S)


def downgrade() -> None:
    op.drop_index("ix_claims_subscriber_dob", table_name="claims", schema=S)
    for table in (
        "reference_versions", "payer_prior_auth", "ncci_pairs", "mue_limits", "modifiers", "hcpcs_codes",
        "icd10_codes", "icd10_editions",
    ):  # fmt: skip
        op.drop_table(table, schema=S)
