"""The ODBC writer for real, through Debian's psqlODBC against the test session's PostgreSQL production
database: the pre-warmed pool and its statistics, temp-table staging with fast_executemany, the
set-based move (a replayed write inserts nothing), compensation, the duplicates lookup, error mapping;
and a chunk through the worker's ODBC path, processed twice."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import psycopg
import pytest

from tests.odbc.support import odbc_dsn, require_psqlodbc

require_psqlodbc()

import pyodbc  # noqa: E402

from claims_tasks import pipeline, pool_stats  # noqa: E402
from claims_tasks.config import Settings  # noqa: E402
from claims_tasks.dispatch import dispatch  # noqa: E402
from claims_tasks.errors import ConfigError  # noqa: E402
from claims_tasks.resources import build_resources  # noqa: E402
from db.engines import is_transient  # noqa: E402
from db.production import ChunkWrite  # noqa: E402
from db.production_reference import TABLES, sync_production_reference  # noqa: E402
from db.writers import make_writer  # noqa: E402
from db.writers.odbc import ConcurrentDelivery, OdbcLoginRefused, OdbcUnreachable, OdbcWriter  # noqa: E402
from tests.factories import insert_claims, make_valid_claims  # noqa: E402


@pytest.fixture
def writer(clean: Settings) -> Iterator[OdbcWriter]:
    w = make_writer(odbc_dsn(clean.production_dsn), pool_size=3)
    assert isinstance(w, OdbcWriter)
    try:
        yield w
    finally:
        w.close()


def _write(n: int, batch: str = "B1", failed: int = 1) -> ChunkWrite:
    write = ChunkWrite([], [], [], [])
    for i in range(n):
        cid = f"W{i:04d}"
        write.claims.append((
            cid, "F1", "PAN", "Ann", "Lee", date(1980, 1, 2), "F", f"SUB{i}", "P1", "COMM", "1234567893", None,
            "11", "1", date(2024, 3, 1), date(2024, 3, 2), Decimal("100.00"), None,
            datetime(2024, 3, 3, 8, 30, tzinfo=UTC), batch, Decimal("80.25"), "none", 0.25, "v1", "A", False,
        ))  # fmt: skip
        if i % 5 == 2:  # an 837I line: revenue code only, no procedure
            write.lines.append((cid, 1, None, [], Decimal("2"), Decimal("100.00"), date(2024, 3, 1), None, [], "0120"))
        else:
            write.lines.append((cid, 1, "99213", ["25", "59"], Decimal("1.5"), Decimal("100.00"), date(2024, 3, 1),
                                "11", [1, 2], None))  # fmt: skip
        write.diagnoses.append((cid, 1, "E119"))
    for i in range(failed):
        write.failed.append((f"X{i}", batch, "F1", "validation", ["R1", "R 2"], json.dumps([{"code": "R1"}]),
                             b"\x00secret\xff", 5, Decimal("12.50"), "review"))  # fmt: skip
    return write


def _counts(conn: psycopg.Connection) -> tuple[int, ...]:
    row = conn.execute(
        "SELECT (SELECT count(*) FROM claims), (SELECT count(*) FROM claim_lines),"
        " (SELECT count(*) FROM claim_diagnoses), (SELECT count(*) FROM failed_claims)"
    ).fetchone()
    assert row is not None
    return tuple(row)


def test_pool_is_prewarmed_with_stats(clean: Settings) -> None:
    w = OdbcWriter(odbc_dsn(clean.production_dsn))  # default size: 20
    try:
        stats = w.get_stats()
        assert (stats["pool_size"], stats["pool_available"], stats["connections_num"]) == (20, 20, 20)
        with w.session() as s:
            s.existing_outcomes(["nope"])
            snap = pool_stats.snapshot({"production": w})["production"]
            assert (snap["pool_size"], snap["in_use"], snap["requests_waiting"]) == (20, 1, 0)
        after = w.get_stats()
        assert (after["pool_available"], after["requests_num"], after["connections_num"]) == (20, 1, 20)
    finally:
        w.close()


def test_write_is_idempotent_and_typed(writer: OdbcWriter, production: psycopg.Connection) -> None:
    write = _write(250, failed=3)
    with writer.session() as s:
        assert s.write_rows(write) == {"claims": 250, "claim_lines": 250, "claim_diagnoses": 250, "failed_claims": 3}
        s.commit()
    assert _counts(production) == (250, 250, 250, 3)
    row = production.execute(
        "SELECT received_at, expected_reimbursement, routed_to_review, denial_risk FROM claims WHERE claim_id = 'W0007'"
    ).fetchone()
    assert row == (datetime(2024, 3, 3, 8, 30, tzinfo=UTC), Decimal("80.25"), False, 0.25)
    lines = production.execute(
        "SELECT claim_id, procedure_code, modifiers, units, diagnosis_pointers, revenue_code FROM claim_lines"
        " WHERE claim_id IN ('W0001', 'W0002') ORDER BY 1"
    ).fetchall()
    assert lines == [
        ("W0001", "99213", ["25", "59"], Decimal("1.500"), [1, 2], None),
        ("W0002", None, [], Decimal("2.000"), [], "0120"),
    ]
    failed = production.execute("SELECT rule_codes, failures, encrypted_payload FROM failed_claims LIMIT 1").fetchone()
    assert failed is not None and failed[0] == ["R1", "R 2"] and failed[1] == [{"code": "R1"}]
    assert bytes(failed[2]) == b"\x00secret\xff"

    # The same write again (a replayed chunk that got past the outcomes check): nothing is inserted twice.
    with writer.session() as s:
        assert s.existing_outcomes(["W0000", "X0", "nope"]) == {"W0000": "done", "X0": "failed"}
        with pytest.raises(ConcurrentDelivery, match="250 of 250 claims rows were already in production"):
            s.write_rows(write)
        s.rollback()
    assert _counts(production) == (250, 250, 250, 3)
    # Half old, half new: the write stops, the caller rolls back and writes what production lacks.
    more = _write(300, failed=0)
    with writer.session() as s:
        with pytest.raises(ConcurrentDelivery, match="250 of 300"):
            s.write_rows(more)
        s.rollback()
        held = s.existing_outcomes([r[0] for r in more.claims])
        rest = ChunkWrite(
            *([r for r in rows if r[0] not in held] for rows in (more.claims, more.lines, more.diagnoses, more.failed))
        )
        assert s.write_rows(rest) == {"claims": 50, "claim_lines": 50, "claim_diagnoses": 50}
        s.commit()
    assert _counts(production) == (300, 300, 300, 3)


def test_compensation_and_duplicate_lookup(writer: OdbcWriter, production: psycopg.Connection) -> None:
    with writer.session() as s:
        s.write_rows(_write(10, failed=2))
        s.commit()
    with writer.session() as s:
        others = s.other_claims(["SUB3", "SUB4", "nobody"], [date(1980, 1, 2)] * 3)
        assert [(c.claim_id, c.lines[0].modifiers, c.lines[0].line_charge) for c in others] == [
            ("W0003", ("25", "59"), Decimal("100.00")), ("W0004", ("25", "59"), Decimal("100.00"))]  # fmt: skip
        # Another batch's rows are never removed; this batch's are, with their lines and diagnoses.
        assert s.remove_outcomes("other-batch", {"W0000": "done"}) == 0
        assert s.remove_outcomes("B1", {"W0000": "done", "W0001": "review", "X0": "failed"}) == 3
        s.commit()
    assert _counts(production) == (8, 8, 8, 1)


def test_error_mapping(clean: Settings) -> None:
    # pg_hba here trusts every local login, so a login that does not exist stands in for a wrong password:
    # psqlODBC reports both as SQLSTATE 08001 with the server's reason, which decides.
    with pytest.raises(OdbcLoginRefused) as refused:
        OdbcWriter(odbc_dsn(clean.production_dsn, UID="no_such_login", PWD="wrong"), pool_size=1)
    assert not is_transient(refused.value)
    assert "ODBC driver 'PostgreSQL Unicode' at 127.0.0.1:5432" in str(refused.value)
    assert 'role "no_such_login" does not exist' in str(refused.value)
    with pytest.raises(OdbcUnreachable) as unreachable:
        OdbcWriter(odbc_dsn(clean.production_dsn, SERVER="no-such-host.invalid"), pool_size=1)
    assert is_transient(unreachable.value)
    assert "no-such-host.invalid:5432" in str(unreachable.value) and "\n" not in str(unreachable.value)
    with pytest.raises(ConfigError, match="ODBC driver 'ODBC Driver 99 for SQL Server' is not installed"):
        OdbcWriter("DRIVER={ODBC Driver 99 for SQL Server};SERVER=h", pool_size=1)

    # Errors in the middle of a chunk, by SQLSTATE, as the retry logic (tasks.py) sees them.
    for state, transient in (("08S01", True), ("40001", True), ("HYT00", True), ("23000", False),
                             ("22003", False), ("42S02", False), ("28000", False)):  # fmt: skip
        assert is_transient(pyodbc.Error(state, f"[{state}] [driver] something")) is transient, state
    # A real one from the server: a deadlock-free statement error is not worth a retry.
    w = OdbcWriter(odbc_dsn(clean.production_dsn), pool_size=1)
    try:
        with w.session() as s, pytest.raises(pyodbc.Error) as caught:
            s.conn.cursor().execute("SELECT 1/0")
        assert not is_transient(caught.value)
        assert w.get_stats()["pool_available"] == 1  # the connection survived a statement error
    finally:
        w.close()


def test_chunk_through_the_odbc_path_twice(
    clean: Settings, staging: psycopg.Connection, production: psycopg.Connection
) -> None:
    """A chunk on the worker's ODBC path, then the same chunk again after its staging flip was lost (the
    crash the pipeline's order allows): the second run finds everything and writes nothing."""
    claims = make_valid_claims(staging, 120)
    insert_claims(staging, claims)
    chunks: list[tuple[str, list[str]]] = []
    result = dispatch(clean.staging_dsn, lambda b, _s, ids, _p: chunks.append((b, ids)), shards=1,
                      chunk_size=1000, page_size=1000)  # fmt: skip
    assert result is not None and len(chunks) == 1
    batch, ids = chunks[0]
    res = build_resources(
        clean.model_copy(update={"production_dsn": odbc_dsn(clean.production_dsn), "odbc_pool_size": 2})
    )
    try:
        assert res.odbc is not None and res.production.get_stats()["pool_size"] == 2
        first = pipeline.process_chunk(res, batch, ids)
        assert (first.done + first.review, first.failed, first.already) == (120, 0, 0)
        assert _counts(production) == (120, sum(len(c.lines) for c in claims), sum(len(c.diagnoses) for c in claims), 0)
        with pytest.raises(ConfigError, match="only the chunk path writes through ODBC"):
            res.production.connection()
        staging.execute("UPDATE staging.claims SET status = 'queued' WHERE batch_id = %s", (batch,))
        again = pipeline.process_chunk(res, batch, ids)
        assert (again.done, again.failed, again.already) == (0, 0, 120)
        assert _counts(production)[0] == 120
        status = staging.execute("SELECT status, count(*) FROM staging.claims GROUP BY status").fetchall()
        assert status == [("done", 120)]
    finally:
        res.close()


def test_reference_sync_and_lookups_through_odbc(
    clean: Settings, writer: OdbcWriter, production: psycopg.Connection
) -> None:
    """The production reference masters written and read with the ODBC dialect's statements."""
    dsn = odbc_dsn(clean.production_dsn)
    with psycopg.connect(clean.staging_dsn) as conn:
        try:
            conn.execute("UPDATE staging.facilities SET active = false WHERE facility_id = 'F0002'")
            conn.execute("UPDATE staging.payers SET name = 'Renamed' WHERE payer_id = 'AETNA'")
            conn.execute("DELETE FROM staging.financial_classes WHERE code = 'OT'")
            assert sync_production_reference(conn, dsn) == {"facilities": 1, "payers": 1, "financial_classes": 1}
            assert sync_production_reference(conn, dsn) == dict.fromkeys(TABLES, 0)  # nothing left to do
            assert production.execute(
                "SELECT (SELECT active FROM facilities WHERE facility_id = 'F0002'),"
                " (SELECT name FROM payers WHERE payer_id = 'AETNA'),"
                " (SELECT active FROM financial_classes WHERE code = 'OT')"
            ).fetchone() == (False, "Renamed", False)
            with writer.session() as session:
                assert session.lookup_reference("facilities", ["F0001", "F0002", "NOPE"]) == (
                    {"F0001": True, "F0002": False}, True
                )  # fmt: skip
                # More ids than one statement binds: several statements, one answer.
                many = [f"F{k:04d}" for k in range(1, 1501)]
                found, loaded = session.lookup_reference("facilities", many)
                assert loaded and set(found) == {f"F{k:04d}" for k in range(1, 51)} and not found["F0002"]
        finally:
            conn.rollback()
            sync_production_reference(conn, dsn)
            conn.commit()


def test_the_odbc_path_checks_facilities_against_production(
    clean: Settings, staging: psycopg.Connection, production: psycopg.Connection
) -> None:
    claims = make_valid_claims(staging, 40, facilities=4, prefix="V")
    insert_claims(staging, claims)
    chunks: list[tuple[str, list[str]]] = []
    dispatch(clean.staging_dsn, lambda b, _s, ids, _p: chunks.append((b, ids)), shards=1, chunk_size=1000,
             page_size=1000)  # fmt: skip
    [(batch, ids)] = chunks
    production.execute("UPDATE facilities SET active = false WHERE facility_id = 'F0004'")  # production alone
    res = build_resources(
        clean.model_copy(update={"production_dsn": odbc_dsn(clean.production_dsn), "odbc_pool_size": 2})
    )
    try:
        counts = pipeline.process_chunk(res, batch, ids)
        assert (counts.done + counts.review, counts.failed) == (30, 10)
        rows = production.execute("SELECT claim_id, rule_codes FROM failed_claims").fetchall()
        assert {cid for cid, _ in rows} == {c.claim_id for c in claims if c.facility_id == "F0004"}
        assert all(codes == ["FACILITY_UNKNOWN"] for _, codes in rows)
        assert res.references is not None  # the chunk's distinct ids, one ODBC query per table
        assert res.references.drain_counts() == {("facilities", "miss"): 4, ("payers", "miss"): 1,
                                                 ("financial_classes", "miss"): 1}  # fmt: skip
    finally:
        res.close()
        production.execute("UPDATE facilities SET active = true WHERE facility_id = 'F0004'")
