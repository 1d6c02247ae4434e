"""Seeding speed: `claims-tasks seed` (polars frames → COPY text, three writer connections) against a
row-at-a-time baseline (the same generated claims sent as parameterised INSERTs with executemany), in one
run on scratch databases.

    python benchmarks/bench_seed.py [--claims 1000000] [--baseline-claims 20000] [--json PATH]

Target (issue 2): 1,000,000 claims in under 60 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import scratch_staging
from claims_tasks.records import CLAIM_FIELDS, DIAGNOSIS_FIELDS, LINE_FIELDS
from claims_tasks.synthetic import generate_block
from db import engines
from db.reference import ensure_facilities, read_reference_codes
from db.seed import seed_claims


def baseline(dsn: str, n: int) -> float:
    """claims/s writing claims, lines and diagnoses as parameterised INSERTs (executemany, pipelined)."""
    with engines.connection(dsn, "staging") as conn:
        ensure_facilities(conn, 20)
        ref = read_reference_codes(conn)
        block = generate_block(np.random.default_rng(1), 900_000_000, n, 20, 0.05, ref, date.today())
        started = time.perf_counter()
        with conn.cursor() as cur:
            for table, fields, frame in (
                ("claims", CLAIM_FIELDS, block.claims),
                ("claim_lines", LINE_FIELDS, block.lines),
                ("claim_diagnoses", DIAGNOSIS_FIELDS, block.diagnoses),
            ):
                marks = ", ".join(["%s"] * len(fields))
                cur.executemany(f"INSERT INTO staging.{table} ({', '.join(fields)}) VALUES ({marks})", frame.rows())
        conn.commit()
        return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=1_000_000)
    parser.add_argument("--baseline-claims", type=int, default=20_000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    with scratch_staging() as dsn:
        result = seed_claims(dsn, args.claims, facilities=20, invalid_share=0.05, seed=1)
    with scratch_staging() as dsn:
        naive = baseline(dsn, args.baseline_claims)
    rate = result.claims / result.seconds
    doc = {
        "claims": result.claims,
        "rows": result.claims + result.lines + result.diagnoses,
        "seconds": round(result.seconds, 2),
        "claims_per_s": round(rate),
        "baseline_claims": args.baseline_claims,
        "baseline_claims_per_s": round(naive),
        "speedup_vs_baseline": round(rate / naive, 1),
        "timings_s": {k: round(v, 2) for k, v in result.timings.items()},
        "target_met": result.seconds < 60 * args.claims / 1_000_000,
    }
    print(f"seed {doc['claims']:,} claims ({doc['rows']:,} rows) in {doc['seconds']} s = {rate:,.0f} claims/s")
    print(f"baseline executemany INSERT, {args.baseline_claims:,} claims: {naive:,.0f} claims/s")
    print(f"speed-up {doc['speedup_vs_baseline']}x; stage busy times {doc['timings_s']}")
    print(f"target (1M in < 60 s, scaled): {'met' if doc['target_met'] else 'NOT met'}")
    if args.json:
        args.json.write_text(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
