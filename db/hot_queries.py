"""The statements a chunk and a dispatch run, with parameters taken from the data in the databases now,
so that their plans can be printed (`claims-tasks explain`) and checked for missing indexes
(`claims-tasks index-advice`). COPY into production is not here: COPY has no plan.

Writes (the status flip, the dispatcher's marking, the stale sweep) are explained without running them,
or with --analyze inside a transaction that is rolled back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import psycopg

from db import chunks, dispatch_pages, duplicates, production, staging
from db.models import OPEN_FAILED
from db.params import text_array
from db.query_tracker import statement_name

SAMPLE_SIZE = 1000


@dataclass(frozen=True)
class Sample:
    """Parameters shaped like a chunk's: claim ids (queued ones of one batch when there are), their batch,
    their patients."""

    claim_ids: list[str]
    batch_id: str
    subscribers: list[str]
    births: list[date]


def take_sample(conn: psycopg.Connection, size: int = SAMPLE_SIZE) -> Sample:
    row = conn.execute(
        "SELECT batch_id FROM staging.claims WHERE status = 'queued' AND batch_id IS NOT NULL LIMIT 1"
    ).fetchone()
    batch = row[0] if row else ""
    rows = conn.execute(
        "SELECT claim_id, subscriber_id, date_of_birth FROM staging.claims"
        " WHERE (%(batch)s = '' OR (status = 'queued' AND batch_id = %(batch)s)) ORDER BY claim_id LIMIT %(n)s",
        {"batch": batch, "n": size},
    ).fetchall()
    people = [(s, b) for _, s, b in rows if s is not None and b is not None]
    return Sample([r[0] for r in rows], batch, [s for s, _ in people], [b for _, b in people])


@dataclass(frozen=True)
class HotQuery:
    name: str
    database: str  # "staging" or "production"
    sql: str
    params: Callable[[Sample], Any]
    writes: bool = False

    @property
    def statement(self) -> str:
        """The name the query tracker gives this statement (metrics, slow-query log)."""
        return statement_name(self.sql)


HOT_QUERIES: tuple[HotQuery, ...] = (
    HotQuery("read chunk", "staging", chunks.CHUNK_QUERY,
             lambda s: {"ids": text_array(s.claim_ids), "batch": s.batch_id}),
    HotQuery("outcomes already in production", "production", production.EXISTING_QUERY,
             lambda s: {"ids": text_array(s.claim_ids), "open": list(OPEN_FAILED)}),
    HotQuery("duplicates in staging", "staging", duplicates.STAGING_QUERY,
             lambda s: {"subscribers": s.subscribers, "births": s.births, "skip": text_array(s.claim_ids)}),
    HotQuery("duplicates in production", "production", duplicates.PRODUCTION_QUERY,
             lambda s: {"subscribers": s.subscribers, "births": s.births, "skip": text_array([])}),
    HotQuery("status flip", "staging", staging.MARK_OUTCOME,
             lambda s: ("done", text_array(s.claim_ids), s.batch_id), writes=True),
    HotQuery("dispatch page bound", "staging", dispatch_pages.BOUND_QUERY, lambda s: {"last": "", "skip": 19_999}),
    HotQuery("dispatch page", "staging", dispatch_pages.MARK_QUERY,
             lambda s: {"batch": "explain", "last": "", "upto": s.claim_ids[-1] if s.claim_ids else None,
                        "high": 10_000}, writes=True),
)  # fmt: skip


# The workers' connections run without JIT (claims_tasks/resources.py): plans are shown as they run there.
AS_WORKERS_RUN_THEM = "SET LOCAL jit = off"


def explain(conn: psycopg.Connection, query: HotQuery, sample: Sample, analyze: bool = False) -> dict[str, Any]:
    """The plan as PostgreSQL's JSON (a dict); with analyze, the statement runs and is rolled back."""
    options = "ANALYZE, BUFFERS, " if analyze else ""
    try:  # VERBOSE: each node names its relation's schema
        conn.execute(AS_WORKERS_RUN_THEM)
        row = conn.execute(f"EXPLAIN ({options}VERBOSE, FORMAT JSON) {query.sql}", query.params(sample)).fetchone()
    finally:
        conn.rollback()
    assert row is not None
    doc = row[0] if not isinstance(row[0], str) else json.loads(row[0])
    return doc[0]  # type: ignore[no-any-return]


# The sample's parameters appear in the plan as literals; a thousand ids are shortened for reading.
_LONG_ARRAY = re.compile(r"'\{([^']{120,})\}'")


def _shorten(line: str) -> str:
    return _LONG_ARRAY.sub(lambda m: f"'{{{m.group(1)[:40]},... {m.group(1).count(',') + 1} values}}'", line)


def explain_text(conn: psycopg.Connection, query: HotQuery, sample: Sample, analyze: bool = False) -> str:
    options = "ANALYZE, BUFFERS" if analyze else "COSTS"
    try:
        conn.execute(AS_WORKERS_RUN_THEM)
        rows = conn.execute(f"EXPLAIN ({options}) {query.sql}", query.params(sample)).fetchall()
    finally:
        conn.rollback()
    return "\n".join(_shorten(r[0]) for r in rows)


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every node of a JSON plan, depth first."""
    yield plan
    for child in plan.get("Plans", ()):
        yield from nodes(child)
