"""The pre-screen: which claims of a chunk certainly pass every rule, decided column-wise.

Running each rule on each claim costs ~30 µs a claim in Python; nine claims in ten pass everything. The
screen asks, over the chunk's columns at once (claims_tasks.columns.ChunkFrame), the questions whose
"yes" implies that no rule can fail, and marks a claim a *suspect* at the first doubt. Suspects — failed
claims and anything unusual — then go through the rules themselves (engine.validate_chunk), which stay
the one definition of what a failure is, with its code, field and message. So the screen may be
conservative (a clean but odd claim is merely validated the slow way), never lenient.

It covers exactly SCREENED_RULES; a rule set with anything else in it is not screened (every claim is a
suspect), so a rule added to the engine is enforced before the screen learns about it. Per-value checks
(NPI, code formats, modifier lists, place of service) run once per distinct value, through the rules' own
helpers. Duplicates are the chunk path's (claims_tasks/duplicate_keys.py); it passes their suspects in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date

import numpy as np
import polars as pl

from claims_tasks.columns import ChunkFrame, array_items
from claims_tasks.rules.charges import MAX_UNITS
from claims_tasks.rules.coding import (
    FREQUENCY_CODES,
    ICD10_RE,
    MAX_DIAGNOSIS_POINTERS,
    MAX_MODIFIERS,
    MODIFIER_SHAPES,
    PLACE_OF_SERVICE_CODES,
    PROCEDURE_RE,
    REVENUE_CODE_RE,
    revenue_code_ok,
)
from claims_tasks.rules.context import RuleContext
from claims_tasks.rules.dates import EARLIEST
from claims_tasks.rules.diagnoses import EXTERNAL_CAUSE_LETTERS, age_at, demographic_edits
from claims_tasks.rules.engine import RULES
from claims_tasks.rules.ncci import BYPASS_MODIFIERS
from claims_tasks.rules.npi import npi_problem
from claims_tasks.rules.procedures import MAI_PER_LINE
from claims_tasks.rules.required import REQUIRED_TEXT, SEX_CODES, blank

SCREENED_RULES = RULES

# A text value with an ASCII letter or digit in it is certainly not blank (None, "" or whitespace only).
_FILLED = "[A-Za-z0-9]"


def covers(rules: Iterable[object]) -> bool:
    return tuple(rules) == SCREENED_RULES


def _ok_values(column: pl.Series, ok: Callable[[str | None], bool]) -> pl.Series:
    """Per row: ok(value), evaluated once per distinct value."""
    good = [v for v in column.unique().to_list() if v is not None and ok(v)]
    passes = column.is_in(pl.Series(good, dtype=pl.String).implode())
    return passes.fill_null(ok(None))


def _optional_code(allowed: frozenset[str]) -> Callable[[str | None], bool]:
    return lambda v: v is None or v in allowed or blank(v)


def screen(frame: ChunkFrame, ctx: RuleContext, suspects: np.ndarray | None = None) -> np.ndarray:
    """A bool per claim (frame order): True where the rules must look at the claim. `suspects` adds the
    caller's own (e.g. duplicate matches)."""
    n = len(frame)
    out = np.zeros(n, dtype=bool) if suspects is None else suspects.copy()
    if n == 0:
        return out
    claims, lines, dx = frame.claims, frame.lines, frame.diagnoses
    out |= _claim_doubts(claims, ctx)
    for bad in (_line_doubts(claims, lines, ctx), _diagnosis_doubts(claims, lines, dx, ctx)):
        if bad.height:
            out[bad["i"].to_numpy()] = True
    return out


def _claim_doubts(claims: pl.DataFrame, ctx: RuleContext) -> np.ndarray:
    today, first = ctx.today, EARLIEST
    col = pl.col

    def outside(name: str) -> pl.Expr:  # null (absent or unparsed) counts as outside
        return ~col(name).is_between(pl.lit(first), pl.lit(today)).fill_null(False)

    bad = pl.any_horizontal(
        *(~col(f).str.contains(_FILLED).fill_null(False) for f in REQUIRED_TEXT),
        ~col("sex").is_in(list(SEX_CODES)).fill_null(False),
        ~col("claim_frequency").is_in(list(FREQUENCY_CODES)).fill_null(False),
        col("total_cents").is_null(),
        outside("start"),
        outside("end"),
        outside("born"),
        col("received_at").is_not_null() & outside("received_day"),
        (col("start") > col("end")).fill_null(True),
        (col("born") > col("start")).fill_null(True),
        ((col("received_day") - col("end")).dt.total_days() > ctx.timely_filing_days).fill_null(False),
    )
    flags = claims.select(bad.alias("bad"))["bad"].to_numpy().copy()

    def npi_ok(v: str | None) -> bool:
        return v is not None and npi_problem(v) is None

    checks = [
        ~_ok_values(claims["billing_npi"], npi_ok),
        ~_ok_values(claims["rendering_npi"], lambda v: v is None or blank(v) or npi_problem(v) is None),
        ~_ok_values(claims["place_of_service"], _optional_code(PLACE_OF_SERVICE_CODES)),
    ]
    loaded = ctx.reference_loaded
    for name, table, known in (("facility_id", "facilities", ctx.facilities), ("payer_id", "payers", ctx.payers)):
        if known or table in loaded:
            checks.append(~_ok_values(claims[name], lambda v, k=known: v is not None and v in k))  # type: ignore[misc]
    if ctx.financial_classes or "financial_classes" in loaded:
        checks.append(~_ok_values(claims["financial_class"], _optional_code(ctx.financial_classes)))
    for check in checks:
        flags |= check.to_numpy()
    return flags


def _modifiers_ok(valid: frozenset[str]) -> Callable[[str | None], bool]:
    def ok(text: str | None) -> bool:
        mods = array_items(text)
        if len(mods) > MAX_MODIFIERS or any(m not in MODIFIER_SHAPES for m in mods):
            return False
        return not valid or all(m in valid for m in mods)

    return ok


def _pointers_ok(text: str | None) -> bool:
    items = array_items(text)
    return len(items) <= MAX_DIAGNOSIS_POINTERS and all(p is not None and p.isdigit() for p in items)


def _line_doubts(claims: pl.DataFrame, lines: pl.DataFrame, ctx: RuleContext) -> pl.DataFrame:
    """Claim positions (`i`) with a doubtful line, and those with no lines."""
    col, today, edits = pl.col, ctx.today, ctx.edits
    priced, listed = ctx.known_procedures, edits.known_procedures
    check_known = bool(priced or listed)

    def code_ok(code: str | None) -> bool:
        if code is None or PROCEDURE_RE.fullmatch(code) is None:
            return False
        return not check_known or code in priced or code in listed

    # A line with no procedure code passes on a well-formed revenue code (837I room and board): the
    # procedure edits skip it and LINE_REQUIRED_FIELD is satisfied. A blank procedure code stays a doubt.
    # Professional chunks have no revenue codes at all: nothing to compute for them.
    procedures, revenues = lines["procedure_code"], lines["revenue_code"]
    no_revenue = revenues.null_count() == lines.height
    code_doubt = ~_ok_values(procedures, code_ok)
    if not no_revenue:
        code_doubt = code_doubt & ~(
            procedures.is_null() & revenues.str.contains(f"^{REVENUE_CODE_RE.pattern}$").fill_null(False)
        )
    revenue_doubt = pl.repeat(False, lines.height, eager=True) if no_revenue else ~_ok_values(revenues, revenue_code_ok)
    per_value = lines.select(
        "i",
        code_doubt.alias("code"),
        revenue_doubt.alias("revenue"),
        (~_ok_values(lines["modifiers"], _modifiers_ok(edits.modifiers))).alias("mods"),
        (~_ok_values(lines["place_of_service"], _optional_code(PLACE_OF_SERVICE_CODES))).alias("pos"),
        (~_ok_values(lines["diagnosis_pointers"], _pointers_ok)).alias("ptrs"),
    )
    heads = claims.select("i", "start", "end", "payer_id", "prior_auth_number", "total_cents")
    joined = lines.join(heads, on="i", how="left")
    bad_rows = joined.filter(
        pl.any_horizontal(
            col("units_f").is_null(),
            col("charge_cents").is_null(),
            ~(col("units_f") > 0) | (col("units_f") > float(MAX_UNITS)),
            col("day").is_not_null() & ~col("day").is_between(pl.lit(EARLIEST), pl.lit(today)),
            col("day").is_not_null() & ~col("day").is_between(col("start"), col("end")),
            col("service_date").is_not_null() & col("day").is_null(),
        ).fill_null(True)
    ).select("i")
    doubts = [bad_rows, per_value.filter(pl.any_horizontal("code", "revenue", "mods", "pos", "ptrs")).select("i")]

    # Totals: the line charges add up to total_charge (all amounts exact in cents by now).
    sums = joined.group_by("i").agg(
        col("charge_cents").sum().alias("sum"),
        col("total_cents").first().alias("total"),
        col("procedure_code").is_in(list(edits.ncci_codes)).sum().alias("ncci"),
    )
    doubts.append(sums.filter(col("sum") != col("total")).select("i"))
    if edits.ncci:
        doubts.append(_ncci_doubts(joined, sums.filter(col("ncci") >= 2).select("i"), edits.ncci, edits.ncci_codes))
    no_lines = claims.join(sums.select("i"), on="i", how="anti").select("i")
    doubts.append(no_lines)
    if edits.mue:
        doubts.append(_mue_doubts(joined, edits.mue))
    if edits.prior_auth:
        pairs = [f"{payer}\x1f{code}" for payer, code in edits.prior_auth]
        needs = joined.filter(
            pl.concat_str(col("payer_id"), pl.lit("\x1f"), col("procedure_code")).is_in(pairs).fill_null(False)
            & ~col("prior_auth_number").str.contains(_FILLED).fill_null(False)
        )
        doubts.append(needs.select("i"))
    return pl.concat([d.select(col("i").cast(pl.UInt32)) for d in doubts])


def _ncci_doubts(
    joined: pl.DataFrame, candidates: pl.DataFrame, pairs: Mapping[tuple[str, str], int], codes: frozenset[str]
) -> pl.DataFrame:
    """NCCI: two lines of a claim on one date forming a pair of the table, unless the pair allows a bypass
    modifier and the column-two line carries one (the rule's test, as a self-join of the few lines whose
    codes are in the table)."""
    col = pl.col
    rows = (
        joined.join(candidates, on="i", how="semi")
        .filter(col("procedure_code").is_in(list(codes)))
        .select("i", "n", col("procedure_code").alias("code"), "modifiers",
                pl.coalesce(col("day"), col("start")).alias("on"))
    )  # fmt: skip
    if rows.height < 2:
        return pl.DataFrame(schema={"i": pl.UInt32})
    texts = [t for t in rows["modifiers"].unique().to_list() if t is not None]
    bypass = [not BYPASS_MODIFIERS.isdisjoint(array_items(t)) for t in texts]
    rows = rows.with_columns(
        col("modifiers").replace_strict(texts, bypass, default=False, return_dtype=pl.Boolean).alias("bypass")
    )
    table = pl.DataFrame(
        {"code": [a for a, _ in pairs], "code_2": [b for _, b in pairs], "indicator": list(pairs.values())},
        schema={"code": pl.String, "code_2": pl.String, "indicator": pl.Int64},
    )
    found = (
        rows.join(rows, on=["i", "on"], suffix="_2")
        .filter(col("n") != col("n_2"))
        .join(table, on=["code", "code_2"])
        .filter((col("indicator") != 1) | ~col("bypass_2"))
    )
    return found.select("i")


def _mue_doubts(joined: pl.DataFrame, mue: Mapping[str, tuple[int, int]]) -> pl.DataFrame:
    """MUE: a line over its limit, or a code's units on one date over it (MAI 2 and 3)."""
    col = pl.col
    table = pl.DataFrame(
        {"procedure_code": list(mue), "limit": [v[0] for v in mue.values()], "mai": [v[1] for v in mue.values()]},
        schema={"procedure_code": pl.String, "limit": pl.Float64, "mai": pl.Int64},
    )
    limited = joined.join(table, on="procedure_code", how="inner").with_columns(
        pl.coalesce(col("day"), col("start")).alias("on")
    )
    over_line = limited.filter(col("units_f") > col("limit")).select("i")
    per_day = (
        limited.filter(col("mai") != MAI_PER_LINE)
        .group_by("i", "procedure_code", "on")
        .agg(col("units_f").sum().alias("units"), col("limit").first())
        .filter(col("units") > col("limit"))
        .select("i")
    )
    return pl.concat([over_line, per_day])


def _diagnosis_doubts(claims: pl.DataFrame, lines: pl.DataFrame, dx: pl.DataFrame, ctx: RuleContext) -> pl.DataFrame:
    """Claim positions with a doubtful diagnosis, with none, or with a pointer to no diagnosis."""
    col = pl.col
    editions = ctx.edits.icd10

    def code_ok(code: str | None) -> bool:
        if code is None or ICD10_RE.fullmatch(code) is None:
            return False
        return all(code in e.billable for e in editions)

    flagged = dx.select(
        "i",
        (~_ok_values(dx["icd10_code"], code_ok)).alias("code"),
        ((col("seq") == 1) & col("icd10_code").str.slice(0, 1).is_in(list(EXTERNAL_CAUSE_LETTERS)))
        .fill_null(True)
        .alias("external"),
    )
    doubts = [flagged.filter(col("code") | col("external")).select("i")]
    doubts.append(claims.join(dx.select("i").unique(), on="i", how="anti").select("i"))

    # Sex- and age-specific codes (few): the rule's own comparison, per diagnosis that has an edit.
    special = [c for c in dx["icd10_code"].unique().to_list() if c and demographic_edits(c)]
    if special:
        rows = dx.filter(col("icd10_code").is_in(special)).join(
            claims.select("i", "sex", "born", "start"), on="i", how="left"
        )
        hit = [i for i, code, sex, born, start in rows.select("i", "icd10_code", "sex", "born", "start").iter_rows()
               if _demographic_conflict(code, sex, born, start)]  # fmt: skip
        doubts.append(pl.DataFrame({"i": hit}, schema={"i": pl.UInt32}))

    # Pointers: every one names a diagnosis sequence of the claim.
    pointed = (
        lines.select("i", col("diagnosis_pointers").str.strip_chars("{}").str.split(",").alias("p"))
        .explode("p")
        .filter(col("p").is_not_null() & (col("p") != ""))
        .select("i", col("p").cast(pl.Int64, strict=False).alias("seq"))
    )
    dangling = pointed.join(dx.select("i", "seq"), on=["i", "seq"], how="anti").select("i")
    doubts.append(dangling)
    return pl.concat([d.select(col("i").cast(pl.UInt32)) for d in doubts])


def _demographic_conflict(code: str, sex: str | None, born: date | None, start: date | None) -> bool:
    want_sex = sex if sex in ("M", "F") else None
    age = age_at(born, start) if born is not None and start is not None and born <= start else None
    for want, lo, hi, _label in demographic_edits(code):
        if want and want_sex is not None and want_sex != want:
            return True
        if age is not None and not lo <= age <= hi:
            return True
    return False
