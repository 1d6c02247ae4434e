"""The RVU price table as the RVU cache reads it: its version, its codes, prices of some codes, and the
codes worth warming a worker's cache with."""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal

import psycopg

from db.params import text_array

RVU_VERSION = "rvu"  # the staging.reference_versions row the table's trigger bumps (migration s0006)

_PRICES = """
SELECT procedure_code, work_rvu, pe_rvu, mp_rvu, conversion_factor FROM staging.rvu_values
WHERE procedure_code = ANY(%s::text[])
"""
# The codes billed most often, from a ~1% block sample of staging's lines (cheap at any size), then the
# rest of the table in code order up to the limit.
_WARM = """
WITH billed AS (
    SELECT procedure_code, count(*) AS n FROM staging.claim_lines TABLESAMPLE SYSTEM (1)
    GROUP BY 1 ORDER BY 2 DESC LIMIT %(limit)s
)
SELECT r.procedure_code FROM staging.rvu_values r LEFT JOIN billed b USING (procedure_code)
ORDER BY b.n DESC NULLS LAST, r.procedure_code LIMIT %(limit)s
"""


def rvu_version(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT version FROM staging.reference_versions WHERE name = %s", (RVU_VERSION,)).fetchone()
    return int(row[0]) if row else 0


def rvu_codes(conn: psycopg.Connection) -> frozenset[str]:
    return frozenset(r[0] for r in conn.execute("SELECT procedure_code FROM staging.rvu_values"))


def price_per_unit(work: Decimal, pe: Decimal, mp: Decimal, factor: Decimal) -> Decimal:
    """Medicare-style allowed amount per unit: (work + PE + MP RVU) x conversion factor."""
    return (Decimal(work) + Decimal(pe) + Decimal(mp)) * Decimal(factor)


def rvu_prices(conn: psycopg.Connection, codes: Collection[str]) -> dict[str, Decimal]:
    """Price per unit of each of these codes the table has."""
    if not codes:
        return {}
    return {
        code: price_per_unit(w, pe, mp, cf) for code, w, pe, mp, cf in conn.execute(_PRICES, (text_array(list(codes)),))
    }


def warm_rvu_codes(conn: psycopg.Connection, limit: int = 2_000) -> list[str]:
    """The codes a worker's RVU cache starts with: the most billed first."""
    return [r[0] for r in conn.execute(_WARM, {"limit": limit})]
