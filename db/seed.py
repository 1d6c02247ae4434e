"""Seed staging with synthetic claims: reserve claim numbers, generate blocks, COPY them in.

Three connections, one thread each (lines; diagnoses + seed_defects; claims), so PostgreSQL parses and
indexes on both cores while the next block is generated. A block's claims are committed last, only after
its lines, diagnoses and defects are committed: a dispatcher scanning `status = 'new'` meanwhile never
sees a claim whose lines are not visible yet. If a block fails, its claims are never written; detail rows
it may have committed belong to reserved claim numbers nobody else will use.
"""

from __future__ import annotations

import io
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import polars as pl
import psycopg

from claims_tasks.records import CLAIM_FIELDS, DIAGNOSIS_FIELDS, LINE_FIELDS
from claims_tasks.synthetic import Block, generate_block
from db import engines
from db.production_reference import sync_production_reference
from db.reference import ensure_facilities, read_reference_codes

CLAIM_SEQUENCE = "staging.claim_seq"
# pg_advisory_xact_lock key serialising claim-number reservations (any fixed bigint; this is 'claimseq').
RESERVE_LOCK = 0x636C61696D736571
BLOCK_SIZE = 100_000
IN_FLIGHT = 2  # blocks generated ahead of the slowest writer

_COPY = {
    "claims": f"COPY staging.claims ({', '.join(CLAIM_FIELDS)}) FROM STDIN",
    "claim_lines": f"COPY staging.claim_lines ({', '.join(LINE_FIELDS)}) FROM STDIN",
    "claim_diagnoses": f"COPY staging.claim_diagnoses ({', '.join(DIAGNOSIS_FIELDS)}) FROM STDIN",
    "seed_defects": "COPY staging.seed_defects (claim_id, defect, expected_rule) FROM STDIN",
}


@dataclass(frozen=True)
class SeedResult:
    claims: int
    lines: int
    diagnoses: int
    invalid: int
    seconds: float
    first_claim_id: str | None
    last_claim_id: str | None
    # generate: time spent generating; <stream>: time each writer thread spent serialising and copying.
    timings: dict[str, float] = field(default_factory=dict)


def claim_id(number: int) -> str:
    return f"C{number:012d}"


def reserve_claim_numbers(conn: psycopg.Connection, n: int) -> int:
    """Reserve n consecutive claim numbers and return the first. Atomic across concurrent seeders (an
    advisory lock), and never below a number already in staging.claims. Commits its own transaction."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (RESERVE_LOCK,))
        conn.execute(f"CREATE SEQUENCE IF NOT EXISTS {CLAIM_SEQUENCE} AS bigint MINVALUE 0 START WITH 1")
        row = conn.execute(
            f"SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM {CLAIM_SEQUENCE}"  # nosec B608 # the sequence name is this module's constant
        ).fetchone()
        high = int(row[0]) if row else 0
        top = conn.execute(
            "SELECT max(claim_id) FROM staging.claims "
            "WHERE claim_id BETWEEN 'C000000000000' AND 'C999999999999' AND claim_id ~ '^C[0-9]{12}$'"
        ).fetchone()
        if top and top[0]:
            high = max(high, int(top[0][1:]))
        conn.execute("SELECT setval(%s, %s, true)", (CLAIM_SEQUENCE, high + n))
    return high + 1


def frame_to_copy_text(df: pl.DataFrame) -> memoryview:
    """COPY text format: tab-separated, \\N for NULL, list columns as array literals ({25,59}, {})."""
    exprs = [
        pl.concat_str(pl.lit("{"), pl.col(name).cast(pl.List(pl.String)).list.join(","), pl.lit("}")).alias(name)
        if isinstance(dtype, pl.List)
        else pl.col(name)
        for name, dtype in df.schema.items()
    ]
    buf = io.BytesIO()
    # The generator's strings hold no tab, newline or backslash, so nothing needs escaping.
    df.select(exprs).write_csv(buf, include_header=False, separator="\t", quote_style="never", null_value="\\N")
    return buf.getbuffer()


class _Writers:
    """One connection and one thread per stream; claims(b) runs after lines(b) and diagnoses(b)."""

    STREAMS = ("lines", "diagnoses", "claims")

    def __init__(self, dsn: str, stack: ExitStack) -> None:
        self.conns = {s: stack.enter_context(engines.connection(dsn, "staging", autocommit=True)) for s in self.STREAMS}
        self.pools = {s: ThreadPoolExecutor(1, thread_name_prefix=f"seed-{s}") for s in self.STREAMS}
        stack.callback(self._shutdown)
        self.pending: deque[Future[None]] = deque()
        self.busy = dict.fromkeys(self.STREAMS, 0.0)

    def _shutdown(self) -> None:
        for pool in self.pools.values():
            pool.shutdown(wait=True, cancel_futures=True)

    def _copy(self, stream: str, frames: list[tuple[str, pl.DataFrame]], after: tuple[Future[None], ...] = ()) -> None:
        for dep in after:
            dep.result()  # a failed detail stream leaves this block's claims unwritten
        started = time.perf_counter()
        conn = self.conns[stream]
        with conn.transaction(), conn.cursor() as cur:
            for table, frame in frames:
                if frame.height:
                    with cur.copy(_COPY[table]) as copy:
                        copy.write(frame_to_copy_text(frame))
        self.busy[stream] += time.perf_counter() - started

    def submit(self, block: Block) -> None:
        while len(self.pending) >= IN_FLIGHT:
            self.pending.popleft().result()
        lines = self.pools["lines"].submit(self._copy, "lines", [("claim_lines", block.lines)])
        diags = self.pools["diagnoses"].submit(
            self._copy, "diagnoses", [("claim_diagnoses", block.diagnoses), ("seed_defects", block.defects)]
        )
        self.pending.append(
            self.pools["claims"].submit(self._copy, "claims", [("claims", block.claims)], (lines, diags))
        )

    def drain(self) -> None:
        while self.pending:
            self.pending.popleft().result()


def _block_sizes(total: int, size: int) -> Iterator[int]:
    for start in range(0, total, size):
        yield min(size, total - start)


def seed_claims(
    staging_dsn: str,
    claims: int,
    facilities: int = 20,
    invalid_share: float = 0.05,
    seed: int | None = None,
    today: date | None = None,
    block_size: int = BLOCK_SIZE,
    production_dsn: str | None = None,
) -> SeedResult:
    """Write `claims` synthetic claims (status 'new') with their lines and diagnoses into staging, and
    the deliberate defects into staging.seed_defects. The same seed gives the same claims (under new
    claim numbers); each block carries round(block * invalid_share) defects. With production_dsn, the
    facilities it adds reach production's reference masters too (db/production_reference.py), so the
    workers know them; without it, only staging has them."""
    if claims < 0 or facilities < 1 or block_size < 1:
        raise ValueError(f"bad seed request: claims={claims} facilities={facilities} block_size={block_size}")
    started = time.perf_counter()
    today = today or date.today()
    with engines.connection(staging_dsn, "staging") as conn:
        ensure_facilities(conn, facilities)
        conn.commit()
        if production_dsn is not None:
            sync_production_reference(conn, production_dsn)
            conn.commit()
        ref = read_reference_codes(conn)
        conn.commit()
        first = reserve_claim_numbers(conn, claims)
    if claims == 0:
        return SeedResult(0, 0, 0, 0, time.perf_counter() - started, None, None)

    sizes = list(_block_sizes(claims, block_size))
    streams = np.random.SeedSequence(seed).spawn(len(sizes))
    n_lines = n_diagnoses = n_invalid = 0
    generating = 0.0
    with ExitStack() as stack:
        writers = _Writers(staging_dsn, stack)
        number = first
        for size, stream in zip(sizes, streams, strict=True):
            t = time.perf_counter()
            block = generate_block(np.random.default_rng(stream), number, size, facilities, invalid_share, ref, today)
            generating += time.perf_counter() - t
            n_lines += block.lines.height
            n_diagnoses += block.diagnoses.height
            n_invalid += block.defects.height
            writers.submit(block)
            number += size
        writers.drain()
        busy = dict(writers.busy)
    # Statistics for what was just loaded, before anything dispatches from it: autovacuum would take its
    # time (or is off), and the dispatcher's and the chunk reads' plans on an unanalyzed table are poor.
    t = time.perf_counter()
    with engines.connection(staging_dsn, "staging", autocommit=True) as conn:
        conn.execute("ANALYZE staging.claims, staging.claim_lines, staging.claim_diagnoses")
    busy["analyze"] = time.perf_counter() - t
    return SeedResult(
        claims=claims,
        lines=n_lines,
        diagnoses=n_diagnoses,
        invalid=n_invalid,
        seconds=time.perf_counter() - started,
        first_claim_id=claim_id(first),
        last_claim_id=claim_id(first + claims - 1),
        timings={"generate": generating, **busy},
    )
