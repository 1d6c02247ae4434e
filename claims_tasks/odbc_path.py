"""One chunk when production is an ODBC target (SQL Server; PostgreSQL through psqlODBC in the tests).

pipeline.process_chunk sends a chunk here when WorkerResources.odbc is set; the PostgreSQL paths
(chunk_path, process_records) are untouched. The steps and guarantees are process_records': staging read
as records, outcomes production already holds, duplicates against staging and production, rules, model,
one production transaction (db/writers/odbc.py: temp tables, fast_executemany, MERGE), then the staging
flip with the batch counters, compensated when it fails. A redelivery writes nothing twice: existing
outcomes leave those claims out, and the MERGE itself inserts no row that is already there.

Differences, all because the feature lives in PostgreSQL-only code (docs/SQLSERVER.md):
- failed claims go to manual review (status `review`), never to automated repair (`retrying`): the repair
  task reads and rewrites production through psycopg;
- the batch's denial-risk histogram and PSI (batch_scores) are not stored; the model metrics still are.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal

from claims_tasks import pipeline
from claims_tasks.records import ChunkCounts, Claim, RuleFailure
from claims_tasks.reference_cache import chunk_ids
from claims_tasks.resources import WorkerResources
from claims_tasks.rules import DuplicateIndex, validate_chunk
from claims_tasks.rules.duplicates import chunk_keys, within_chunk
from claims_tasks.scoring import ScoringSummary
from db import staging
from db.duplicates import _patients, holder_keys, staging_earliest
from db.production import ChunkWrite
from db.writers import ProductionSession
from db.writers import errors as odbc_errors
from db.writers.odbc import ConcurrentDelivery

logger = logging.getLogger(__name__)

WRITE_ATTEMPTS = 3


def process_chunk(res: WorkerResources, batch_id: str, claim_ids: Sequence[str]) -> ChunkCounts:
    writer = res.odbc
    assert writer is not None
    counts = ChunkCounts()
    stage = pipeline._Stages(counts.timings_ms)
    with stage("read"), res.staging.connection() as sconn:
        claims = staging.load_chunk(sconn, batch_id, claim_ids)
    counts.loaded = len(claims)
    counts.skipped = len(claim_ids) - len(claims)
    if not claims:
        return counts

    ref = res.reference()
    ctx = pipeline.rule_context(res, ref, chunk_ids(claims))
    by_id = {c.claim_id: c for c in claims}
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        with writer.session() as prod:
            with stage("lookup"):
                already = prod.existing_outcomes(list(by_id))
            pending = [c for c in claims if c.claim_id not in already]
            with stage("lookup"), res.staging.connection() as sconn:
                duplicates = find_duplicates(sconn, prod, pending)
            with stage("validate"):
                failures = validate_chunk(pending, replace(ctx, duplicates=duplicates), rules=pipeline.CHUNK_RULES)
            with stage("score"):
                scores, unscorable = pipeline.score_isolating(res, [c for c in pending if not failures.get(c.claim_id)])
                failures.update(unscorable)
            with stage("encode"):
                write = to_review(pipeline.build_write(pending, failures, batch_id, res, ref.rvu_per_unit, scores))
            try:
                with stage("write"):
                    done, failed, poisoned = write_isolating(prod, write)
                    if poisoned:
                        _store_poisoned(prod, batch_id, poisoned, by_id, res, ref.rvu_per_unit)
                    prod.commit()
            except ConcurrentDelivery as exc:
                prod.rollback()
                logger.info("batch=%s: %s; looking again (attempt %d)", batch_id, exc, attempt)
                if attempt == WRITE_ATTEMPTS:
                    raise
                continue
        written = scores.route(
            {**dict.fromkeys(done, "done"), **dict.fromkeys(failed, "failed"), **dict.fromkeys(poisoned, "failed")}
        )
        counts.categories = _categories(write, failed, len(poisoned))
        counts.already = len(already)
        counts.scoring = summaries(scores)
        break

    fresh = {cid: s for cid, s in written.items() if cid not in already}
    counts.count_outcomes(fresh, ())
    try:
        with stage("status"), res.staging.connection() as sconn:
            staging.mark_outcomes(sconn, batch_id, {**already, **written})
    except Exception:
        compensate(res, batch_id, fresh)
        raise
    return counts


def find_duplicates(sconn: object, prod: ProductionSession, claims: Sequence[Claim]) -> DuplicateIndex:
    """db.duplicates.find_duplicates with production's half asked through the writer's session."""
    keys = chunk_keys(claims)
    wanted = set(keys)
    billed: dict = {}
    for cid, key in holder_keys(prod.other_claims(*_patients(wanted))):
        if key in wanted:
            low, high = billed.get(key, (cid, cid))
            billed[key] = (min(low, cid), max(high, cid))
    return within_chunk(claims, DuplicateIndex(earliest=staging_earliest(sconn, keys), billed=billed))  # type: ignore[arg-type]


def to_review(write: ChunkWrite) -> ChunkWrite:
    """Failed claims to manual review: automated repair needs PostgreSQL (module docstring)."""
    at = pipeline.FAILED_STATUS
    write.failed = [(*r[:at], "review", *r[at + 1 :]) if r[at] == "retrying" else r for r in write.failed]
    return write


def write_isolating(prod: ProductionSession, write: ChunkWrite) -> tuple[list[str], list[str], dict[str, str]]:
    """Write the chunk; when the database refuses a row (22xxx/23xxx, a value no rule caught), roll back
    and write halves, each committed on its own (the MERGE keeps every part idempotent), until the claims
    at fault are alone. Returns (claims written, failures written, {refused id: reason})."""
    try:
        prod.write_rows(write)
        return [r[0] for r in write.claims], [r[0] for r in write.failed], {}
    except Exception as exc:
        if not odbc_errors.is_odbc_error(exc) or not odbc_errors.is_refused_row(exc):
            raise
        if odbc_errors.sqlstate(exc) == "23505":  # PostgreSQL: a racing delivery inserted the key first
            raise ConcurrentDelivery(odbc_errors.message(exc)) from None
        prod.rollback()
        ids = [r[0] for r in write.claims] + [r[0] for r in write.failed]
        if len(ids) == 1:
            return [], [], {ids[0]: f"{odbc_errors.sqlstate(exc)} {odbc_errors.message(exc)}"[:300]}
    done: list[str] = []
    failed: list[str] = []
    poisoned: dict[str, str] = {}
    for half in (set(ids[: len(ids) // 2]), set(ids[len(ids) // 2 :])):
        d, f, p = write_isolating(prod, pipeline._subset(write, half))
        prod.commit()
        done += d
        failed += f
        poisoned |= p
    return done, failed, poisoned


def _store_poisoned(
    prod: ProductionSession,
    batch_id: str,
    poisoned: Mapping[str, str],
    by_id: Mapping[str, Claim],
    res: WorkerResources,
    prices: Mapping[str, Decimal],
) -> None:
    logger.warning("batch=%s: %d claim(s) refused by production, stored as system failures", batch_id, len(poisoned))
    rows = [
        pipeline.failed_row(by_id[cid], [RuleFailure("SYSTEM_WRITE_ERROR", "system", "claim",
                                                     f"production refused the claim: {reason}")],
                            batch_id, res.cipher, pipeline.expected_reimbursement(by_id[cid], prices))
        for cid, reason in poisoned.items()
    ]  # fmt: skip
    prod.write_rows(ChunkWrite([], [], [], rows))


def _categories(write: ChunkWrite, failed: Sequence[str], poisoned: int) -> dict[str, int]:
    kept = set(failed)
    out: dict[str, int] = {}
    for row in write.failed:
        if row[0] in kept:
            out[row[3]] = out.get(row[3], 0) + 1
    if poisoned:
        out["system"] = out.get("system", 0) + poisoned
    return out


def summaries(scores: object) -> list[ScoringSummary]:
    """The chunk's model figures for the metrics; no batch drift row (module docstring)."""
    out = []
    for p in scores.variants:  # type: ignore[attr-defined]
        out.append(ScoringSummary(p.model.version, p.model.variant, len(p.claim_ids), p.seconds,
                                  tuple(p.risk.tolist()), p.filters, batch_psi=None))  # fmt: skip
    return out


def compensate(res: WorkerResources, batch_id: str, written: Mapping[str, str]) -> None:
    """pipeline.compensate through the writer: this attempt's production rows removed."""
    assert res.odbc is not None
    try:
        with res.odbc.session() as prod:
            removed = prod.remove_outcomes(batch_id, written)
            prod.commit()
        logger.warning("batch=%s: staging write failed; compensated %d production rows", batch_id, removed)
    except Exception as exc:  # the original error is the one worth raising
        logger.error("batch=%s: compensation failed (%s); redelivery will reconcile", batch_id, exc)
