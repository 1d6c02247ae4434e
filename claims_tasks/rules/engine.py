"""The rule registry and the loop that runs it: one claim, a chunk, and a claim's overall category."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence

from claims_tasks.records import CATEGORIES, Claim, RuleFailure

from .catalogue import failure
from .charges import check_charges, check_units
from .coding import (
    check_diagnosis_pointers,
    check_frequency,
    check_icd10_format,
    check_modifiers,
    check_place_of_service,
    check_procedure_format,
)
from .context import RuleContext
from .dates import check_date_bounds, check_date_order, check_line_dates, check_timely_filing
from .diagnoses import check_diagnosis_codes
from .duplicates import check_duplicates
from .ncci import check_ncci
from .npi import check_npi
from .procedures import check_procedure_codes
from .reference import check_reference
from .required import check_lines_present, check_required_fields, check_sex

logger = logging.getLogger(__name__)

Rule = Callable[[Claim, RuleContext], Iterable[RuleFailure]]

# Order is the order failures are reported in: presence first, then shape, then cross-field and reference.
FORMAT_RULES: tuple[Rule, ...] = (
    check_required_fields,
    check_lines_present,
    check_sex,
    check_date_order,
    check_date_bounds,
    check_line_dates,
    check_timely_filing,
    check_npi,
    check_icd10_format,
    check_diagnosis_pointers,
    check_procedure_format,
    check_modifiers,
    check_place_of_service,
    check_frequency,
    check_charges,
    check_units,
    check_reference,
)
# The edit catalogue beyond formats: code sets, MUE, NCCI, prior authorisation, duplicates (issue 3).
EDIT_RULES: tuple[Rule, ...] = (
    check_diagnosis_codes,
    check_procedure_codes,
    check_ncci,
    check_duplicates,
)
RULES: tuple[Rule, ...] = FORMAT_RULES + EDIT_RULES

_SEVERITY: dict[str, int] = {category: rank for rank, category in enumerate(CATEGORIES)}


def validate_claim(claim: Claim, ctx: RuleContext, *, rules: Sequence[Rule] = RULES) -> list[RuleFailure]:
    """Every failure of one claim, in rule order; [] when the claim is clean.

    Never raises because of the claim: a rule that raises is reported as SYSTEM_RULE_ERROR (field = the
    rule's name, message = rule and exception type only, since exception text can quote patient data),
    any failures that rule had already yielded are dropped, and the remaining rules still run.
    """
    failures: list[RuleFailure] = []
    for rule in rules:
        try:
            found = rule(claim, ctx)
            if found:  # a clean rule returns [], so this is the rare path
                if type(found) is not list:  # drain an iterator inside the try: all or nothing
                    found = list(found)
                failures += found
        except Exception as exc:
            name = getattr(rule, "__name__", type(rule).__name__)
            kind = type(exc).__name__
            failures.append(failure("SYSTEM_RULE_ERROR", name, f"rule {name} raised {kind}"))
    return failures


def validate_chunk(
    claims: Sequence[Claim], ctx: RuleContext, *, rules: Sequence[Rule] = RULES
) -> dict[str, list[RuleFailure]]:
    """claim_id -> failures for every claim in the chunk, [] for a clean claim; insertion order kept.

    claim_id is the staging primary key, so it is unique within a chunk; were it repeated, the failures of
    every claim with that id would be concatenated so that none is lost. Each rule that raised is logged
    once per chunk (rule, exception type, count, first claim_id), never with claim data.
    """
    results: dict[str, list[RuleFailure]] = {}
    errors: dict[str, tuple[int, str]] = {}  # message -> (claims, first claim_id)
    for claim in claims:
        found = validate_claim(claim, ctx, rules=rules)
        if found:
            for f in found:
                if f.code == "SYSTEM_RULE_ERROR":
                    count, first = errors.get(f.message, (0, claim.claim_id))
                    errors[f.message] = (count + 1, first)
        seen = results.get(claim.claim_id)
        if seen is None:
            results[claim.claim_id] = found
        else:
            seen.extend(found)
    # One line per broken rule per chunk, not one per claim: a bug in a rule would otherwise flood the log.
    for message, (count, first) in errors.items():
        logger.warning("%s on %d of %d claims (first %s)", message, count, len(claims), first)
    return results


def failure_category(failures: Sequence[RuleFailure]) -> str:
    """The category of a failed claim as a whole: the most severe among its failures, in the order of
    records.CATEGORIES ("system" first ... "data_quality" last). A category outside CATEGORIES counts as
    "system" (an unknown failure is treated as the worst kind). Raises ValueError for no failures.
    """
    if not failures:
        raise ValueError("failure_category needs at least one failure; a clean claim has no category")
    best = min(_SEVERITY.get(f.category, 0) for f in failures)
    return CATEGORIES[best]
