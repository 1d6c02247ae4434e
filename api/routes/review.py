"""Review actions on a failed claim: assign, resolve (accept or void), resubmit with corrections.

Thin: the workflow (state changes with an audit row each, the production write, the staging ledger) is
claims_tasks.failures, the same code the CLI runs. This router checks who may act (user, admin), that the
failed claim exists and is still open, and turns the workflow's refusals into 4xx answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import APIRouter

from api.deps import ResourcesDep, ReviewerDep
from api.errors import ApiError
from api.resources import ApiResources
from api.routes.failed_claims import FailedClaimId
from api.schemas import AUTHENTICATED, AssignBody, ResolveBody, ResubmitBody, ReviewOutcome, error_responses
from claims_tasks import failures
from claims_tasks.errors import ClaimsError, ConfigError, ServiceUnavailable
from db import queries
from db.models import OPEN_FAILED

router = APIRouter(tags=["review"], responses=error_responses(*AUTHENTICATED, 400, 403, 404, 409))


@contextmanager
def refusals_as_422(what: str) -> Iterator[None]:
    """The workflow says no with a ClaimsError naming the claim and the reason: a 422 the caller can act on.
    Outages and configuration stay 503 (the global handler)."""
    try:
        yield
    except (ServiceUnavailable, ConfigError):
        raise
    except ClaimsError as exc:
        raise ApiError(422, "refused", f"{what}: {exc}") from None


def open_failure(res: ApiResources, failed_claim_id: int, action: str) -> queries.FailedClaimDetail:
    with res.production.connection() as conn:
        row = queries.failed_claim(conn, failed_claim_id)
    if row is None:
        raise ApiError(404, "not_found", f"no failed claim with id {failed_claim_id}")
    if row.status not in OPEN_FAILED:
        raise ApiError(
            409,
            "conflict",
            f"failed claim {failed_claim_id} is {row.status}; only open ones"
            f" ({', '.join(OPEN_FAILED)}) can be {action}",
        )
    return row


def outcome(res: ApiResources, failed_claim_id: int, action: str, batch_id: str | None = None) -> ReviewOutcome:
    with res.production.connection() as conn:
        row = queries.failed_claim(conn, failed_claim_id)
    assert row is not None  # failed claims are never deleted
    return ReviewOutcome(
        failed_claim_id=row.id,
        claim_id=row.claim_id,
        action=action,  # type: ignore[arg-type]
        status=row.status,
        assigned_to=row.assigned_to,
        resolution=row.resolution,
        batch_id=batch_id,
    )


@router.post("/failed_claims/{failed_claim_id}/assign", response_model=ReviewOutcome)
def assign(failed_claim_id: FailedClaimId, body: AssignBody, who: ReviewerDep, res: ResourcesDep) -> ReviewOutcome:
    """Give an open failed claim to someone; it moves to manual review. Audited."""
    row = open_failure(res, failed_claim_id, "assigned")
    with refusals_as_422(f"assign failed claim {failed_claim_id}"):
        failures.assign(res.workflow(), row.claim_id, body.assignee, who.actor, body.notes)
    return outcome(res, failed_claim_id, "assign")


@router.post("/failed_claims/{failed_claim_id}/resolve", response_model=ReviewOutcome)
def resolve(failed_claim_id: FailedClaimId, body: ResolveBody, who: ReviewerDep, res: ResourcesDep) -> ReviewOutcome:
    """Close an open failed claim: `accept` writes it to production as it stands (an audited override of its
    edits), `void` closes it without production. Audited."""
    row = open_failure(res, failed_claim_id, "resolved")
    act = failures.accept if body.resolution == "accept" else failures.void
    with refusals_as_422(f"{body.resolution} failed claim {failed_claim_id}"):
        act(res.workflow(), row.claim_id, who.actor, body.notes)
    return outcome(res, failed_claim_id, "resolve")


@router.post("/failed_claims/{failed_claim_id}/resubmit", response_model=ReviewOutcome)
def resubmit(failed_claim_id: FailedClaimId, body: ResubmitBody, who: ReviewerDep, res: ResourcesDep) -> ReviewOutcome:
    """Correct fields, lines or diagnoses of an open failed claim and send it through the pipeline again, in a
    batch of its own (returned: follow it with /batch_status). Audited (field names, never values)."""
    from claims_tasks.tasks import chunk_sender

    row = open_failure(res, failed_claim_id, "resubmitted")
    with refusals_as_422(f"resubmit failed claim {failed_claim_id}"), chunk_sender() as send:
        batch_id = failures.reprocess(
            res.workflow(),
            row.claim_id,
            send,
            shards=res.settings.shards,
            chunk_size=res.settings.chunk_size,
            actor=who.actor,
            notes=body.notes,
            **body.by_number(),  # type: ignore[arg-type]
        )
    return outcome(res, failed_claim_id, "resubmit", batch_id)
