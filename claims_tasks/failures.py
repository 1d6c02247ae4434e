"""What happens to a failed claim after the pipeline: automated repair, then a person's review.

Cross-database order, as in the pipeline: production first (claim rows, the failed claim's new status and
its audit row, in one transaction), then the staging ledger. Every step can run again: a repair message
delivered twice, or an accept re-run after a crash, finishes the staging side without writing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from claims_tasks import pipeline, shard_io
from claims_tasks.corrections import apply_corrections
from claims_tasks.dispatch import new_batch_id
from claims_tasks.errors import ClaimsError
from claims_tasks.records import Claim, claim_from_payload
from claims_tasks.reference_cache import chunk_ids
from claims_tasks.repairs import apply_repairs
from claims_tasks.resources import WorkerResources
from claims_tasks.rules import validate_chunk
from claims_tasks.sharding import shard_for
from db import batches, review, staging
from db.production import ChunkWrite

logger = logging.getLogger(__name__)

REPAIR_ACTOR = "system:repair"
# send(batch_id, shard, claim_ids, priority): how a re-processed claim reaches its shard queue.
SendChunk = Callable[[str, int, list[str], int], None]


@dataclass
class RepairCounts:
    repaired: int = 0
    review: int = 0
    healed: int = 0
    skipped: int = 0
    repairs: dict[str, int] = field(default_factory=dict)


def _decrypt(res: WorkerResources, failed: review.FailedClaim) -> Claim:
    return claim_from_payload(res.cipher.decrypt(failed.encrypted_payload))


def repair_claims(res: WorkerResources, claim_ids: list[str]) -> RepairCounts:
    """Repair what can be repaired, re-validate, send the fixed claims to production and the rest to review."""
    counts = RepairCounts()
    ref = res.reference()
    with res.production.connection() as pconn:
        rows = review.by_status(pconn, claim_ids, ["retrying"])
        healed = [r.claim_id for r in review.by_status(pconn, claim_ids, ["repaired"])]
        counts.skipped = len(claim_ids) - len(rows) - len(healed)
        results = {r.claim_id: apply_repairs(_decrypt(res, r)) for r in rows}
        repaired = [x.claim for x in results.values()]
        failures = validate_chunk(repaired, pipeline.rule_context(res, ref, chunk_ids(repaired)))
        # Repaired claims are scored like any other: the prediction is written with them, and a high risk
        # sends them to review rather than done.
        scores, unscorable = pipeline.score_isolating(
            res, [results[r.claim_id].claim for r in rows if not failures.get(r.claim_id)]
        )
        failures.update(unscorable)
        fixed = [r for r in rows if not failures.get(r.claim_id)]
        fixed_ids = {r.claim_id for r in fixed}
        healed_to = shard_io.outcomes(res, pconn, healed)
        # A claim already in production (a repair delivered twice) is not written again.
        in_production = {cid for cid, s in shard_io.outcomes(res, pconn, list(fixed_ids)).items() if s != "failed"}
        write = ChunkWrite([], [], [], [])
        for r in fixed:
            if r.claim_id in in_production:
                continue
            claim = results[r.claim_id].claim
            head, lines, dx = pipeline.production_rows(
                claim, r.batch_id, pipeline.expected_reimbursement(claim, ref.rvu_per_unit), scores.get(r.claim_id)
            )
            write.claims.append(head)
            write.lines.extend(lines)
            write.diagnoses.extend(dx)
        _, _, refused = shard_io.write_claims(res, pconn, write)  # to the claims' shards when sharded
        for r in rows:
            applied = [*r.repairs, *results[r.claim_id].applied]
            for item in results[r.claim_id].applied:
                counts.repairs[str(item["repair"])] = counts.repairs.get(str(item["repair"]), 0) + 1
            if r.claim_id in fixed_ids and r.claim_id not in refused:
                review.transition(pconn, r, REPAIR_ACTOR, "repair", status="repaired", repairs=applied,
                                  attempts=r.attempts + 1, resolution="repaired")  # fmt: skip
                counts.repaired += 1
            else:
                after = sorted({f.code for f in failures.get(r.claim_id, [])}) or ["SYSTEM_WRITE_ERROR"]
                review.transition(pconn, r, REPAIR_ACTOR, "repair_failed", status="review", repairs=applied,
                                  attempts=r.attempts + 1, extra={"rule_codes_after": after})  # fmt: skip
                counts.review += 1
    outcomes = scores.route({cid: "done" for cid in fixed_ids if cid not in refused})
    outcomes.update({cid: s for cid, s in healed_to.items() if s in ("done", "review")})
    counts.healed = len(healed)
    if outcomes:
        with res.staging.connection() as sconn:
            for target in ("done", "review"):
                ids = [cid for cid, s in outcomes.items() if s == target]
                if ids:
                    staging.move_claims(sconn, ids, "failed", target)
    return counts


def assign(res: WorkerResources, claim_id: str, assignee: str, actor: str, notes: str | None = None) -> None:
    with res.production.connection() as pconn:
        failed = review.open_failure(pconn, claim_id, lock=True)
        review.transition(pconn, failed, actor, "assign", notes=notes, assigned_to=assignee, status="review")


def accept(res: WorkerResources, claim_id: str, actor: str, notes: str | None = None) -> None:
    """Override the edits: the claim goes to production as it stands; the override is audited."""
    with res.production.connection() as pconn:
        failed = _open_or_heal(res, pconn, claim_id, "accepted")
        if failed is None:
            return
        claim = _decrypt(res, failed)
        ref = res.reference()
        if shard_io.outcomes(res, pconn, [claim_id]).get(claim_id) in (None, "failed"):
            # Scored like any claim (the prediction is kept); an accepted claim is not routed to review again.
            scores, _ = pipeline.score_isolating(res, [claim])
            score = scores.get(claim_id)
            head, lines, dx = pipeline.production_rows(
                claim,
                failed.batch_id,
                pipeline.expected_reimbursement(claim, ref.rvu_per_unit),
                score._replace(review=False) if score is not None else None,
            )
            _, _, refused = shard_io.write_claims(res, pconn, ChunkWrite([head], lines, dx, []))
            if refused:
                raise ClaimsError(
                    f"production refuses claim {claim_id} as it stands ({refused[claim_id]}); "
                    "correct and resubmit it instead"
                )
        review.transition(pconn, failed, actor, "accept", notes=notes, status="resolved", resolution="accepted")
    with res.staging.connection() as sconn:
        staging.move_claims(sconn, [claim_id], "failed", "done")


def void(res: WorkerResources, claim_id: str, actor: str, notes: str | None = None) -> None:
    """Close the failure without production: the claim will not be paid as submitted."""
    with res.production.connection() as pconn:
        failed = _open_or_heal(res, pconn, claim_id, "voided")
        if failed is not None:
            review.transition(pconn, failed, actor, "void", notes=notes, status="voided", resolution="voided")
    with res.staging.connection() as sconn:
        staging.move_claims(sconn, [claim_id], "failed", "resolved")


def _open_or_heal(res: WorkerResources, pconn: Any, claim_id: str, resolution: str) -> review.FailedClaim | None:
    """The open failure; or None when this very action already closed it (a re-run after a crash between the
    two databases), in which case the caller only finishes the staging side."""
    try:
        return review.open_failure(pconn, claim_id, lock=True)
    except ClaimsError:
        closed = pconn.execute(
            "SELECT 1 FROM failed_claims WHERE claim_id = %s AND resolution = %s", (claim_id, resolution)
        ).fetchone()
        if closed is None:
            raise
        return None


def reprocess(
    res: WorkerResources,
    claim_id: str,
    send: SendChunk,
    *,
    shards: int,
    chunk_size: int,
    actor: str,
    notes: str | None = None,
    changes: Mapping[str, Any] | None = None,
    line_changes: Mapping[int, Mapping[str, Any]] | None = None,
    diagnosis_changes: Mapping[int, Mapping[str, Any]] | None = None,
) -> str:
    """process_partial_claim: correct some fields or lines of a claim not yet in production (new or failed)
    and run only that claim through the pipeline again, in a batch of its own. Returns the batch id."""
    batch_id = new_batch_id()
    with res.staging.connection() as sconn:
        row = sconn.execute(
            "SELECT status, batch_id, facility_id FROM staging.claims WHERE claim_id = %s FOR UPDATE",
            (claim_id,),
        ).fetchone()
        if row is None:
            raise ClaimsError(f"claim {claim_id} is not in staging")
        status, old_batch, facility_id = row
        if status not in ("new", "failed"):
            raise ClaimsError(
                f"claim {claim_id} is {status}; only new or failed claims are re-processed "
                "(amend a processed claim instead)"
            )
        [current] = staging.load_claims(sconn, [claim_id])
        corrected, changed = apply_corrections(current, changes, line_changes, diagnosis_changes)
        with res.production.connection() as pconn:
            if status == "failed":
                failed = review.open_failure(pconn, claim_id, lock=True)
                review.transition(
                    pconn, failed, actor, "resubmit", notes=notes, status="resolved", resolution="resubmitted",
                    extra={"fields": changed, "batch_id": batch_id},
                )  # fmt: skip
                batches.shift(sconn, old_batch, "failed", None, 1)
            if changed:
                staging.write_corrections(sconn, corrected)
            batches.open_batch(sconn, batch_id, shards, chunk_size)
            batches.add_to_batch(sconn, batch_id, 1, 1)
            sconn.execute(
                "UPDATE staging.claims SET status = 'queued', batch_id = %s, queued_at = now(), updated_at = now(),"
                " attempts = attempts + 1 WHERE claim_id = %s",
                (batch_id, claim_id),
            )
            batches.close_dispatch(sconn, batch_id)
            sconn.commit()
        # production commits here, after staging: a failure in between leaves the claim queued with its old
        # failure still open, which the pipeline then reports again — nothing is lost either way.
    send(batch_id, shard_for(facility_id, shards), [claim_id], 0)
    logger.info("claim %s re-processed in batch %s (%d field(s) corrected)", claim_id, batch_id, len(changed))
    return batch_id
