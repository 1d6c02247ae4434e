"""Production rows of a chunk's valid claims, as COPY text, from the bytes staging sent (no decoding).

A valid claim's staging row is already the first 19 columns of its production row (CLAIM_FIELDS in the
same order and text form); the chunk path appends batch, expected reimbursement and the model's fields.
Its lines and diagnoses go through unchanged. Pure: bytes and frames in, bytes out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from itertools import compress

import numpy as np
import polars as pl

from claims_tasks.columns import ChunkFrame

# Most digits after the point a price per unit may have for the integer path (the RVU table's
# numeric(8,2) sums times a 4-decimal conversion factor have 6).
_MAX_PRICE_SCALE = 8
_UNITS_SCALE = 3  # screened units have at most 3 decimals (columns.UNITS_RE)
_INT64_SAFE = 2**62


def copy_text(value: str | None) -> str:
    """A value as COPY text: \\N for NULL, backslash, tab, newline and carriage return escaped."""
    if value is None:
        return "\\N"
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        value = value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


def _scaled(price: Decimal) -> int | None:
    exponent = price.as_tuple().exponent
    if not isinstance(exponent, int) or -exponent > _MAX_PRICE_SCALE or price < 0:
        return None
    return int(price.scaleb(_MAX_PRICE_SCALE))


def expected_reimbursement_text(
    frame: ChunkFrame, positions: Sequence[int], prices: Mapping[str, Decimal]
) -> list[str] | None:
    """pipeline.expected_reimbursement of each claim at `positions` (screened claims: units present, > 0,
    at most 3 decimals), as text with two decimals, rounded half-even like Decimal.quantize. Exact integer
    arithmetic; None when a price does not fit it (the caller then uses the Decimal function)."""
    lines = frame.lines.join(pl.DataFrame({"i": list(positions)}, schema={"i": pl.UInt32}), on="i", how="semi")
    codes = [c for c in lines["procedure_code"].unique().to_list() if c is not None and c in prices]
    scaled = [_scaled(prices[c]) for c in codes]
    if any(s is None for s in scaled):
        return None
    table = pl.DataFrame(
        {"procedure_code": codes, "price": scaled}, schema={"procedure_code": pl.String, "price": pl.Int64}
    )
    priced = lines.join(table, on="procedure_code", how="inner").with_columns(
        (pl.col("units_f") * 10**_UNITS_SCALE).round().cast(pl.Int64).alias("units")
    )
    if priced.height and int(priced["price"].max()) * int(priced["units"].max()) * 16 > _INT64_SAFE:  # type: ignore[arg-type]
        return None
    sums = priced.group_by("i").agg((pl.col("price") * pl.col("units")).sum().alias("total"))
    aligned = (
        pl.DataFrame({"i": list(positions)}, schema={"i": pl.UInt32})
        .join(sums, on="i", how="left", maintain_order="left")["total"]
        .fill_null(0)
        .to_numpy()
    )
    step = 10 ** (_MAX_PRICE_SCALE + _UNITS_SCALE - 2)  # one cent
    cents, rest = np.divmod(aligned, step)
    up = (rest * 2 > step) | ((rest * 2 == step) & (cents % 2 == 1))
    cents = cents + up
    return [f"{c // 100}.{c % 100:02d}" for c in cents.tolist()]


def claims_copy(frame: ChunkFrame, positions: Sequence[int], tails: Sequence[str]) -> bytes:
    """COPY text of production.claims rows: each claim's staging row, a tab, and its tail of columns."""
    rows = frame.claim_rows
    return b"".join(rows[i] + b"\t" + tail.encode() + b"\n" for i, tail in zip(positions, tails, strict=True))


def details_copy(rows: list[bytes], claim_of_row: np.ndarray, keep_claim: np.ndarray) -> bytes:
    """COPY text of the lines (or diagnoses) of the kept claims: the staging rows as they came."""
    kept = list(compress(rows, keep_claim[claim_of_row].tolist()))
    return b"\n".join(kept) + b"\n" if kept else b""
