"""The ODBC production writer: pyodbc, a pre-warmed pool, temp-table staging with fast_executemany, and
a set-based move that writes nothing twice (statements: db/writers/dialects.py).

One session is one pooled connection in one transaction, like the psycopg connection the PostgreSQL path
holds per chunk: existing_outcomes, other_claims (duplicates), write_rows, then commit; remove_outcomes for
a compensation. A replayed chunk finds its rows present and the move inserts none of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

from claims_tasks.errors import ConfigError, TransientError
from claims_tasks.records import Claim, Line
from db.production import ChunkWrite, copy_rows
from db.writers import errors
from db.writers.dialects import CLAIMS, DIALECTS, FAILED, LOOKUP_MAX, REFERENCE, TARGETS, Dialect, Target
from db.writers.dsn import OdbcTarget, check_driver_installed, odbc_target
from db.writers.pool import OdbcPool

# Rows per fast_executemany call. Measured through psqlODBC (docs/SQLSERVER.md, tests/odbc/measure_batches.py):
# about 3x row-by-row from 50 rows per call on, flat (within noise) from there to 8,000; 1,000 bounds the
# parameter buffers pyodbc allocates (rows x columns) while costing a 4,000-claim chunk four calls.
DEFAULT_BATCH_ROWS = 1000
LOGIN_TIMEOUT_S = 5


class OdbcUnreachable(TransientError):
    """The ODBC database did not answer (host down, unknown for now, network): worth a retry."""


class OdbcLoginRefused(ConfigError):
    """The ODBC database answered and refused us (login, database name): no retry will change that."""


class ConcurrentDelivery(TransientError):
    """Another delivery of the same chunk wrote some of its rows first: roll back and look again."""


def connect(target: OdbcTarget, autocommit: bool = False) -> Any:
    """One pyodbc connection; a failure becomes one line naming the driver and the host."""
    import pyodbc

    try:
        return pyodbc.connect(target.connection_string, autocommit=autocommit, timeout=LOGIN_TIMEOUT_S)
    except pyodbc.Error as exc:
        raise connect_error(target, exc) from None


def connect_error(target: OdbcTarget, exc: BaseException) -> Exception:
    line = f"production database ({target.describe()}) "
    if errors.is_transient(exc):
        return OdbcUnreachable(line + f"is unreachable: {errors.message(exc)}")
    return OdbcLoginRefused(line + f"refused the connection: {errors.message(exc)}")


class OdbcSession:
    """One pooled connection, one transaction (committed by the caller)."""

    def __init__(self, conn: Any, dialect: Dialect, batch_rows: int = DEFAULT_BATCH_ROWS) -> None:
        self.conn = conn
        self.dialect = dialect
        self.batch_rows = batch_rows

    # -------------------------------------------------------- staging rows
    def _stage(self, stage: Any, rows: Iterable[Sequence[Any]], convert: Any = None) -> int:
        cur = self.conn.cursor()
        for stmt in self.dialect.prepare_stage(stage):
            cur.execute(stmt)
        params = [convert(r) for r in rows] if convert is not None else [tuple(r) for r in rows]
        if not params:
            return 0
        cur.fast_executemany = True  # parameter arrays: one round trip per batch, not per row
        insert = self.dialect.load_stage(stage)
        for i in range(0, len(params), self.batch_rows):
            cur.executemany(insert, params[i : i + self.batch_rows])
        return len(params)

    def _stage_ids(self, outcomes: Mapping[str, str]) -> None:
        self._stage(self.dialect.ids_stage(), list(outcomes.items()))

    # -------------------------------------------------------- the seam's operations
    def existing_outcomes(self, claim_ids: Sequence[str]) -> dict[str, str]:
        """db.production.existing_outcomes: 'done'/'review' if in claims, 'failed' if an open failure."""
        if not claim_ids:
            return {}
        self._stage_ids(dict.fromkeys(claim_ids, ""))
        found: dict[str, str] = {}
        for cid, outcome, _k in self.conn.cursor().execute(self.dialect.outcomes_query()).fetchall():
            found.setdefault(cid, outcome)  # claims rows come first: a claim in production is done
        return found

    def write_rows(self, write: ChunkWrite) -> dict[str, int]:
        """db.production.write_rows, idempotent: rows already present are left alone. Returns rows inserted
        per table. Raises ConcurrentDelivery when claims or failures of this write were already there (a
        racing delivery committed them after existing_outcomes looked): the caller rolls back, looks again."""
        parts = {
            CLAIMS.table.name: write.claims + copy_rows(write.claims_text),
            "claim_lines": write.lines + copy_rows(write.lines_text),
            "claim_diagnoses": write.diagnoses + copy_rows(write.diagnoses_text),
            FAILED.table.name: write.failed,
        }
        inserted: dict[str, int] = {}
        cur = self.conn.cursor()
        for target in TARGETS:
            rows = parts[target.table.name]
            if not rows:
                continue
            staged = self._stage(self.dialect.target_stage(target), rows, self._convert(target))
            cur.execute(self.dialect.move(target))
            inserted[target.table.name] = cur.rowcount
            if target in (CLAIMS, FAILED) and cur.rowcount != staged:
                raise ConcurrentDelivery(
                    f"{staged - cur.rowcount} of {staged} {target.table.name} rows were already in production"
                )
        return inserted

    def _convert(self, target: Target) -> Any:
        return self.dialect.converter(target.table, target.columns)

    def remove_outcomes(self, batch_id: str, outcomes: Mapping[str, str]) -> int:
        """db.production.remove_outcomes: this batch's rows of these claims, in the session's transaction."""
        if not outcomes:
            return 0
        self._stage_ids(outcomes)
        removed = 0
        cur = self.conn.cursor()
        for stmt, counts in self.dialect.remove_statements():
            cur.execute(stmt, batch_id)
            if counts:  # claims and failures; their lines and diagnoses go with them
                removed += max(cur.rowcount, 0)
        return removed

    def other_claims(self, subscribers: Sequence[str], births: Sequence[date | str]) -> list[Claim]:
        """db.duplicates.other_claims for production: these patients' claims with their lines."""
        from db.duplicates import _partial

        if not subscribers:
            return []
        rows = list(zip(subscribers, births, strict=True))
        convert = None
        if not self.dialect.typed_stage:
            convert = lambda r: (r[0], r[1] if isinstance(r[1], str) else r[1].isoformat())  # noqa: E731
        self._stage(self.dialect.patients_stage(), rows, convert)
        claims: list[Claim] = []
        head: tuple | None = None
        lines: list[Line] = []
        for cid, sub, born, rendering, billing, start, freq, number, code, mods, charge, day in (
            self.conn.cursor().execute(self.dialect.other_claims_query()).fetchall()
        ):
            if head is None or head[0] != cid:
                if head is not None:
                    claims.append(_partial(head, lines))
                head, lines = (cid, sub, born, rendering, billing, start, freq), []
            lines.append(Line(number, code, tuple(self.dialect.read_array(mods)), None, charge, day, None, ()))
        if head is not None:
            claims.append(_partial(head, lines))
        return claims

    # -------------------------------------------------------- reference masters (p0008)
    def sync_reference(self, table: str, rows: Sequence[Sequence[Any]]) -> int:
        """Make the production table exactly these rows (its columns, in order); rows no longer there are
        deactivated. Returns rows changed. In the session's transaction."""
        spec = REFERENCE[table]
        convert = self.dialect.converter(spec, [c.name for c in spec.columns])
        self._stage(self.dialect.reference_stage(spec), rows, convert)
        changed = 0
        cur = self.conn.cursor()
        for stmt in self.dialect.reference_sync(spec):
            cur.execute(stmt)
            changed += max(cur.rowcount, 0)
        return changed

    def lookup_reference(self, table: str, ids: Sequence[str]) -> tuple[dict[str, bool], bool]:
        """({id: active} for the ids the table holds, whether the table has any row): one statement per
        LOOKUP_MAX ids, padded to a power of two so that a few statement texts serve every call."""
        spec = REFERENCE[table]
        found: dict[str, bool] = {}
        loaded = False
        cur = self.conn.cursor()
        for i in range(0, len(ids), LOOKUP_MAX):
            part = list(ids[i : i + LOOKUP_MAX])
            size = 1 << max(len(part) - 1, 0).bit_length()
            params = part + [part[-1]] * (size - len(part))
            for key, active in cur.execute(self.dialect.reference_lookup(spec, size), *params).fetchall():
                if key is None:
                    loaded = True
                else:
                    found[key] = int(active) == 1
        return found, loaded

    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        self.conn.rollback()


class OdbcWriter:
    """The production writer over ODBC: a pool and the dialect of the database behind the driver."""

    kind = "odbc"

    def __init__(
        self, dsn: str, pool_size: int = 20, timeout: float = 10.0, batch_rows: int = DEFAULT_BATCH_ROWS
    ) -> None:
        self.target = odbc_target(dsn)
        check_driver_installed(self.target)
        self.dialect = DIALECTS[self.target.dialect]
        self.batch_rows = batch_rows
        self.pool = OdbcPool(lambda: connect(self.target), size=pool_size, timeout=timeout)

    def describe(self) -> str:
        return self.target.describe()

    @contextmanager
    def session(self) -> Iterator[OdbcSession]:
        with self.pool.connection() as conn:
            yield OdbcSession(conn, self.dialect, self.batch_rows)

    def get_stats(self) -> dict[str, int]:
        return self.pool.get_stats()

    def close(self) -> None:
        self.pool.close()


def check_reachable(dsn: str) -> OdbcTarget:
    """Parse, check the driver and log in once: what `init` and a worker's start do before anything else.
    Every failure is one line naming the driver and host."""
    target = odbc_target(dsn)
    check_driver_installed(target)
    connect(target, autocommit=True).close()
    return target


class OdbcProductionPool:
    """What WorkerResources.production is when production is an ODBC target: the ODBC pool's statistics,
    pre-warm and close (so metrics, warm-up and shutdown need no second code path), and for anything that
    asks it for a psycopg connection — repairs, review, amendments: PostgreSQL-only features — a ConfigError
    naming the target, instead of a psycopg error about a malformed DSN."""

    def __init__(self, writer: OdbcWriter) -> None:
        self.writer = writer

    def connection(self, *_: Any, **__: Any) -> Any:
        raise ConfigError(
            f"production is an ODBC target ({self.writer.describe()}); only the chunk path writes through "
            "ODBC, this step needs PostgreSQL (docs/SQLSERVER.md)"
        )

    def get_stats(self) -> dict[str, int]:
        return self.writer.get_stats()

    def wait(self, timeout: float = 30.0) -> None:
        self.writer.pool.wait(timeout)

    def close(self) -> None:
        self.writer.close()
