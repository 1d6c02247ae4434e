"""Claims as plain values: what a chunk holds in memory and what rules look at. No I/O here."""

from __future__ import annotations

import json
from collections.abc import Container, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

# Column order of staging.claims as the reader loads it; the same names exist in production.claims.
CLAIM_FIELDS: tuple[str, ...] = (
    "claim_id",
    "facility_id",
    "patient_account_number",
    "patient_first_name",
    "patient_last_name",
    "date_of_birth",
    "sex",
    "subscriber_id",
    "payer_id",
    "financial_class",
    "billing_npi",
    "rendering_npi",
    "place_of_service",
    "claim_frequency",
    "service_from",
    "service_to",
    "total_charge",
    "prior_auth_number",
    "received_at",
)
LINE_FIELDS: tuple[str, ...] = (
    "claim_id",
    "line_number",
    "procedure_code",
    "modifiers",
    "units",
    "line_charge",
    "service_date",
    "place_of_service",
    "diagnosis_pointers",
    # 837I SV201 (NUBC revenue code); last, so that positional Line(...) of the older eight fields holds.
    "revenue_code",
)
DIAGNOSIS_FIELDS: tuple[str, ...] = ("claim_id", "sequence", "icd10_code")

# Ledger states of a staging claim (DESIGN §2). A claim is in exactly one at any moment.
STATES: tuple[str, ...] = ("new", "queued", "done", "failed", "review", "resolved")

CATEGORIES: tuple[str, ...] = ("system", "eligibility", "duplicate", "coding", "validation", "data_quality")


@dataclass(frozen=True, slots=True)
class Line:
    line_number: int
    procedure_code: str | None
    modifiers: tuple[str, ...]
    units: Decimal | None
    line_charge: Decimal | None
    service_date: date | None
    place_of_service: str | None
    diagnosis_pointers: tuple[int, ...]
    # An institutional line may carry only a revenue code (SV202 procedure is situational in the 837I).
    revenue_code: str | None = None


@dataclass(frozen=True, slots=True)
class Diagnosis:
    sequence: int
    icd10_code: str | None


@dataclass(frozen=True, slots=True)
class Claim:
    claim_id: str
    facility_id: str | None
    patient_account_number: str | None
    patient_first_name: str | None
    patient_last_name: str | None
    date_of_birth: date | None
    sex: str | None
    subscriber_id: str | None
    payer_id: str | None
    financial_class: str | None
    billing_npi: str | None
    rendering_npi: str | None
    place_of_service: str | None
    claim_frequency: str | None
    service_from: date | None
    service_to: date | None
    total_charge: Decimal | None
    prior_auth_number: str | None
    received_at: datetime | None
    lines: tuple[Line, ...] = ()
    diagnoses: tuple[Diagnosis, ...] = ()


@dataclass(frozen=True, slots=True)
class RuleFailure:
    """One failed edit. Messages name the field and the offending code value, never patient data."""

    code: str
    category: str
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "category": self.category, "field": self.field, "message": self.message}


@dataclass(slots=True)
class ChunkCounts:
    """What one chunk did; a redelivered chunk reports zeros for what it had already written."""

    loaded: int = 0
    done: int = 0
    failed: int = 0
    review: int = 0
    already: int = 0
    skipped: int = 0
    categories: dict[str, int] = field(default_factory=dict)
    # Failed claims a repair may fix, by Redis priority (0 first): the task queues them on claims.retry.
    retry: dict[int, list[str]] = field(default_factory=dict)
    timings_ms: dict[str, float] = field(default_factory=dict)
    # What each model did with the chunk (claims_tasks.scoring.ScoringSummary), for the chunk's metrics.
    scoring: list[Any] = field(default_factory=list)

    def count_outcomes(self, outcomes: Mapping[str, str], already: Container[str]) -> None:
        """done/failed/review from this delivery's outcomes; claims written by an earlier one don't count."""
        fresh = [s for cid, s in outcomes.items() if cid not in already]
        self.done, self.failed, self.review = (fresh.count(s) for s in ("done", "failed", "review"))

    def as_dict(self) -> dict[str, Any]:
        return {
            "loaded": self.loaded,
            "done": self.done,
            "failed": self.failed,
            "review": self.review,
            "already": self.already,
            "skipped": self.skipped,
            "categories": dict(self.categories),
            "retry": sum(len(v) for v in self.retry.values()),
            "ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
        }


def line_rows(claim: Claim) -> list[tuple]:
    """The claim's lines as rows in LINE_FIELDS order (arrays as lists, as psycopg adapts them)."""
    return [
        (claim.claim_id, ln.line_number, ln.procedure_code, list(ln.modifiers), ln.units, ln.line_charge,
         ln.service_date, ln.place_of_service, list(ln.diagnosis_pointers), ln.revenue_code)
        for ln in claim.lines
    ]  # fmt: skip


def diagnosis_rows(claim: Claim) -> list[tuple]:
    return [(claim.claim_id, d.sequence, d.icd10_code) for d in claim.diagnoses]


def _plain(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def claim_to_payload(claim: Claim) -> bytes:
    """The claim as it stood in staging, as JSON bytes: what failed_claims keeps (encrypted)."""
    doc: dict[str, Any] = {name: _plain(getattr(claim, name)) for name in CLAIM_FIELDS}
    doc["lines"] = [{n: _plain(getattr(ln, n)) for n in LINE_FIELDS[1:]} for ln in claim.lines]
    doc["diagnoses"] = [{"sequence": d.sequence, "icd10_code": d.icd10_code} for d in claim.diagnoses]
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def _date(v: str | None) -> date | None:
    return date.fromisoformat(v) if v else None


def _dec(v: str | None) -> Decimal | None:
    return Decimal(v) if v is not None else None


def claim_from_payload(raw: bytes) -> Claim:
    """Inverse of claim_to_payload: a decrypted payload back to a Claim (repair and review use it)."""
    doc = json.loads(raw)
    lines = tuple(
        Line(
            line_number=ln["line_number"],
            procedure_code=ln["procedure_code"],
            modifiers=tuple(ln["modifiers"] or ()),
            units=_dec(ln["units"]),
            line_charge=_dec(ln["line_charge"]),
            service_date=_date(ln["service_date"]),
            place_of_service=ln["place_of_service"],
            diagnosis_pointers=tuple(ln["diagnosis_pointers"] or ()),
            revenue_code=ln.get("revenue_code"),  # payloads written before revenue codes have none
        )
        for ln in doc["lines"]
    )
    diagnoses = tuple(Diagnosis(d["sequence"], d["icd10_code"]) for d in doc["diagnoses"])
    received = doc["received_at"]
    return Claim(
        **{
            **{name: doc[name] for name in CLAIM_FIELDS},
            "date_of_birth": _date(doc["date_of_birth"]),
            "service_from": _date(doc["service_from"]),
            "service_to": _date(doc["service_to"]),
            "total_charge": _dec(doc["total_charge"]),
            "received_at": datetime.fromisoformat(received) if received else None,
        },
        lines=lines,
        diagnoses=diagnoses,
    )
