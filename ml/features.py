"""Claims in, model features out. Pure: records.Claim values to a column frame; no I/O, no scikit-learn.

Serving and training call the same `extract`, so what the worker scores is, column for column, what the
model was trained on. The feature list is part of the model's contract: ml/artifacts.py refuses a model
whose recorded list differs from FEATURES.

Speed matters (scoring must add at most ~20 µs per claim): one pass over each claim's lines and
diagnoses appends small integers to flat lists, and numpy turns those into count columns at once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from functools import lru_cache

import numpy as np
import polars as pl

from claims_tasks.records import Claim
from ml import codes

CATEGORICAL: tuple[str, ...] = (
    "payer_id",
    "financial_class",
    "place_of_service",
    "facility_id",
    "sex",
    "primary_procedure",  # the code of the line with the highest charge
    "principal_dx",  # three-character category of diagnosis 1
)
_SCALARS: tuple[str, ...] = (
    "age",  # years at service_from
    "log_total_charge",
    "log_max_line_charge",
    "n_lines",
    "n_diagnoses",
    "units",
    "service_days",  # service_to - service_from
    "filing_lag_days",  # received_at - service_to
    "has_prior_auth",
    "has_rendering_npi",
    "is_replacement",  # claim_frequency 7
)
_LINE_COUNTS: tuple[str, ...] = (
    "em_top_level",  # E/M lines at the top level of their family
    "em_with_25",  # E/M lines carrying modifier 25
    "paired_lines",  # lines on paired anatomy
    "paired_unmarked",  # ... without LT/RT/50
    "therapy_without_gp",
    "mod_distinct",  # lines with 59/XE/XP/XS/XU
    "mod_26tc",
)
NUMERIC: tuple[str, ...] = (
    *_SCALARS,
    *(f"{kind}_lines" for kind in codes.KINDS),
    *_LINE_COUNTS,
    *(f"dx_{group}" for group in codes.DX_GROUPS),
)
FEATURES: tuple[str, ...] = (*CATEGORICAL, *NUMERIC)

_K = len(codes.KINDS)
_G = len(codes.DX_GROUPS)
_F = len(_LINE_COUNTS)
# Per-line flag columns, in _LINE_COUNTS order.
_TOP, _M25, _PAIRED, _UNMARKED, _NO_GP, _DISTINCT, _PT = range(_F)
_NAN = math.nan


@lru_cache(maxsize=4096)
def _code_info(code: str | None) -> tuple[int, bool, bool, bool, bool]:
    """(kind, is E/M, top-level E/M, paired anatomy, therapy) of a procedure code."""
    kind = codes.procedure_kind(code)
    em = kind == codes.KINDS.index("em")
    return (
        kind,
        em,
        em and code in codes.EM_TOP_LEVEL,
        code in codes.PAIRED_ANATOMY,
        kind == codes.KINDS.index("therapy"),
    )


def extract(claims: Sequence[Claim]) -> pl.DataFrame:
    """One row per claim, columns FEATURES: categoricals as strings (None when absent), the rest floats."""
    n = len(claims)
    cat: list[list[str | None]] = [[] for _ in CATEGORICAL]
    scalars: list[tuple[float, ...]] = []
    # (claim index * width + column) for every line kind, line flag and diagnosis group seen: numpy turns
    # these into count matrices at the end, so the loop only appends integers.
    kinds: list[int] = []
    flags: list[int] = []
    groups: list[int] = []
    info_of = _code_info
    group_of = codes.DX_GROUP_OF_LETTER
    other = codes.DX_OTHER
    side, distinct, pro_tech = codes.SIDE_MODIFIERS, codes.DISTINCT_MODIFIERS, codes.PROFESSIONAL_TECHNICAL
    for i, c in enumerate(claims):
        top_code: str | None = None
        top_charge: Decimal | None = None
        units = Decimal(0)
        fbase = i * _F
        for ln in c.lines:
            code = ln.procedure_code
            kind, em, top, paired, therapy = info_of(code)
            kinds.append(i * _K + kind)
            charge = ln.line_charge
            if charge is not None and (top_charge is None or charge > top_charge):
                top_charge, top_code = charge, code
            if ln.units is not None:
                units += ln.units
            mods = ln.modifiers
            if em:
                if top:
                    flags.append(fbase + _TOP)
                if "25" in mods:
                    flags.append(fbase + _M25)
            if paired:
                flags.append(fbase + _PAIRED)
                if side.isdisjoint(mods):
                    flags.append(fbase + _UNMARKED)
            if therapy and "GP" not in mods:
                flags.append(fbase + _NO_GP)
            if mods:
                if not distinct.isdisjoint(mods):
                    flags.append(fbase + _DISTINCT)
                if not pro_tech.isdisjoint(mods):
                    flags.append(fbase + _PT)
        principal: str | None = None
        gbase = i * _G
        for d in c.diagnoses:
            dx = d.icd10_code
            if d.sequence == 1:
                principal = dx
            groups.append(gbase + (group_of.get(dx[0], other) if dx else other))

        cat[0].append(c.payer_id)
        cat[1].append(c.financial_class)
        cat[2].append(c.place_of_service)
        cat[3].append(c.facility_id)
        cat[4].append(c.sex)
        cat[5].append(top_code)
        cat[6].append(principal[:3] if principal else None)

        start, end, born, received = c.service_from, c.service_to, c.date_of_birth, c.received_at
        total = c.total_charge
        scalars.append((
            (start - born).days / 365.25 if start is not None and born is not None else _NAN,
            math.log1p(max(float(total), 0.0)) if total is not None else _NAN,
            math.log1p(max(float(top_charge), 0.0)) if top_charge is not None else _NAN,
            len(c.lines),
            len(c.diagnoses),
            float(units),
            (end - start).days if start is not None and end is not None else _NAN,
            (received.date() - end).days if received is not None and end is not None else _NAN,
            bool(c.prior_auth_number),
            c.rendering_npi is not None,
            c.claim_frequency == "7",
        ))  # fmt: skip

    numeric = np.hstack(
        [
            np.array(scalars, dtype=np.float64).reshape(n, len(_SCALARS)),
            _counts(kinds, n, _K),
            _counts(flags, n, _F),
            _counts(groups, n, _G),
        ]
    )
    columns = {name: pl.Series(name, values, dtype=pl.String) for name, values in zip(CATEGORICAL, cat, strict=True)}
    columns |= {name: pl.Series(name, numeric[:, j]) for j, name in enumerate(NUMERIC)}
    return pl.DataFrame(columns)


def _counts(flat: list[int], n: int, width: int) -> np.ndarray:
    """An (n, width) float matrix counting each flat index (row * width + column)."""
    return np.bincount(np.asarray(flat, dtype=np.int64), minlength=n * width).reshape(n, width).astype(np.float64)
