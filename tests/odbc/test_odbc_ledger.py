"""`reconcile` against an ODBC production, for real through psqlODBC: the psqlODBC target is the test
session's PostgreSQL production database, so the report over the ODBC DSN must be the report over its
postgresql:// DSN, field for field, clean and after each kind of damage the ledger check exists to find."""

from __future__ import annotations

import json
from collections.abc import Iterator

import psycopg
import pytest

from tests.odbc.support import odbc_dsn, require_psqlodbc

require_psqlodbc()

from claims_tasks import pipeline  # noqa: E402
from claims_tasks.config import Settings  # noqa: E402
from claims_tasks.dispatch import dispatch  # noqa: E402
from claims_tasks.errors import ConfigError  # noqa: E402
from claims_tasks.resources import build_resources  # noqa: E402
from db import ledger  # noqa: E402
from db.ledger import LedgerReport, reconcile  # noqa: E402
from db.seed import seed_claims  # noqa: E402
from tests.test_cli import run  # noqa: E402


@pytest.fixture
def two_batches(clean: Settings) -> Iterator[tuple[str, str]]:
    """Two batches (150 and 90 claims, a tenth invalid) written through the worker's ODBC path."""
    batches = []
    chunks: list[tuple[str, list[str]]] = []
    res = build_resources(
        clean.model_copy(update={"production_dsn": odbc_dsn(clean.production_dsn), "odbc_pool_size": 2})
    )
    try:
        for n, seed in ((150, 5), (90, 6)):
            seed_claims(clean.staging_dsn, n, facilities=4, invalid_share=0.1, seed=seed,
                        production_dsn=clean.production_dsn)  # fmt: skip
            chunks.clear()
            result = dispatch(clean.staging_dsn, lambda b, _s, ids, _p: chunks.append((b, ids)), shards=2,
                              chunk_size=50, page_size=50)  # fmt: skip
            assert result is not None
            for batch, ids in chunks:
                pipeline.process_chunk(res, batch, ids)
            batches.append(result.batch_id)
    finally:
        res.close()
    yield batches[0], batches[1]


def _both(settings: Settings, batch: str | None = None) -> LedgerReport:
    """The report over ODBC, asserted equal to the report over PostgreSQL's own driver."""
    over_odbc = reconcile(settings.staging_dsn, odbc_dsn(settings.production_dsn), batch)
    assert over_odbc == reconcile(settings.staging_dsn, settings.production_dsn, batch)
    return over_odbc


def _state_counts(staging: psycopg.Connection, batch: str | None = None) -> dict[str, int]:
    rows = staging.execute(
        "SELECT status, count(*) FROM staging.claims WHERE %(b)s::text IS NULL OR batch_id = %(b)s GROUP BY 1",
        {"b": batch},
    ).fetchall()
    return dict(rows)


def test_reconcile_over_odbc_is_the_postgresql_report(
    two_batches: tuple[str, str],
    clean: Settings,
    staging: psycopg.Connection,
    production: psycopg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second = two_batches
    # The staging side travels in many batches here, as a large ledger's does.
    monkeypatch.setattr(ledger, "STAGING_BATCH_ROWS", 17)
    whole = _both(clean)
    assert whole.ok and whole.total == 240
    states = _state_counts(staging)
    assert states["failed"] > 0 and states["done"] > 0
    assert {s: n for s, n in whole.states.items() if n} == states
    one = _both(clean, first)
    assert one.ok and one.total == 150 and {s: n for s, n in one.states.items() if n} == _state_counts(staging, first)
    assert _both(clean, "no-such-batch").total == 0

    # A failure resolved by review, and one whose automated repair is queued: outcomes, not damage.
    resolved, retrying = (r[0] for r in staging.execute(
        "SELECT claim_id FROM staging.claims WHERE status = 'failed' AND batch_id = %s ORDER BY claim_id LIMIT 2",
        (first,),
    ).fetchall())  # fmt: skip
    staging.execute("UPDATE staging.claims SET status = 'resolved' WHERE claim_id = %s", (resolved,))
    production.execute("UPDATE failed_claims SET status = 'resolved' WHERE claim_id = %s", (resolved,))
    production.execute("UPDATE failed_claims SET status = 'retrying' WHERE claim_id = %s", (retrying,))
    report = _both(clean)
    assert report.consistent and report.states["resolved"] == 1 and report.repairs_in_flight == 1
    assert not report.ok  # a repair in flight
    production.execute("UPDATE failed_claims SET status = 'review' WHERE claim_id = %s", (retrying,))

    done = [r[0] for r in staging.execute(
        "SELECT claim_id FROM staging.claims WHERE status = 'done' AND batch_id = %s ORDER BY claim_id LIMIT 3",
        (first,),
    ).fetchall()]  # fmt: skip
    # A claim lost from production: missing.
    production.execute("DELETE FROM claim_lines WHERE claim_id = %s", (done[0],))
    production.execute("DELETE FROM claim_diagnoses WHERE claim_id = %s", (done[0],))
    production.execute("DELETE FROM claims WHERE claim_id = %s", (done[0],))
    report = _both(clean)
    assert (report.missing, report.duplicates, report.unexpected, report.line_mismatches) == (1, 0, 0, 0)

    # A done claim that is also an open failure: two outcomes.
    production.execute(
        "INSERT INTO failed_claims (claim_id, batch_id, failure_category, rule_codes, failures, encrypted_payload,"
        " status) VALUES (%s, %s, 'validation', '{R1}', '[]', '\\x00', 'review')",
        (done[1], first),
    )
    report = _both(clean)
    assert (report.missing, report.duplicates, report.unexpected, report.line_mismatches) == (1, 1, 0, 0)

    # A production claim the ledger never shows as done, in the second batch: unexpected there only.
    production.execute("CREATE TEMP TABLE stray AS SELECT * FROM claims WHERE claim_id = %s", (done[2],))
    production.execute("UPDATE stray SET claim_id = 'STRAY-1', batch_id = %s", (second,))
    production.execute("INSERT INTO claims SELECT * FROM stray")
    report = _both(clean)
    assert (report.missing, report.duplicates, report.unexpected, report.line_mismatches) == (1, 1, 1, 0)
    assert _both(clean, second).unexpected == 1 and _both(clean, first).unexpected == 0

    # A first version with a line fewer than staging has: a line mismatch.
    production.execute(
        "DELETE FROM claim_lines WHERE claim_id = %s AND line_number = (SELECT max(line_number) FROM claim_lines"
        " WHERE claim_id = %s)",
        (done[2], done[2]),
    )
    report = _both(clean)
    assert (report.missing, report.duplicates, report.unexpected, report.line_mismatches) == (1, 1, 1, 1)
    assert not report.ok
    by_batch = _both(clean, first)
    assert (by_batch.missing, by_batch.duplicates, by_batch.unexpected, by_batch.line_mismatches) == (1, 1, 0, 1)


def test_reconcile_over_odbc_refuses_production_shards(clean: Settings) -> None:
    with pytest.raises(ConfigError, match="CLAIMS_PRODUCTION_SHARDS is not supported"):
        reconcile(clean.staging_dsn, odbc_dsn(clean.production_dsn), claim_shards=[clean.production_dsn])


def test_cli_reconcile_with_an_odbc_production(
    two_batches: tuple[str, str], clean: Settings, production: psycopg.Connection
) -> None:
    env = {"CLAIMS_PRODUCTION_DSN": odbc_dsn(clean.production_dsn)}
    ok = run("reconcile", env=env)
    assert ok.returncode == 0, ok.stderr
    assert "ledger (all batches): 240 claims" in ok.stdout and ok.stdout.rstrip().endswith("ok")
    doc = json.loads(run("reconcile", "--batch", two_batches[1], "--json", env=env).stdout)
    assert doc["ok"] is True and doc["total"] == 90

    production.execute("DELETE FROM claims WHERE claim_id = (SELECT min(claim_id) FROM claims)")
    lost = run("reconcile", "--json", env=env)
    assert lost.returncode == 1
    assert json.loads(lost.stdout)["missing"] == 1
    bad = run("reconcile", env={"CLAIMS_PRODUCTION_DSN": odbc_dsn(clean.production_dsn, DATABASE="ct_no_such_db")})
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and "PostgreSQL Unicode" in bad.stderr
