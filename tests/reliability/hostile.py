"""Hostile claims: valid claims with fields fuzzed, and a COPY writer that puts them straight into staging.

The generator is seeded and plain Python (hypothesis draws too few distinct shapes per second for 20,000
claims): every claim gets one defect kind in turn, so each kind appears ~n/len(KINDS) times, and a third
of the claims get a second, random one, applied first. Each claim records what was done to it, its own
kind first.

Staging is loose (text codes, wide numerics) and stores all of it, with two exceptions PostgreSQL itself
imposes, which any loader must decide about and which this writer decides like the 837 importer:
- NUL (U+0000): PostgreSQL text cannot hold it; a COPY carrying one fails as a whole. The writer stores
  U+FFFD (the replacement character) in its place, so the value still fails every code-set rule.
- duplicate line numbers (or diagnosis sequences) within a claim: staging's primary key refuses them, again
  failing the whole COPY. The writer keeps the first of each number; the claim's total still counts the
  line it dropped, so the claim fails CHARGE_TOTAL_MISMATCH rather than go through short of a line.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal

import psycopg

from claims_tasks.records import CLAIM_FIELDS, DIAGNOSIS_FIELDS, LINE_FIELDS, Claim, Diagnosis, Line

TEXT_FIELDS = (
    "facility_id", "patient_account_number", "patient_first_name", "patient_last_name", "sex", "subscriber_id",
    "payer_id", "financial_class", "billing_npi", "rendering_npi", "place_of_service", "claim_frequency",
    "prior_auth_number",
)  # fmt: skip
NULLABLE = (*TEXT_FIELDS, "date_of_birth", "service_from", "service_to", "total_charge", "received_at")
DATE_FIELDS = ("date_of_birth", "service_from", "service_to")

CONTROL = "".join(map(chr, range(32))) + "\x7f\x85\u2028\u2029\ufeff\u200b"
SQL = (
    "'; DROP TABLE staging.claims; --", "1' OR '1'='1", "$$; SELECT pg_sleep(30); $$", "\\.", "\\N", "E'\\x00'",
    "%s %(claim_id)s {0} %n", "\"; TRUNCATE claims CASCADE; --",
    "' UNION SELECT encrypted_payload FROM failed_claims --",
)  # fmt: skip
HTML = (
    "<script>alert(1)</script>", "<img src=x onerror=alert(document.cookie)>", "&lt;b&gt;&amp;&#x27;",
    "{{7*7}}${7*7}", "</td></tr></table><h1>x</h1>", "javascript:alert(1)", "<!--", "]]>",
)  # fmt: skip
EXTREME_DATES = (date(1, 1, 1), date(9999, 12, 31))
EXTREME_TIMES = (datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC))
HUGE = (Decimal("99999999999999.99"), Decimal("10000000000.00"), Decimal("NaN"), Decimal("9999999999.99"))
UNKNOWN = {
    "facility_id": "F9999", "payer_id": "NOPE", "financial_class": "ZZ", "place_of_service": "00",
    "claim_frequency": "9", "sex": "X", "billing_npi": "1234567890", "rendering_npi": "0000000000",
}  # fmt: skip


@dataclass
class Hostile:
    claim: Claim
    kinds: list[str] = field(default_factory=list)
    nul: bool = False  # a NUL the writer replaced
    dropped_lines: int = 0  # duplicate line numbers the writer could not store


def _long(rng: random.Random) -> str:
    # 10 kB: half repetitive (what a stuck field or padding looks like), half random printable text, which
    # PostgreSQL cannot compress (a btree refuses index entries above ~2.7 kB).
    if rng.random() < 0.5:
        return (rng.choice(SQL + HTML) * 10_000)[:10_000]
    return "".join(rng.choices(string.printable + "éü中文🙂", k=10_000))


def _controls(rng: random.Random) -> str:
    return "".join(rng.choices(CONTROL + "ab", k=rng.randint(1, 40)))


def _text(claim: Claim, rng: random.Random, value: str) -> Claim:
    return replace(claim, **{rng.choice(TEXT_FIELDS): value})


STAGING_MAX = Decimal("99999999999999.99")  # staging's numeric(16,2)


def _lines(claim: Claim, lines: Sequence[Line]) -> Claim:
    total = sum((ln.line_charge or Decimal(0) for ln in lines), Decimal(0))
    if total.is_finite() and abs(total) > STAGING_MAX:
        total = STAGING_MAX.copy_sign(total)
    return replace(claim, lines=tuple(lines), total_charge=total)


def _amount(claim: Claim, rng: random.Random, value: Decimal) -> Claim:
    if rng.random() < 0.5 or not claim.lines:
        return replace(claim, total_charge=value)
    first, *rest = claim.lines
    return replace(claim, lines=(replace(first, line_charge=value), *rest))


def _line_anomaly(claim: Claim, rng: random.Random) -> Claim:
    if not claim.lines:
        return claim
    first, *rest = claim.lines
    value = rng.choice([
        {"units": Decimal("0")}, {"units": Decimal("-3")}, {"units": Decimal("NaN")},
        {"units": Decimal("999999999.999")}, {"modifiers": ("??", "XX", "YY", "ZZ", "AA", None)},
        {"diagnosis_pointers": (0, -32768, 32767)}, {"procedure_code": "ZZZZZ"}, {"procedure_code": None},
        {"service_date": rng.choice(EXTREME_DATES)}, {"place_of_service": rng.choice(SQL)},
    ])  # fmt: skip
    return replace(claim, lines=(replace(first, **value), *rest))


def _many_lines(claim: Claim, rng: random.Random) -> Claim:
    if not claim.lines:
        return claim
    line = claim.lines[0]
    return _lines(claim, [replace(line, line_number=i + 1) for i in range(500)])


def _duplicate_line_number(claim: Claim, rng: random.Random) -> Claim:
    if not claim.lines:
        return claim
    first, *rest = claim.lines
    return _lines(claim, [first, replace(first, line_charge=Decimal("25.00")), *rest])


def _diagnoses(claim: Claim, rng: random.Random) -> Claim:
    return replace(claim, diagnoses=rng.choice([
        (), (Diagnosis(1, "Z99.999X"),), (Diagnosis(1, None),), (Diagnosis(1, "E11.9"), Diagnosis(1, "I10")),
        tuple(Diagnosis(i + 1, "E11.9") for i in range(30)), (Diagnosis(1, rng.choice(HTML)),),
    ]))  # fmt: skip


KINDS: dict[str, Callable[[Claim, random.Random], Claim]] = {
    "null": lambda c, r: replace(c, **{r.choice(NULLABLE): None}),
    "empty": lambda c, r: _text(c, r, r.choice(["", " ", "\t", "\u00a0"])),
    "10kB": lambda c, r: _text(c, r, _long(r)),
    "control": lambda c, r: _text(c, r, _controls(r)),
    "sql": lambda c, r: _text(c, r, r.choice(SQL)),
    "html": lambda c, r: _text(c, r, r.choice(HTML)),
    "negative": lambda c, r: _amount(c, r, -Decimal(r.choice(["0.01", "1", "99999999999999.99"]))),
    "huge": lambda c, r: _amount(c, r, r.choice(HUGE)),
    "date": lambda c, r: replace(c, **{r.choice(DATE_FIELDS): r.choice(EXTREME_DATES)}),
    "received": lambda c, r: replace(c, received_at=r.choice(EXTREME_TIMES)),
    "0 lines": lambda c, r: replace(c, lines=()),
    "500 lines": _many_lines,
    "duplicate line": _duplicate_line_number,
    "unknown code": lambda c, r: replace(c, **dict([r.choice(list(UNKNOWN.items()))])),
    "line": _line_anomaly,
    "diagnoses": _diagnoses,
}


def hostile_claims(valid: Sequence[Claim], seed: int = 7) -> list[Hostile]:
    rng = random.Random(seed)
    names = list(KINDS)
    out = []
    for i, claim in enumerate(valid):
        picked = [names[i % len(names)]]
        if rng.random() < 1 / 3:
            picked.append(rng.choice(names))
        # The extra defect first, the claim's own kind last: that one is never undone by the other.
        for kind in reversed(picked):
            claim = KINDS[kind](claim, rng)
        if i % 50 == 0:  # ids are text too: quotes, markup, spaces, non-ASCII
            claim = replace(claim, claim_id=f"{claim.claim_id}{rng.choice(SQL + HTML + (' x', 'é中🙂'))}")
        out.append(Hostile(claim, picked))
    return out


def _clean(value: object, h: Hostile) -> object:
    if isinstance(value, str) and "\x00" in value:
        h.nul = True
        return value.replace("\x00", "\ufffd")
    if isinstance(value, tuple | list):
        return [_clean(v, h) for v in value]
    return value


def write_staging(conn: psycopg.Connection, hostile: Sequence[Hostile]) -> None:
    """COPY the claims into staging, deciding NULs and duplicate numbers as the module docstring says."""
    cur = conn.cursor()
    with cur.copy(f"COPY staging.claim_lines ({', '.join(LINE_FIELDS)}) FROM STDIN") as copy:
        for h in hostile:
            seen: set[int] = set()
            for ln in h.claim.lines:
                if ln.line_number in seen:
                    h.dropped_lines += 1
                    continue
                seen.add(ln.line_number)
                copy.write_row([_clean(v, h) for v in (h.claim.claim_id, ln.line_number, ln.procedure_code,
                                list(ln.modifiers), ln.units, ln.line_charge, ln.service_date,
                                ln.place_of_service, list(ln.diagnosis_pointers), ln.revenue_code)])  # fmt: skip
    with cur.copy(f"COPY staging.claim_diagnoses ({', '.join(DIAGNOSIS_FIELDS)}) FROM STDIN") as copy:
        for h in hostile:
            sequences: set[int] = set()
            for d in h.claim.diagnoses:
                if d.sequence not in sequences:
                    sequences.add(d.sequence)
                    copy.write_row([_clean(v, h) for v in (h.claim.claim_id, d.sequence, d.icd10_code)])
    with cur.copy(f"COPY staging.claims ({', '.join(CLAIM_FIELDS)}) FROM STDIN") as copy:
        for h in hostile:
            copy.write_row([_clean(getattr(h.claim, f), h) for f in CLAIM_FIELDS])


# Dates PostgreSQL holds and Python cannot (4713 BC .. 5874897 AD against years 1 .. 9999). The COPY writer
# cannot express them from Python values, so they are set by SQL after it.
BEYOND_PYTHON = (
    "UPDATE staging.claims SET date_of_birth = '4713-01-01 BC' WHERE claim_id = ANY(%s)",
    "UPDATE staging.claims SET service_to = '20000-01-01' WHERE claim_id = ANY(%s)",
    "UPDATE staging.claims SET received_at = '294276-12-31 23:59:59+00' WHERE claim_id = ANY(%s)",
    "UPDATE staging.claim_lines SET service_date = '10000-06-01' WHERE claim_id = ANY(%s)",
)


def date_beyond_python(conn: psycopg.Connection, hostile: Sequence[Hostile], every: int = 101) -> int:
    """Give every `every`-th claim one date outside Python's range; returns how many claims got one."""
    picked = hostile[::every]
    for n, statement in enumerate(BEYOND_PYTHON):
        group = [h for h in picked[n :: len(BEYOND_PYTHON)] if h.claim.lines or "claim_lines" not in statement]
        conn.execute(statement, ([h.claim.claim_id for h in group],))
        for h in group:
            h.kinds.append("beyond Python's dates")
    return sum("beyond Python's dates" in h.kinds for h in picked)
