"""records.Claim values as the COPY text PostgreSQL would send for them, for tests of the column path
without a database (claims_tasks.columns parses what this writes)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

from claims_tasks.columns import RawChunk
from claims_tasks.records import CLAIM_FIELDS, Claim

_SPECIAL = set('{}",\\ \t\n')


def _scalar(value: object) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f") if value.is_finite() else str(value)
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _array(values: Sequence[object]) -> str:
    items = []
    for v in values:
        if v is None:
            items.append("NULL")
            continue
        text = str(v)
        if not text or text.upper() == "NULL" or _SPECIAL & set(text):
            text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
        items.append(text)
    return _scalar("{" + ",".join(items) + "}")


def raw_chunk(claims: Sequence[Claim]) -> RawChunk:
    heads, lines, dx = [], [], []
    for c in claims:
        heads.append("\t".join(_scalar(getattr(c, f)) for f in CLAIM_FIELDS))
        for ln in c.lines:
            lines.append("\t".join((
                _scalar(c.claim_id), str(ln.line_number), _scalar(ln.procedure_code), _array(ln.modifiers),
                _scalar(ln.units), _scalar(ln.line_charge), _scalar(ln.service_date), _scalar(ln.place_of_service),
                _array(ln.diagnosis_pointers), _scalar(ln.revenue_code),
            )))  # fmt: skip
        for d in c.diagnoses:
            dx.append("\t".join((_scalar(c.claim_id), str(d.sequence), _scalar(d.icd10_code))))

    def block(rows: list[str]) -> bytes:
        return "".join(r + "\n" for r in rows).encode()

    return RawChunk(block(heads), block(lines), block(dx))
