"""NCCI-style procedure-to-procedure (PTP) edits: code pairs that one provider may not bill for one patient
on one date of service, unless the pair allows a bypass modifier and the column-two line carries one."""

from __future__ import annotations

from datetime import date

from claims_tasks.records import Claim, Line, RuleFailure

from .catalogue import failure, show
from .context import RuleContext

# NCCI PTP-associated modifiers this edit honours when the pair's modifier indicator is 1 (NCCI Policy
# Manual ch. I §E; CMS MLN "Proper Use of Modifiers 59 & -X{EPSU}"). CMS also lists anatomic (LT, RT, ...)
# and global-surgery (24, 25, 57, ...) modifiers; this edit takes only the distinct-service ones.
BYPASS_MODIFIERS = frozenset({"59", "XE", "XS", "XP", "XU"})


def check_ncci(claim: Claim, ctx: RuleContext) -> list[RuleFailure]:
    """NCCI_PTP_CONFLICT: no column-one/column-two pair of the PTP table on one date of service.

    A claim has one patient and one rendering provider, so the pairs are looked for among its lines with
    the same date (the line's service_date, else service_from). Modifier indicator 0: never together.
    Modifier indicator 1: allowed when the column-two line carries 59, XE, XS, XP or XU. The failure names
    the column-two line. Source: CMS National Correct Coding Initiative, PTP edits for practitioner
    services (quarterly files: column 1, column 2, modifier indicator); the table is
    db/reference/ncci_ptp.csv (staging.ncci_pairs). Pairs across two claims are not seen. Skipped when the
    table is empty.
    """
    pairs = ctx.edits.ncci
    if not pairs or len(claim.lines) < 2:
        return []
    codes = ctx.edits.ncci_codes
    count = 0
    for line in claim.lines:
        if line.procedure_code in codes:
            count += 1
    if count < 2:  # the common case: at most one line's code is in any pair
        return []
    paired = [(i, line) for i, line in enumerate(claim.lines) if line.procedure_code in codes]
    by_day: dict[date | None, list[tuple[int, Line]]] = {}
    for i, line in paired:
        by_day.setdefault(line.service_date or claim.service_from, []).append((i, line))
    out: list[RuleFailure] = []
    for same_day in by_day.values():
        for i, first in same_day:
            for j, second in same_day:
                indicator = pairs.get((first.procedure_code or "", second.procedure_code or ""))
                if indicator is None or i == j:
                    continue
                if indicator == 1 and not BYPASS_MODIFIERS.isdisjoint(second.modifiers):
                    continue
                out.append(_conflict(j, first, second, indicator))
    return out


def _conflict(index: int, column1: Line, column2: Line, indicator: int) -> RuleFailure:
    why = (
        "never billed together (modifier indicator 0)"
        if indicator == 0
        else "billed together only with modifier 59, XE, XS, XP or XU on the column-two code"
    )
    return failure(
        "NCCI_PTP_CONFLICT",
        f"lines[{index}].procedure_code",
        f"line {column2.line_number} procedure_code {show(column2.procedure_code)} with line "
        f"{column1.line_number} procedure_code {show(column1.procedure_code)} on the same date: {why}",
    )
