"""One chunk, start to finish: load, validate, score, bulk-write outcomes, flip the ledger.

Order across the two databases: production first (claims or failed_claims in one transaction), then the
staging status flip with the batch counters. A crash between them leaves claims `queued` but already
written; the redelivered message finds them in production, writes nothing again and only flips their
status. A staging write that fails outright is compensated: this attempt's production rows are removed.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING

import psycopg
from cryptography.fernet import MultiFernet

from claims_tasks import reference_cache, shard_io
from claims_tasks.records import ChunkCounts, Claim, RuleFailure, claim_to_payload
from claims_tasks.reference_cache import chunk_ids
from claims_tasks.repairs import worth_repairing
from claims_tasks.resources import WorkerResources
from claims_tasks.rules import RULES, Rule, RuleContext, failure_category, validate_chunk
from claims_tasks.scoring import record_batch_scores
from db import production, staging
from db.duplicates import find_duplicates
from db.production import ChunkWrite
from db.staging import Reference

if TYPE_CHECKING:
    from ml.serving import ChunkScores, ClaimScore

logger = logging.getLogger(__name__)

_CENT = Decimal("0.01")
FAILED_PRIORITY = production.FAILED_COLUMNS.index("priority")
FAILED_STATUS = production.FAILED_COLUMNS.index("status")
WRITE_ATTEMPTS = 3
# The rules every chunk is validated against (tests add a rule here; the chunk path screens only RULES).
CHUNK_RULES: tuple[Rule, ...] = RULES


class _Stages:
    """Wall-clock milliseconds per stage, accumulated into the chunk's counts."""

    def __init__(self, into: dict[str, float]) -> None:
        self.into = into

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.into[stage] = self.into.get(stage, 0.0) + (time.perf_counter() - t0) * 1000


# failed_claims.potential_revenue is numeric(14,2): a failed claim's absurd units must not make its own
# failure row unwritable (that failed the whole chunk; tests/reliability/test_hostile_input.py).
MAX_REVENUE = Decimal("999999999999.99")


def _finite(value: Decimal | None) -> Decimal | None:
    """The amount, or None for a missing or non-finite one: staging's numeric columns hold NaN, and ordering
    comparisons on a Decimal NaN raise (which failed whole chunks and dispatches)."""
    return value if value is not None and value.is_finite() else None


def expected_reimbursement(claim: Claim, rvu_per_unit: Mapping[str, Decimal]) -> Decimal:
    """Medicare-style allowed amount: (work + PE + MP RVU) × conversion factor × units, over priced lines."""
    total = Decimal(0)
    for line in claim.lines:
        price = rvu_per_unit.get(line.procedure_code or "")
        units = _finite(line.units)
        if price is not None and units is not None and units > 0:
            total += price * units
    return total.quantize(_CENT)


def priority_for(claim: Claim) -> int:
    """Redis priorities: 0 is served first. High-value failures are worth repairing first. The value is the
    larger of the total and the sum of the lines, since either may be the defect."""
    amounts = [_finite(ln.line_charge) for ln in claim.lines]
    lines = sum((a for a in amounts if a is not None), Decimal(0))
    charge = max(_finite(claim.total_charge) or Decimal(0), lines)
    if charge >= 10_000:
        return 0
    if charge >= 2_500:
        return 2
    if charge >= 500:
        return 5
    return 8


def production_rows(
    claim: Claim, batch_id: str, reimbursement: Decimal, score: ClaimScore | None = None
) -> tuple[tuple, list, list]:
    model = (
        (score.predicted_filter, score.denial_risk, score.model_version, score.variant, score.review)
        if score is not None
        else (None, None, None, None, False)
    )
    head = (
        claim.claim_id, claim.facility_id, claim.patient_account_number, claim.patient_first_name,
        claim.patient_last_name, claim.date_of_birth, claim.sex, claim.subscriber_id, claim.payer_id,
        claim.financial_class, claim.billing_npi, claim.rendering_npi, claim.place_of_service,
        claim.claim_frequency, claim.service_from, claim.service_to, claim.total_charge,
        claim.prior_auth_number, claim.received_at, batch_id, reimbursement, *model,
    )  # fmt: skip
    lines = [
        (claim.claim_id, ln.line_number, ln.procedure_code, list(ln.modifiers), ln.units, ln.line_charge,
         ln.service_date, ln.place_of_service, list(ln.diagnosis_pointers), ln.revenue_code)
        for ln in claim.lines
    ]  # fmt: skip
    dx = [(claim.claim_id, d.sequence, d.icd10_code) for d in claim.diagnoses]
    return head, lines, dx


def failed_row(
    claim: Claim,
    failures: Sequence[RuleFailure],
    batch_id: str,
    cipher: MultiFernet,
    revenue: Decimal,
    status: str = "review",
) -> tuple:
    """A failed_claims row; status 'retrying' sends it to automated repair, 'review' to a person."""
    return (
        claim.claim_id,
        batch_id,
        claim.facility_id,
        failure_category(failures),
        sorted({f.code for f in failures}),
        json.dumps([f.as_dict() for f in failures]),
        cipher.encrypt(claim_to_payload(claim)),
        priority_for(claim),
        min(revenue, MAX_REVENUE),
        status,
    )


def build_write(
    claims: Sequence[Claim],
    failures: Mapping[str, list[RuleFailure]],
    batch_id: str,
    res: WorkerResources,
    rvu_per_unit: Mapping[str, Decimal],
    scores: ChunkScores | None = None,
) -> ChunkWrite:
    write = ChunkWrite(claims=[], lines=[], diagnoses=[], failed=[])
    for claim in claims:
        revenue = expected_reimbursement(claim, rvu_per_unit)
        found = failures.get(claim.claim_id)
        if found:
            status = "retrying" if worth_repairing(claim, found) else "review"
            write.failed.append(failed_row(claim, found, batch_id, res.cipher, revenue, status))
        else:
            score = scores.get(claim.claim_id) if scores is not None else None
            head, lines, dx = production_rows(claim, batch_id, revenue, score)
            write.claims.append(head)
            write.lines.extend(lines)
            write.diagnoses.extend(dx)
    return write


def score_isolating(res: WorkerResources, claims: Sequence[Claim]) -> tuple[ChunkScores, dict[str, list[RuleFailure]]]:
    """Score the claims in one call; if the model raises (a value no feature expected), find the claims at
    fault by bisection and fail them alone with SYSTEM_SCORING_ERROR, so the rest are scored."""
    try:
        return res.scorer().score(claims), {}
    except Exception as exc:
        if len(claims) <= 1:
            if not claims:
                raise
            message = f"the model could not score the claim ({type(exc).__name__})"
            return res.scorer().score([]), {claims[0].claim_id: [
                RuleFailure("SYSTEM_SCORING_ERROR", "system", "claim", message)]}  # fmt: skip
    half = len(claims) // 2
    first, bad_first = score_isolating(res, claims[:half])
    second, bad_second = score_isolating(res, claims[half:])
    first.by_claim.update(second.by_claim)
    first.variants.extend(second.variants)
    return first, {**bad_first, **bad_second}


def rule_context(
    res: WorkerResources, ref: Reference, wanted: Mapping[str, Iterable[str | None]] | None = None
) -> RuleContext:
    """The rules' view of the world for one chunk (also used to re-validate repaired claims). `wanted`: the
    chunk's distinct facility, payer and financial class ids (reference_cache.chunk_ids); with the worker's
    cache, the reference sets are the active ones among them as production holds them. Without a cache
    (or ids), staging's whole sets."""
    facilities, payers, classes, loaded = ref.facilities, ref.payers, ref.financial_classes, frozenset[str]()
    if res.references is not None and wanted is not None:
        known = res.references.lookup(wanted)
        empty: frozenset[str] = frozenset()
        facilities, payers, classes = (known.active.get(t, empty) for t in reference_cache.TABLES)
        loaded = known.loaded
    return RuleContext(
        today=res.today(),
        timely_filing_days=res.timely_filing_days,
        facilities=facilities,
        payers=payers,
        financial_classes=classes,
        known_procedures=frozenset(ref.rvu_per_unit),
        edits=ref.edits,
        reference_loaded=loaded,
    )


def process_chunk(res: WorkerResources, batch_id: str, claim_ids: Sequence[str]) -> ChunkCounts:
    """The chunk on columns (claims_tasks/chunk_path.py); the record path below when that declines it."""
    from claims_tasks import chunk_path  # it builds on this module's helpers

    if res.odbc is not None:  # production behind ODBC (SQL Server): docs/SQLSERVER.md
        from claims_tasks import odbc_path

        return odbc_path.process_chunk(res, batch_id, claim_ids)
    counts = chunk_path.process_chunk(res, batch_id, claim_ids, CHUNK_RULES)
    return counts if counts is not None else process_records(res, batch_id, claim_ids)


def process_records(res: WorkerResources, batch_id: str, claim_ids: Sequence[str]) -> ChunkCounts:
    """The chunk as records.Claim values, claim by claim: for chunks the column path cannot take (escaped
    text, a value production refuses, which this path isolates by bisection)."""
    counts = ChunkCounts()
    stage = _Stages(counts.timings_ms)
    with stage("read"), res.staging.connection() as sconn:
        claims = staging.load_chunk(sconn, batch_id, claim_ids)
    counts.loaded = len(claims)
    counts.skipped = len(claim_ids) - len(claims)
    if not claims:
        return counts

    ref = res.reference()
    ctx = rule_context(res, ref, chunk_ids(claims))
    by_id = {c.claim_id: c for c in claims}
    outcomes: dict[str, str] = {}
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        with res.production.connection() as pconn:
            with stage("lookup"):
                already = shard_io.outcomes(res, pconn, list(by_id))
            pending = [c for c in claims if c.claim_id not in already]
            # one duplicate query per database (per claims shard when production is sharded)
            with stage("lookup"), res.staging.connection() as sconn, shard_io.every_shard(res, pconn) as shards:
                duplicates = find_duplicates(sconn, pconn, pending, [c for c in shards if c is not pconn])
            with stage("validate"):
                failures = validate_chunk(pending, replace(ctx, duplicates=duplicates), rules=CHUNK_RULES)
            with stage("score"):  # every valid claim, one vectorised call per model
                scores, unscorable = score_isolating(res, [c for c in pending if not failures.get(c.claim_id)])
                failures.update(unscorable)
            with stage("encode"):
                write = build_write(pending, failures, batch_id, res, ref.rvu_per_unit, scores)
            try:
                with stage("write"):
                    written = _write_isolating(pconn, batch_id, write, by_id, res, ref.rvu_per_unit)
                    written.outcomes = scores.route(written.outcomes)  # risk above threshold: review
                    counts.scoring = record_batch_scores(pconn, batch_id, claim_ids, scores, written.outcomes)
            except psycopg.errors.UniqueViolation:
                # A concurrent delivery of the same claims committed first; look again.
                pconn.rollback()
                if attempt == WRITE_ATTEMPTS:
                    raise
                continue
        outcomes = {**already, **written.outcomes}
        counts.categories = written.categories
        counts.retry = written.retry
        counts.already = len(already)
        break

    counts.count_outcomes(outcomes, already)
    try:
        with stage("status"), res.staging.connection() as sconn:
            staging.mark_outcomes(sconn, batch_id, outcomes)
    except Exception:
        # Compensation: take back what this attempt wrote, so the two databases agree again (claims still
        # `queued`, nothing in production) before the task retries. If the compensation fails too, the
        # retry still converges: it finds the rows in production and only flips the status.
        compensate(res, batch_id, {cid: s for cid, s in outcomes.items() if cid not in already})
        raise
    return counts


def compensate(res: WorkerResources, batch_id: str, written: Mapping[str, str]) -> None:
    try:
        with res.production.connection() as pconn:
            removed = shard_io.remove(res, pconn, batch_id, written)
        logger.warning("batch=%s: staging write failed; compensated %d production rows", batch_id, removed)
    except Exception as exc:  # the original error is the one worth raising
        logger.error("batch=%s: compensation failed (%s); redelivery will reconcile", batch_id, exc)


@dataclass
class _Written:
    outcomes: dict[str, str]
    categories: dict[str, int]
    retry: dict[int, list[str]]


def _write_isolating(
    conn: psycopg.Connection,
    batch_id: str,
    write: ChunkWrite,
    by_id: Mapping[str, Claim],
    res: WorkerResources,
    rvu_per_unit: Mapping[str, Decimal],
) -> _Written:
    """Write the chunk; if the database refuses a row (a value no rule caught), find the claims at fault by
    bisection under savepoints and store them as `system` failures, so the rest still go through."""
    ok_claims, ok_failed, poisoned = shard_io.write_claims(res, conn, write)  # claims to their shards
    if poisoned:
        logger.warning(
            "batch=%s: %d claim(s) refused by production, stored as system failures", batch_id, len(poisoned)
        )
        rows = [
            failed_row(
                by_id[cid],
                [RuleFailure("SYSTEM_WRITE_ERROR", "system", "claim",
                             f"production refused the claim: {reason}")],
                batch_id, res.cipher, expected_reimbursement(by_id[cid], rvu_per_unit),
            )
            for cid, reason in poisoned.items()
        ]  # fmt: skip
        production.write_rows(conn, ChunkWrite([], [], [], rows))
    kept = set(ok_failed)
    categories = Counter(row[3] for row in write.failed if row[0] in kept)
    retry: dict[int, list[str]] = {}
    for row in write.failed:
        if row[0] in kept and row[FAILED_STATUS] == "retrying":
            retry.setdefault(row[FAILED_PRIORITY], []).append(row[0])
    if poisoned:
        categories["system"] += len(poisoned)
    return _Written(
        outcomes={**dict.fromkeys(ok_claims, "done"), **dict.fromkeys(ok_failed, "failed"),
                  **dict.fromkeys(poisoned, "failed")},
        categories=dict(categories),
        retry=retry,
    )  # fmt: skip


def write_or_split(conn: psycopg.Connection, write: ChunkWrite) -> tuple[list[str], list[str], dict[str, str]]:
    """Returns (claim ids written to claims, ids written to failed_claims, {poisoned id: reason})."""
    try:
        with conn.transaction():
            production.write_rows(conn, write)
        return [r[0] for r in write.claims], [r[0] for r in write.failed], {}
    # ProgramLimitExceeded: a value too large for an index entry (no rule bounds every text field's length).
    except (psycopg.errors.DataError, psycopg.errors.IntegrityError, psycopg.errors.ProgramLimitExceeded) as exc:
        if isinstance(exc, psycopg.errors.UniqueViolation):
            raise
        ids = [r[0] for r in write.claims] + [r[0] for r in write.failed]
        if len(ids) == 1:
            return [], [], {ids[0]: type(exc).__name__}
    halves = (_subset(write, set(ids[: len(ids) // 2])), _subset(write, set(ids[len(ids) // 2 :])))
    done: list[str] = []
    failed: list[str] = []
    poisoned: dict[str, str] = {}
    for half in halves:
        d, f, p = write_or_split(conn, half)
        done += d
        failed += f
        poisoned |= p
    return done, failed, poisoned


def _subset(write: ChunkWrite, ids: set[str]) -> ChunkWrite:
    return ChunkWrite(
        claims=[r for r in write.claims if r[0] in ids],
        lines=[r for r in write.lines if r[0] in ids],
        diagnoses=[r for r in write.diagnoses if r[0] in ids],
        failed=[r for r in write.failed if r[0] in ids],
    )
