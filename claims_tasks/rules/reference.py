"""Reference-data checks: facility, payer and financial class known and active.

The sets come from the reference tables (facilities, payers, financial_classes) through RuleContext; an
empty set means "not loaded" and skips its check, so a missing reference load cannot fail every claim,
unless RuleContext.reference_loaded names it (a worker's per-chunk sets, claims_tasks/reference_cache.py).
"""

from __future__ import annotations

from claims_tasks.records import Claim, RuleFailure

from .catalogue import failure, show
from .context import RuleContext
from .required import blank


def check_reference(claim: Claim, ctx: RuleContext) -> list[RuleFailure]:
    """FACILITY_UNKNOWN, PAYER_UNKNOWN, FINANCIAL_CLASS_UNKNOWN: the id, when present, is active.

    Source: the facilities, payers and financial_classes reference tables (DESIGN §3); the payer list
    follows the X12 837 2010BB NM109 payer identifier. financial_class is optional on the claim; a blank
    facility_id or payer_id is REQUIRED_FIELD's. Matching is exact (no trimming or case folding).
    """
    out: list[RuleFailure] = []
    for code, name, value, table, label in (
        ("FACILITY_UNKNOWN", "facility_id", claim.facility_id, "facilities", "facility"),
        ("PAYER_UNKNOWN", "payer_id", claim.payer_id, "payers", "payer"),
        ("FINANCIAL_CLASS_UNKNOWN", "financial_class", claim.financial_class, "financial_classes",
         "financial class"),
    ):  # fmt: skip
        known: frozenset[str] = getattr(ctx, table)
        checked = known or table in ctx.reference_loaded
        if checked and value is not None and value not in known and not blank(value):
            out.append(failure(code, name, f"{name} {show(value)} is not an active {label}"))
    return out
