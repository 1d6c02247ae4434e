"""One chunk on columns: what pipeline.process_chunk runs for every chunk whose text needs no unescaping.

The same steps, order and guarantees as the record path in claims_tasks.pipeline (production first, then
the staging flip with the batch counters; a redelivery writes nothing twice; a failed flip is
compensated), with the data kept as COPY bytes and polars columns (claims_tasks.columns):

read      three raw COPYs out of staging, parsed column-wise; one query for outcomes production holds
          already; one query per database for the other claims of the chunk's patients (duplicates)
validate  duplicate keys resolved column-wise, the pre-screen (claims_tasks/prescreen.py) on every claim, then
          every rule on the suspects only: records.Claim values are built for those alone
score     features from the columns (ml/frame_features.py), one model call per variant
encode    valid claims: the staging rows plus the production columns, as COPY text; failed claims:
          failed_claims rows with the encrypted payload, as before
write     one production transaction of raw COPYs; the batch's score histogram
status    the staging flip and batch counters, one statement per outcome

Returns None when the record path must take the chunk instead (escaped text, or a value production
refuses: the record path isolates such a claim by bisection).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np
import psycopg

from claims_tasks import chunk_rows, pipeline, shard_io
from claims_tasks import duplicate_keys as dupcols
from claims_tasks.columns import ChunkFrame, parse_chunk, plain_text
from claims_tasks.prescreen import covers, screen
from claims_tasks.records import ChunkCounts, Claim, RuleFailure
from claims_tasks.reference_cache import FIELDS
from claims_tasks.repairs import worth_repairing
from claims_tasks.resources import WorkerResources
from claims_tasks.rules import Rule, validate_chunk
from claims_tasks.scoring import record_batch_scores
from db import chunks, production, staging
from db.duplicates import PRODUCTION_QUERY, STAGING_QUERY, other_claims
from db.production import ChunkWrite
from ml import features
from ml.frame_features import FeatureRows, extract_frame

if TYPE_CHECKING:
    from ml.serving import ChunkScores

logger = logging.getLogger(__name__)

WRITE_ATTEMPTS = 3
# A row production refuses (a value no rule bounds): the record path finds the claim at fault.
_REFUSED = (psycopg.errors.DataError, psycopg.errors.IntegrityError, psycopg.errors.ProgramLimitExceeded)
# Values the production rows take from the message and the model: checked rather than escaped per row.
_PLAIN = str.maketrans("", "", "\\\t\n\r")


def process_chunk(
    res: WorkerResources, batch_id: str, claim_ids: Sequence[str], rules: Sequence[Rule]
) -> ChunkCounts | None:
    counts = ChunkCounts()
    timed = pipeline._Stages(counts.timings_ms)
    if batch_id.translate(_PLAIN) != batch_id:
        return None
    with timed("read"):
        with res.staging.connection() as sconn:
            raw = chunks.read_chunk(sconn, batch_id, claim_ids)
        if not plain_text(raw):
            return None
        frame = parse_chunk(raw)
    counts.loaded = len(frame)
    counts.skipped = len(claim_ids) - counts.loaded
    if not counts.loaded:
        return counts

    ref = res.reference()
    wanted = {table: frame.claims[name].unique().to_list() for table, name in FIELDS.items()}
    ctx = pipeline.rule_context(res, ref, wanted)
    ids = frame.ids
    outcomes: dict[str, str] = {}
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        with res.production.connection() as pconn:
            with timed("lookup"):  # outcomes already written, and the duplicate candidates in both databases
                already = shard_io.outcomes(res, pconn, ids)
                pending = np.fromiter((cid not in already for cid in ids), dtype=bool, count=len(ids))
                keys = dupcols.key_frame(frame, pending)
                subscribers, births = dupcols.patients(keys)
                skip = [cid for cid, p in zip(ids, pending, strict=True) if p]
                with res.staging.connection() as sconn:
                    in_staging = other_claims(sconn, STAGING_QUERY, subscribers, births, skip)
                with shard_io.every_shard(res, pconn) as shards:  # all of production: one query each
                    in_production = [c for conn in shards for c in other_claims(conn, PRODUCTION_QUERY, subscribers,
                                                                                 births)]  # fmt: skip
            with timed("validate"):
                resolution = dupcols.resolve(
                    keys,
                    dupcols.holders_frame(dupcols.holder_keys(in_staging)),
                    dupcols.holders_frame(dupcols.holder_keys(in_production)),
                )
                flagged = np.zeros(len(ids), dtype=bool)
                flagged[resolution.suspects] = True
                suspect = (screen(frame, ctx, flagged) if covers(rules) else np.ones(len(ids), bool)) & pending
                looked_at = np.flatnonzero(suspect).tolist()
                records = dict(zip(looked_at, frame.claims_at(looked_at), strict=True))
                suspects = list(records.values())
                index = dupcols.index_for(suspects, resolution)
                failures = validate_chunk(suspects, replace(ctx, duplicates=index), rules=rules)
            with timed("score"):
                clean = np.flatnonzero(pending & ~suspect).tolist()
                passed = [i for i, c in records.items() if not failures.get(c.claim_id)]
                rows = _feature_rows(frame, clean, [records[i] for i in passed])
                scores, unscorable = pipeline.score_isolating(res, rows)
                failures.update(unscorable)
            with timed("encode"):
                valid = [i for i in (*clean, *passed) if not failures.get(ids[i])]
                failed = [i for i in np.flatnonzero(pending).tolist() if failures.get(ids[i])]
                for i in failed:
                    if i not in records:
                        records[i] = frame.claims_at([i])[0]
                shard_groups = _by_shard(res, frame, valid)
                encoded = {
                    shard: _encode(frame, group, [records[i] for i in failed] if shard is None else [], failures,
                                   batch_id, res, ref.rvu_per_unit, scores, records)
                    for shard, group in shard_groups.items()
                }  # fmt: skip
                write = encoded[None]  # the failed claims, and when not sharded every valid claim too
            try:
                with timed("write"):
                    for shard, shard_write in encoded.items():  # sharded: each shard's claims, committed first
                        if shard is not None:
                            with shard_io.shard_connection(res, pconn, shard) as conn, conn.transaction():
                                production.write_rows(conn, shard_write)
                    with pconn.transaction():
                        production.write_rows(pconn, write)
                        written = {**dict.fromkeys((ids[i] for i in valid), "done"),
                                   **dict.fromkeys((ids[i] for i in failed), "failed")}  # fmt: skip
                        written = scores.route(written)
                        counts.scoring = record_batch_scores(pconn, batch_id, claim_ids, scores, written)
            except psycopg.errors.UniqueViolation:
                pconn.rollback()
                if attempt == WRITE_ATTEMPTS:
                    raise
                continue
            except _REFUSED as exc:
                pconn.rollback()
                logger.warning("batch=%s: production refused a row (%s); chunk goes the record path", batch_id, exc)
                return None
        outcomes = {**already, **written}
        counts.categories = dict(Counter(row[3] for row in write.failed))
        counts.retry = _retry(write)
        counts.already = len(already)
        break

    fresh = {cid: s for cid, s in outcomes.items() if cid not in already}
    counts.count_outcomes(fresh, ())
    try:
        with timed("status"), res.staging.connection() as sconn:
            staging.mark_outcomes(sconn, batch_id, outcomes)
    except Exception:
        pipeline.compensate(res, batch_id, fresh)
        raise
    return counts


def _by_shard(res: WorkerResources, frame: ChunkFrame, valid: list[int]) -> dict[int | None, list[int]]:
    """Valid claim positions by claims shard; None (home, with the failed claims) when not sharded."""
    groups: dict[int | None, list[int]] = {None: []}
    if not res.sharded:
        groups[None] = valid
        return groups
    facilities = frame.claims["facility_id"].to_list()
    for i in valid:
        groups.setdefault(shard_io.shard_of(res, facilities[i]), []).append(i)
    return groups


def _feature_rows(frame: ChunkFrame, clean: list[int], passed: list[Claim]) -> FeatureRows:
    parts = []
    if clean:
        parts.append(FeatureRows([frame.ids[i] for i in clean], extract_frame(frame, clean)))
    if passed:
        parts.append(FeatureRows([c.claim_id for c in passed], features.extract(passed)))
    return FeatureRows.concat(parts)


def _encode(
    frame: ChunkFrame,
    valid: list[int],
    failed: list[Claim],
    failures: Mapping[str, list[RuleFailure]],
    batch_id: str,
    res: WorkerResources,
    prices: Mapping[str, Decimal],
    scores: ChunkScores,
    records: Mapping[int, Claim],
) -> ChunkWrite:
    ids = frame.ids
    reimbursement = chunk_rows.expected_reimbursement_text(frame, valid, prices)
    if reimbursement is None:  # a price the integer path cannot hold: the Decimal function, per claim
        reimbursement = [
            str(pipeline.expected_reimbursement(records.get(i) or frame.claims_at([i])[0], prices)) for i in valid
        ]
    batch = chunk_rows.copy_text(batch_id)
    tails = []
    for i, money in zip(valid, reimbursement, strict=True):
        s = scores.by_claim[ids[i]]
        tails.append(
            f"{batch}\t{money}\t{chunk_rows.copy_text(s.predicted_filter)}\t{s.denial_risk!r}\t"
            f"{chunk_rows.copy_text(s.model_version)}\t{chunk_rows.copy_text(s.variant)}\t{'t' if s.review else 'f'}"
        )
    keep = np.zeros(len(ids), dtype=bool)
    keep[valid] = True
    line_claims = frame.lines["i"].to_numpy()
    dx_claims = frame.diagnoses["i"].to_numpy()
    failed_rows = []
    for claim in failed:
        found = failures[claim.claim_id]
        status = "retrying" if worth_repairing(claim, found) else "review"
        revenue = pipeline.expected_reimbursement(claim, prices)
        failed_rows.append(pipeline.failed_row(claim, found, batch_id, res.cipher, revenue, status))
    return ChunkWrite(
        claims=[], lines=[], diagnoses=[], failed=failed_rows,
        claims_text=chunk_rows.claims_copy(frame, valid, tails),
        lines_text=chunk_rows.details_copy(frame.line_rows, line_claims, keep),
        diagnoses_text=chunk_rows.details_copy(frame.diagnosis_rows, dx_claims, keep),
    )  # fmt: skip


def _retry(write: ChunkWrite) -> dict[int, list[str]]:
    retry: dict[int, list[str]] = {}
    for row in write.failed:
        if row[pipeline.FAILED_STATUS] == "retrying":
            retry.setdefault(row[pipeline.FAILED_PRIORITY], []).append(row[0])
    return retry
