"""A chunk as columns: the raw COPY text of its claims, lines and diagnoses, parsed into polars frames.

Decoding a chunk into Python objects (a Claim, its Lines, Decimals, dates) costs more than everything
PostgreSQL does to send it (docs/PERFORMANCE.md), so the chunk path keeps the bytes as they came and
parses them column-wise: the pre-screen, the duplicate keys and the model features read these frames, and
the rows of valid claims go to production as the same bytes. Only the claims that need a closer look
(failures, or anything the screen is not sure about) become records.Claim values, through `claims_at`,
equal to what db.staging.load_chunk would have built.

Pure: bytes in, frames and Claims out. The text is PostgreSQL's COPY text format (tab-separated, \\N for
NULL, arrays as {a,b}); `plain_text` says whether a chunk needs no unescaping, which is what the parser
handles. A chunk that does (a tab or backslash inside a value, a quoted array element) takes the record
path instead.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import polars as pl

from claims_tasks.records import CLAIM_FIELDS, DIAGNOSIS_FIELDS, LINE_FIELDS, Claim, Diagnosis, Line

# Amounts the screen can add up exactly in integer cents: at most 10 digits before the point (the
# production column is numeric(12,2)) and at most 2 after. Anything else is left to the rules.
CENTS_RE = r"^\d{1,10}(\.\d{1,2})?$"
# Units the screen can compare exactly as floats: 0 < units <= 9999 has at most 4 digits before the point;
# at most 3 after (production's numeric(12,3)).
UNITS_RE = r"^\d{1,4}(\.\d{1,3})?$"
DATE_RE = r"^\d{4}-\d{2}-\d{2}"
_WIDTHS = (len(CLAIM_FIELDS), len(LINE_FIELDS), len(DIAGNOSIS_FIELDS))


@dataclass(frozen=True)
class RawChunk:
    """COPY text of one chunk: claims (CLAIM_FIELDS), lines (LINE_FIELDS), diagnoses (DIAGNOSIS_FIELDS),
    each row ending in a newline. `rows`, when the sender counted them, is the number of rows of each:
    text built by a query (db/chunks.py) rather than by COPY escapes backslashes but not tabs or newlines,
    and the counts are how a value holding one is noticed."""

    claims: bytes
    lines: bytes
    diagnoses: bytes
    rows: tuple[int, int, int] | None = None


def plain_text(raw: RawChunk) -> bool:
    """True when splitting on tabs and newlines gives the values exactly: no value was escaped (every
    backslash starts a \\N), no array element was quoted, and (when counted) every row has its columns."""
    blocks = (raw.claims, raw.lines, raw.diagnoses)
    for block in blocks:
        if block.count(b"\\") != block.count(b"\\N") or b"\r" in block:
            return False
    if raw.rows is not None:
        for block, rows, width in zip(blocks, raw.rows, _WIDTHS, strict=True):
            if block.count(b"\n") != rows or block.count(b"\t") != rows * (width - 1):
                return False
    return b'"' not in raw.lines


def _rows(block: bytes) -> list[bytes]:
    rows = block.split(b"\n")
    if rows and not rows[-1]:
        rows.pop()
    return rows


def _read(block: bytes, fields: Sequence[str]) -> pl.DataFrame:
    schema = dict.fromkeys(fields, pl.String)
    if not block:
        return pl.DataFrame(schema=schema)
    return pl.read_csv(
        io.BytesIO(block), separator="\t", has_header=False, quote_char=None, null_values="\\N",
        empty_string_is_null=False, schema=schema,
    )  # fmt: skip


def _date(name: str) -> pl.Expr:
    return pl.col(name).str.to_date("%Y-%m-%d", strict=False)


def _cents(name: str) -> pl.Expr:
    """Integer cents when the text is a plain non-negative amount (CENTS_RE), else null. Values of at most
    12 significant digits survive the trip through a float exactly."""
    text = pl.col(name)
    return pl.when(text.str.contains(CENTS_RE)).then((text.cast(pl.Float64, strict=False) * 100).round().cast(pl.Int64))


@dataclass
class ChunkFrame:
    """The chunk's rows as polars frames (the original text columns plus parsed ones) and as raw COPY rows.

    claims: CLAIM_FIELDS as text, and `i` (row position), `born`, `start`, `end`, `received_day` (dates;
        null when absent or not a plain ISO date), `total_cents`.
    lines: LINE_FIELDS as text, and `i` (its claim's position), `units_f`, `charge_cents`, `day` (the
        line's service_date), `n` (position among its claim's lines).
    diagnoses: DIAGNOSIS_FIELDS as text, and `i`, `seq`.
    """

    claims: pl.DataFrame
    lines: pl.DataFrame
    diagnoses: pl.DataFrame
    claim_rows: list[bytes] = field(default_factory=list)
    line_rows: list[bytes] = field(default_factory=list)
    diagnosis_rows: list[bytes] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)  # claim_id by position

    def __post_init__(self) -> None:
        if not self.ids:
            self.ids = self.claims["claim_id"].to_list()

    def __len__(self) -> int:
        return self.claims.height

    def claims_at(self, positions: Sequence[int]) -> list[Claim]:
        """records.Claim values of the claims at these positions, as db.staging.load_chunk builds them."""
        if not positions:
            return []
        wanted = pl.Series("i", list(positions), dtype=pl.UInt32)
        lines: dict[int, list[Line]] = {}
        for row in self.lines.filter(pl.col("i").is_in(wanted.implode())).select("i", *LINE_FIELDS[1:]).iter_rows():
            lines.setdefault(row[0], []).append(_line(row[1:]))
        dx: dict[int, list[Diagnosis]] = {}
        for i, seq, code in (
            self.diagnoses.filter(pl.col("i").is_in(wanted.implode())).select("i", "sequence", "icd10_code").iter_rows()
        ):
            dx.setdefault(i, []).append(Diagnosis(int(seq), code))
        heads = self.claims.select(CLAIM_FIELDS)
        return [_claim(heads.row(i), tuple(lines.get(i, ())), tuple(dx.get(i, ()))) for i in positions]


def parse_chunk(raw: RawChunk) -> ChunkFrame:
    """Frames of a chunk whose text is plain (see plain_text); lines and diagnoses in (claim, number) order."""
    claims = (
        _read(raw.claims, CLAIM_FIELDS)
        .with_row_index("i")
        .with_columns(
            _date("date_of_birth").alias("born"),
            _date("service_from").alias("start"),
            _date("service_to").alias("end"),
            pl.when(pl.col("received_at").str.contains(DATE_RE))
            .then(pl.col("received_at").str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False))
            .alias("received_day"),
            _cents("total_charge").alias("total_cents"),
        )
    )
    index = claims.select("claim_id", "i")
    lines = (
        _read(raw.lines, LINE_FIELDS)
        .join(index, on="claim_id", how="left", maintain_order="left")
        .with_columns(
            pl.when(pl.col("units").str.contains(UNITS_RE)).then(pl.col("units").cast(pl.Float64)).alias("units_f"),
            _cents("line_charge").alias("charge_cents"),
            _date("service_date").alias("day"),
            pl.int_range(pl.len()).over("i").alias("n"),
        )
    )
    diagnoses = (
        _read(raw.diagnoses, DIAGNOSIS_FIELDS)
        .join(index, on="claim_id", how="left", maintain_order="left")
        .with_columns(pl.col("sequence").cast(pl.Int64, strict=False).alias("seq"))
    )
    return ChunkFrame(claims, lines, diagnoses, _rows(raw.claims), _rows(raw.lines), _rows(raw.diagnoses))


# ---- records.Claim values from text, exactly as psycopg's loaders make them


def _opt_date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text is not None else None


def _opt_decimal(text: str | None) -> Decimal | None:
    return Decimal(text) if text is not None else None


def array_items(text: str | None) -> tuple[str | None, ...]:
    """A one-dimensional array literal without quoted elements ({a,b}, {}, {NULL}) as its elements."""
    if not text or text == "{}":
        return ()
    return tuple(None if item == "NULL" else item for item in text[1:-1].split(","))


def _ints(text: str | None) -> tuple[int, ...]:
    return tuple(None if item is None else int(item) for item in array_items(text))  # type: ignore[misc]


def _line(row: tuple) -> Line:
    number, code, mods, units, charge, day, pos, pointers, revenue = row
    return Line(int(number), code, array_items(mods), _opt_decimal(units), _opt_decimal(charge), _opt_date(day),
                pos, _ints(pointers), revenue)  # fmt: skip


def _claim(head: tuple, lines: tuple[Line, ...], diagnoses: tuple[Diagnosis, ...]) -> Claim:
    values = list(head)
    for k in (5, 14, 15):  # date_of_birth, service_from, service_to
        values[k] = _opt_date(values[k])
    values[16] = _opt_decimal(values[16])  # total_charge
    if values[18] is not None:
        values[18] = datetime.fromisoformat(values[18])  # received_at, with the session's UTC offset
    return Claim(*values, lines=lines, diagnoses=diagnoses)
