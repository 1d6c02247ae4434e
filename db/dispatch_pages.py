"""The dispatcher's statements: where the pages of `new` claims start and end, and marking one page.

A page is a range of claim ids, keyset bounds found in staging.dispatch_inbox (the claims waiting for
dispatch, kept by triggers: migration s0009), so pages are independent and can be marked on several
connections at once. Marking takes the page's ids out of the inbox and flips the claims to `queued`: a
heap-only update, as no index of staging.claims names a column it changes. The marking statement answers
with the page's ids grouped by facility and value, one array each, instead of a row per claim: decoding a
million rows was a third of the dispatcher's time.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import psycopg

BOUND_QUERY = """
SELECT claim_id FROM staging.dispatch_inbox WHERE claim_id > %(last)s ORDER BY claim_id OFFSET %(skip)s LIMIT 1
"""

# No row locks beyond the statement's own: one dispatcher holds the advisory lock, and the UPDATE re-checks
# status = 'new' on every row it waits for, so a claim another dispatcher took in the meantime is skipped.
# Both parts read the same id range in one snapshot: the inbox entries go (one whose claim is gone or no
# longer `new` goes without effect), and the range's `new` claims, which the triggers put in the inbox
# with them, are flipped. By range on the primary key, not by probing each taken id: 25 % less time for a
# million (docs/PERFORMANCE.md), and the plan does not depend on what the statistics say of status. Two
# texts, closed and open-ended page, so that each bound is an index condition in any plan.
# `high`: the claim is high value (NaN and infinities are not: no rule lets them through anyway).
_MARK_QUERY = """
WITH taken AS (
    DELETE FROM staging.dispatch_inbox i WHERE i.claim_id > %(last)s {upto_inbox}
),
page AS (
    UPDATE staging.claims c
    SET status = 'queued', batch_id = %(batch)s, queued_at = now(), updated_at = now(), attempts = c.attempts + 1
    WHERE c.claim_id > %(last)s {upto_claims} AND c.status = 'new'
    RETURNING c.claim_id, c.facility_id,
              coalesce(c.total_charge >= %(high)s AND c.total_charge < 'Infinity'::numeric, false) AS high
)
SELECT facility_id, high, array_agg(claim_id ORDER BY claim_id COLLATE "C") FROM page GROUP BY 1, 2
"""
MARK_QUERY = _MARK_QUERY.format(upto_inbox="AND i.claim_id <= %(upto)s", upto_claims="AND c.claim_id <= %(upto)s")
MARK_LAST_QUERY = _MARK_QUERY.format(upto_inbox="", upto_claims="")


def page_bounds(conn: psycopg.Connection, page_size: int, max_claims: int | None) -> Iterator[tuple[str, str | None]]:
    """(after, up to and including) claim id bounds of successive pages of at most page_size new claims, up to
    max_claims in all; the last page is open-ended (None) when fewer than a page remain."""
    if conn.execute("SELECT 1 FROM staging.dispatch_inbox LIMIT 1").fetchone() is None:
        return
    last, left = "", max_claims
    while left is None or left > 0:
        size = page_size if left is None else min(page_size, left)
        row = conn.execute(BOUND_QUERY, {"last": last, "skip": size - 1}).fetchone()
        if row is None:
            yield last, None
            return
        yield last, row[0]
        last = row[0]
        if left is not None:
            left -= size


def mark_page(
    conn: psycopg.Connection, batch_id: str, after: str, upto: str | None, high_value: float
) -> list[tuple[str | None, bool, list[str]]]:
    """Mark the page's new claims `queued` in this batch (the caller commits); returns (facility_id, high
    value, claim ids in code-point order) groups."""
    high = Decimal(str(high_value)) if high_value != float("inf") else Decimal("Infinity")
    params = {"batch": batch_id, "last": after, "upto": upto, "high": high}
    query = MARK_QUERY if upto is not None else MARK_LAST_QUERY
    return [(f, h, list(ids)) for f, h, ids in conn.cursor(binary=True).execute(query, params)]
