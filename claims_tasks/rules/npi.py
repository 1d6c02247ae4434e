"""National Provider Identifier checks: format and the Luhn check digit with the 80840 prefix."""

from __future__ import annotations

from functools import lru_cache

from claims_tasks.records import Claim, RuleFailure

from .catalogue import failure, show
from .context import RuleContext

# Luhn doubling of one digit, summed digit-wise: 0,2,4,6,8,1+0,1+2,1+4,1+6,1+8.
_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)
# The prefix 80840 (ISO card issuer for US health) contributes a constant 24 to the Luhn sum.
_PREFIX_SUM = 24


def npi_check_digit_ok(npi: str) -> bool:
    """True when the 10th digit of a 10-digit NPI is the Luhn check digit of "80840" + its first 9 digits.

    Source: CMS, "Requirements for National Provider Identifier (NPI) and NPI Enumeration" — check digit
    calculation (ISO/IEC 7812 Luhn formula with the 80840 prefix). 1234567893 passes; 1234567890 fails.
    The caller guarantees 10 ASCII digits.
    """
    d = [ord(c) - 48 for c in npi]
    total = (
        _PREFIX_SUM
        + _DOUBLED[d[0]] + d[1] + _DOUBLED[d[2]] + d[3] + _DOUBLED[d[4]]
        + d[5] + _DOUBLED[d[6]] + d[7] + _DOUBLED[d[8]]
    )  # fmt: skip
    return (10 - total % 10) % 10 == d[9]


@lru_cache(maxsize=8192)
def npi_problem(npi: str) -> str | None:
    """The failing code for an NPI ("NPI_FORMAT", "NPI_CHECK_DIGIT") or None when it is valid.

    Cached: a chunk bills under a few hundred NPIs at most, so most lookups are hits.
    """
    if len(npi) != 10 or not npi.isascii() or not npi.isdigit() or npi[0] not in "12":
        return "NPI_FORMAT"
    if not npi_check_digit_ok(npi):
        return "NPI_CHECK_DIGIT"
    return None


def check_npi(claim: Claim, ctx: RuleContext) -> list[RuleFailure]:
    """NPI_FORMAT, NPI_CHECK_DIGIT on billing_npi and, when present, rendering_npi.

    Source: 45 CFR 162.406 (NPI is 10 digits, the last a check digit); CMS "Requirements for NPI check
    digit" (Luhn formula over 80840 + the first 9 digits; first digit 1 or 2 for the current issue).
    A missing billing_npi is REQUIRED_FIELD's to report, not this rule's.
    """
    out: list[RuleFailure] = []
    for name, npi in (("billing_npi", claim.billing_npi), ("rendering_npi", claim.rendering_npi)):
        if not npi or npi.isspace():
            continue
        code = npi_problem(npi)
        if code == "NPI_FORMAT":
            out.append(failure(code, name, f"{name} {show(npi)} is not 10 digits starting with 1 or 2"))
        elif code == "NPI_CHECK_DIGIT":
            out.append(failure(code, name, f"{name} {show(npi)} fails the Luhn check digit (80840 prefix)"))
    return out
