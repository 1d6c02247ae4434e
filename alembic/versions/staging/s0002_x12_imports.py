"""X12 837 import: interchanges imported, and the columns an 837 carries beyond the claim schema

Revision ID: s0002
Revises: s0001
Create Date: 2026-11-25 21:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "s0002"
down_revision: str | None = "s0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CLAIM_COLUMNS = (
    ("claim_type", sa.Text()),
    ("bill_type", sa.Text()),
    ("referring_npi", sa.Text()),
    ("attending_npi", sa.Text()),
    ("service_facility_npi", sa.Text()),
    ("x12_interchange_id", sa.BigInteger()),
)
_LINE_COLUMNS = (("service_date_to", sa.Date()), ("revenue_code", sa.Text()), ("unit_basis", sa.Text()))


def upgrade() -> None:
    op.create_table(
        "x12_interchanges",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("sender_qualifier", sa.Text(), nullable=False),
        sa.Column("sender_id", sa.Text(), nullable=False),
        sa.Column("receiver_qualifier", sa.Text(), nullable=False),
        sa.Column("receiver_id", sa.Text(), nullable=False),
        sa.Column("control_number", sa.Text(), nullable=False),
        sa.Column("usage", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("transaction_sets", sa.Integer(), server_default="0", nullable=False),
        sa.Column("claims", sa.Integer(), server_default="0", nullable=False),
        sa.Column("duplicates", sa.Integer(), server_default="0", nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_x12_interchanges")),
        sa.UniqueConstraint("sha256", name=op.f("uq_x12_interchanges_sha256")),
        schema="staging",
    )
    op.create_index(
        "ux_x12_interchanges_control",
        "x12_interchanges",
        ["sender_qualifier", "sender_id", "receiver_qualifier", "receiver_id", "control_number"],
        unique=True,
        schema="staging",
    )
    for name, type_ in _CLAIM_COLUMNS:
        op.add_column("claims", sa.Column(name, type_, nullable=True), schema="staging")
    for name, type_ in _LINE_COLUMNS:
        op.add_column("claim_lines", sa.Column(name, type_, nullable=True), schema="staging")
    op.add_column("claim_diagnoses", sa.Column("qualifier", sa.Text(), nullable=True), schema="staging")


def downgrade() -> None:
    op.drop_column("claim_diagnoses", "qualifier", schema="staging")
    for name, _ in reversed(_LINE_COLUMNS):
        op.drop_column("claim_lines", name, schema="staging")
    for name, _ in reversed(_CLAIM_COLUMNS):
        op.drop_column("claims", name, schema="staging")
    op.drop_index("ux_x12_interchanges_control", table_name="x12_interchanges", schema="staging")
    op.drop_table("x12_interchanges", schema="staging")
