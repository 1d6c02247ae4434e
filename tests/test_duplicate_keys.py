"""Duplicate keys resolved over a chunk's columns agree with rules/duplicates.py within_chunk: the same
claims are flagged, and the index handed to the rules gives the same failures."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import numpy as np

from claims_tasks import duplicate_keys as dupcols
from claims_tasks.columns import parse_chunk
from claims_tasks.records import Claim
from claims_tasks.rules import DuplicateIndex
from claims_tasks.rules.duplicates import check_duplicates, line_keys, within_chunk
from claims_tasks.synthetic import generate_block, to_records
from db.reference import reference_codes_from_files
from tests.chunk_text import raw_chunk
from tests.rules.builders import CTX, make_claim, make_line

TODAY = date(2026, 11, 25)


def _flagged(claims: list[Claim], staging: list[Claim] = (), production: list[Claim] = ()) -> set[str]:
    frame = parse_chunk(raw_chunk(claims))
    resolution = dupcols.resolve(
        dupcols.key_frame(frame),
        dupcols.holders_frame(dupcols.holder_keys(staging)),
        dupcols.holders_frame(dupcols.holder_keys(production)),
    )
    flagged = {frame.ids[i] for i in resolution.suspects.tolist()}
    # the index for the flagged claims yields what the rule yields with the record path's index
    suspects = [c for c in claims if c.claim_id in flagged]
    index = dupcols.index_for(suspects, resolution)
    reference = within_chunk(claims, _db_index(claims, staging, production))
    for claim in suspects:
        got = check_duplicates(claim, replace(CTX, duplicates=index))
        want = check_duplicates(claim, replace(CTX, duplicates=reference))
        assert got == want, claim.claim_id
    return flagged


def _db_index(claims: list[Claim], staging: list[Claim], production: list[Claim]) -> DuplicateIndex:
    earliest: dict = {}
    for c in staging:
        for _, key in line_keys(c):
            if c.claim_frequency != "8" and (key not in earliest or c.claim_id < earliest[key]):
                earliest[key] = c.claim_id
    billed: dict = {}
    for c in production:
        for _, key in line_keys(c):
            if c.claim_frequency != "8":
                low, high = billed.get(key, (c.claim_id, c.claim_id))
                billed[key] = (min(low, c.claim_id), max(high, c.claim_id))
    return DuplicateIndex(earliest=earliest, billed=billed)


def _reference(claims: list[Claim], staging: list[Claim] = (), production: list[Claim] = ()) -> set[str]:
    return set(within_chunk(claims, _db_index(claims, staging, production)).found)


def test_generated_chunk_with_duplicates() -> None:
    ref = reference_codes_from_files()
    claims = to_records(generate_block(np.random.default_rng(5), 1, 3000, 20, 0.5, ref, TODAY))
    expected = _reference(claims)
    assert expected
    assert _flagged(claims) == expected


def test_keys_compare_as_the_record_path_compares_them() -> None:
    original = make_claim(claim_id="A1")
    variants = [
        replace(original, claim_id="A2", rendering_npi=" "),  # blank rendering: the billing NPI
        replace(original, claim_id="A3", rendering_npi=None),
        replace(original, claim_id="A4", lines=(replace(original.lines[0], modifiers=("59", "25")), original.lines[1])),
        replace(original, claim_id="A5", lines=(replace(original.lines[0], line_charge=Decimal("100.0")),)),
        replace(original, claim_id="A6", lines=(replace(original.lines[0], service_date=None),)),
        replace(original, claim_id="A0", claim_frequency="8"),  # a void is never the original
        replace(original, claim_id="A7", claim_frequency="7"),  # a replacement is never flagged
        replace(original, claim_id="A8", lines=(make_line(line_charge=Decimal("NaN")),)),
    ]
    claims = [original, *variants]
    assert _flagged(claims) == _reference(claims)


def test_holders_in_staging_and_production() -> None:
    mine = make_claim(claim_id="M5")
    earlier = replace(mine, claim_id="M1", patient_account_number="X")
    billed = replace(mine, claim_id="M9")
    assert _flagged([mine], staging=[earlier]) == _reference([mine], staging=[earlier]) == {"M5"}
    assert _flagged([mine], production=[billed]) == _reference([mine], production=[billed]) == {"M5"}
    assert _flagged([mine], production=[mine]) == _reference([mine], production=[mine]) == set()
