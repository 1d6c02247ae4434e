"""`claims-tasks explain` and `claims-tasks index-advice` on the real databases, and the advice rules on
plans shaped like PostgreSQL's."""

from __future__ import annotations

import json

import psycopg
import redis
from click.testing import CliRunner

from claims_tasks.cli import main
from claims_tasks.config import Settings
from claims_tasks.index_advice import advise_plan, advise_unused, merge
from claims_tasks.tasks import run_dispatch
from db.hot_queries import HOT_QUERIES
from db.query_tracker import QUERY_TEXTS_KEY, SLOW_LOG_KEY
from db.seed import seed_claims


def test_explain_prints_every_hot_statement_plan(clean: Settings) -> None:
    seed_claims(clean.staging_dsn, 2_000, facilities=4, invalid_share=0.1, seed=3)
    assert run_dispatch() is not None

    out = CliRunner().invoke(main, ["explain", "--analyze"])

    assert out.exit_code == 0, out.output
    for query in HOT_QUERIES:
        assert f"== {query.name} [{query.database}]" in out.output
    assert out.output.count("Execution Time") == len(HOT_QUERIES)  # --analyze: each one ran
    assert "values}'" in out.output  # a thousand sample ids are shortened in the plans
    with psycopg.connect(clean.staging_dsn) as conn:  # --analyze ran the writes and rolled them back
        states = dict(conn.execute("SELECT status, count(*) FROM staging.claims GROUP BY 1").fetchall())
    assert states == {"queued": 2_000}


def test_index_advice_reads_the_slow_log_and_names_a_missing_index(
    clean: Settings, staging: psycopg.Connection
) -> None:
    seed_claims(clean.staging_dsn, 12_000, facilities=4, invalid_share=0.0, seed=4)
    assert run_dispatch() is not None
    client = redis.Redis.from_url(clean.broker_url)
    name = HOT_QUERIES[0].statement
    client.lpush(SLOW_LOG_KEY, json.dumps({"at": 0, "statement": name, "ms": 900.0}))
    client.hset(QUERY_TEXTS_KEY, name, HOT_QUERIES[0].sql)
    staging.execute("ANALYZE staging.claims")
    staging.execute("ALTER TABLE staging.claims DROP CONSTRAINT pk_claims")  # a chunk would be read by a scan
    try:
        out = CliRunner().invoke(main, ["index-advice"])
    finally:
        staging.execute("ALTER TABLE staging.claims ADD CONSTRAINT pk_claims PRIMARY KEY (claim_id)")

    assert out.exit_code == 0, out.output
    assert f"{name}" in out.output and "1 slow runs, mean    900.0 ms" in out.output
    assert "CREATE INDEX CONCURRENTLY" in out.output and "staging.claims (claim_id" in out.output


PLAN = {
    "Node Type": "Nested Loop",
    "Plans": [
        {"Node Type": "Seq Scan", "Relation Name": "claims", "Schema": "staging",
         "Filter": "((c.status = 'queued'::text) AND (c.batch_id = 'b1'::text))"},
        {"Node Type": "Index Scan", "Relation Name": "claim_lines", "Schema": "public",
         "Filter": "(procedure_code = '99213'::text)", "Rows Removed by Filter": 5000, "Actual Rows": 3},
    ],
}  # fmt: skip


def test_advice_from_a_plan() -> None:
    rows = {"staging.claims": 1_000_000, "claim_lines": 2_500_000}
    columns = {"staging.claims": ["claim_id", "status", "batch_id"], "claim_lines": ["claim_id", "procedure_code"]}
    advice = advise_plan("read chunk", PLAN, rows, columns, {"staging.claims": [("claim_id",)]})
    assert [(a.table, a.columns) for a in advice] == [
        ("staging.claims", ("status", "batch_id")),
        ("claim_lines", ("procedure_code",)),
    ]
    assert advice[0].sql == "CREATE INDEX CONCURRENTLY ix_claims_status_batch_id ON staging.claims (status, batch_id);"
    # an index leading with a filtered column already serves the scan: nothing to suggest
    assert advise_plan("x", PLAN["Plans"][0], rows, columns, {"staging.claims": [("batch_id", "status")]}) == []
    assert advise_plan("x", PLAN, {}, columns, {}) == []  # small tables: a scan is fine


def test_unused_indexes_on_large_tables_and_merged_reasons() -> None:
    stats = [("claims", "ix_a", 0, 50_000, False), ("claims", "pk", 0, 50_000, True), ("tiny", "ix_b", 0, 10, False)]
    [drop] = advise_unused(stats)
    assert drop.sql == "DROP INDEX CONCURRENTLY ix_a;"
    both = merge(advise_plan("a", PLAN["Plans"][0], {"staging.claims": 10**6}, {"staging.claims": ["status"]}, {}) * 2)
    assert len(both) == 1
