"""Claims already in production: amendments (replacement, frequency 7; void, frequency 8).

Thin, like review: claims_tasks.amend.amend_claim validates the replacement with the same rules as any
claim, keeps the previous version in claim_history and audits the change.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Path

from api.deps import ResourcesDep, ReviewerDep
from api.errors import ApiError
from api.routes.review import refusals_as_422
from api.schemas import AUTHENTICATED, ID_PATTERN, AmendBody, AmendOutcome, error_responses
from claims_tasks import shard_io
from claims_tasks.amend import amend_claim

router = APIRouter(tags=["claims"], responses=error_responses(*AUTHENTICATED, 400, 403, 404))


@router.post("/claims/{claim_id}/amend", response_model=AmendOutcome)
def amend(
    claim_id: Annotated[str, Path(pattern=ID_PATTERN, description="A claim id in production.")],
    body: AmendBody,
    who: ReviewerDep,
    res: ResourcesDep,
) -> AmendOutcome:
    """Replace (7, with changes) or void (8) a claim in production; the previous version is kept."""
    # Sharded production (CLAIMS_PRODUCTION_SHARDS): the amendment runs in the shard holding the claim.
    workflow = res.workflow()
    holder = shard_io.pool_holding(workflow, claim_id)
    if holder is None:
        raise ApiError(404, "not_found", f"claim {claim_id} is not in production")
    with refusals_as_422(f"amend claim {claim_id}"):
        version = amend_claim(
            replace(workflow, production=holder) if holder is not workflow.production else workflow,
            claim_id,
            body.frequency,
            actor=who.actor,
            notes=body.notes,
            **body.by_number(),  # type: ignore[arg-type]
        )
    return AmendOutcome(claim_id=claim_id, frequency=body.frequency, version=version)
