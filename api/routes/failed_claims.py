"""Failed claims: the worklist (filtered, paged) and one claim's detail, decrypted only for roles that
work claims. Every detail view is an audit row, written before the data leaves."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from api import phi
from api.deps import ApiKeyDep, ResourcesDep
from api.errors import ApiError, correlation_id
from api.schemas import (
    AUTHENTICATED,
    ID_PATTERN,
    Category,
    ClaimOut,
    FailedClaimDetail,
    FailedClaimPage,
    FailedClaimSummary,
    FailedStatus,
    IsoDate,
    RuleFailureOut,
    error_responses,
)
from db import phi_reads, queries

router = APIRouter(tags=["failed claims"], responses=error_responses(*AUTHENTICATED))

MAX_PAGE = 1_000_000
BIGINT_MAX = 2**63 - 1
FailedClaimId = Annotated[int, Path(ge=1, le=BIGINT_MAX, description="failed_claims.id")]


def summary(row: queries.FailedClaimRow) -> FailedClaimSummary:
    return FailedClaimSummary(
        id=row.id,
        claim_id=row.claim_id,
        batch_id=row.batch_id,
        facility_id=row.facility_id,
        failure_category=row.failure_category,  # type: ignore[arg-type]
        rule_codes=list(row.rule_codes),
        priority=row.priority,
        status=row.status,
        attempts=row.attempts,
        assigned_to=row.assigned_to,
        potential_revenue=None if row.potential_revenue is None else str(row.potential_revenue),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


@router.get("/failed_claims", response_model=FailedClaimPage)
def list_failed_claims(
    _: ApiKeyDep,
    res: ResourcesDep,
    category: Category | None = None,
    status: FailedStatus | None = None,
    facility_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    batch_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    since: Annotated[IsoDate | None, Query(description="Created on or after this day (UTC).")] = None,
    until: Annotated[IsoDate | None, Query(description="Created on or before this day (UTC).")] = None,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> FailedClaimPage:
    """Failed claims, newest first; no patient data in the list. `since` after `until` selects nothing."""
    filters = queries.FailedClaimFilter(
        category=category, status=status, facility_id=facility_id, batch_id=batch_id, since=since, until=until
    )
    with res.telemetry.timed("list_failed_claims"), res.production.connection() as conn:
        found = queries.list_failed_claims(conn, filters=filters, page=page, page_size=page_size)
    return FailedClaimPage(items=[summary(r) for r in found.items], page=page, page_size=page_size, total=found.total)


@router.get("/failed_claims/{failed_claim_id}", response_model=FailedClaimDetail, responses=error_responses(404))
def failed_claim(
    failed_claim_id: FailedClaimId, principal: ApiKeyDep, res: ResourcesDep, request: Request
) -> FailedClaimDetail:
    """One failed claim with its rule failures and the claim itself: whole for user and admin, with patient
    identifiers masked for auditor. Each call is recorded in the PHI audit trail."""
    with res.production.connection() as conn:
        with res.telemetry.timed("failed_claim"):
            row = queries.failed_claim(conn, failed_claim_id)
        if row is None:
            raise ApiError(404, "not_found", f"no failed claim with id {failed_claim_id}")
        doc = phi.decrypt_payload(res.cipher, row.encrypted_payload) if res.cipher else None
        disclose = doc is not None and phi.may_disclose(principal.role)
        shown = doc if disclose or doc is None else phi.mask(doc)
        # Written (autocommit) before the response exists: no audit row, no data.
        phi_reads.record_read(
            conn,
            api_key_id=principal.key_id,
            key_name=principal.name,
            role=principal.role,
            claim_id=row.claim_id,
            failed_claim_id=row.id,
            action="GET /failed_claims/{id}",
            disclosed=disclose,
            fields=phi.disclosed_fields(doc) if disclose and doc else [],
            correlation_id=correlation_id(request),
        )
    return FailedClaimDetail(
        **summary(row).model_dump(),
        resolution=row.resolution,
        failures=[RuleFailureOut(**f) for f in row.failures],
        phi="disclosed" if disclose else "masked",
        claim=ClaimOut.model_validate(shown) if shown is not None else None,
    )
