"""`claims-tasks explain` and `claims-tasks index-advice`: the hot statements' plans, and index suggestions
from the fleet's slow-query log (db/query_tracker.py; pg_stat_statements where installed) and the tables'
statistics. Read-only: a write is explained without running it, or run and rolled back with --analyze."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import click
import psycopg
import redis

from claims_tasks import index_advice
from claims_tasks.config import get_settings
from db import engines
from db.hot_queries import HOT_QUERIES, Sample, explain, explain_text, take_sample
from db.query_tracker import QUERY_TEXTS_KEY, SLOW_LOG_KEY


def _dsn(database: str) -> str:
    settings = get_settings()
    return settings.staging_dsn if database == "staging" else settings.production_dsn


@click.command()
@click.option("--analyze", is_flag=True, help="Run each statement (in a transaction rolled back) for real timings.")
@click.option("--only", default=None, help="Only the hot query whose name contains this text.")
def explain_cmd(analyze: bool, only: str | None) -> None:
    """Print the plans of the pipeline's hot statements, with parameters shaped like a chunk's."""
    with engines.connection(_dsn("staging"), "staging") as sconn:
        sample = take_sample(sconn)
    if not sample.claim_ids:
        click.echo("staging holds no claims: nothing to explain with (seed or import some first)")
        return
    click.echo(f"sample: {len(sample.claim_ids):,} claim ids of batch {sample.batch_id or '(any)'}")
    for query in HOT_QUERIES:
        if only and only not in query.name:
            continue
        with engines.connection(_dsn(query.database), query.database) as conn:
            plan = explain_text(conn, query, sample, analyze=analyze and True)
        writes = " (a write: rolled back)" if query.writes and analyze else ""
        click.echo(f"\n== {query.name} [{query.database}] {query.statement}{writes}\n{plan}")


def _slow_log(url: str) -> tuple[dict[str, list[float]], dict[str, str]]:
    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    try:
        entries = [json.loads(e) for e in client.lrange(SLOW_LOG_KEY, 0, -1)]
        texts = {k.decode(): v.decode() for k, v in client.hgetall(QUERY_TEXTS_KEY).items()}
    except redis.RedisError as exc:
        click.echo(f"slow-query log unavailable ({exc}); advising from plans and statistics only", err=True)
        return {}, {}
    slow: dict[str, list[float]] = defaultdict(list)
    for e in entries:
        slow[e["statement"]].append(float(e["ms"]))
    return slow, texts


def _table_facts(conn: psycopg.Connection) -> tuple[dict[str, int], dict[str, list[str]], dict[str, list[tuple]]]:
    def name(schema: str, table: str) -> str:
        return table if schema == "public" else f"{schema}.{table}"

    rows = {name(s, t): int(n) for s, t, n in conn.execute(
        "SELECT schemaname, relname, n_live_tup FROM pg_stat_user_tables")}  # fmt: skip
    columns: dict[str, list[str]] = defaultdict(list)
    for s, t, c in conn.execute(
        "SELECT table_schema, table_name, column_name FROM information_schema.columns"
        " WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY ordinal_position"
    ):
        columns[name(s, t)].append(c)
    indexes: dict[str, list[tuple]] = defaultdict(list)
    for s, t, cols in conn.execute(
        "SELECT n.nspname, c.relname, array(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(n, o)"
        " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n ORDER BY k.o)"
        " FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"
        " AND i.indpred IS NULL"  # a partial index serves only its own predicate's queries
    ):
        indexes[name(s, t)].append(tuple(cols))
    return rows, dict(columns), dict(indexes)


def _unused(conn: psycopg.Connection) -> list[tuple[str, str, int, int, bool]]:
    return [
        (t if s == "public" else f"{s}.{t}", ix, int(scans), int(rows), bool(unique))
        for s, t, ix, scans, rows, unique in conn.execute(
            "SELECT u.schemaname, u.relname, u.indexrelname, u.idx_scan, t.n_live_tup, i.indisunique"
            " FROM pg_stat_user_indexes u JOIN pg_stat_user_tables t USING (relid)"
            " JOIN pg_index i ON i.indexrelid = u.indexrelid"
        )
    ]


def _pg_stat_statements(conn: psycopg.Connection) -> list[tuple[str, int, float]]:
    """Top statements by total time, when the extension is installed in this database."""
    if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'").fetchone() is None:
        return []
    try:
        return [
            (q, int(calls), float(mean))
            for q, calls, mean in conn.execute(
                "SELECT query, calls, mean_exec_time FROM pg_stat_statements"
                " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
                " ORDER BY total_exec_time DESC LIMIT 10"
            )
        ]
    except psycopg.Error:  # installed but not preloaded
        conn.rollback()
        return []


@click.command()
@click.option("--analyze", is_flag=True, help="Explain with ANALYZE (statements run, writes rolled back).")
def index_advice_cmd(analyze: bool) -> None:
    """Suggest indexes from the slow-query log (and pg_stat_statements where installed): the slow hot
    statements are explained and their plans checked for large sequential scans and wasteful filters;
    indexes never used on large tables are listed too, since every write pays for them."""
    settings = get_settings()
    slow, texts = _slow_log(settings.broker_url)
    click.echo(f"slow-query log: {sum(len(v) for v in slow.values()):,} entries, {len(slow)} statements")
    for statement, ms in sorted(slow.items(), key=lambda kv: -sum(kv[1])):
        click.echo(f"  {statement:<40} {len(ms):>6} slow runs, mean {sum(ms) / len(ms):8.1f} ms")
    with engines.connection(settings.staging_dsn, "staging") as sconn:
        sample: Sample = take_sample(sconn)
    advice: list[index_advice.Advice] = []
    known = {q.statement for q in HOT_QUERIES}
    for database in ("staging", "production"):
        with engines.connection(_dsn(database), database) as conn:
            rows, columns, indexes = _table_facts(conn)
            conn.rollback()
            # every hot query is checked; the slow ones first in the report
            for query in sorted((q for q in HOT_QUERIES if q.database == database),
                                key=lambda q: q.statement not in slow):  # fmt: skip
                if not sample.claim_ids:
                    break
                plan: dict[str, Any] = explain(conn, query, sample, analyze=analyze)
                advice += index_advice.advise_plan(query.name, plan["Plan"], rows, columns, indexes)
            advice += index_advice.advise_unused(_unused(conn))
            for text, calls, mean in _pg_stat_statements(conn):
                click.echo(f"  pg_stat_statements [{database}]: {calls:>8} calls, mean {mean:8.1f} ms: {text[:90]!r}")
            conn.rollback()
    for statement in (s for s in slow if s not in known):
        why = "COPY has no plan" if statement.startswith("COPY") else "its parameters are not kept"
        if statement != "connection check":
            click.echo(f"  not analysed ({why}): {statement} {texts.get(statement, '')[:70]!r}")
    merged = index_advice.merge(advice)
    if not merged:
        click.echo("no index suggestions: the hot statements use indexes and every index is used")
        return
    click.echo("\nsuggestions:")
    for a in merged:
        click.echo(f"  {a.sql}\n      because {a.reason}")


explain_cmd.name = "explain"
index_advice_cmd.name = "index-advice"
COMMANDS = (explain_cmd, index_advice_cmd)
