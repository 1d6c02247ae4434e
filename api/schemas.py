"""Response and request models: every body the API sends or takes is one of these, so /openapi.json
describes all of it (and schemathesis can check the API against it)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model

from claims_tasks.corrections import CLAIM_EDITABLE, DIAGNOSIS_EDITABLE, LINE_EDITABLE
from db.batches import BatchProgress

BatchState = Literal["dispatching", "running", "finished", "aborted"]
Category = Literal["validation", "coding", "eligibility", "duplicate", "data_quality", "system"]
FailedStatus = Literal["new", "retrying", "review", "repaired", "resolved", "voided"]
Role = Literal["auditor", "user", "admin"]

# Identifiers in paths and filters: generous, but no spaces, control characters or NULs (which PostgreSQL
# text refuses), so a malformed one is a 422 here and never a database error.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"


def _iso_date(value: object) -> object:
    # pydantic also reads numbers as Unix times (`until=0` would mean 1970-01-01): a day is YYYY-MM-DD.
    if isinstance(value, str) and not _ISO_DATE.fullmatch(value):
        raise ValueError("expected a date as YYYY-MM-DD")
    return value


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
IsoDate = Annotated[date, BeforeValidator(_iso_date)]


class ErrorDetail(BaseModel):
    location: str
    message: str


class ErrorResponse(BaseModel):
    """Every error: what kind, what went wrong, and the id to quote (also in X-Correlation-ID)."""

    category: str = Field(examples=["validation", "authentication", "not_found"])
    message: str
    correlation_id: str
    details: list[ErrorDetail] | None = None


class StateCounts(BaseModel):
    queued: int = Field(description="Dispatched, no outcome yet.")
    done: int
    failed: int
    review: int
    resolved: int = Field(description="Failed, then resolved in review.")


class BatchStatus(BaseModel):
    batch_id: str
    status: BatchState
    total: int
    chunks: int
    processed: int
    counts: StateCounts
    percent: float = Field(ge=0, le=100)
    claims_per_second: float | None = Field(description="Average since the batch was opened.")
    eta_seconds: float | None = Field(description="Remaining claims at the average rate; null if unknown.")
    elapsed_seconds: float
    created_at: datetime
    started_at: datetime = Field(description="When the batch was opened (its first claims were queued).")
    dispatched_at: datetime | None = Field(description="When the dispatcher finished adding claims.")
    finished_at: datetime | None

    @classmethod
    def from_progress(cls, p: BatchProgress, now: datetime) -> BatchStatus:
        processed = p.processed
        end = p.finished_at or now
        elapsed = max((end - p.created_at).total_seconds(), 0.0)
        rate = processed / elapsed if elapsed > 0 and processed else None
        remaining = max(p.total - processed, 0)
        if p.status == "finished":
            eta: float | None = 0.0
        elif rate:
            eta = remaining / rate
        else:
            eta = None
        percent = _percent(processed, p.total, p.status == "finished")
        return cls(
            batch_id=p.batch_id,
            status=p.status,  # type: ignore[arg-type]
            total=p.total,
            chunks=p.chunks,
            processed=processed,
            counts=StateCounts(queued=remaining, done=p.done, failed=p.failed, review=p.review, resolved=p.resolved),
            percent=round(percent, 2),
            claims_per_second=round(rate, 1) if rate else None,
            eta_seconds=round(eta, 1) if eta is not None else None,
            elapsed_seconds=round(elapsed, 3),
            created_at=p.created_at,
            started_at=p.created_at,
            dispatched_at=p.dispatched_at,
            finished_at=p.finished_at,
        )


def _percent(processed: int, total: int, finished: bool) -> float:
    if not total:  # an empty batch is done when it is finished
        return 100.0 if finished else 0.0
    return min(100.0, 100.0 * processed / total)


class BatchPage(BaseModel):
    items: list[BatchStatus]
    page: int
    page_size: int
    total: int


class QueueDepth(BaseModel):
    name: str
    depth: int = Field(description="Messages waiting, summed over the queue's priority lists.")


class WorkerInfo(BaseModel):
    name: str
    queues: list[str]


class InFlight(BaseModel):
    batches: int = Field(description="Batches dispatching or running.")
    claims: int = Field(description="Claims of those batches without an outcome yet.")
    chunks_unacked: int = Field(description="Chunk messages delivered to a worker and not yet acknowledged.")


class LastDispatch(BaseModel):
    batch_id: str
    at: datetime


class FleetStatus(BaseModel):
    queues: list[QueueDepth]
    workers: list[WorkerInfo]
    workers_checked_at: datetime | None = Field(description="When workers last answered the census.")
    in_flight: InFlight
    last_dispatch: LastDispatch | None


class HealthStatus(BaseModel):
    status: Literal["ok", "degraded", "down"]
    checks: dict[str, str]
    workers: int


class FailedClaimSummary(BaseModel):
    id: int
    claim_id: str
    batch_id: str
    facility_id: str | None
    failure_category: Category
    rule_codes: list[str]
    priority: int
    status: str = Field(description="new, retrying, review, repaired, resolved or voided.")
    attempts: int
    assigned_to: str | None
    potential_revenue: str | None = Field(description="Decimal, as a string.")
    created_at: datetime
    updated_at: datetime


class FailedClaimPage(BaseModel):
    items: list[FailedClaimSummary]
    page: int
    page_size: int
    total: int


class RuleFailureOut(BaseModel):
    code: str
    category: str = ""
    field: str = ""
    message: str = ""


class ClaimLineOut(BaseModel):
    line_number: int | None
    procedure_code: str | None
    modifiers: list[str] | None
    units: str | None
    line_charge: str | None
    service_date: str | None
    place_of_service: str | None
    diagnosis_pointers: list[int] | None
    revenue_code: str | None = None  # 837I SV201; payloads from before revenue codes have none


class ClaimDiagnosisOut(BaseModel):
    sequence: int | None
    icd10_code: str | None


class ClaimOut(BaseModel):
    """The claim as it stood in staging. For the auditor role, patient identifiers are masked ("***")."""

    model_config = ConfigDict(extra="ignore")

    claim_id: str | None
    facility_id: str | None
    patient_account_number: str | None
    patient_first_name: str | None
    patient_last_name: str | None
    date_of_birth: str | None
    sex: str | None
    subscriber_id: str | None
    payer_id: str | None
    financial_class: str | None
    billing_npi: str | None
    rendering_npi: str | None
    place_of_service: str | None
    claim_frequency: str | None
    service_from: str | None
    service_to: str | None
    total_charge: str | None
    prior_auth_number: str | None
    received_at: str | None
    lines: list[ClaimLineOut]
    diagnoses: list[ClaimDiagnosisOut]


class FailedClaimDetail(FailedClaimSummary):
    resolution: str | None
    failures: list[RuleFailureOut]
    phi: Literal["disclosed", "masked"] = Field(description="Whether patient identifiers are shown.")
    claim: ClaimOut | None = Field(description="Null when the payload cannot be decrypted with the keys.")


class ApiKeyOut(BaseModel):
    id: int
    name: str
    role: Role
    key_prefix: str
    created_at: datetime
    revoked_at: datetime | None


_ERROR_DESCRIPTIONS = {
    400: "The body could not be read (not UTF-8 JSON).",
    401: "Missing, unknown or revoked X-API-Key.",
    403: "The key's role may not do this.",
    404: "No such resource.",
    409: "The resource is not in a state that allows this.",
    422: "Malformed path, query or body (`details` names each problem); or, category `refused`, an action the"
    " claim's data does not allow (the message says why).",
    500: "Unexpected error; quote the correlation id.",
    503: "A database or the broker is unavailable; try again.",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI entries for the error statuses a route can answer, all with the ErrorResponse body."""
    return {code: {"model": ErrorResponse, "description": _ERROR_DESCRIPTIONS[code]} for code in codes}


# What every authenticated route may answer besides its own success and 404.
AUTHENTICATED = (401, 422, 500, 503)


# ---------------------------------------------------------------- review actions (bodies and outcomes)
# Free text goes into PostgreSQL text columns, which refuse NUL: refused here, as a 422, instead.
Notes = Annotated[str, Field(max_length=2000, pattern=r"^[^\x00]*$")]
FieldValue = Annotated[str, Field(max_length=200, pattern=r"^[^\x00-\x1f]*$")]


def _edits(name: str, doc: str, editable: Iterable[str], **keys: Any) -> type[BaseModel]:
    """A model of optional text fields, one per editable field (claims_tasks.corrections decides which)."""
    fields: dict[str, Any] = {f: (FieldValue | None, None) for f in sorted(editable)}
    return create_model(name, __config__=ConfigDict(extra="forbid"), __doc__=doc, **keys, **fields)


_SET_ONLY = 'Only the fields given change; null or "" clears one; modifiers are comma-separated.'
ClaimEdits = _edits("ClaimEdits", f"Claim-level corrections. {_SET_ONLY}", CLAIM_EDITABLE)
LineEdit = _edits(
    "LineEdit", f"Corrections of one line. {_SET_ONLY}", LINE_EDITABLE, line_number=(int, Field(ge=1, le=999))
)
DiagnosisEdit = _edits(
    "DiagnosisEdit", f"Correction of one diagnosis. {_SET_ONLY}", DIAGNOSIS_EDITABLE, sequence=(int, Field(ge=1, le=99))
)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AssignBody(_Body):
    assignee: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$")]
    notes: Notes | None = None


class ResolveBody(_Body):
    resolution: Literal["accept", "void"] = Field(
        description="accept: the claim goes to production as it stands (an audited override); void: it does not."
    )
    notes: Notes | None = None


class Corrections(_Body):
    """Field edits, as text. Only the names of changed fields are audited, never values."""

    changes: ClaimEdits | None = None  # type: ignore[valid-type]
    line_changes: list[LineEdit] | None = Field(default=None, max_length=999)  # type: ignore[valid-type]
    diagnosis_changes: list[DiagnosisEdit] | None = Field(default=None, max_length=99)  # type: ignore[valid-type]

    def by_number(self) -> dict[str, Any]:
        """The edits as the workflow takes them: fields given (not defaults), lines and diagnoses by number."""
        lines: dict[int, dict[str, Any]] = {}
        for edit in self.line_changes or []:
            lines.setdefault(edit.line_number, {}).update(edit.model_dump(exclude_unset=True, exclude={"line_number"}))
        diagnoses: dict[int, dict[str, Any]] = {}
        for edit in self.diagnosis_changes or []:
            diagnoses.setdefault(edit.sequence, {}).update(edit.model_dump(exclude_unset=True, exclude={"sequence"}))
        return {
            "changes": self.changes.model_dump(exclude_unset=True) if self.changes else None,
            "line_changes": lines or None,
            "diagnosis_changes": diagnoses or None,
        }


class ResubmitBody(Corrections):
    notes: Notes | None = None


class AmendBody(Corrections):
    frequency: Literal["7", "8"] = Field(description="7: replacement (with changes), 8: void.")
    notes: Notes | None = None


class ReviewOutcome(BaseModel):
    failed_claim_id: int
    claim_id: str
    action: Literal["assign", "resolve", "resubmit"]
    status: str
    assigned_to: str | None
    resolution: str | None
    batch_id: str | None = Field(default=None, description="resubmit: the batch the corrected claim went out in.")


class AmendOutcome(BaseModel):
    claim_id: str
    frequency: Literal["7", "8"]
    version: int = Field(description="The claim's version now; earlier ones are kept in claim_history.")
