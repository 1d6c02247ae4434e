"""The ODBC writer and the chunk path against a real SQL Server, when one is available:

    CLAIMS_TEST_MSSQL_DSN='mssql+pyodbc://sa:<password>@127.0.0.1:1433/claims_test?driver=ODBC+Driver+18+for+SQL+Server&TrustServerCertificate=yes'

(`docker compose --profile mssql up -d mssql` starts one; the database must exist and is written to).
Skipped, with that reason, everywhere else: SQL Server cannot be installed on these machines."""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest

DSN = os.environ.get("CLAIMS_TEST_MSSQL_DSN", "")
if not DSN:
    pytest.skip("CLAIMS_TEST_MSSQL_DSN is not set: no SQL Server to test against", allow_module_level=True)

from claims_tasks import pipeline  # noqa: E402
from claims_tasks.config import Settings  # noqa: E402
from claims_tasks.dispatch import dispatch  # noqa: E402
from claims_tasks.resources import build_resources  # noqa: E402
from db.ledger import reconcile  # noqa: E402
from db.writers.odbc import OdbcWriter, connect  # noqa: E402
from db.writers.schema import init_odbc_production  # noqa: E402
from tests.factories import insert_claims, make_valid_claims  # noqa: E402

pytestmark = pytest.mark.slow
TABLES = ("claim_lines", "claim_diagnoses", "claims", "failed_claims")


@pytest.fixture
def mssql(clean: Settings) -> Iterator[Settings]:
    init_odbc_production(DSN)
    init_odbc_production(DSN)  # twice: every batch of the DDL is guarded
    writer = OdbcWriter(DSN, pool_size=1)
    with writer.session() as s:
        for table in TABLES:
            s.conn.cursor().execute(f"DELETE FROM {table}")  # nosec B608 # table names are constants
        s.commit()
    writer.close()
    yield clean.model_copy(update={"production_dsn": DSN, "odbc_pool_size": 2})


def _count(table: str) -> int:
    target = OdbcWriter(DSN, pool_size=1).target
    conn = connect(target, autocommit=True)
    try:
        return int(conn.cursor().execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # nosec B608
    finally:
        conn.close()


def test_pipeline_against_sql_server(mssql: Settings, staging: psycopg.Connection) -> None:
    claims = make_valid_claims(staging, 200)
    insert_claims(staging, claims)
    chunks: list[tuple[str, list[str]]] = []
    dispatch(mssql.staging_dsn, lambda b, _s, ids, _p: chunks.append((b, ids)), shards=1, chunk_size=1000,
             page_size=1000)  # fmt: skip
    batch, ids = chunks[0]
    res = build_resources(mssql)
    try:
        assert res.odbc is not None and res.odbc.dialect.name == "mssql"
        first = pipeline.process_chunk(res, batch, ids)
        assert first.done + first.review == 200
        assert _count("claims") == 200
        assert _count("claim_lines") == sum(len(c.lines) for c in claims)
        staging.execute("UPDATE staging.claims SET status = 'queued' WHERE batch_id = %s", (batch,))
        again = pipeline.process_chunk(res, batch, ids)
        assert (again.done, again.already) == (0, 200)
        assert _count("claims") == 200
        ledger = reconcile(mssql.staging_dsn, DSN, batch)  # the #rc load and the mssql checks, for real
        assert ledger.ok and ledger.total == 200 and ledger.missing == ledger.line_mismatches == 0
    finally:
        res.close()
