"""The reference masters in production (facilities, payers, financial classes; migration p0008): brought in
step with staging's tables of the same names, and looked up by id for the workers' cache.

Staging stays where reference data is loaded and edited (db/reference.py, db/seed.py); production is what
the rules check claims against (claims_tasks/reference_cache.py). sync_production_reference copies the
three tables across after every load: changed rows are updated, new ones inserted, and rows gone from
staging deactivated in production (kept, since claims and reports still name them). An empty staging
table counts as "not loaded" and leaves production's copy alone. PostgreSQL production is written with
psycopg; an ODBC one (SQL Server) through the ODBC writer's statements (db/writers/dialects.py).

When the sync changed anything it bumps staging's reference version, which empties every worker's cache
within a few seconds (claims_tasks/resources.py). Production commits first: if the caller's staging commit
then fails, production is merely ahead, and the next load finds nothing left to do there.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg import sql

from db.edit_reference import bump_version
from db.writers.dialects import REFERENCE, reference_key
from db.writers.dsn import is_odbc

TABLES = tuple(REFERENCE)  # facilities, payers, financial_classes


def _columns(table: str) -> list[str]:
    return [c.name for c in REFERENCE[table].columns]


def staging_rows(conn: psycopg.Connection, table: str) -> list[tuple]:
    """The staging table's rows in the production table's column order."""
    query = sql.SQL("SELECT {} FROM staging.{} ORDER BY 1").format(
        sql.SQL(", ").join(map(sql.Identifier, _columns(table))), sql.Identifier(table)
    )
    return conn.execute(query).fetchall()


def sync_production_reference(staging: psycopg.Connection, production_dsn: str) -> dict[str, int]:
    """Bring production's reference masters in step with staging (as this connection sees it, uncommitted
    loads included); returns rows changed per table. Commits production; bumps staging's reference version
    when anything changed and leaves that to the caller to commit."""
    rows = {t: staging_rows(staging, t) for t in TABLES}
    loaded = {t: r for t, r in rows.items() if r}
    changed = _sync_odbc(production_dsn, loaded) if is_odbc(production_dsn) else _sync_postgres(production_dsn, loaded)
    if any(changed.values()):
        bump_version(staging)
    return changed


def _sync_postgres(dsn: str, rows: dict[str, list[tuple]]) -> dict[str, int]:
    changed: dict[str, int] = {}
    with psycopg.connect(dsn, connect_timeout=10) as conn, conn.transaction(), conn.cursor() as cur:
        for table, table_rows in rows.items():
            cols = _columns(table)
            key, rest = reference_key(REFERENCE[table]), [c for c in cols if c != reference_key(REFERENCE[table])]
            ident = sql.Identifier(table)
            upsert = sql.SQL(
                "INSERT INTO {t} AS t ({cols}) VALUES ({vals}) ON CONFLICT ({key}) DO UPDATE SET {sets} "
                "WHERE ({old}) IS DISTINCT FROM ({new})"
            ).format(
                t=ident,
                cols=sql.SQL(", ").join(map(sql.Identifier, cols)),
                vals=sql.SQL(", ").join(sql.Placeholder() * len(cols)),
                key=sql.Identifier(key),
                sets=sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in rest),
                old=sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in rest),
                new=sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in rest),
            )
            cur.executemany(upsert, table_rows)
            n = cur.rowcount
            cur.execute(
                sql.SQL("UPDATE {t} SET active = false WHERE active AND NOT ({key} = ANY(%s))").format(
                    t=ident, key=sql.Identifier(key)
                ),
                ([r[0] for r in table_rows],),
            )
            changed[table] = n + cur.rowcount
    return changed


def _sync_odbc(dsn: str, rows: dict[str, list[tuple]]) -> dict[str, int]:
    from db.writers.dialects import DIALECTS
    from db.writers.dsn import odbc_target
    from db.writers.odbc import OdbcSession, connect

    target = odbc_target(dsn)
    conn = connect(target)
    try:
        session = OdbcSession(conn, DIALECTS[target.dialect])
        changed = {table: session.sync_reference(table, table_rows) for table, table_rows in rows.items()}
        session.commit()
        return changed
    finally:
        conn.close()


def lookup(conn: psycopg.Connection, table: str, ids: Sequence[str]) -> tuple[dict[str, bool], bool]:
    """({id: active} for the ids the table holds, whether the table has any row at all), in one statement:
    an empty table is "not loaded", which the rules treat as "skip the check" (rules/context.py)."""
    key = sql.Identifier(reference_key(REFERENCE[table]))
    query = sql.SQL(
        "SELECT {key}, active FROM {t} WHERE {key} = ANY(%s) UNION ALL SELECT NULL, NULL WHERE EXISTS (SELECT FROM {t})"
    ).format(key=key, t=sql.Identifier(table))
    found: dict[str, bool] = {}
    loaded = False
    for found_id, active in conn.execute(query, (list(ids),)):
        if found_id is None:
            loaded = True
        else:
            found[found_id] = bool(active)
    return found, loaded
