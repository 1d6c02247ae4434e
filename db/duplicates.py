"""Duplicate-claim lookups, set-based: per chunk, one query against staging and one against production.

Each takes the chunk's patients (subscriber_id, date_of_birth: the indexed part of the key; a patient has
a handful of claims) as two array parameters and returns the lines of the *other* claims those patients
hold, voids left out; the chunk's own claims are excluded in the query (the chunk folds them in itself,
rules/duplicates.py within_chunk). Keys are then computed in Python by rules/duplicates.py line_keys, the
one definition of the key, so SQL and Python can never disagree on what a key is. Almost every patient
has no other claim, so the answer is a few rows, not the chunk's lines again.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date

import psycopg

from claims_tasks.duplicate_keys import holder_keys
from claims_tasks.records import Claim, Line
from claims_tasks.rules import DuplicateIndex
from claims_tasks.rules.context import DuplicateKey
from claims_tasks.rules.duplicates import chunk_keys, within_chunk
from db.bounds import bounded
from db.params import text_array

# The patients once (unnest), their claims through the subscriber_id/date_of_birth index, the chunk's own
# claims dropped by a hashed anti-join, then the few remaining claims' lines through the primary key: by
# `= ANY(ARRAY(...))`, an index condition whatever the statistics say. A plain join was planned, on a
# production whose statistics lagged its million rows, as a merge join walking claim_lines' whole index.
# Dates are read bounded (db/bounds.py): another claim's date Python cannot hold must not fail this chunk.
_OTHERS = f"""
WITH c AS MATERIALIZED (
    SELECT c.claim_id, c.subscriber_id, c.date_of_birth, c.rendering_npi, c.billing_npi, c.service_from,
           c.claim_frequency
    FROM (SELECT DISTINCT * FROM unnest(%(subscribers)s::text[], %(births)s::date[])) AS p(subscriber_id, born)
    JOIN {{claims}} c ON c.subscriber_id = p.subscriber_id AND c.date_of_birth = p.born
    WHERE c.claim_frequency IS DISTINCT FROM '8'
      AND c.claim_id NOT IN (SELECT unnest(%(skip)s::text[]))
)
SELECT c.claim_id, c.subscriber_id, {bounded("date_of_birth", "c")}, c.rendering_npi, c.billing_npi,
       {bounded("service_from", "c")}, c.claim_frequency, l.line_number, l.procedure_code, l.modifiers,
       l.line_charge, {bounded("service_date", "l")}
FROM c JOIN {{lines}} l ON l.claim_id = c.claim_id
WHERE l.claim_id = ANY(ARRAY(SELECT claim_id FROM c))
ORDER BY c.claim_id, l.line_number
"""  # nosec B608 # column expressions are code constants (db/bounds.py); values are bound parameters
STAGING_QUERY = _OTHERS.format(claims="staging.claims", lines="staging.claim_lines")
PRODUCTION_QUERY = _OTHERS.format(claims="claims", lines="claim_lines")


def other_claims(
    conn: psycopg.Connection,
    query: str,
    subscribers: Sequence[str],
    births: Sequence[date | str],
    skip: Collection[str] = (),
) -> list[Claim]:
    """The claims (with the lines that make keys) these patients hold besides `skip`, as partial Claims:
    only the fields line_keys reads are filled in."""
    if not subscribers:
        return []
    params = {"subscribers": text_array(subscribers), "births": list(births), "skip": text_array(list(skip))}
    rows = conn.execute(query, params)
    claims: list[Claim] = []
    head: tuple | None = None
    lines: list[Line] = []
    for cid, sub, born, rendering, billing, start, freq, number, code, mods, charge, day in rows:
        if head is None or head[0] != cid:
            if head is not None:
                claims.append(_partial(head, lines))
            head, lines = (cid, sub, born, rendering, billing, start, freq), []
        lines.append(Line(number, code, tuple(mods or ()), None, charge, day, None, ()))
    if head is not None:
        claims.append(_partial(head, lines))
    return claims


def _partial(head: tuple, lines: list[Line]) -> Claim:
    cid, sub, born, rendering, billing, start, freq = head
    return Claim(
        claim_id=cid, facility_id=None, patient_account_number=None, patient_first_name=None,
        patient_last_name=None, date_of_birth=born, sex=None, subscriber_id=sub, payer_id=None,
        financial_class=None, billing_npi=billing, rendering_npi=rendering, place_of_service=None,
        claim_frequency=freq, service_from=start, service_to=None, total_charge=None, prior_auth_number=None,
        received_at=None, lines=tuple(lines),
    )  # fmt: skip


def _patients(keys: Collection[DuplicateKey]) -> tuple[list[str], list[date]]:
    found = sorted({(k[0], k[1]) for k in keys})
    return [s for s, _ in found], [b for _, b in found]


def staging_earliest(conn: psycopg.Connection, keys: Collection[DuplicateKey]) -> dict[DuplicateKey, str]:
    """key -> the smallest claim_id (code-point order) among staging claims (any status, voids left out)
    holding it."""
    wanted = set(keys)
    out: dict[DuplicateKey, str] = {}
    for cid, key in holder_keys(other_claims(conn, STAGING_QUERY, *_patients(wanted))):
        if key in wanted and (key not in out or cid < out[key]):
            out[key] = cid
    return out


def production_holders(conn: psycopg.Connection, keys: Collection[DuplicateKey]) -> dict[DuplicateKey, tuple[str, str]]:
    """key -> (smallest, largest) claim_id among production claims (voids left out) holding it."""
    wanted = set(keys)
    out: dict[DuplicateKey, tuple[str, str]] = {}
    for cid, key in holder_keys(other_claims(conn, PRODUCTION_QUERY, *_patients(wanted))):
        if key in wanted:
            low, high = out.get(key, (cid, cid))
            out[key] = (min(low, cid), max(high, cid))
    return out


def find_duplicates(
    staging_conn: psycopg.Connection,
    production_conn: psycopg.Connection,
    claims: Sequence[Claim],
    other_shards: Sequence[psycopg.Connection] = (),
) -> DuplicateIndex:
    """The chunk's DuplicateIndex: staging's earliest holders (with the chunk's own claims folded in, so
    the answer holds even for a claim staging no longer has) and production's holders (in every claims
    shard, when production is sharded)."""
    keys = chunk_keys(claims)
    billed = production_holders(production_conn, keys)
    for conn in other_shards:
        for key, (low, high) in production_holders(conn, keys).items():
            held = billed.get(key, (low, high))
            billed[key] = (min(held[0], low), max(held[1], high))
    return within_chunk(claims, DuplicateIndex(earliest=staging_earliest(staging_conn, keys), billed=billed))
