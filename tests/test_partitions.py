"""Production claims partitioned by service year (p0006, db/partitions.py): the pipeline's guarantees hold on
the partitioned table — claim_id unique across partitions, a redelivered or concurrent chunk writes nothing
twice — and moving a year out of the default partition loses, duplicates and hides nothing."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime

import psycopg
import pytest

from claims_tasks import dispatch as dispatcher
from claims_tasks import pipeline
from claims_tasks.config import Settings
from claims_tasks.records import Claim
from claims_tasks.resources import WorkerResources, build_resources
from db import partitions
from db import production as prod_db
from db.ledger import reconcile
from tests.factories import insert_claims, make_valid_claims


@pytest.fixture
def resources(clean: Settings) -> Iterator[WorkerResources]:
    res = build_resources(clean)
    yield res
    res.close()


@pytest.fixture
def unpartitioned_2024(settings: Settings) -> Iterator[None]:
    """Tests that move 2024 out of the default partition leave the session as they found it."""
    yield
    with psycopg.connect(settings.production_dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS claims_y2024")


def _dispatch(settings: Settings) -> list[tuple[str, int, list[str]]]:
    chunks: list[tuple[str, int, list[str]]] = []
    dispatcher.dispatch(
        settings.staging_dsn,
        lambda b, s, ids, _p: chunks.append((b, s, ids)),
        shards=settings.shards,
        chunk_size=settings.chunk_size,
        page_size=settings.dispatch_page_size,
    )
    return chunks


def _in_2024(claim: Claim) -> Claim:
    """The same claim, served in November 2024: a year with no partition of its own (default partition)."""
    lines = tuple(replace(ln, service_date=date(2024, 11, 15)) for ln in claim.lines)
    return replace(
        claim, service_from=date(2024, 11, 15), service_to=date(2024, 11, 15),
        received_at=datetime(2024, 11, 20, 9, 0, tzinfo=UTC), lines=lines,
    )  # fmt: skip


def _where(production_conn: psycopg.Connection) -> dict[str, int]:
    return dict(production_conn.execute("SELECT tableoid::regclass::text, count(*) FROM claims GROUP BY 1").fetchall())


def _totals(production_conn: psycopg.Connection) -> tuple[int, int, int, int]:
    row = production_conn.execute(
        "SELECT (SELECT count(*) FROM claims), (SELECT count(DISTINCT claim_id) FROM claims),"
        " (SELECT count(*) FROM claim_ids), (SELECT count(*) FROM claim_lines)"
    ).fetchone()
    assert row is not None
    return row


def test_init_leaves_claims_partitioned_around_today(settings: Settings, production: psycopg.Connection) -> None:
    assert partitions.is_partitioned(production)
    names = {p.name for p in partitions.list_partitions(production)}
    year = date.today().year
    assert names >= {"claims_default", *(partitions.partition_name(y) for y in (year - 1, year, year + 1))}


def test_redelivered_chunk_writes_nothing_twice_across_partitions(
    clean: Settings, resources: WorkerResources, staging: psycopg.Connection, production: psycopg.Connection
) -> None:
    claims = make_valid_claims(staging, 40, facilities=1)
    claims[20:] = [_in_2024(c) for c in claims[20:]]
    insert_claims(staging, claims)
    [(batch_id, _shard, ids)] = _dispatch(clean)

    first = pipeline.process_chunk(resources, batch_id, ids)
    # As if the worker died after the production commit: the message comes back with the claims queued.
    staging.execute("UPDATE staging.claims SET status = 'queued'")
    staging.execute("UPDATE staging.batches SET done = 0, failed = 0, status = 'running', finished_at = NULL")
    again = pipeline.process_chunk(resources, batch_id, ids)

    assert (first.done, first.failed) == (40, 0)
    assert (again.loaded, again.already, again.done) == (40, 40, 0)
    assert _totals(production) == (40, 40, 40, 80)
    assert _where(production) == {"claims_y2025": 20, "claims_default": 20}
    assert reconcile(clean.staging_dsn, clean.production_dsn).ok


def test_concurrent_deliveries_of_one_chunk_write_it_once(
    clean: Settings, staging: psycopg.Connection, production: psycopg.Connection
) -> None:
    claims = make_valid_claims(staging, 60, facilities=1)
    claims[30:] = [_in_2024(c) for c in claims[30:]]
    insert_claims(staging, claims)
    [(batch_id, _shard, ids)] = _dispatch(clean)
    results: list[object] = []

    def deliver() -> None:
        res = build_resources(clean)
        try:
            results.append(pipeline.process_chunk(res, batch_id, ids))
        except Exception as exc:  # recorded: the assertion below shows it
            results.append(exc)
        finally:
            res.close()

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(r.done for r in results) == 60  # type: ignore[attr-defined]
    assert _totals(production) == (60, 60, 60, 120)
    assert reconcile(clean.staging_dsn, clean.production_dsn).ok


def _row(claim: Claim, batch_id: str = "B-test") -> prod_db.ChunkWrite:
    head, lines, dx = pipeline.production_rows(claim, batch_id, pipeline.expected_reimbursement(claim, {}))
    return prod_db.ChunkWrite([head], lines, dx, [])


def test_one_claim_id_cannot_be_in_two_partitions(
    clean: Settings, staging: psycopg.Connection, production: psycopg.Connection
) -> None:
    [claim] = make_valid_claims(staging, 1)
    with psycopg.connect(clean.production_dsn) as conn:
        prod_db.write_rows(conn, _row(claim))
        conn.commit()
        # (claim_id, service_from) is new, so the partitioned primary key alone would take it: the registry
        # does not.
        with pytest.raises(psycopg.errors.UniqueViolation):
            prod_db.write_rows(conn, _row(_in_2024(claim)))
        conn.rollback()
    assert _totals(production)[:3] == (1, 1, 1)


def test_a_claim_moved_to_another_year_keeps_one_registry_row(
    clean: Settings, staging: psycopg.Connection, production: psycopg.Connection
) -> None:
    [claim] = make_valid_claims(staging, 1)
    with psycopg.connect(clean.production_dsn) as conn:
        prod_db.write_rows(conn, _row(claim))
        conn.commit()
    production.execute("UPDATE claims SET service_from = '2024-11-15' WHERE claim_id = %s", (claim.claim_id,))
    assert _where(production) == {"claims_default": 1}
    assert production.execute("SELECT claim_id, service_from FROM claim_ids").fetchall() == [
        (claim.claim_id, date(2024, 11, 15))
    ]
    production.execute("DELETE FROM claims")
    assert _totals(production)[:3] == (0, 0, 0)


def _fill_default(conn: psycopg.Connection, n: int, year: int) -> None:
    """n claims of `year` (and as many of 2025), written through the parent like the pipeline does."""
    conn.execute(
        """
        INSERT INTO claims (claim_id, facility_id, patient_first_name, patient_last_name, date_of_birth, sex,
                            subscriber_id, payer_id, billing_npi, claim_frequency, service_from, service_to,
                            total_charge, batch_id)
        SELECT 'M' || y || '-' || g, 'F0001', 'A', 'B', '1980-01-01', 'F', 'S' || g, 'P1', '1234567893', '1',
               make_date(y, 1 + g %% 12, 1 + g %% 28), make_date(y, 1 + g %% 12, 1 + g %% 28), 100, 'B-fill'
        FROM generate_series(1, %s) g CROSS JOIN (VALUES (%s), (2025)) AS years(y)
        """,
        (n, year),
    )


def test_moving_a_year_out_of_the_default_partition_hides_nothing(
    clean: Settings, production: psycopg.Connection, unpartitioned_2024: None
) -> None:
    _fill_default(production, 20_000, 2024)
    before = _totals(production)
    changes_before = production.execute("SELECT count(*) FROM change_log").fetchone()
    seen: list[int] = []
    stop = threading.Event()

    def read_while_moving() -> None:
        with psycopg.connect(clean.production_dsn, autocommit=True) as reader:
            while not stop.is_set():
                row = reader.execute("SELECT count(*) FROM claims").fetchone()
                seen.append(row[0] if row else -1)

    reader = threading.Thread(target=read_while_moving)
    reader.start()
    try:
        with psycopg.connect(clean.production_dsn) as conn:
            result = partitions.ensure_year(conn, 2024)
    finally:
        stop.set()
        reader.join(timeout=30)

    assert (result.action, result.rows_moved) == ("moved", 20_000)
    assert set(seen) == {40_000}, "a reader saw claims missing or twice during the move"
    assert _totals(production) == before
    assert _where(production) == {"claims_y2024": 20_000, "claims_y2025": 20_000}
    # Moving is not changing: change capture saw nothing.
    assert production.execute("SELECT count(*) FROM change_log").fetchone() == changes_before
    with psycopg.connect(clean.production_dsn) as conn:
        assert partitions.ensure_year(conn, 2024).action == "exists"


def test_ensure_current_skips_a_year_waiting_in_the_default_partition(
    clean: Settings, production: psycopg.Connection, unpartitioned_2024: None
) -> None:
    _fill_default(production, 10, 2024)
    with psycopg.connect(clean.production_dsn) as conn:
        assert partitions.ensure_year(conn, 2024, move=False).action == "skipped"
    assert _where(production)["claims_default"] == 10


def test_partition_command(clean: Settings, production: psycopg.Connection, unpartitioned_2024: None) -> None:
    _fill_default(production, 100, 2024)
    cli = [sys.executable, "-m", "claims_tasks.cli"]
    out = subprocess.run([*cli, "partition", "--years", "2024-2025"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "claims_y2024: moved 100 claims" in out.stdout
    assert "claims_y2025: exists" in out.stdout
    listed = subprocess.run([*cli, "partition", "--list"], capture_output=True, text=True, timeout=60)
    assert "claims_y2024" in listed.stdout and "FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')" in listed.stdout

    bad = subprocess.run([*cli, "partition", "--years", "24"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "claims-tasks: --years: '24' is not a year (YYYY) or a range of years (YYYY-YYYY)"
    ]


@pytest.mark.parametrize(
    ("spec", "years"),
    [("2024", [2024]), ("2019-2021,2025", [2019, 2020, 2021, 2025]), ("2025,2024,2025", [2024, 2025])],
)
def test_parse_years(spec: str, years: list[int]) -> None:
    assert partitions.parse_years(spec) == years


@pytest.mark.parametrize("spec", ["", "20x4", "2025-2024", "1800", "2024-"])
def test_parse_years_refuses(spec: str) -> None:
    with pytest.raises(ValueError):
        partitions.parse_years(spec)
