"""Validation cost per claim: the format-only rules (FORMAT_RULES, the catalogue before issue 3) against the
full edit catalogue (RULES: + ICD-10-CM code set, sex/age, known codes, modifiers, MUE, NCCI, prior
authorisation, duplicates), in the same run over the same generated claims, chunk by chunk as a worker
runs them: each chunk's claims are built as records just before they are timed and dropped after, so the
Python heap holds one chunk as a worker's does (garbage collection stays on, as in a worker). The full run
includes building each chunk's duplicate index (the database lookups themselves are measured by --with-db
on scratch databases).

    python benchmarks/bench_rules.py [--claims 50000] [--chunk 1000] [--repeat 3] [--with-db] [--json PATH]

Target (issue 3): the full catalogue within 2x the format-only rules. Exits 1 when it is not.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from claims_tasks.records import Claim
from claims_tasks.rules import FORMAT_RULES, RULES, RuleContext, validate_chunk
from claims_tasks.rules.duplicates import within_chunk
from claims_tasks.synthetic import Block, generate_block, to_records
from db.reference import edit_tables_from_files, reference_codes_from_files

TODAY = date(2026, 11, 25)
FACILITIES = 20
TARGET = 2.0


def _chunks(block: Block, size: int) -> list[Block]:
    """The block cut into chunks of `size` claims (frames only: records are built when timed)."""
    out = []
    for start in range(0, block.claims.height, size):
        ids = block.claims["claim_id"].slice(start, size).implode()
        out.append(
            Block(
                claims=block.claims.slice(start, size),
                lines=block.lines.filter(pl.col("claim_id").is_in(ids)),
                diagnoses=block.diagnoses.filter(pl.col("claim_id").is_in(ids)),
                defects=block.defects.filter(pl.col("claim_id").is_in(ids)),
            )
        )
    return out


def _timed(blocks: Sequence[Block], run: Callable[[list[Claim]], object]) -> float:
    """µs per claim of run(chunk) over every chunk, each chunk's records built (untimed) just before."""
    spent, n = 0.0, 0
    for block in blocks:
        claims = to_records(block)
        started = time.perf_counter()
        run(claims)
        spent += time.perf_counter() - started
        n += len(claims)
        del claims
    return spent / n * 1e6


def measure(blocks: Sequence[Block], repeat: int) -> dict[str, float]:
    ref = reference_codes_from_files()
    base = RuleContext(
        today=TODAY,
        facilities={f"F{k:04d}" for k in range(1, FACILITIES + 1)},
        payers=ref.payer_ids,
        financial_classes=ref.financial_classes,
        known_procedures=ref.procedure_codes,
    )
    full = replace(base, edits=edit_tables_from_files())

    def format_only(part: list[Claim]) -> object:
        return validate_chunk(part, base, rules=FORMAT_RULES)

    def catalogue(part: list[Claim]) -> object:
        return validate_chunk(part, replace(full, duplicates=within_chunk(part)), rules=RULES)

    # interleave the two so that machine noise hits both alike
    fmt, cat = [], []
    for _ in range(repeat):
        fmt.append(_timed(blocks, format_only))
        cat.append(_timed(blocks, catalogue))
    f, c = min(fmt), min(cat)  # noise from other processes only adds time: the fastest run is the cleanest
    return {"format_us_per_claim": round(f, 2), "full_us_per_claim": round(c, 2), "ratio": round(c / f, 2)}


def measure_db(claims: Sequence[Claim], chunk: int) -> dict[str, float]:
    """ms per chunk for the two duplicate queries, with the claims seeded into scratch staging and
    half of them already in production."""
    import psycopg

    from benchmarks.common import PG, scratch_staging
    from claims_tasks.rules.duplicates import chunk_keys
    from db import engines
    from db.duplicates import find_duplicates, production_holders, staging_earliest
    from db.production import ChunkWrite, write_rows
    from tests.factories import insert_claims

    pdsn = f"{PG}/bench_{int(time.time())}_production"
    engines.ensure_database(pdsn, "production")
    try:
        engines.migrate(pdsn, "production")
        with scratch_staging() as sdsn, psycopg.connect(sdsn) as sconn, psycopg.connect(pdsn) as pconn:
            insert_claims(sconn, claims)
            sconn.commit()
            half = claims[: len(claims) // 2]
            write_rows(pconn, _production_rows(half, ChunkWrite))
            pconn.commit()
            for conn in (sconn, pconn):
                conn.execute("ANALYZE")
                conn.commit()
            times: dict[str, list[float]] = {"total": [], "staging": [], "production": []}
            for part in [claims[i : i + chunk] for i in range(0, len(claims), chunk)]:
                started = time.perf_counter()
                find_duplicates(sconn, pconn, part)
                times["total"].append((time.perf_counter() - started) * 1000)
                keys = chunk_keys(part)
                for name, lookup, conn in (
                    ("staging", staging_earliest, sconn),
                    ("production", production_holders, pconn),
                ):
                    started = time.perf_counter()
                    lookup(conn, keys)
                    times[name].append((time.perf_counter() - started) * 1000)
            return {f"duplicate_lookup_ms_per_chunk_{k}": round(statistics.median(v), 2) for k, v in times.items()}
    finally:
        engines.drop_database(pdsn)


def _production_rows(claims: Sequence[Claim], write_type: type) -> object:
    from decimal import Decimal

    from claims_tasks.pipeline import production_rows

    write = write_type(claims=[], lines=[], diagnoses=[], failed=[])
    for c in claims:
        head, lines, dx = production_rows(c, "bench", Decimal(0))
        write.claims.append(head)
        write.lines.extend(lines)
        write.diagnoses.extend(dx)
    return write


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=50_000)
    parser.add_argument("--chunk", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--with-db", action="store_true", help="also time the duplicate lookups")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    block = generate_block(
        np.random.default_rng(3), 1, args.claims, FACILITIES, 0.05, reference_codes_from_files(), TODAY
    )
    result: dict[str, object] = {"claims": block.claims.height, "chunk": args.chunk, "target_ratio": TARGET}
    result.update(measure(_chunks(block, args.chunk), args.repeat))
    if args.with_db:  # claims without defects: half of them are written to production first
        clean = generate_block(
            np.random.default_rng(4), 1, args.claims, FACILITIES, 0.0, reference_codes_from_files(), TODAY
        )
        result.update(measure_db(to_records(clean), args.chunk))
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    if float(result["ratio"]) > TARGET:  # type: ignore[arg-type]
        print(f"FAIL: the full catalogue costs {result['ratio']}x the format-only rules (target {TARGET}x)")
        sys.exit(1)


if __name__ == "__main__":
    main()
