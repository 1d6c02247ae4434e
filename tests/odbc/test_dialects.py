"""The SQL Server statements, compiled with SQLAlchemy's mssql dialect and read; DSN handling; values.
No database: SQL Server cannot run on these machines (tests/odbc/test_mssql_live.py runs them for real)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.dialects.mssql import pyodbc as mssql_pyodbc

from claims_tasks.errors import ConfigError
from db.writers import dialects, dsn
from db.writers.dialects import MSSQL, POSTGRESQL, TARGETS


def _compiles(sql: str) -> str:
    """Through the mssql dialect's compiler, as SQLAlchemy would send it."""
    return str(text(sql).compile(dialect=mssql_pyodbc.dialect()))


def test_merge_statements_are_set_based_and_idempotent() -> None:
    for target in TARGETS:
        merge = MSSQL.move(target)
        name = target.table.name
        assert merge.startswith(f"MERGE INTO {name} WITH (HOLDLOCK) AS t USING [#stage_{name}] AS s ON ")
        assert "WHEN NOT MATCHED BY TARGET THEN INSERT (" in merge
        assert "WHEN MATCHED" not in merge  # rows already there are never touched
        assert merge.endswith(";")  # MERGE must be terminated
        for col in target.columns:
            assert f"s.{MSSQL.quote(col)}" in merge
        assert _compiles(merge)
    failed = MSSQL.move(dialects.FAILED)
    assert "t.claim_id = s.claim_id AND t.status IN ('new', 'retrying', 'review')" in failed
    assert "t.claim_id = s.claim_id AND t.line_number = s.line_number" in MSSQL.move(dialects.LINES)


def test_temp_tables_are_session_tables_created_without_parameters() -> None:
    for target in TARGETS:
        stage = MSSQL.target_stage(target)
        create, truncate = MSSQL.prepare_stage(stage)
        assert create.startswith(f"IF OBJECT_ID('tempdb..#stage_{target.table.name}') IS NULL CREATE TABLE [#stage_")
        assert "?" not in create  # a parameterised batch would drop the #table when sp_executesql returns
        assert truncate == f"TRUNCATE TABLE [#stage_{target.table.name}]"
        insert = MSSQL.load_stage(stage)
        assert insert.startswith(f"INSERT INTO [#stage_{target.table.name}] (")
        assert insert.count("?") == len(target.columns)
        for stmt in (create, truncate, insert):
            assert _compiles(stmt)
    claims_stage = MSSQL.prepare_stage(MSSQL.target_stage(dialects.CLAIMS))[0]
    for typed in ("claim_id NVARCHAR(100)", "total_charge DECIMAL(12, 2)", "received_at DATETIME2(6)",
                  "routed_to_review BIT", "denial_risk FLOAT", "service_from DATE"):  # fmt: skip
        assert typed in claims_stage


def test_lookups_and_compensation_compile_for_sql_server() -> None:
    outcomes = MSSQL.outcomes_query()
    assert "CASE WHEN (claims.routed_to_review = 1) THEN 'review' ELSE 'done' END" in outcomes
    assert "JOIN [#stage_ids]" in outcomes and "UNION ALL" in outcomes
    removes = MSSQL.remove_statements()
    assert [counts for _, counts in removes] == [False, False, True, True]
    for stmt, _ in removes:
        assert stmt.startswith("DELETE FROM ") and stmt.count("?") == 1 and "[#stage_ids]" in stmt
    others = MSSQL.other_claims_query()
    assert "FROM [#stage_patients]" in others and "claim_frequency != '8'" in others
    for stmt in (outcomes, others, *(s for s, _ in removes)):
        assert _compiles(stmt)


def test_ledger_check_compiles_for_sql_server() -> None:
    """reconcile's staged ledger (#rc) and its checks: no arrays, no FILTER, status lists inlined."""
    stage = MSSQL.ledger_stage()
    create, truncate = MSSQL.prepare_stage(stage)
    assert create.startswith("IF OBJECT_ID('tempdb..#rc') IS NULL CREATE TABLE [#rc] (")
    assert "claim_id NVARCHAR(100) COLLATE DATABASE_DEFAULT NOT NULL" in create  # tempdb's collation may differ
    assert "PRIMARY KEY (claim_id)" in create and "lines INTEGER" in create and "?" not in create
    assert truncate == "TRUNCATE TABLE [#rc]"
    insert = MSSQL.load_stage(stage)
    assert insert == "INSERT INTO [#rc] (claim_id, state, lines, dx) VALUES (?, ?, ?, ?)"
    whole, one_batch = MSSQL.ledger_checks(False), MSSQL.ledger_checks(True)
    for checks in (whole, one_batch):
        assert "ANY" not in checks and "FILTER" not in checks and "CAST(" not in checks and "::" not in checks
        assert "failed_claims.status IN ('new', 'retrying', 'review')" in checks
        assert "failed_claims.status IN ('repaired', 'resolved', 'voided')" in checks
        assert "HAVING count(*) > 1) AS twice" in checks
        for name in ("missing", "duplicates", "unexpected", "line_mismatches", "repairs_in_flight"):
            assert f"AS {name}" in checks
        for stmt in (create, truncate, insert, checks):
            assert _compiles(stmt)
    assert "?" not in whole and one_batch.count("?") == 1 and "claims.batch_id = ?" in one_batch
    assert MSSQL.ledger_analyze() == [] and MSSQL.never_analyzed(("claims",)) is None
    # psqlODBC: a text stage (as every PostgreSQL stage), its counts cast back for the comparison.
    assert POSTGRESQL.prepare_stage(POSTGRESQL.ledger_stage())[0].startswith(
        "CREATE TEMPORARY TABLE IF NOT EXISTS rc ("
    )
    assert "CAST(rc.lines AS INTEGER) != (SELECT count(*)" in POSTGRESQL.ledger_checks(False)


def test_postgresql_dialect_casts_text_stage_columns() -> None:
    move = POSTGRESQL.move(dialects.FAILED)
    assert move.startswith("INSERT INTO failed_claims (")
    assert "CAST(stage_failed_claims.failures AS JSONB)" in move
    assert "CAST(stage_failed_claims.rule_codes AS TEXT[])" in move
    assert "WHERE NOT (EXISTS (SELECT" in move
    assert POSTGRESQL.prepare_stage(POSTGRESQL.target_stage(dialects.CLAIMS))[0].startswith(
        "CREATE TEMPORARY TABLE IF NOT EXISTS stage_claims ("
    )


def test_values_convert_per_dialect() -> None:
    to_mssql = MSSQL.converter(dialects.LINES.table, ("claim_id", "modifiers", "units"))
    assert to_mssql(("C1", ["25", "59"], Decimal("1.5"))) == ("C1", '["25", "59"]', Decimal("1.5"))
    assert to_mssql(("C1", "{25,59}", Decimal("1"))) == ("C1", '["25", "59"]', Decimal("1"))  # a COPY block's
    stamp = MSSQL.converter(dialects.CLAIMS.table, ("received_at", "routed_to_review"))
    aware = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    assert stamp((aware, "t")) == (datetime(2024, 3, 1, 12, 0), True)
    to_pg = POSTGRESQL.converter(dialects.FAILED.table, ("rule_codes", "encrypted_payload", "priority"))
    assert to_pg((["A", 'b"c'], b"\x01\xff", 5)) == ('{"A","b\\"c"}', "\\x01ff", "5")
    assert POSTGRESQL.read_array('{25,"a b"}') == ["25", "a b"]
    assert MSSQL.read_array(json.dumps(["25"])) == ["25"]
    assert POSTGRESQL.converter(dialects.CLAIMS.table, ("date_of_birth",))((date(1980, 1, 2),)) == ("1980-01-02",)


def test_dsn_shapes() -> None:
    secret = "p%40ss"  # built here so the repository scan (tests/test_security.py) sees no literal
    url = f"mssql+pyodbc://sa:{secret}@db.example:1433/smart_pro_claims?driver=ODBC+Driver+18+for+SQL+Server"
    target = dsn.odbc_target(url)
    assert target.dialect == "mssql" and target.driver == "ODBC Driver 18 for SQL Server"
    assert "PWD=p@ss" in target.connection_string
    assert target.describe() == "ODBC driver 'ODBC Driver 18 for SQL Server' at db.example,1433/smart_pro_claims"
    assert "p@ss" not in target.describe()
    raw = dsn.odbc_target("DRIVER={PostgreSQL Unicode};SERVER=h;PORT=5433;DATABASE=d;UID=u;PWD={a;b}")
    assert (raw.dialect, raw.host, raw.database) == ("postgresql", "h:5433", "d")
    assert dsn.parse("DRIVER={a}}b};X=1")["DRIVER"] == "a}b"
    assert dsn.kind("postgresql://x/y") == "postgresql" and dsn.kind(url) == "odbc"
    assert dsn.odbc_target("DRIVER={FreeTDS};SERVER=h").dialect == "mssql"


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("DRIVER={Oracle in OraClient19};SERVER=h", "unknown ODBC driver 'Oracle in OraClient19'"),
        ("mssql+pyodbc://sa:x@h/db", "names no ODBC driver"),
        ("mysql://h/db", "unknown production database scheme 'mysql'"),
        ("DSN=prod;UID=x", "DSN=prod is not supported"),
    ],
)
def test_bad_dsns_are_one_line(value: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says) as caught:
        dsn.kind(value) == "odbc" and dsn.odbc_target(value)
    assert "\n" not in str(caught.value)


def test_missing_driver_is_named() -> None:
    pytest.importorskip("pyodbc")
    target = dsn.odbc_target("DRIVER={ODBC Driver 99 for SQL Server};SERVER=h")
    with pytest.raises(ConfigError, match="ODBC driver 'ODBC Driver 99 for SQL Server' is not installed"):
        dsn.check_driver_installed(target)
