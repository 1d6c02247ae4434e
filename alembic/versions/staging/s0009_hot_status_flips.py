"""status flips become HOT updates: the dispatcher finds new claims in an inbox, not a status index

Revision ID: s0009
Revises: s0008
Create Date: 2026-11-26 06:40:00

Every claim's status changes twice (new -> queued at dispatch, queued -> its outcome in the worker). While
`status`, `batch_id` or `queued_at` were part of an index (ix_claims_new and ix_claims_queued_at by their
predicates, ix_claims_batch_status by its key), neither change could be a heap-only-tuple update: each wrote a
new row version plus an entry in all five indexes, measured at ~5x the cost of the same UPDATE made HOT
(docs/PERFORMANCE.md). So those three indexes go, and:

- the claims waiting for dispatch are listed in `staging.dispatch_inbox`, filled by triggers on every way a
  claim becomes `new` (inserted so, or set back to it) and emptied by the dispatcher as it takes a page;
- staging.claims leaves 55 % of each page free (fillfactor 45) so the new row versions of a whole page,
  with their line pointers, fit beside the old ones, which HOT requires; the space is the price (rows
  already stored keep their packing until the table is rewritten, e.g. by VACUUM FULL);
- the sweep for claims queued too long scans the table, and only while a batch opened before its cut-off
  is unfinished (claims_tasks/dispatch.py); `reconcile --batch` counts a batch's claims by a scan.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "s0009"
down_revision: str | None = "s0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FUNCTIONS = """
CREATE FUNCTION staging.inbox_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO staging.dispatch_inbox (claim_id)
    SELECT claim_id FROM inserted_rows WHERE status = 'new'
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE FUNCTION staging.inbox_renewed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO staging.dispatch_inbox (claim_id) VALUES (NEW.claim_id) ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
"""

# A statement-level trigger for inserts: one INSERT .. SELECT per COPY, not a call per row. Updates are
# row-level with a WHEN clause, so the flips (which never set `new`) pay only that comparison.
_TRIGGERS = """
CREATE TRIGGER claims_inbox_insert AFTER INSERT ON staging.claims
    REFERENCING NEW TABLE AS inserted_rows FOR EACH STATEMENT EXECUTE FUNCTION staging.inbox_inserted();
CREATE TRIGGER claims_inbox_update AFTER UPDATE OF status ON staging.claims
    FOR EACH ROW WHEN (NEW.status = 'new' AND OLD.status IS DISTINCT FROM 'new')
    EXECUTE FUNCTION staging.inbox_renewed();
"""


def upgrade() -> None:
    op.execute("CREATE TABLE staging.dispatch_inbox (claim_id text CONSTRAINT pk_dispatch_inbox PRIMARY KEY)")
    op.execute("INSERT INTO staging.dispatch_inbox SELECT claim_id FROM staging.claims WHERE status = 'new'")
    op.execute(_FUNCTIONS)
    op.execute(_TRIGGERS)
    op.execute("DROP INDEX staging.ix_claims_new")
    op.execute("DROP INDEX staging.ix_claims_batch_status")
    op.execute("DROP INDEX staging.ix_claims_queued_at")
    op.execute("ALTER TABLE staging.claims SET (fillfactor = 45)")


def downgrade() -> None:
    op.execute("ALTER TABLE staging.claims RESET (fillfactor)")
    op.execute("CREATE INDEX ix_claims_queued_at ON staging.claims (queued_at) WHERE status = 'queued'")
    op.execute("CREATE INDEX ix_claims_batch_status ON staging.claims (batch_id, status)")
    op.execute("CREATE INDEX ix_claims_new ON staging.claims (claim_id) WHERE status = 'new'")
    op.execute("DROP TRIGGER claims_inbox_update ON staging.claims")
    op.execute("DROP TRIGGER claims_inbox_insert ON staging.claims")
    op.execute("DROP FUNCTION staging.inbox_renewed()")
    op.execute("DROP FUNCTION staging.inbox_inserted()")
    op.execute("DROP TABLE staging.dispatch_inbox")
