"""One chunk, start to finish: load, validate, bulk-write outcomes, flip the ledger.

Order across the two databases: production first (claims or failed_claims, plus batch counters, in one
transaction), staging status second. A crash between them leaves claims `queued` but already written;
the redelivered message finds them in production, writes nothing again and only flips their status.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

import psycopg
from cryptography.fernet import MultiFernet

from claims_tasks.records import ChunkCounts, Claim, RuleFailure, claim_to_payload
from claims_tasks.resources import WorkerResources
from claims_tasks.rules import RuleContext, failure_category, validate_chunk
from db import production, staging
from db.production import ChunkWrite

logger = logging.getLogger(__name__)

_CENT = Decimal("0.01")
WRITE_ATTEMPTS = 3


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


def expected_reimbursement(claim: Claim, rvu_per_unit: Mapping[str, Decimal]) -> Decimal:
    """Medicare-style allowed amount: (work + PE + MP RVU) × conversion factor × units, over priced lines."""
    total = Decimal(0)
    for line in claim.lines:
        price = rvu_per_unit.get(line.procedure_code or "")
        if price is not None and line.units is not None and line.units > 0:
            total += price * line.units
    return total.quantize(_CENT)


def priority_for(claim: Claim) -> int:
    """Redis priorities: 0 is served first. High-value failures are worth repairing first."""
    charge = claim.total_charge or Decimal(0)
    if charge >= 10_000:
        return 0
    if charge >= 2_500:
        return 2
    if charge >= 500:
        return 5
    return 8


def production_rows(claim: Claim, batch_id: str, reimbursement: Decimal) -> tuple[tuple, list, list]:
    head = (
        claim.claim_id, claim.facility_id, claim.patient_account_number, claim.patient_first_name,
        claim.patient_last_name, claim.date_of_birth, claim.sex, claim.subscriber_id, claim.payer_id,
        claim.financial_class, claim.billing_npi, claim.rendering_npi, claim.place_of_service,
        claim.claim_frequency, claim.service_from, claim.service_to, claim.total_charge,
        claim.prior_auth_number, claim.received_at, batch_id, reimbursement, None, None, None,
    )  # fmt: skip
    lines = [
        (claim.claim_id, ln.line_number, ln.procedure_code, list(ln.modifiers), ln.units, ln.line_charge,
         ln.service_date, ln.place_of_service, list(ln.diagnosis_pointers))
        for ln in claim.lines
    ]  # fmt: skip
    dx = [(claim.claim_id, d.sequence, d.icd10_code) for d in claim.diagnoses]
    return head, lines, dx


def failed_row(
    claim: Claim, failures: Sequence[RuleFailure], batch_id: str, cipher: MultiFernet, revenue: Decimal
) -> tuple:
    return (
        claim.claim_id,
        batch_id,
        claim.facility_id,
        failure_category(failures),
        sorted({f.code for f in failures}),
        json.dumps([f.as_dict() for f in failures]),
        cipher.encrypt(claim_to_payload(claim)),
        priority_for(claim),
        revenue,
    )


def build_write(
    claims: Sequence[Claim],
    failures: Mapping[str, list[RuleFailure]],
    batch_id: str,
    res: WorkerResources,
    rvu_per_unit: Mapping[str, Decimal],
) -> ChunkWrite:
    write = ChunkWrite(claims=[], lines=[], diagnoses=[], failed=[])
    for claim in claims:
        revenue = expected_reimbursement(claim, rvu_per_unit)
        found = failures.get(claim.claim_id)
        if found:
            write.failed.append(failed_row(claim, found, batch_id, res.cipher, revenue))
        else:
            head, lines, dx = production_rows(claim, batch_id, revenue)
            write.claims.append(head)
            write.lines.extend(lines)
            write.diagnoses.extend(dx)
    return write


def process_chunk(res: WorkerResources, batch_id: str, claim_ids: Sequence[str]) -> ChunkCounts:
    counts = ChunkCounts()
    stage = _Stages(counts.timings_ms)
    with stage("read"), res.staging.connection() as sconn:
        claims = staging.load_chunk(sconn, batch_id, claim_ids)
    counts.loaded = len(claims)
    counts.skipped = len(claim_ids) - len(claims)
    if not claims:
        return counts

    ref = res.reference()
    ctx = RuleContext(
        today=res.today(),
        timely_filing_days=res.timely_filing_days,
        facilities=ref.facilities,
        payers=ref.payers,
        financial_classes=ref.financial_classes,
        known_procedures=frozenset(ref.rvu_per_unit),
    )
    by_id = {c.claim_id: c for c in claims}
    outcomes: dict[str, str] = {}
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        with res.production.connection() as pconn:
            with stage("read"):
                already = production.existing_outcomes(pconn, list(by_id))
            pending = [c for c in claims if c.claim_id not in already]
            with stage("validate"):
                failures = validate_chunk(pending, ctx)
            with stage("encode"):
                write = build_write(pending, failures, batch_id, res, ref.rvu_per_unit)
            try:
                with stage("write"):
                    written = _write_isolating(pconn, batch_id, write, by_id, res, ref.rvu_per_unit)
            except psycopg.errors.UniqueViolation:
                # A concurrent delivery of the same claims committed first; look again.
                pconn.rollback()
                if attempt == WRITE_ATTEMPTS:
                    raise
                continue
        outcomes = {**already, **written.outcomes}
        counts.categories = written.categories
        counts.already = len(already)
        break

    counts.done = sum(1 for cid, s in outcomes.items() if s == "done" and cid not in already)
    counts.failed = sum(1 for cid, s in outcomes.items() if s == "failed" and cid not in already)
    with stage("status"), res.staging.connection() as sconn:
        staging.mark_outcomes(sconn, batch_id, outcomes)
    return counts


@dataclass
class _Written:
    outcomes: dict[str, str]
    categories: dict[str, int]


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
    ok_claims, ok_failed, poisoned = _write_or_split(conn, write)
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
    if poisoned:
        categories["system"] += len(poisoned)
    return _Written(
        outcomes={**dict.fromkeys(ok_claims, "done"), **dict.fromkeys(ok_failed, "failed"),
                  **dict.fromkeys(poisoned, "failed")},
        categories=dict(categories),
    )  # fmt: skip


def _write_or_split(
    conn: psycopg.Connection, write: ChunkWrite
) -> tuple[list[str], list[str], dict[str, str]]:
    """Returns (claim ids written to claims, ids written to failed_claims, {poisoned id: reason})."""
    try:
        with conn.transaction():
            production.write_rows(conn, write)
        return [r[0] for r in write.claims], [r[0] for r in write.failed], {}
    except (psycopg.errors.DataError, psycopg.errors.IntegrityError) as exc:
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
        d, f, p = _write_or_split(conn, half)
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
