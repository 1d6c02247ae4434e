"""Claim validation rules: pure functions over records.Claim, no I/O (DESIGN §4, docs/RULES.md).

Usage: build one RuleContext per chunk, e.g. ``RuleContext(today=..., payers=active_payer_ids)``;
``validate_chunk(claims, ctx)`` maps every claim_id to its failures ([] when clean), and
``failure_category(failures)`` names the category of a failed claim as a whole.
"""

from __future__ import annotations

from .catalogue import RULE_CATALOGUE
from .coding import FREQUENCY_CODES, PLACE_OF_SERVICE_CODES
from .context import DuplicateIndex, EditTables, Icd10Edition, RuleContext
from .engine import (
    EDIT_RULES,
    FORMAT_RULES,
    RULES,
    Rule,
    failure_category,
    validate_chunk,
    validate_claim,
)
from .npi import npi_check_digit_ok

__all__ = [
    "EDIT_RULES",
    "FORMAT_RULES",
    "FREQUENCY_CODES",
    "PLACE_OF_SERVICE_CODES",
    "RULES",
    "RULE_CATALOGUE",
    "DuplicateIndex",
    "EditTables",
    "Icd10Edition",
    "Rule",
    "RuleContext",
    "failure_category",
    "npi_check_digit_ok",
    "validate_chunk",
    "validate_claim",
]
