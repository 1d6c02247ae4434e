"""Celery tasks the pipeline benchmark runs in the real fleet beside process_chunk (the worker is started
with `--include benchmarks.bench_tasks`). They are the two baselines of benchmarks/bench_pipeline.py:

* copy_through: a chunk copied staging -> production as raw COPY bytes, no decoding, no processing: the
  limit of moving the data with this chunking and process count.
* naive_claim: one task per claim, the way one would write it first: SELECTs into a Claim, every rule,
  the model on one claim, row-by-row INSERTs, one status UPDATE.
"""

from __future__ import annotations

from typing import Any

import redis

from claims_tasks import pipeline
from claims_tasks.celery_app import app
from claims_tasks.config import get_settings
from claims_tasks.records import CLAIM_FIELDS, DIAGNOSIS_FIELDS, LINE_FIELDS, Claim, Diagnosis, Line
from claims_tasks.rules import validate_claim
from claims_tasks.tasks import worker_resources
from db import production, staging
from db.duplicates import find_duplicates

COPY_SCHEMA = "bench_copy"
COPIED_KEY = "bench:copied"
COPY_QUEUE = "bench.copy"

# The same rows the pipeline reads, selected by id, and written where production keeps them (tables of
# the same shape and indexes, constraints relaxed so that invalid claims copy too).
_COPIES = (
    (f"COPY (SELECT {', '.join(CLAIM_FIELDS)} FROM staging.claims WHERE claim_id = ANY(%s)) TO STDOUT",
     f"COPY {COPY_SCHEMA}.claims ({', '.join(CLAIM_FIELDS)}) FROM STDIN"),
    (f"COPY (SELECT {', '.join(LINE_FIELDS)} FROM staging.claim_lines WHERE claim_id = ANY(%s)) TO STDOUT",
     f"COPY {COPY_SCHEMA}.claim_lines ({', '.join(LINE_FIELDS)}) FROM STDIN"),
    (f"COPY (SELECT {', '.join(DIAGNOSIS_FIELDS)} FROM staging.claim_diagnoses WHERE claim_id = ANY(%s)) TO STDOUT",
     f"COPY {COPY_SCHEMA}.claim_diagnoses ({', '.join(DIAGNOSIS_FIELDS)}) FROM STDIN"),
)  # fmt: skip

_redis: redis.Redis | None = None


def _counter() -> redis.Redis:
    global _redis
    if _redis is None:
        _redis = redis.Redis.from_url(get_settings().broker_url)
    return _redis


@app.task(name="bench.copy_through", acks_late=True)
def copy_through(claim_ids: list[str]) -> int:
    res = worker_resources()
    with res.staging.connection() as sconn, res.production.connection() as pconn:
        for select, insert in _COPIES:
            with sconn.cursor().copy(select, (claim_ids,)) as out, pconn.cursor().copy(insert) as into:
                for data in out:
                    into.write(data)
    _counter().incrby(COPIED_KEY, len(claim_ids))
    return len(claim_ids)


def _one_claim(conn: Any, batch_id: str, claim_id: str) -> Claim | None:
    row = conn.execute(
        f"SELECT {', '.join(CLAIM_FIELDS)} FROM staging.claims"
        " WHERE claim_id = %s AND status = 'queued' AND batch_id = %s",
        (claim_id, batch_id),
    ).fetchone()
    if row is None:
        return None
    lines = tuple(
        Line(n, code, tuple(mods or ()), units, charge, day, pos, tuple(ptrs or ()), revenue)
        for _cid, n, code, mods, units, charge, day, pos, ptrs, revenue in conn.execute(
            f"SELECT {', '.join(LINE_FIELDS)} FROM staging.claim_lines WHERE claim_id = %s ORDER BY line_number",
            (claim_id,),
        )
    )
    dx = tuple(
        Diagnosis(seq, code)
        for _cid, seq, code in conn.execute(
            f"SELECT {', '.join(DIAGNOSIS_FIELDS)} FROM staging.claim_diagnoses WHERE claim_id = %s ORDER BY sequence",
            (claim_id,),
        )
    )
    return Claim(*row, lines=lines, diagnoses=dx)


def _insert(conn: Any, table: str, columns: tuple[str, ...], row: tuple) -> None:
    conn.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})", row)


@app.task(name="bench.naive_claim", acks_late=True)
def naive_claim(batch_id: str, claim_id: str) -> str:
    res = worker_resources()
    ref = res.reference()
    with res.staging.connection() as sconn, res.production.connection() as pconn:
        claim = _one_claim(sconn, batch_id, claim_id)
        if claim is None:
            return "skipped"
        if production.existing_outcomes(pconn, [claim_id]):
            return "already"
        ctx = pipeline.rule_context(res, ref)
        from dataclasses import replace

        found = validate_claim(claim, replace(ctx, duplicates=find_duplicates(sconn, pconn, [claim])))
        revenue = pipeline.expected_reimbursement(claim, ref.rvu_per_unit)
        if found:
            row = pipeline.failed_row(claim, found, batch_id, res.cipher, revenue)
            _insert(pconn, "failed_claims", production.FAILED_COLUMNS, row)
            outcome = "failed"
        else:
            score = res.scorer().score([claim]).get(claim_id)
            head, lines, dx = pipeline.production_rows(claim, batch_id, revenue, score)
            _insert(pconn, "claims", production.CLAIM_COLUMNS, head)
            for line in lines:
                _insert(pconn, "claim_lines", LINE_FIELDS, line)
            for d in dx:
                _insert(pconn, "claim_diagnoses", DIAGNOSIS_FIELDS, d)
            outcome = "review" if score is not None and score.review else "done"
        pconn.commit()
        staging.mark_outcomes(sconn, batch_id, {claim_id: outcome})
    return outcome
