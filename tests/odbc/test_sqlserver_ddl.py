"""sql/sqlserver/production.sql against the SQLAlchemy models: every production table, column, type and
nullability, so the two cannot drift apart; and the statement list `claims-tasks init` applies."""

from __future__ import annotations

import re

from sqlalchemy.dialects import mssql

from db import models
from db.writers.dialects import mssql_type
from db.writers.schema import DDL, sqlserver_statements

# PostgreSQL mechanisms with no table on SQL Server (the DDL file's header says what replaces them).
NOT_ON_SQLSERVER = {"claim_ids", "change_log"}
_TABLE = re.compile(r"CREATE TABLE dbo\.(\w+) \((.*?)\n\)[^;\n]*;", re.DOTALL)
_COLUMN = re.compile(r"^\s+\[?(\w+)\]? ([A-Z0-9]+(?:\([^)]*\))?)(?: IDENTITY\(1, 1\))? (NOT NULL|NULL)\b")


def _ddl_tables() -> dict[str, dict[str, tuple[str, bool]]]:
    tables: dict[str, dict[str, tuple[str, bool]]] = {}
    for name, body in _TABLE.findall(DDL.read_text()):
        cols = {}
        for line in body.splitlines():
            m = _COLUMN.match(line)
            if m and m.group(1) not in ("CONSTRAINT", "INDEX"):
                cols[m.group(1)] = (m.group(2).upper(), m.group(3) == "NULL")
        tables[name] = cols
    return tables


def _normal(type_text: str) -> str:
    return type_text.upper().replace("INTEGER", "INT").replace(" ", "")


def test_ddl_matches_the_models() -> None:
    ddl = _ddl_tables()
    wanted = {t.name for t in models.production_metadata.sorted_tables} - NOT_ON_SQLSERVER
    assert set(ddl) == wanted
    dialect = mssql.dialect()
    for table in models.production_metadata.sorted_tables:
        if table.name in NOT_ON_SQLSERVER:
            continue
        model = {c.name: (_normal(mssql_type(c).compile(dialect=dialect)), c.nullable) for c in table.columns}
        got = {name: (_normal(t), nullable) for name, (t, nullable) in ddl[table.name].items()}
        assert got == model, table.name


def test_statement_list_is_guarded_and_complete() -> None:
    statements = sqlserver_statements()
    assert len(statements) == 29  # 28 creates and the guarded p0007 revenue-code upgrade
    assert all(s.startswith("IF ") for s in statements)  # init twice changes nothing
    assert not any(re.search(r"^\s*GO\s*$", s, re.MULTILINE) for s in statements)
    joined = "\n".join(statements)
    assert "CREATE PARTITION FUNCTION pf_service_year (DATE) AS RANGE RIGHT" in joined
    assert "CREATE PARTITION SCHEME ps_service_year AS PARTITION pf_service_year" in joined
    assert ") ON ps_service_year (service_from);" in joined  # claims partitioned by service year
    for table in ("claims", "claim_lines", "claim_diagnoses"):
        assert f"CREATE CLUSTERED COLUMNSTORE INDEX cci_{table} ON dbo.{table}" in joined
    assert "WHERE status IN (N'new', N'retrying', N'review')" in joined  # one open failure per claim
