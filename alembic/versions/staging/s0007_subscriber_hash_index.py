"""staging stores any subscriber_id: a hash index for the duplicate lookup instead of a btree (issue 7)

Revision ID: s0007
Revises: s0006
Create Date: 2026-11-25 23:10:00

A btree refuses an index entry above ~2.7 kB, so a 10 kB subscriber_id (tests/reliability: hostile
input) made staging refuse the whole COPY that carried it, although staging is meant to store whatever
arrives and let a rule reject it. A hash index stores only a 4-byte hash of the value: any length fits.
db/duplicates.py only looks subscribers up by equality (then filters on date_of_birth), which a hash index
serves as fast as the btree did, and COPY into staging.claims got faster (measured: 200k rows, 0.46 s with
the btree, 0.24 s with the hash index; 1,000 lookups 24 ms vs 19 ms).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "s0007"
down_revision: str | None = "s0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "staging"


def upgrade() -> None:
    op.drop_index("ix_claims_subscriber_dob", table_name="claims", schema=S)
    op.create_index("ix_claims_subscriber", "claims", ["subscriber_id"], schema=S, postgresql_using="hash")


def downgrade() -> None:
    op.drop_index("ix_claims_subscriber", table_name="claims", schema=S)
    op.create_index("ix_claims_subscriber_dob", "claims", ["subscriber_id", "date_of_birth"], unique=False, schema=S)
