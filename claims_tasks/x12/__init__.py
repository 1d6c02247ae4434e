"""X12 837 (5010) reading: a strict streaming tokenizer, the 837P/837I loop structure, and the mapping of
claims to staging rows. Pure: bytes in, rows out; db/x12_import.py writes them. See docs/X12.md."""

from __future__ import annotations

from .codes import financial_class, icd10_with_dot, payer_aliases
from .envelope import Interchange, Trailer
from .errors import X12Error
from .reader import read_837
from .rows import CLAIM_COLUMNS, DIAGNOSIS_COLUMNS, LINE_COLUMNS, ClaimRows, Lookups
from .tokenizer import Delimiters, SegmentReader, read_delimiters

__all__ = [
    "CLAIM_COLUMNS",
    "DIAGNOSIS_COLUMNS",
    "LINE_COLUMNS",
    "ClaimRows",
    "Delimiters",
    "Interchange",
    "Lookups",
    "SegmentReader",
    "Trailer",
    "X12Error",
    "financial_class",
    "icd10_with_dot",
    "payer_aliases",
    "read_837",
    "read_delimiters",
]
