"""The ledger check (DESIGN §2): every claim that entered staging has exactly one outcome.

Staging and production are separate databases, so the staging side (claim id, state, line and diagnosis
counts) is streamed as raw COPY bytes into a temporary table on the production side, where the checks
are a few set-based joins. An ODBC production (SQL Server, docs/SQLSERVER.md) gets the same rows through
db/ledger_odbc.py instead, and the same checks written for its dialect.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg

from claims_tasks.errors import ConfigError
from claims_tasks.records import STATES
from db import engines
from db.models import CLOSED_FAILED, OPEN_FAILED
from db.shard_ledger import shadow_claims
from db.writers.dialects import POSTGRESQL
from db.writers.dsn import is_odbc

logger = logging.getLogger(__name__)


@dataclass
class LedgerReport:
    batch: str | None
    total: int = 0
    states: dict[str, int] = field(default_factory=dict)
    missing: int = 0
    duplicates: int = 0
    unexpected: int = 0
    line_mismatches: int = 0
    # Failed claims whose automated repair is queued, or done in production with the staging flip from
    # failed to done not yet committed.
    repairs_in_flight: int = 0

    @property
    def in_flight(self) -> int:
        return self.states.get("queued", 0) + self.repairs_in_flight

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


_STAGING_ROWS = """
    SELECT c.claim_id, c.status,
           (SELECT count(*) FROM staging.claim_lines l WHERE l.claim_id = c.claim_id),
           (SELECT count(*) FROM staging.claim_diagnoses d WHERE d.claim_id = c.claim_id)
    FROM staging.claims c
    WHERE c.status IN ('done', 'failed', 'review', 'resolved') {batch_filter}
    UNION ALL
    -- Claims whose staging rows retention removed (done/resolved only): their final state and counts.
    SELECT c.claim_id, c.status, c.lines, c.diagnoses FROM staging.retired_claims c WHERE true {batch_filter}
"""
_STAGING_SIDE = "COPY (" + _STAGING_ROWS + ") TO STDOUT"
# Rows of the staging side in memory at a time when it goes to an ODBC production (no COPY there).
STAGING_BATCH_ROWS = 10_000

# missing: an outcome the ledger records but production lacks (done/review -> claims; failed -> an open
#   failed_claims row, or a repaired one whose staging flip is still on its way; resolved -> a closed one).
# duplicates: a claim with two outcomes (in claims and also an open failure) or two open failures.
# unexpected: production claims the ledger does not show as done/review.
# line_mismatches: first versions whose line or diagnosis count differs from staging (amended claims
#   legitimately differ).
_CHECKS = """
SELECT
  (SELECT count(*) FROM rc WHERE state IN ('done', 'review')
      AND NOT EXISTS (SELECT 1 FROM claims p WHERE p.claim_id = rc.claim_id))
  + (SELECT count(*) FROM rc WHERE state = 'failed'
      AND NOT EXISTS (SELECT 1 FROM failed_claims f
                      WHERE f.claim_id = rc.claim_id AND f.status = ANY(%(open)s))
      AND NOT EXISTS (SELECT 1 FROM failed_claims f JOIN claims p USING (claim_id)
                      WHERE f.claim_id = rc.claim_id AND f.status = 'repaired'))
  + (SELECT count(*) FROM rc WHERE state = 'resolved'
      AND NOT EXISTS (SELECT 1 FROM failed_claims f
                      WHERE f.claim_id = rc.claim_id AND f.status = ANY(%(closed)s))),
  (SELECT count(*) FROM rc
      JOIN claims p USING (claim_id)
      WHERE EXISTS (SELECT 1 FROM failed_claims f
                    WHERE f.claim_id = rc.claim_id AND f.status = ANY(%(open)s)))
  + (SELECT count(*) FROM (SELECT f.claim_id FROM failed_claims f JOIN rc USING (claim_id)
                           WHERE f.status = ANY(%(open)s) GROUP BY f.claim_id HAVING count(*) > 1) twice),
  (SELECT count(*) FROM claims p WHERE {prod_filter}
      NOT EXISTS (SELECT 1 FROM rc WHERE rc.claim_id = p.claim_id AND rc.state IN ('done', 'review'))
      AND NOT EXISTS (SELECT 1 FROM rc JOIN failed_claims f USING (claim_id)
                      WHERE rc.claim_id = p.claim_id AND rc.state = 'failed' AND f.status = 'repaired')),
  (SELECT count(*) FROM rc
      JOIN claims p USING (claim_id)
      WHERE p.version = 1
        AND (rc.lines <> (SELECT count(*) FROM claim_lines l WHERE l.claim_id = rc.claim_id)
             OR rc.dx <> (SELECT count(*) FROM claim_diagnoses d WHERE d.claim_id = rc.claim_id))),
  (SELECT count(*) FROM rc WHERE state = 'failed'
      AND (EXISTS (SELECT 1 FROM failed_claims f JOIN claims p USING (claim_id)
                   WHERE f.claim_id = rc.claim_id AND f.status = 'repaired')
           OR EXISTS (SELECT 1 FROM failed_claims f WHERE f.claim_id = rc.claim_id AND f.status = 'retrying')))
"""


# The tables the checks join. Their plans need statistics: on a server with autovacuum off (as on these
# development machines) a freshly written million claims has none, and the anti-joins then ran for minutes.
_CHECKED_TABLES = ("claims", "claims_default", "claim_lines", "claim_diagnoses", "failed_claims")


def _analyze_if_never(conn: psycopg.Connection) -> None:
    """ANALYZE the checked tables that were never analyzed and have many rows; skipped without the right."""
    query = POSTGRESQL.never_analyzed(_CHECKED_TABLES)  # the same question ledger_odbc asks over ODBC
    assert query is not None
    stale = [name for (name,) in conn.execute(query)]
    for name in stale:
        try:
            with conn.transaction():
                conn.execute(f"ANALYZE {name}")  # nosec B608 # a name from _CHECKED_TABLES, via the catalogue
        except psycopg.errors.InsufficientPrivilege:
            logger.info("reconcile: %s has no statistics and this role may not ANALYZE it", name)


def reconcile(
    staging_dsn: str, production_dsn: str, batch: str | None = None, claim_shards: Sequence[str] = ()
) -> LedgerReport:
    """The report for the whole ledger (or one batch). claim_shards: the databases production claims are
    sharded over (CLAIMS_PRODUCTION_SHARDS), when they are not all in production_dsn. production_dsn may be
    an ODBC target (db/ledger_odbc.py)."""
    odbc = is_odbc(production_dsn)
    if odbc and any(dsn != production_dsn for dsn in claim_shards):
        raise ConfigError("CLAIMS_PRODUCTION_SHARDS is not supported with an ODBC CLAIMS_PRODUCTION_DSN")
    report = LedgerReport(batch=batch)
    where = "WHERE batch_id = %s" if batch else ""
    params = (batch,) if batch else ()
    with engines.connection(staging_dsn, "staging") as sconn:
        # One snapshot of the ledger for the counts and the rows compared, so that work finishing meanwhile
        # cannot make the report add up two different moments.
        sconn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        counts = dict(
            sconn.execute(
                f"SELECT status, count(*) FROM (SELECT status FROM staging.claims {where}"  # nosec B608 # WHERE is a fixed fragment; the batch id is a bound parameter
                f" UNION ALL SELECT status FROM staging.retired_claims {where}) c GROUP BY status",
                params * 2,
            )
        )
        report.states = {s: int(counts.get(s, 0)) for s in STATES}
        report.total = sum(report.states.values())

        if odbc:
            from db import ledger_odbc

            row = ledger_odbc.check(production_dsn, _staging_rows(sconn, batch), batch, _CHECKED_TABLES)
        else:
            row = _check_postgresql(sconn, production_dsn, batch, claim_shards)
        (report.missing, report.duplicates, report.unexpected, report.line_mismatches,
         report.repairs_in_flight) = map(int, row)  # fmt: skip
        sconn.rollback()
    return report


def _check_postgresql(
    sconn: psycopg.Connection, production_dsn: str, batch: str | None, claim_shards: Sequence[str]
) -> Sequence[int]:
    """The checks on a PostgreSQL production, the staging side streamed in by COPY."""
    params = (batch,) if batch else ()
    with engines.connection(production_dsn, "production") as pconn:
        _analyze_if_never(pconn)
        pconn.execute("CREATE TEMP TABLE rc (claim_id text PRIMARY KEY, state text, lines int, dx int) ON COMMIT DROP")
        batch_filter = "AND c.batch_id = %s" if batch else ""
        with sconn.cursor().copy(_STAGING_SIDE.format(batch_filter=batch_filter), params * 2) as out, \
                pconn.cursor().copy("COPY rc FROM STDIN") as into:  # fmt: skip
            for data in out:
                into.write(data)
        pconn.execute("ANALYZE rc")
        if any(dsn != production_dsn for dsn in claim_shards):
            shadow_claims(pconn, claim_shards)  # every shard's claims under the names the checks read
        prod_filter = "p.batch_id = %(batch)s AND" if batch else ""
        row = pconn.execute(
            _CHECKS.format(prod_filter=prod_filter),
            {"open": list(OPEN_FAILED), "closed": list(CLOSED_FAILED), "batch": batch},
        ).fetchone()
        assert row is not None
        pconn.rollback()
    return row


def _staging_rows(sconn: psycopg.Connection, batch: str | None) -> Iterator[list[tuple[Any, ...]]]:
    """The staging side as rows, STAGING_BATCH_ROWS at a time (a server-side cursor in sconn's snapshot):
    memory stays bounded however large the ledger."""
    batch_filter = "AND c.batch_id = %s" if batch else ""
    params = (batch,) * 2 if batch else ()
    with sconn.cursor(name="ledger_staging_side") as cur:
        cur.execute(_STAGING_ROWS.format(batch_filter=batch_filter), params)
        while rows := cur.fetchmany(STAGING_BATCH_ROWS):
            yield rows
