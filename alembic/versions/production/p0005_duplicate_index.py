"""index for the duplicate-claim lookup against production (issue 3, edit catalogue)

Revision ID: p0005
Revises: p0004
Create Date: 2026-11-25 21:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "p0005"
down_revision: str | None = "p0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # db/duplicates.py looks a chunk's patients up here once per chunk: without it, a scan of claims.
    op.create_index("ix_claims_subscriber_dob", "claims", ["subscriber_id", "date_of_birth"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_claims_subscriber_dob", table_name="claims")
