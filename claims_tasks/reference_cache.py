"""Facilities, payers and financial classes, read through this process's memory from production.

Production's reference masters (migration p0008, kept in step with staging by db/production_reference.py)
are what FACILITY_UNKNOWN, PAYER_UNKNOWN and FINANCIAL_CLASS_UNKNOWN check. A chunk asks only about its own
distinct ids: those this process has seen within CLAIMS_REFERENCE_CACHE_TTL seconds are answered from
memory (an id production does not hold is remembered too, so a stream of claims naming an unknown
facility costs one query, not one per claim), and all the others of one table in one query to production
(PostgreSQL: the production pool; ODBC: the writer's pool). Memory is emptied when staging's reference
version moves (claims_tasks/resources.py checks it every few seconds), which every load and sync bumps.
Lookups are counted per table and result for the metrics (reference_cache_lookups{table, result=hit|miss}).

An empty production table means "not loaded" (rules/context.py): its check is skipped, as before a load.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from claims_tasks.records import Claim

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool

    from db.writers.odbc import OdbcWriter

TABLES = ("facilities", "payers", "financial_classes")
# The claim field each table's ids come from.
FIELDS = {"facilities": "facility_id", "payers": "payer_id", "financial_classes": "financial_class"}

# (table, ids) -> ({id: active} for the ids production holds, whether the table has any row), one query.
Fetch = Callable[[str, Sequence[str]], tuple[dict[str, bool], bool]]


@dataclass(frozen=True)
class Known:
    """What the rules get for one chunk: the active ids among the chunk's own, per table, and the tables
    production has loaded (whose checks apply even when none of the chunk's ids is active)."""

    active: Mapping[str, frozenset[str]]
    loaded: frozenset[str]


def chunk_ids(claims: Iterable[Claim]) -> dict[str, set[str]]:
    """The distinct facility, payer and financial class ids of these claims, per table."""
    out: dict[str, set[str]] = {t: set() for t in TABLES}
    for claim in claims:
        for table, name in FIELDS.items():
            value = getattr(claim, name)
            if value is not None:
                out[table].add(value)
    return out


class ReferenceCache:
    def __init__(self, fetch: Fetch, ttl: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.fetch = fetch
        self.ttl = ttl
        self.clock = clock
        self.version = -1
        # table -> id -> (active, expires at); an id production does not hold is stored as inactive.
        self._entries: dict[str, dict[str, tuple[bool, float]]] = {t: {} for t in TABLES}
        self._loaded: dict[str, bool] = {}  # table -> had rows at its last fetch
        self.counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def refresh(self, version: int) -> bool:
        """Adopt staging's reference version; True when it moved (memory is emptied)."""
        with self._lock:
            if version == self.version:
                return False
            self.version = version
            self._entries = {t: {} for t in TABLES}
            self._loaded = {}
            return True

    def known(self, table: str, ids: Iterable[str | None]) -> frozenset[str]:
        """The active ones of these ids: memory first, every miss of the call in one production query."""
        wanted = {i for i in ids if i is not None}
        now = self.clock()
        active: set[str] = set()
        missing: list[str] = []
        with self._lock:
            entries, version = self._entries[table], self.version
            for i in wanted:
                entry = entries.get(i)
                if entry is not None and entry[1] > now:
                    if entry[0]:
                        active.add(i)
                else:
                    missing.append(i)
            self.counts[(table, "hit")] += len(wanted) - len(missing)
            self.counts[(table, "miss")] += len(missing)
        if missing:
            missing.sort()
            found, loaded = self.fetch(table, missing)
            expires = self.clock() + self.ttl
            with self._lock:
                if version == self.version:  # not emptied by a refresh meanwhile
                    entries.update({i: (found.get(i, False), expires) for i in missing})
                    self._loaded[table] = loaded
            active.update(i for i in missing if found.get(i, False))
        return frozenset(active)

    def loaded(self, table: str) -> bool:
        """Whether production's table had rows when last asked (False before the first question)."""
        with self._lock:
            return self._loaded.get(table, False)

    def lookup(self, wanted: Mapping[str, Iterable[str | None]]) -> Known:
        """known() for each table of a chunk's ids (chunk_ids); tables without ids are not asked."""
        active = {t: self.known(t, ids) for t, ids in wanted.items()}
        return Known(active, frozenset(t for t in active if self.loaded(t)))

    def drain_counts(self) -> dict[tuple[str, str], int]:
        with self._lock:
            counts, self.counts = {k: n for k, n in self.counts.items() if n}, Counter()
        return counts


def postgres_fetch(pool: ConnectionPool) -> Fetch:
    """Fetch through the production pool (production's home database when sharded)."""
    from db.production_reference import lookup

    def fetch(table: str, ids: Sequence[str]) -> tuple[dict[str, bool], bool]:
        with pool.connection() as conn:
            return lookup(conn, table, ids)

    return fetch


def odbc_fetch(writer: OdbcWriter) -> Fetch:
    """Fetch through the ODBC writer's pool (SQL Server, or PostgreSQL behind psqlODBC)."""

    def fetch(table: str, ids: Sequence[str]) -> tuple[dict[str, bool], bool]:
        with writer.session() as session:
            return session.lookup_reference(table, ids)

    return fetch
