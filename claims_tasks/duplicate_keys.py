"""Duplicate keys of a whole chunk at once, from its columns (claims_tasks.columns.ChunkFrame).

The same keys as rules/duplicates.py computes per claim (`line_keys`), in a canonical text form so that a
polars join can match them: dates as ISO text, the charge as its shortest decimal text (100.00 -> 100,
as Decimal equality has it), the modifiers sorted and comma-joined. The chunk's own keys and the keys
that other claims of the same patients hold in staging and production (db/duplicates.py fetches those)
are resolved here the way `within_chunk` resolves them; the claims with a match become suspects, and
`index_for` hands the rules the DuplicateIndex they need for exactly those claims.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import polars as pl

from claims_tasks.columns import ChunkFrame, array_items
from claims_tasks.records import Claim
from claims_tasks.rules.context import DuplicateIndex, DuplicateKey
from claims_tasks.rules.duplicates import ORIGINAL, VOID, line_keys, provider_of, within_chunk

KEY = ("k_sub", "k_born", "k_prov", "k_day", "k_code", "k_mods", "k_charge")
Canonical = tuple[str, str, str, str, str, str, str]
# A plain decimal as PostgreSQL prints numeric values: its canonical form strips trailing zeros.
_PLAIN_DECIMAL = r"^-?\d+(\.\d+)?$"


def canonical_charge(value: Decimal) -> str | None:
    """Shortest text of an amount, equal for equal Decimals (100.00 and 100 -> '100'); None for NaN and
    infinities, which never equal anything."""
    if not value.is_finite():
        return None
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def canonical(key: DuplicateKey) -> Canonical | None:
    subscriber, born, provider, day, code, modifiers, charge = key
    amount = canonical_charge(charge)
    if amount is None:
        return None
    return (subscriber, born.isoformat(), provider, day.isoformat(), code, modifiers, amount)


def modifiers_key(text: str | None) -> str:
    """line_keys' modifiers part from an array literal: one modifier as is, several sorted without blanks."""
    mods = array_items(text)
    if not mods:
        return ""
    if len(mods) == 1:
        return mods[0] or ""
    return ",".join(sorted(m for m in mods if m))


def _per_value(column: pl.Series, fn: Callable[[str | None], str]) -> pl.Series:
    """fn(value) per row, evaluated once per distinct value."""
    values = [v for v in column.unique().to_list() if v is not None]
    mapped = column.replace_strict(values, [fn(v) for v in values], default=None, return_dtype=pl.String)
    return mapped.fill_null(fn(None))


def key_frame(frame: ChunkFrame, pending: np.ndarray | None = None) -> pl.DataFrame:
    """One row per line that has a full duplicate key, of the non-void claims (of `pending` ones only, if
    given): i, n (line position), claim_id, original, and the KEY columns."""
    col = pl.col
    claims = frame.claims
    if pending is not None:
        claims = claims.filter(pl.Series(pending))
    claims = claims.filter(col("claim_frequency").ne_missing(VOID))

    rendering_blank = _per_value(claims["rendering_npi"], lambda v: "y" if not v or v.isspace() else "n")
    heads = claims.select(
        "i",
        "claim_id",
        (col("claim_frequency") == ORIGINAL).fill_null(False).alias("original"),
        col("subscriber_id").alias("k_sub"),
        pl.when(col("born").is_not_null()).then(col("date_of_birth")).alias("k_born"),
        pl.when(rendering_blank == "y").then(col("billing_npi")).otherwise(col("rendering_npi")).alias("k_prov"),
        "service_from",
        "start",
    ).filter(
        (col("k_sub").is_not_null() & (col("k_sub") != ""))
        & col("k_born").is_not_null()
        & (col("k_prov").is_not_null() & (col("k_prov") != ""))
    )
    lines = frame.lines.join(heads, on="i", how="inner")
    charge = col("line_charge")
    return lines.select(
        "i",
        "n",
        "claim_id",
        "original",
        "k_sub",
        "k_born",
        "k_prov",
        pl.when(col("service_date").is_not_null())
        .then(pl.when(col("day").is_not_null()).then(col("service_date")))
        .otherwise(pl.when(col("start").is_not_null()).then(col("service_from")))
        .alias("k_day"),
        col("procedure_code").alias("k_code"),
        _per_value(lines["modifiers"], modifiers_key).alias("k_mods"),
        pl.when(charge.str.contains(_PLAIN_DECIMAL))
        .then(
            pl.when(charge.str.contains(r"\."))
            .then(charge.str.replace(r"0+$", "").str.replace(r"\.$", ""))
            .otherwise(charge)
        )
        .str.replace(r"^-0$", "0")
        .alias("k_charge"),
    ).filter(
        col("k_code").is_not_null() & (col("k_code") != "") & col("k_charge").is_not_null() & col("k_day").is_not_null()
    )


def patients(keys: pl.DataFrame) -> tuple[list[str], list[str]]:
    """(subscriber_ids, dates of birth as ISO text) of the originals: whose other claims to look up."""
    found = keys.filter(pl.col("original")).select("k_sub", "k_born").unique()
    return found["k_sub"].to_list(), found["k_born"].to_list()


def holders_frame(held: Iterable[tuple[str, DuplicateKey]]) -> pl.DataFrame:
    """(claim_id, key) pairs from the databases as a frame with the KEY columns."""
    rows = [(cid, *c) for cid, key in held if (c := canonical(key)) is not None]
    return pl.DataFrame(rows, schema=["claim_id", *KEY], orient="row") if rows else _empty_holders()


def _empty_holders() -> pl.DataFrame:
    return pl.DataFrame(schema=dict.fromkeys(("claim_id", *KEY), pl.String))


def holder_keys(claims: Iterable[Claim]) -> list[tuple[str, DuplicateKey]]:
    """The keys other claims hold (voids hold none), as line_keys computes them."""
    return [(c.claim_id, key) for c in claims if c.claim_frequency != VOID for _, key in line_keys(c)]


@dataclass
class Resolution:
    """Which claims of the chunk have a duplicate match, and the matches needed to tell the rules."""

    suspects: np.ndarray  # claim positions (`i`)
    earliest: dict[Canonical, str] = field(default_factory=dict)
    billed: dict[Canonical, tuple[str, str]] = field(default_factory=dict)


def resolve(keys: pl.DataFrame, staging: pl.DataFrame, production: pl.DataFrame) -> Resolution:
    """within_chunk over columns: a line of an original repeats a key whose earliest holder (the chunk's
    claims and staging's others) has a smaller claim_id, or one a production claim other than itself holds."""
    col = pl.col
    key = list(KEY)
    earliest = (
        pl.concat([keys.select("claim_id", *KEY), staging.select("claim_id", *KEY)])
        .group_by(key)
        .agg(col("claim_id").min().alias("first"))
    )
    billed = production.group_by(key).agg(col("claim_id").min().alias("low"), col("claim_id").max().alias("high"))
    originals = keys.filter(col("original")).join(earliest, on=key, how="left").join(billed, on=key, how="left")
    other = pl.when(col("low") != col("claim_id")).then(col("low")).otherwise(col("high"))
    hits = originals.filter((col("first") < col("claim_id")) | (other.is_not_null() & (other != col("claim_id"))))
    suspects = hits["i"].unique().to_numpy()
    mine = keys.join(hits.select("i").unique(), on="i", how="semi").select(key).unique()
    found_earliest = earliest.join(mine, on=key, how="semi")
    found_billed = billed.join(mine, on=key, how="semi")
    return Resolution(
        suspects=suspects,
        earliest={tuple(r[:7]): r[7] for r in found_earliest.iter_rows()},  # type: ignore[misc]
        billed={tuple(r[:7]): (r[7], r[8]) for r in found_billed.iter_rows()},  # type: ignore[misc]
    )


def index_for(claims: Sequence[Claim], resolution: Resolution) -> DuplicateIndex:
    """The DuplicateIndex rules/duplicates.py expects, for these (suspect) claims of the chunk."""
    earliest: dict[DuplicateKey, str] = {}
    billed: dict[DuplicateKey, tuple[str, str]] = {}
    for claim in claims:
        if provider_of(claim) is None:
            continue
        for _, key in line_keys(claim):
            c = canonical(key)
            if c is None:
                continue
            if (first := resolution.earliest.get(c)) is not None:
                earliest[key] = first
            if (held := resolution.billed.get(c)) is not None:
                billed[key] = held
    return within_chunk(claims, DuplicateIndex(earliest=earliest, billed=billed))
