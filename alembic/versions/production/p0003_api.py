"""api: hashed API keys with a role, and the audit trail of PHI reads

Revision ID: p0003
Revises: p0002
Create Date: 2026-11-25 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "p0003"
down_revision: str | None = "p0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("key_prefix", sa.Text(), nullable=False),
        sa.Column("key_hash", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("role IN ('auditor','user','admin')", name=op.f("ck_api_keys_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_table(
        "phi_reads",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("api_key_id", sa.BigInteger(), nullable=False),
        sa.Column("key_name", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("failed_claim_id", sa.BigInteger(), nullable=True),
        sa.Column("claim_id", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("disclosed", sa.Boolean(), nullable=False),
        sa.Column("fields", sa.ARRAY(sa.Text()), nullable=False),
        sa.Column("correlation_id", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_keys.id"], name=op.f("fk_phi_reads_api_key_id_api_keys")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phi_reads")),
    )
    op.create_index(op.f("ix_phi_reads_claim_id"), "phi_reads", ["claim_id"], unique=False)
    op.create_index(op.f("ix_phi_reads_read_at"), "phi_reads", ["read_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_phi_reads_read_at"), table_name="phi_reads")
    op.drop_index(op.f("ix_phi_reads_claim_id"), table_name="phi_reads")
    op.drop_table("phi_reads")
    op.drop_table("api_keys")
