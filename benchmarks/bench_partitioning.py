"""What partitioning production claims by service year (p0006) costs the pipeline's writes, measured in one
run against the schema before it (p0005) on scratch databases:

- write: db.production.write_rows, one transaction per chunk of 1,000 claims with 3 lines and 2 diagnoses
  each (COPY into every table) — what process_chunk's write stage does;
- lookup: db.production.existing_outcomes for a chunk of 1,000 ids (the redelivery check per chunk).

Variants: `p0005` (one table, PRIMARY KEY claim_id), `p0006` (partitioned, registry + change capture
triggers: what runs), `p0006-no-cdc` (the change-capture triggers disabled, to show what each part costs).
Then the operations of the lifecycle: the upgrade p0005 -> p0006 of a filled table, and moving one year of
claims out of the default partition (`claims-tasks partition`).

    python benchmarks/bench_partitioning.py [--chunks 40] [--rounds 3] [--move-claims 200000] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg

from benchmarks.common import PG
from db import engines, partitions, production

CHUNK = 1000


@contextmanager
def scratch_production(revision: str) -> Iterator[str]:
    dsn = f"{PG}/bench_{uuid.uuid4().hex[:8]}_production"
    engines.ensure_database(dsn, "production")
    try:
        engines.migrate(dsn, "production", revision)
        yield dsn
    finally:
        engines.drop_database(dsn)


def chunk_rows(start: int, n: int, batch_id: str) -> production.ChunkWrite:
    """n claims as the pipeline writes them, services spread over 2025 and 2026."""
    claims, lines, dx = [], [], []
    received = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(start, start + n):
        cid = f"B{i:010d}"
        served = date(2025, 1, 1) + timedelta(days=i % 700)
        claims.append((
            cid, f"F{i % 20:04d}", f"A{i}", "Jane", "Doe", date(1980, 1, 1) + timedelta(days=i % 9000), "F",
            f"S{i}", "P001", "COM", "1234567893", "1234567893", "11", "1", served, served, Decimal("300.00"),
            None, received, batch_id, Decimal("180.50"), "clean", 0.12, "v1", "champion", False,
        ))  # fmt: skip
        for n_line in (1, 2, 3):
            lines.append((cid, n_line, "99213", ["25"], Decimal(1), Decimal("100.00"), served, "11", [1, 2]))
        dx += [(cid, 1, "E11.9"), (cid, 2, "I10")]
    return production.ChunkWrite(claims, lines, dx, [])


def measure(dsn: str, chunks: int, offset: int) -> tuple[float, float]:
    """(claims/s written, ms per existing_outcomes of a chunk) over `chunks` chunks."""
    writes = [chunk_rows(offset + k * CHUNK, CHUNK, f"bench-{offset}") for k in range(chunks)]
    with psycopg.connect(dsn) as conn:
        started = time.perf_counter()
        for write in writes:
            with conn.transaction():
                production.write_rows(conn, write)
        rate = chunks * CHUNK / (time.perf_counter() - started)
        conn.execute("ANALYZE")  # as autovacuum would have by now: plans on statistics, in both schemas
        conn.commit()
        lookups = []
        for write in writes[:10]:
            ids = [r[0] for r in write.claims]
            t0 = time.perf_counter()
            production.existing_outcomes(conn, ids)
            lookups.append((time.perf_counter() - t0) * 1000)
        conn.rollback()
    return rate, statistics.median(lookups)


def write_cost(chunks: int, rounds: int) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, list[float]]] = {}
    calls = 0
    with scratch_production("p0005") as before, scratch_production("heads") as after:
        with psycopg.connect(after, autocommit=True) as conn:
            partitions.ensure_years(conn, [2025, 2026, 2027])
        for _round in range(rounds):
            for name, dsn, cdc in (("p0005", before, True), ("p0006", after, True), ("p0006-no-cdc", after, False)):
                if name.startswith("p0006"):
                    with psycopg.connect(dsn, autocommit=True) as conn:
                        state = "ENABLE" if cdc else "DISABLE"
                        for event in ("insert", "update", "delete", "truncate"):
                            conn.execute(f"ALTER TABLE claims {state} TRIGGER trg_claims_cdc_{event}")
                calls += 1
                rate, lookup = measure(dsn, chunks, offset=calls * chunks * CHUNK)
                slot = results.setdefault(name, {"claims_per_s": [], "lookup_ms": []})
                slot["claims_per_s"].append(rate)
                slot["lookup_ms"].append(lookup)
    return {name: {k: round(statistics.median(v), 2) for k, v in figures.items()} for name, figures in results.items()}


def lifecycle_ops(move_claims: int) -> dict[str, float]:
    """Upgrade p0005 -> p0006 with `move_claims` claims in the table, then move 2025 out of the default."""
    with scratch_production("p0005") as dsn:
        with psycopg.connect(dsn) as conn:
            for start in range(0, move_claims, 20 * CHUNK):
                with conn.transaction():
                    production.write_rows(conn, chunk_rows(start, min(20 * CHUNK, move_claims - start), "old"))
        t0 = time.perf_counter()
        engines.migrate(dsn, "production", "heads")
        upgrade = time.perf_counter() - t0
        with psycopg.connect(dsn) as conn:
            in_2025 = partitions.default_rows(conn, 2025)
            conn.rollback()
            result = partitions.ensure_year(conn, 2025)
            # The exclusive moment: attaching an empty year while the default partition holds the rest.
            t0 = time.perf_counter()
            partitions.ensure_year(conn, 2030)
            attach_empty = time.perf_counter() - t0
    return {
        "claims": move_claims,
        "upgrade_p0005_to_p0006_s": round(upgrade, 2),
        "moved_2025_claims": in_2025,
        "move_2025_s": result.seconds,
        "attach_empty_year_with_filled_default_s": round(attach_empty, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--move-claims", type=int, default=200_000)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    cost = write_cost(args.chunks, args.rounds)
    base = cost["p0005"]["claims_per_s"]
    print(f"writes, {args.chunks} chunks of {CHUNK} claims (+3 lines, +2 diagnoses), median of {args.rounds}:")
    for name, figures in cost.items():
        ratio = figures["claims_per_s"] / base
        print(f"  {name:<13} {figures['claims_per_s']:>9,.0f} claims/s ({ratio:5.2f}x p0005)"
              f"   existing_outcomes of a chunk: {figures['lookup_ms']:.1f} ms")  # fmt: skip
    ops = lifecycle_ops(args.move_claims)
    print(f"lifecycle with {ops['claims']:,} claims: upgrade p0005->p0006 {ops['upgrade_p0005_to_p0006_s']} s;")
    print(f"  move {ops['moved_2025_claims']:,} claims of 2025 out of the default partition {ops['move_2025_s']} s;")
    print(f"  attach an empty year beside the filled default {ops['attach_empty_year_with_filled_default_s']} s")
    if args.json:
        args.json.write_text(json.dumps({"writes": cost, "lifecycle": ops}, indent=2) + "\n")


if __name__ == "__main__":
    main()
