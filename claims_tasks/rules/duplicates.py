"""Duplicate claims: a service line billed again for the same patient, provider, date, procedure, modifiers
and charge. The keys are computed here (pure); db/duplicates.py looks them up in staging and production
once per chunk and hands the matches in through ctx.duplicates.

Which of two duplicates fails is decided by claim_id alone, never by processing order: among staging claims
holding a key, the smallest claim_id (code-point order) is the original and every later one fails. A claim
already in production is billed: any other claim holding one of its keys fails. Replacements (frequency 7)
and voids (8) are never flagged; voids are never an original.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from claims_tasks.records import Claim, RuleFailure

from .catalogue import failure, show
from .context import DuplicateIndex, DuplicateKey, RuleContext

ORIGINAL = "1"  # X12 CLM05-3: only originals are checked
VOID = "8"


def provider_of(claim: Claim) -> str | None:
    """The rendering NPI, else the billing NPI (X12 837P omits loop 2310B when they are the same)."""
    rendering = claim.rendering_npi
    if rendering and not rendering.isspace():
        return rendering
    return claim.billing_npi


def line_keys(claim: Claim) -> Iterator[tuple[int, DuplicateKey]]:
    """(line index, key) for every line with all parts of the key present. The line date falls back to
    service_from; modifiers are sorted, since their order does not change the service."""
    subscriber, born, provider = claim.subscriber_id, claim.date_of_birth, provider_of(claim)
    if not subscriber or born is None or not provider:
        return
    start = claim.service_from
    for i, line in enumerate(claim.lines):
        code, charge, mods = line.procedure_code, line.line_charge, line.modifiers
        if not code or charge is None:
            continue
        day = line.service_date or start
        if day is None:
            continue
        if not mods:
            modifiers = ""
        elif len(mods) == 1:
            modifiers = mods[0] or ""
        else:
            modifiers = ",".join(sorted(m for m in mods if m))
        yield i, (subscriber, born, provider, day, code, modifiers, charge)


def chunk_keys(claims: Iterable[Claim]) -> set[DuplicateKey]:
    """The keys of the originals in a chunk: what db/duplicates.py looks up."""
    return {key for c in claims if c.claim_frequency == ORIGINAL for _, key in line_keys(c)}


def within_chunk(claims: Iterable[Claim], index: DuplicateIndex | None = None) -> DuplicateIndex:
    """The chunk's DuplicateIndex: the database matches (if any) with the chunk's own claims folded into
    `earliest` (so duplicates inside a chunk are found without a database, in agreement with the staging
    lookup, which holds the same claims), resolved into `found` per claim.

    Flat lists rather than a container per claim: fewer objects that outlive a garbage-collection pass
    while the chunk is validated (the key tuples themselves hold only atomic values and are untracked).
    """
    earliest: dict[DuplicateKey, str] = dict(index.earliest) if index else {}
    billed: Mapping[DuplicateKey, tuple[str, str]] = index.billed if index else {}
    ids: list[str] = []
    rows: list[int] = []
    keys: list[DuplicateKey] = []
    for claim in claims:
        frequency = claim.claim_frequency
        if frequency == VOID:
            continue
        cid = claim.claim_id
        original = frequency == ORIGINAL
        # line_keys, inlined: this loop runs for every line of every chunk
        subscriber, born, provider = claim.subscriber_id, claim.date_of_birth, provider_of(claim)
        if not subscriber or born is None or not provider:
            continue
        start = claim.service_from
        i = -1
        for line in claim.lines:
            i += 1
            code, charge, mods = line.procedure_code, line.line_charge, line.modifiers
            day = line.service_date or start
            if not code or charge is None or day is None:
                continue
            if not mods:
                modifiers = ""
            elif len(mods) == 1:
                modifiers = mods[0] or ""
            else:
                modifiers = ",".join(sorted(m for m in mods if m))
            key = (subscriber, born, provider, day, code, modifiers, charge)
            seen = earliest.get(key)
            if seen is None or cid < seen:
                earliest[key] = cid
            if original:
                ids.append(cid)
                rows.append(i)
                keys.append(key)
    found: dict[str, tuple[tuple[int, str, str], ...]] = {}
    for cid, i, key in zip(ids, rows, keys, strict=True):
        first = earliest[key]
        if first < cid:
            found[cid] = (*found.get(cid, ()), (i, first, "staging"))
        held = billed.get(key) if billed else None
        if held is not None:
            other = held[0] if held[0] != cid else held[1]
            if other != cid:
                found[cid] = (*found.get(cid, ()), (i, other, "production"))
    return DuplicateIndex(earliest=earliest, billed=billed, found=found)


def check_duplicates(claim: Claim, ctx: RuleContext) -> list[RuleFailure]:
    """DUPLICATE_CLAIM, DUPLICATE_IN_PRODUCTION: no line of an original claim repeats a line of an earlier
    claim in staging, or of a claim already in production.

    Key: subscriber_id, date_of_birth, rendering NPI (else billing), line service date (else service_from),
    procedure code, modifiers (as a set), line charge. Source: CMS duplicate-claim edits (Medicare Claims
    Processing Manual, Pub. 100-04 ch. 1 §120, and the CWF duplicate edits: same beneficiary, date of
    service, procedure, modifier, provider); X12 CLM05-3 frequency codes 7 (replacement) and 8 (void)
    are not duplicates. One failure per line and place found; the message names the other claim_id.
    """
    hits = ctx.duplicates.found.get(claim.claim_id)
    if not hits or claim.claim_frequency != ORIGINAL:
        return []
    out: list[RuleFailure] = []
    for i, other, where in hits:
        line = claim.lines[i]
        what = f"line {line.line_number} procedure_code {show(line.procedure_code)}"
        same = "(same patient, provider, date, modifiers and charge)"
        if where == "staging":
            message = f"{what} repeats a line of claim {other} {same}"
            out.append(failure("DUPLICATE_CLAIM", f"lines[{i}]", message))
        else:
            message = f"{what} was already billed on claim {other} {same}"
            out.append(failure("DUPLICATE_IN_PRODUCTION", f"lines[{i}]", message))
    return out
