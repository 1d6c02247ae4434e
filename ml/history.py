"""A labelled claims history: synthetic claims (claims_tasks/synthetic.py, all valid) and, for each, the
payer edit filter that denied it, or `clean`. Pure: numpy draws, no I/O.

The labels follow the latent payer rules below, written down in docs/MODEL.md. A payer applies its
filters in adjudication order (eligibility, timely filing, authorization, coding, medical necessity) and
the first that fires names the denial. Two kinds of noise keep it honest: each applicable rule fires only
with probability RULE_HIT_RATE (payers miss edits), and a share LABEL_NOISE of claims gets a random
denial filter whatever the rules say (payer errors, unobserved causes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from claims_tasks.records import Claim
from claims_tasks.synthetic import ReferenceCodes, generate_block, to_records
from ml import codes

CLEAN = "clean"
# Adjudication order; CLASSES is what the model predicts.
FILTERS: tuple[str, ...] = ("eligibility", "timely_filing", "authorization", "coding", "medical_necessity")
CLASSES: tuple[str, ...] = (CLEAN, *FILTERS)

RULE_HIT_RATE = 0.95
LABEL_NOISE = 0.02
# Claims are drawn as if received by this date, so a seed always gives the same history.
HISTORY_TODAY = date(2026, 1, 1)
HISTORY_FACILITIES = 50

# --- the latent payer rules (docs/MODEL.md) ------------------------------------------------------------
# Eligibility: Medicare is primary from 65 (Medicaid and TRICARE pay after it); Kaiser's HMO network
# leaves out every third facility; workers' compensation pays for injuries only.
MEDICARE_SECONDARY = frozenset({"MCD", "TRICARE"})
HMO_PAYER = "KPHMO"
WORKERS_COMP = "WCOMP"
# Timely filing: days from service_to to receipt that these payers allow (the rest allow far longer).
FILING_LIMIT_DAYS = {"MCD": 30, "HUMANA": 35, "KPHMO": 40}
# Authorization: these payers want a prior authorisation number for these procedures.
AUTH_PAYERS = frozenset({"MCD", "BCBS", "AETNA", "CIGNA", "UHC", "HUMANA", "KPHMO", "TRICARE"})
AUTH_PROCEDURES = frozenset(
    {"72148", "73721", "74177", "29881", "66984", "45378", "45380", "45385", "43239", "64483", "62323"}
)
# ... and commercial and managed-care payers want one for any claim above this total charge.
AUTH_CHARGE_PAYERS = frozenset({"BCBS", "AETNA", "CIGNA", "UHC", "HUMANA", "KPHMO"})
AUTH_CHARGE_LIMIT = 750
# Medical necessity: a service must be supported by a diagnosis of one of these chapter groups.
_M, _ST, _K, _Z, _I, _R, _G = (codes.DX_GROUPS.index(g) for g in ("m", "st", "k", "z", "i", "r", "g"))
NECESSITY: tuple[tuple[frozenset[str], frozenset[int]], ...] = (
    # musculoskeletal imaging, surgery, injections and therapy need a musculoskeletal or injury diagnosis
    (
        frozenset({"72148", "73721", "29881", "20610", "20552", "64483", "62323"})
        | frozenset({"97110", "97140", "97530", "97112", "97116", "97161"}),
        frozenset({_M, _ST}),
    ),
    # GI endoscopy needs a digestive diagnosis, or a screening/history (Z) code
    (frozenset({"43239", "45378", "45380", "45385"}), frozenset({_K, _Z})),
    # echocardiography and ECGs need a circulatory diagnosis or a symptom
    (frozenset({"93306", "93000"}), frozenset({_I, _R})),
    # a head CT needs a neurological diagnosis, an injury or a symptom
    (frozenset({"70450"}), frozenset({_G, _ST, _R})),
)
_THERAPY = codes.KINDS.index("therapy")
_EM = codes.KINDS.index("em")


def _age(claim: Claim) -> float:
    assert claim.service_from is not None and claim.date_of_birth is not None
    return (claim.service_from - claim.date_of_birth).days / 365.25


def _filing_lag(claim: Claim) -> int | None:
    if claim.received_at is None or claim.service_to is None:
        return None
    return (claim.received_at.date() - claim.service_to).days


def facility_in_network(facility_id: str | None) -> bool:
    """Kaiser's network: every facility except F0003, F0006, F0009, ..."""
    if not facility_id or not facility_id[1:].isdigit():
        return False
    return int(facility_id[1:]) % 3 != 0


def applicable_filters(claim: Claim) -> list[str]:
    """Every filter whose latent rule the claim breaks, in adjudication order (before noise)."""
    out: list[str] = []
    payer = claim.payer_id or ""
    groups = {codes.dx_group(d.icd10_code) for d in claim.diagnoses}
    procs = [ln.procedure_code or "" for ln in claim.lines]

    age = _age(claim)
    if (
        (payer in MEDICARE_SECONDARY and age >= 65)
        or (payer == HMO_PAYER and not facility_in_network(claim.facility_id))
        or (payer == WORKERS_COMP and _ST not in groups)
    ):
        out.append("eligibility")

    limit = FILING_LIMIT_DAYS.get(payer)
    lag = _filing_lag(claim)
    if limit is not None and lag is not None and lag > limit:
        out.append("timely_filing")

    if not claim.prior_auth_number and (
        (payer in AUTH_PAYERS and not AUTH_PROCEDURES.isdisjoint(procs))
        or (payer in AUTH_CHARGE_PAYERS and (claim.total_charge or 0) > AUTH_CHARGE_LIMIT)
    ):
        out.append("authorization")

    if _coding_error(claim):
        out.append("coding")

    for services, supported_by in NECESSITY:
        if not services.isdisjoint(procs) and groups.isdisjoint(supported_by):
            out.append("medical_necessity")
            break
    return out


def _coding_error(claim: Claim) -> bool:
    """NCCI-style edits: a visit beside a minor procedure needs 25; paired anatomy needs a side; therapy
    needs GP; a top-level visit needs more than one diagnosis to support it."""
    kinds = [codes.procedure_kind(ln.procedure_code) for ln in claim.lines]
    visits = [ln for ln, k in zip(claim.lines, kinds, strict=True) if k == _EM]
    minor = any(ln.procedure_code in codes.MINOR_GLOBAL for ln in claim.lines)
    if visits and minor and not any("25" in ln.modifiers for ln in visits):
        return True
    for ln, kind in zip(claim.lines, kinds, strict=True):
        if ln.procedure_code in codes.PAIRED_ANATOMY and codes.SIDE_MODIFIERS.isdisjoint(ln.modifiers):
            return True
        if kind == _THERAPY and "GP" not in ln.modifiers:
            return True
    top = any(ln.procedure_code in codes.EM_TOP_LEVEL for ln in visits)
    return top and len(claim.diagnoses) <= 1


def label_claims(claims: Sequence[Claim], rng: np.random.Generator) -> list[str]:
    """The denial filter of each claim (or `clean`): the rules, each firing with RULE_HIT_RATE, then
    LABEL_NOISE of claims relabelled with a random filter."""
    labels: list[str] = []
    hits = rng.random((len(claims), len(FILTERS))) < RULE_HIT_RATE
    for i, claim in enumerate(claims):
        label = CLEAN
        for name in applicable_filters(claim):
            if hits[i, FILTERS.index(name)]:
                label = name
                break
        labels.append(label)
    noisy = np.flatnonzero(rng.random(len(claims)) < LABEL_NOISE)
    for i, k in zip(noisy, rng.integers(0, len(FILTERS), len(noisy)), strict=True):
        labels[i] = FILTERS[k]
    return labels


@dataclass(frozen=True)
class History:
    claims: list[Claim]
    labels: list[str]


def generate_history(n: int, seed: int, ref: ReferenceCodes) -> History:
    """n labelled claims, the same for the same seed and reference codes."""
    rng = np.random.default_rng(seed)
    block = generate_block(rng, 1, n, HISTORY_FACILITIES, 0.0, ref, HISTORY_TODAY)
    claims = to_records(block)
    return History(claims=claims, labels=label_claims(claims, rng))
