"""revenue codes on production claim lines (institutional 837I lines)

Revision ID: p0007
Revises: p0006
Create Date: 2026-11-26 10:00:00

An 837I service line names its service by the NUBC revenue code (SV201); the HCPCS/CPT procedure (SV202)
is situational, so room and board (0120) and the like arrive with a revenue code only. claim_lines gains
revenue_code, and procedure_code may be null: the rules require one of the two (LINE_REQUIRED_FIELD).
Both are catalogue-only changes on PostgreSQL (no table rewrite).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "p0007"
down_revision: str | None = "p0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("claim_lines", sa.Column("revenue_code", sa.Text(), nullable=True))
    op.alter_column("claim_lines", "procedure_code", existing_type=sa.Text(), nullable=True)


def downgrade() -> None:
    # The old schema cannot hold a line without a procedure code: refuse rather than drop claims' lines.
    found = op.get_bind().execute(sa.text("SELECT count(*) FROM claim_lines WHERE procedure_code IS NULL")).scalar()
    if found:
        raise RuntimeError(
            f"{found} production claim lines have no procedure code (revenue code only); downgrading past "
            "p0007 would need them removed first"
        )
    op.alter_column("claim_lines", "procedure_code", existing_type=sa.Text(), nullable=False)
    op.drop_column("claim_lines", "revenue_code")
