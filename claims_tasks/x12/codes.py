"""Code mappings from X12 values to this project's codes: financial class, payer id, diagnosis format."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from functools import cache
from pathlib import Path

PAYER_ALIASES_FILE = Path(__file__).with_name("payer_aliases.csv")

# SBR09 claim filing indicator code (X12 code list 1032, as the 837 5010 guides restrict it) -> our
# financial class (db/reference/financial_classes.csv). Medicare Advantage (16, HMO Medicare Risk) counts
# as Medicare, as db/reference/README.md does for payer type medicare_advantage. Note X12 "MC" is
# *Medicaid*, our MD; our MC is Medicare (X12 MA/MB).
FINANCIAL_CLASS_BY_SBR09: Mapping[str, str] = {
    "11": "OT",  # other non-federal programs
    "12": "CM",  # preferred provider organization (PPO)
    "13": "CM",  # point of service (POS)
    "14": "CM",  # exclusive provider organization (EPO)
    "15": "CM",  # indemnity insurance
    "16": "MC",  # health maintenance organization (HMO) Medicare risk: Medicare Advantage
    "17": "CM",  # dental maintenance organization
    "AM": "OT",  # automobile medical
    "BL": "CM",  # Blue Cross / Blue Shield
    "CH": "TR",  # CHAMPUS, now TRICARE
    "CI": "CM",  # commercial insurance company
    "DS": "OT",  # disability
    "FI": "CM",  # Federal Employees Program (carried by commercial plans)
    "HM": "HM",  # health maintenance organization
    "LM": "OT",  # liability medical
    "MA": "MC",  # Medicare Part A
    "MB": "MC",  # Medicare Part B
    "MC": "MD",  # Medicaid
    "OF": "OT",  # other federal program
    "TV": "OT",  # Title V
    "VA": "OT",  # Veterans Affairs plan
    "WC": "WC",  # workers' compensation health claim
    "ZZ": "OT",  # mutually defined / unknown
}
# A code outside the list is kept, marked, so that the claim fails FINANCIAL_CLASS_UNKNOWN naming it
# rather than being refused at import (DESIGN: staging stores what arrives; rules reject with a code).
UNKNOWN_SBR09_PREFIX = "SBR09:"


def financial_class(sbr09: str | None) -> str | None:
    if not sbr09:
        return None
    return FINANCIAL_CLASS_BY_SBR09.get(sbr09) or UNKNOWN_SBR09_PREFIX + sbr09


@cache
def payer_aliases(path: Path = PAYER_ALIASES_FILE) -> Mapping[str, str]:
    """EDI payer id (NM1*PR NM109) -> our payer_id, from payer_aliases.csv."""
    with path.open(newline="", encoding="utf-8") as fh:
        return {row["edi_payer_id"].strip(): row["payer_id"].strip() for row in csv.DictReader(fh)}


def icd10_with_dot(code: str) -> str:
    """X12 sends ICD-10-CM codes without the decimal point (E119); staging keeps the dotted form (E11.9)
    that the seeded claims and the code list use. Codes of three characters, or that already have a
    dot, are left as they are."""
    if len(code) > 3 and "." not in code:
        return f"{code[:3]}.{code[3:]}"
    return code
