"""Every dialect-specific statement of the ODBC writer, in one place: SQL Server (``mssql``) and PostgreSQL
reached through psqlODBC (``postgresql``), the second being how the ODBC code path runs for real on
machines without SQL Server.

The statements are SQLAlchemy Core constructs compiled with the target's own dialect (qmark parameters,
as pyodbc takes them), except SQL Server's MERGE, which SQLAlchemy does not model: it is assembled from
identifiers quoted by the mssql dialect's preparer. tests/odbc/test_dialects.py compiles all of them.

The write of one table, both dialects:

1. a session temp table shaped like the target's columns (SQL Server: ``#stage_<table>``, typed; PostgreSQL:
   ``stage_<table>``, every column ``text``, because psqlODBC binds every parameter as varchar and
   PostgreSQL will not assign varchar to jsonb, bytea or arrays);
2. the rows, by ``cursor.fast_executemany`` (parameter arrays: one round trip per batch);
3. one set-based statement moving the rows that are not in the target yet: ``MERGE … WHEN NOT MATCHED BY
   TARGET THEN INSERT`` with HOLDLOCK on SQL Server (the key range stays locked until commit, so two
   deliveries of one chunk cannot both insert), ``INSERT … SELECT … WHERE NOT EXISTS`` with casts on
   PostgreSQL (a racing delivery there hits the unique key and retries, as on the COPY path).

Temp tables are created by statements without parameters: SQL Server runs a parameterised batch through
sp_executesql, and a #table created inside it is dropped when it returns.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    Table,
    Text,
    and_,
    case,
    cast,
    delete,
    exists,
    func,
    insert,
    literal,
    literal_column,
    null,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects import mssql
from sqlalchemy.dialects.mssql import pyodbc as mssql_pyodbc
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import psycopg2 as pg_dialect
from sqlalchemy.engine import Dialect as SADialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine

from claims_tasks.records import DIAGNOSIS_FIELDS, LINE_FIELDS
from db import models
from db.production import CLAIM_COLUMNS, FAILED_COLUMNS

# ---------------------------------------------------------------- SQL Server types of the production tables
# Text keys and codes get a bounded NVARCHAR (indexable: an index key is at most 900/1700 bytes); free text,
# JSON and arrays (kept as JSON arrays) NVARCHAR(MAX). Timestamps are UTC in DATETIME2(6). sql/sqlserver/
# uses exactly these types; tests/odbc/test_sqlserver_ddl.py holds the two together.
MSSQL_ID = mssql.NVARCHAR(100)
MSSQL_CODE = mssql.NVARCHAR(255)
_LONG_TEXT = {"failures", "repairs", "notes", "resolution", "before", "after", "claim", "lines", "diagnoses",
              "cutoffs", "counts", "archive", "encrypted_payload"}  # fmt: skip
_ID_COLUMNS = {"claim_id", "batch_id", "facility_id", "payer_id", "subscriber_id", "model_version",
               "model_variant", "variant", "chunk_key", "view_name", "key_prefix", "key_hash", "correlation_id",
               "billing_npi", "rendering_npi", "status", "failure_category", "table_name", "op", "role"}  # fmt: skip


def mssql_type(column: Column) -> TypeEngine:
    """The SQL Server type of a production model column."""
    t = column.type
    if isinstance(t, ARRAY | JSONB):
        return mssql.NVARCHAR(None)  # NVARCHAR(max), JSON text
    if isinstance(t, LargeBinary):
        return mssql.VARBINARY(None)
    if isinstance(t, Text):
        if column.name in _LONG_TEXT:
            return mssql.NVARCHAR(None)
        return MSSQL_ID if column.name in _ID_COLUMNS else MSSQL_CODE
    if isinstance(t, DateTime):
        return mssql.DATETIME2(6)
    if isinstance(t, Numeric) and not isinstance(t, Float):
        return mssql.DECIMAL(t.precision, t.scale)
    if isinstance(t, Float):
        return mssql.FLOAT()
    if isinstance(t, Boolean):
        return mssql.BIT()
    if isinstance(t, BigInteger):
        return mssql.BIGINT()
    if isinstance(t, SmallInteger):
        return mssql.SMALLINT()
    if isinstance(t, Integer):
        return mssql.INTEGER()
    if isinstance(t, Date):
        return mssql.DATE()
    raise TypeError(f"no SQL Server type for {column.table.name}.{column.name} ({t!r})")


# The one parameter of the compensation statements, positional in both dialects (the rest is inlined).
BATCH = literal_column("?", Text)


# ---------------------------------------------------------------- what one chunk writes, per table
@dataclass(frozen=True)
class Target:
    table: Table
    columns: tuple[str, ...]
    keys: tuple[str, ...]
    # Only open failures count as "already there" (a closed one is history: the claim may fail again).
    open_only: bool = False


CLAIMS = Target(models.production_claims, CLAIM_COLUMNS, ("claim_id",))
LINES = Target(models.production_claim_lines, LINE_FIELDS, ("claim_id", "line_number"))
DIAGNOSES = Target(models.production_claim_diagnoses, DIAGNOSIS_FIELDS, ("claim_id", "sequence"))
FAILED = Target(models.failed_claims, FAILED_COLUMNS, ("claim_id",), open_only=True)
TARGETS = (CLAIMS, LINES, DIAGNOSES, FAILED)

# The staging side of the ledger check, one row per claim that has an outcome (db/ledger.py _STAGING_SIDE).
LEDGER_ROWS = Table(
    "rc",
    MetaData(),
    Column("claim_id", Text, primary_key=True),
    Column("state", Text),
    Column("lines", Integer),
    Column("dx", Integer),
)

# The reference masters (p0008), by table name: one text key, `active` last.
REFERENCE = {t.name: t for t in (models.production_facilities, models.production_payers,
                                 models.production_financial_classes)}  # fmt: skip
# SQL Server takes at most 2,100 parameters a statement; lookups are sized in powers of two up to this, so a
# handful of statement texts serve every chunk (and SQL Server's plan cache keeps one plan each).
LOOKUP_MAX = 1024


def reference_key(table: Table) -> str:
    return next(iter(table.primary_key.columns)).name


@dataclass
class Dialect:
    """Statements and value conversion for one database behind ODBC."""

    name: str
    sa: SADialect
    typed_stage: bool  # stage columns carry the target's types (else text, cast on the way in)
    _temp_prefix: str
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    # -------------------------------------------------------- temp tables
    def stage(self, name: str, columns: Sequence[Column]) -> Table:
        cols = [Column(c.name, self._stage_type(c)) for c in columns]
        prefixes = [] if self.typed_stage else ["TEMPORARY"]
        return Table(f"{self._temp_prefix}{name}", MetaData(), *cols, prefixes=prefixes)

    def _stage_type(self, column: Column) -> TypeEngine:
        if not self.typed_stage:
            return Text()
        t = mssql_type(column)
        if isinstance(t, mssql.NVARCHAR):
            # A #table takes tempdb's collation, which may differ from the database's: comparing its text
            # (claim ids, reference keys) with production's would then fail with a collation conflict.
            return mssql.NVARCHAR(t.length, collation="DATABASE_DEFAULT")
        return t

    def prepare_stage(self, stage: Table) -> list[str]:
        """Statements (no parameters) that leave the session's temp table existing and empty."""
        from sqlalchemy.schema import CreateTable

        if self.typed_stage:
            ddl = str(CreateTable(stage).compile(dialect=self.sa)).strip()
            quoted = self.quote(stage.name)
            return [f"IF OBJECT_ID('tempdb..{stage.name}') IS NULL {ddl}", f"TRUNCATE TABLE {quoted}"]
        ddl = str(CreateTable(stage, if_not_exists=True).compile(dialect=self.sa)).strip()
        return [ddl, f"TRUNCATE {self.quote(stage.name)}"]

    def load_stage(self, stage: Table) -> str:
        """INSERT INTO stage (…) VALUES (?, …), in stage column order."""
        return str(insert(stage).compile(dialect=self.sa))

    def quote(self, name: str) -> str:
        return self.sa.identifier_preparer.quote(name)

    def compile(self, stmt: ClauseElement) -> str:
        """Constants inline (status lists, outcome names): these statements take no parameters, or only
        the explicit ``?`` of BATCH."""
        return str(stmt.compile(dialect=self.sa, compile_kwargs={"literal_binds": True}))

    def _col(self, stage: Table, target: Table, name: str) -> ColumnElement:
        """A stage column as the target column's type."""
        col = stage.c[name]
        return col if self.typed_stage else cast(col, target.c[name].type)

    # -------------------------------------------------------- the write
    def target_stage(self, target: Target) -> Table:
        return self.stage(f"stage_{target.table.name}", [target.table.c[c] for c in target.columns])

    def move(self, target: Target) -> str:
        """The set-based insert of staged rows not yet in the target."""
        key = (self.name, "move", target.table.name)
        if key not in self._cache:
            self._cache[key] = self._merge(target) if self.name == "mssql" else self._insert_missing(target)
        return self._cache[key]

    def _match(self, target: Target, t: Table, s: Table) -> ColumnElement:
        cond = and_(*(t.c[k] == self._col(s, t, k) for k in target.keys))
        if target.open_only:
            cond = and_(cond, t.c.status.in_(models.OPEN_FAILED))
        return cond

    def _insert_missing(self, target: Target) -> str:
        t, s = target.table, self.target_stage(target)
        present = exists().where(self._match(target, t, s))
        source = select(*(self._col(s, t, c) for c in target.columns)).where(~present)
        return self.compile(insert(t).from_select(list(target.columns), source))

    def _merge(self, target: Target) -> str:
        t, s = target.table, self.target_stage(target)
        q = self.quote
        on = " AND ".join(f"t.{q(k)} = s.{q(k)}" for k in target.keys)
        if target.open_only:
            on += " AND t.status IN (" + ", ".join(f"'{v}'" for v in models.OPEN_FAILED) + ")"
        cols = ", ".join(q(c) for c in target.columns)
        vals = ", ".join(f"s.{q(c)}" for c in target.columns)
        # HOLDLOCK: serializable on the key range until commit; without it two MERGEs can both decide
        # "not matched" and the second fails on the key (or, for failed_claims, inserts twice).
        return (
            f"MERGE INTO {q(t.name)} WITH (HOLDLOCK) AS t USING {q(s.name)} AS s ON {on} "
            f"WHEN NOT MATCHED BY TARGET THEN INSERT ({cols}) VALUES ({vals});"
        )

    # -------------------------------------------------------- lookups and compensation
    def ids_stage(self) -> Table:
        """Claim ids with what to do with them ('done' or 'failed', for compensation)."""
        return self.stage("stage_ids", [Column("claim_id", Text), Column("outcome", Text)])

    def outcomes_query(self) -> str:
        """Claims of the staged ids production holds: done/review in claims, failed if an open failure."""
        if "outcomes" not in self._cache:
            ids, c, f = self.ids_stage(), models.production_claims, models.failed_claims
            held = select(
                c.c.claim_id,
                case((c.c.routed_to_review == true(), literal("review")), else_=literal("done")).label("outcome"),
                literal(0).label("k"),
            ).join_from(c, ids, ids.c.claim_id == c.c.claim_id)
            failed = (
                select(f.c.claim_id, literal("failed"), literal(1))
                .join_from(f, ids, ids.c.claim_id == f.c.claim_id)
                .where(f.c.status.in_(models.OPEN_FAILED))
            )
            self._cache["outcomes"] = self.compile(union_all(held, failed).order_by("k"))
        return self._cache["outcomes"]

    def remove_statements(self) -> list[tuple[str, bool]]:
        """Compensation, in order: (statement, whether its rows count as removed outcomes). Each takes one
        parameter (BATCH), the batch id: rows of that batch only."""
        if "remove" not in self._cache:
            ids, c, f = self.ids_stage(), models.production_claims, models.failed_claims
            done_ids = select(ids.c.claim_id).where(ids.c.outcome.in_(("done", "review")))
            batch = BATCH
            this_batch = select(c.c.claim_id).where(c.c.batch_id == batch, c.c.claim_id.in_(done_ids))
            stmts = [
                delete(t).where(t.c.claim_id.in_(this_batch))
                for t in (models.production_claim_lines, models.production_claim_diagnoses)
            ]
            stmts.append(delete(c).where(c.c.batch_id == batch, c.c.claim_id.in_(done_ids)))
            failed_ids = select(ids.c.claim_id).where(ids.c.outcome == "failed")
            stmts.append(
                delete(f).where(f.c.batch_id == batch, f.c.claim_id.in_(failed_ids), f.c.status.in_(models.OPEN_FAILED))
            )
            self._cache["remove"] = [(self.compile(s), i >= 2) for i, s in enumerate(stmts)]
        return self._cache["remove"]

    def patients_stage(self) -> Table:
        return self.stage("stage_patients", [Column("subscriber_id", Text), models.production_claims.c.date_of_birth])

    def other_claims_query(self) -> str:
        """db.duplicates' production query: these patients' claims (voids left out) with the lines that
        make duplicate keys, by claim and line number."""
        if "others" not in self._cache:
            p, c, ln = self.patients_stage(), models.production_claims, models.production_claim_lines
            born = p.c.date_of_birth if self.typed_stage else cast(p.c.date_of_birth, Date)
            patients = select(p.c.subscriber_id, born.label("born")).distinct().subquery("p")
            stmt = (
                select(
                    c.c.claim_id,
                    c.c.subscriber_id,
                    c.c.date_of_birth,
                    c.c.rendering_npi,
                    c.c.billing_npi,
                    c.c.service_from,
                    c.c.claim_frequency,
                    ln.c.line_number,
                    ln.c.procedure_code,
                    ln.c.modifiers,
                    ln.c.line_charge,
                    ln.c.service_date,
                )
                .select_from(
                    patients.join(
                        c, and_(c.c.subscriber_id == patients.c.subscriber_id, c.c.date_of_birth == patients.c.born)
                    ).join(ln, ln.c.claim_id == c.c.claim_id)
                )
                .where(or_(c.c.claim_frequency != "8", c.c.claim_frequency.is_(None)))
                .order_by(c.c.claim_id, ln.c.line_number)
            )
            self._cache["others"] = self.compile(stmt)
        return self._cache["others"]

    # -------------------------------------------------------- reference masters
    def reference_stage(self, table: Table) -> Table:
        return self.stage(f"stage_{table.name}", list(table.columns))

    def reference_sync(self, table: Table) -> list[str]:
        """Statements (no parameters) making the table what its staged rows are: changed rows updated, new
        ones inserted, rows not staged deactivated (kept: claims and reports still name them). Each
        statement's rowcount is rows changed."""
        key = (self.name, "sync", table.name)
        if key not in self._cache:
            self._cache[key] = self._sync_merge(table) if self.name == "mssql" else self._sync_statements(table)
        return self._cache[key]

    def _sync_merge(self, table: Table) -> list[str]:
        q, s = self.quote, self.reference_stage(table)
        k = reference_key(table)
        cols = [c.name for c in table.columns]
        rest = [c for c in cols if c != k]
        # EXCEPT compares NULLs as equal: an unchanged row is not rewritten (nor counted).
        new, old = (", ".join(f"{side}.{q(c)}" for c in rest) for side in ("s", "t"))
        differs = f"EXISTS (SELECT {new} EXCEPT SELECT {old})"
        return [
            f"MERGE INTO {q(table.name)} WITH (HOLDLOCK) AS t USING {q(s.name)} AS s ON t.{q(k)} = s.{q(k)} "  # nosec B608 # table and column names from the SQLAlchemy models, quoted; no values
            f"WHEN MATCHED AND {differs} THEN UPDATE SET {', '.join(f'{q(c)} = s.{q(c)}' for c in rest)} "
            f"WHEN NOT MATCHED BY TARGET THEN INSERT ({', '.join(q(c) for c in cols)}) "
            f"VALUES ({', '.join(f's.{q(c)}' for c in cols)}) "
            "WHEN NOT MATCHED BY SOURCE AND t.active = 1 THEN UPDATE SET active = 0;"
        ]

    def _sync_statements(self, table: Table) -> list[str]:
        s = self.reference_stage(table)
        k = reference_key(table)
        rest = [c.name for c in table.columns if c.name != k]
        matched = table.c[k] == self._col(s, table, k)
        changed = (
            update(table)
            .values({c: self._col(s, table, c) for c in rest})
            .where(matched, or_(*(table.c[c].is_distinct_from(self._col(s, table, c)) for c in rest)))
        )
        cols = [c.name for c in table.columns]
        new = select(*(self._col(s, table, c) for c in cols)).where(~exists().where(matched))
        gone = update(table).values(active=False).where(table.c.active == true(), ~exists().where(matched))
        return [self.compile(changed), self.compile(insert(table).from_select(cols, new)), self.compile(gone)]

    def reference_lookup(self, table: Table, n: int) -> str:
        """(key, 1 active / 0 not) of the n keys bound (``?``) that the table holds, plus one (NULL, NULL)
        row when the table has any row at all: an empty table is "not loaded", not "nothing is active"."""
        key = (self.name, "lookup", table.name, n)
        if key not in self._cache:
            k = table.c[reference_key(table)]
            found = select(k, case((table.c.active == true(), literal(1)), else_=literal(0))).where(
                k.in_([literal_column("?", Text) for _ in range(n)])
            )
            loaded = select(null(), null()).where(exists().select_from(table))
            self._cache[key] = self.compile(union_all(found, loaded))
        return self._cache[key]

    # -------------------------------------------------------- the ledger check (db/ledger_odbc.py)
    def ledger_stage(self) -> Table:
        """The staging side of the ledger (LEDGER_ROWS) as a session temp table keyed by claim id: SQL Server
        ``#rc``, typed; PostgreSQL ``rc``, text like the other stages."""
        cols = [Column(c.name, self._stage_type(c), primary_key=c.primary_key) for c in LEDGER_ROWS.columns]
        return Table(f"{self._temp_prefix}rc", MetaData(), *cols, prefixes=[] if self.typed_stage else ["TEMPORARY"])

    def ledger_analyze(self) -> list[str]:
        """After the load: statistics for the checks' plans. SQL Server creates them on a #table itself
        (AUTO_CREATE_STATISTICS, at the checks' compilation); PostgreSQL never analyzes a temp table itself."""
        return [] if self.typed_stage else [f"ANALYZE {self.quote(self.ledger_stage().name)}"]

    def never_analyzed(self, tables: Sequence[str]) -> str | None:
        """PostgreSQL: which of these production tables have many rows and no statistics at all (then the
        anti-joins of the checks run for minutes; db/ledger.py). None on SQL Server, which keeps them itself."""
        if self.typed_stage:
            return None
        names = ", ".join(f"'{t}'" for t in tables)
        return (
            f"SELECT relname FROM pg_stat_user_tables WHERE relname IN ({names})"  # nosec B608 # constant table names
            " AND last_analyze IS NULL AND last_autoanalyze IS NULL AND n_mod_since_analyze > 10000"
        )

    def ledger_checks(self, by_batch: bool) -> str:
        """db/ledger.py _CHECKS for this dialect: one row (missing, duplicates, unexpected, line_mismatches,
        repairs_in_flight) from the staged ledger and production. by_batch: production claims of one batch
        only (the unexpected check), the batch id as the one parameter (BATCH)."""
        key = ("ledger", by_batch)
        if key not in self._cache:
            self._cache[key] = self.compile(self._ledger_checks(by_batch))
        return self._cache[key]

    def _ledger_checks(self, by_batch: bool) -> ClauseElement:
        # Status lists are IN lists of the fixed constants (no arrays on SQL Server), counts are plain
        # count(*) scalar subqueries (no FILTER), and nothing compares a boolean.
        rc, p, f = self.ledger_stage(), models.production_claims, models.failed_claims
        lines, dx = models.production_claim_lines, models.production_claim_diagnoses
        cid = rc.c.claim_id

        def count(source: Any, *where: ColumnElement) -> ColumnElement:
            return select(func.count()).select_from(source).where(*where).scalar_subquery()

        def number(col: ColumnElement) -> ColumnElement:
            return col if self.typed_stage else cast(col, Integer)

        def failure(*where: ColumnElement) -> ColumnElement:
            return exists().where(f.c.claim_id == cid, *where)

        is_open = f.c.status.in_(models.OPEN_FAILED)
        outcome = rc.c.state.in_(("done", "review"))
        # A failure repaired in production whose staging flip from failed to done is still on its way.
        repaired = (
            exists()
            .select_from(f.join(p, p.c.claim_id == f.c.claim_id))
            .where(f.c.claim_id == cid, f.c.status == "repaired")
        )
        in_claims = rc.join(p, p.c.claim_id == cid)

        missing = (
            count(rc, outcome, ~exists().where(p.c.claim_id == cid))
            + count(rc, rc.c.state == "failed", ~failure(is_open), ~repaired)
            + count(rc, rc.c.state == "resolved", ~failure(f.c.status.in_(models.CLOSED_FAILED)))
        )
        twice = (
            select(f.c.claim_id)
            .select_from(f.join(rc, cid == f.c.claim_id))
            .where(is_open)
            .group_by(f.c.claim_id)
            .having(func.count() > 1)
            .subquery("twice")
        )
        duplicates = count(in_claims, failure(is_open)) + count(twice)
        this_batch = [p.c.batch_id == BATCH] if by_batch else []
        unexpected = count(
            p,
            *this_batch,
            ~exists().where(cid == p.c.claim_id, outcome),
            ~exists()
            .select_from(rc.join(f, f.c.claim_id == cid))
            .where(cid == p.c.claim_id, rc.c.state == "failed", f.c.status == "repaired"),
        )
        line_mismatches = count(
            in_claims,
            p.c.version == 1,
            or_(
                number(rc.c.lines) != count(lines, lines.c.claim_id == cid),
                number(rc.c.dx) != count(dx, dx.c.claim_id == cid),
            ),
        )
        repairs = count(rc, rc.c.state == "failed", or_(repaired, failure(f.c.status == "retrying")))
        return select(
            missing.label("missing"),
            duplicates.label("duplicates"),
            unexpected.label("unexpected"),
            line_mismatches.label("line_mismatches"),
            repairs.label("repairs_in_flight"),
        )

    # -------------------------------------------------------- values
    def converter(self, table: Table, columns: Sequence[str]) -> Callable[[Sequence[Any]], tuple]:
        """Row → parameters for the stage table: native values for SQL Server, text for PostgreSQL."""
        kinds = [_kind(table.c[c]) for c in columns]
        convert = _to_mssql if self.typed_stage else _to_pg_text
        return lambda row: tuple(convert(k, v) for k, v in zip(kinds, row, strict=True))

    def read_array(self, value: Any) -> list[str]:
        """An array column as read back (SQL Server: JSON text; psqlODBC: the array literal)."""
        if value is None:
            return []
        if isinstance(value, list | tuple):
            return [str(v) for v in value]
        return [str(v) for v in json.loads(value)] if self.typed_stage else _parse_pg_array(value)


def _kind(column: Column) -> str:
    t = column.type
    kinds = (
        ("array", ARRAY),
        ("json", JSONB),
        ("bytes", LargeBinary),
        ("ts", DateTime),
        ("bool", Boolean),
        ("float", Float),
    )
    for kind, types in kinds:
        if isinstance(t, types):
            return kind
    return "plain"


def _to_mssql(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "array":
        items = _parse_pg_array(value) if isinstance(value, str) else list(value)
        return json.dumps([None if v is None else str(v) for v in items])
    if kind == "ts" and isinstance(value, datetime):
        return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value  # noqa: UP017
    if kind == "bool" and isinstance(value, str):
        return value in ("t", "true", "1")
    if kind == "float":
        return float(value)
    if kind == "bytes" and isinstance(value, str):
        return bytes.fromhex(value.removeprefix("\\x"))
    if isinstance(value, Decimal | date | bytes | bool | int | str):
        return value
    return str(value)


def _to_pg_text(kind: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value  # already text (a COPY block's values, JSON documents, codes)
    if kind == "array":
        return "{" + ",".join("NULL" if v is None else _pg_quote(str(v)) for v in value) + "}"
    if isinstance(value, bytes | bytearray | memoryview):
        return "\\x" + bytes(value).hex()
    if isinstance(value, bool):
        return "true" if value else "false"
    if kind == "float":
        return repr(float(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    if kind == "json":
        return json.dumps(value)
    return str(value)


def _pg_quote(item: str) -> str:
    return '"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _parse_pg_array(text: str) -> list[str]:
    """A one-dimensional PostgreSQL array literal of simple elements ({25,59} or {"a b",c})."""
    inner = text.strip()[1:-1]
    if not inner:
        return []
    out, cur, quoted, i = [], [], False, 0
    while i < len(inner):
        ch = inner[i]
        if ch == "\\" and quoted:
            i += 1
            cur.append(inner[i])
        elif ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    out.append("".join(cur))
    return out


MSSQL = Dialect("mssql", mssql_pyodbc.dialect(paramstyle="qmark"), typed_stage=True, _temp_prefix="#")
POSTGRESQL = Dialect("postgresql", pg_dialect.dialect(paramstyle="qmark"), typed_stage=False, _temp_prefix="")
DIALECTS = {d.name: d for d in (MSSQL, POSTGRESQL)}
