"""The ledger check (DESIGN §2): every claim that entered staging has exactly one outcome.

Staging and production are separate databases, so the staging side (claim id, state, line and diagnosis
counts) is streamed as raw COPY bytes into a temporary table on the production side, where the checks
are a few set-based joins.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from claims_tasks.records import STATES
from db import engines

# Failed-claim statuses that mean "this claim's outcome is the failed_claims row" (not repaired/voided).
OPEN_FAILED_STATUSES = ("new", "retrying", "review")


@dataclass
class LedgerReport:
    batch: str | None
    total: int = 0
    states: dict[str, int] = field(default_factory=dict)
    missing: int = 0
    duplicates: int = 0
    unexpected: int = 0
    line_mismatches: int = 0

    @property
    def in_flight(self) -> int:
        return self.states.get("queued", 0)

    @property
    def consistent(self) -> bool:
        return not (self.missing or self.duplicates or self.unexpected or self.line_mismatches)

    @property
    def ok(self) -> bool:
        """Consistent and nothing in flight; `new` claims have not entered the pipeline yet."""
        return self.consistent and self.in_flight == 0

    def as_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["in_flight"] = self.in_flight
        doc["ok"] = self.ok
        return doc


_STAGING_SIDE = """
COPY (
    SELECT c.claim_id, c.status,
           (SELECT count(*) FROM staging.claim_lines l WHERE l.claim_id = c.claim_id),
           (SELECT count(*) FROM staging.claim_diagnoses d WHERE d.claim_id = c.claim_id)
    FROM staging.claims c
    WHERE c.status IN ('done', 'failed', 'review', 'resolved') {batch_filter}
) TO STDOUT
"""

_CHECKS = """
SELECT
  (SELECT count(*) FROM rc WHERE state IN ('done', 'review')
      AND NOT EXISTS (SELECT 1 FROM claims p WHERE p.claim_id = rc.claim_id))
  + (SELECT count(*) FROM rc WHERE state = 'failed'
      AND NOT EXISTS (SELECT 1 FROM failed_claims f WHERE f.claim_id = rc.claim_id)),
  (SELECT count(*) FROM rc
      JOIN claims p USING (claim_id)
      JOIN failed_claims f USING (claim_id)
      WHERE f.status = ANY(%(open)s)),
  (SELECT count(*) FROM claims p WHERE {prod_filter}
      NOT EXISTS (SELECT 1 FROM rc WHERE rc.claim_id = p.claim_id AND rc.state IN ('done', 'review'))),
  (SELECT count(*) FROM rc
      JOIN claims p USING (claim_id)
      WHERE rc.lines <> (SELECT count(*) FROM claim_lines l WHERE l.claim_id = rc.claim_id)
         OR rc.dx <> (SELECT count(*) FROM claim_diagnoses d WHERE d.claim_id = rc.claim_id))
"""


def reconcile(staging_dsn: str, production_dsn: str, batch: str | None = None) -> LedgerReport:
    report = LedgerReport(batch=batch)
    where = "WHERE batch_id = %s" if batch else ""
    params = (batch,) if batch else ()
    with engines.connection(staging_dsn, "staging") as sconn, \
            engines.connection(production_dsn, "production") as pconn:  # fmt: skip
        counts = dict(
            sconn.execute(f"SELECT status, count(*) FROM staging.claims {where} GROUP BY status", params)
        )
        report.states = {s: int(counts.get(s, 0)) for s in STATES}
        report.total = sum(report.states.values())

        pconn.execute(
            "CREATE TEMP TABLE rc (claim_id text PRIMARY KEY, state text, lines int, dx int) ON COMMIT DROP"
        )
        batch_filter = "AND c.batch_id = %s" if batch else ""
        with sconn.cursor().copy(_STAGING_SIDE.format(batch_filter=batch_filter), params) as out, \
                pconn.cursor().copy("COPY rc FROM STDIN") as into:  # fmt: skip
            for data in out:
                into.write(data)
        pconn.execute("ANALYZE rc")
        prod_filter = "p.batch_id = %(batch)s AND" if batch else ""
        row = pconn.execute(
            _CHECKS.format(prod_filter=prod_filter), {"open": list(OPEN_FAILED_STATUSES), "batch": batch}
        ).fetchone()
        assert row is not None
        report.missing, report.duplicates, report.unexpected, report.line_mismatches = map(int, row)
        pconn.rollback()
        sconn.rollback()
    return report
