"""Scoring speed: what the model stage adds to a chunk, per claim, at chunk size, next to baselines measured
in the same run: the validate stage on the same chunks (the pipeline's other per-claim stage) and scoring
one claim at a time (what not vectorising would cost).

    python benchmarks/bench_scoring.py [--chunk 1000] [--chunks 20] [--repeats 5] [--train-claims 50000]
                                       [--model PATH] [--json PATH]

Target (issue 4): scoring adds at most 20 µs per claim at chunk size. Measured in one process with one
OpenMP thread, as a worker's pool process scores (tasks.py pins it: one pool process per core), and for
information with the default threads; medians over chunks.
No database: claims come from the synthetic generator, the model from `claims-tasks train`'s recipe
(or --model).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from claims_tasks.records import Claim
from claims_tasks.rules import RuleContext, validate_chunk
from claims_tasks.synthetic import generate_block, to_records
from db.reference import DEFAULT_FACILITIES, facility_rows, reference_codes_from_files
from ml import features, training
from ml.serving import Scorer, load_scorer

TARGET_US = 20.0


def per_claim_us(fn: Callable[[Sequence[Claim]], object], chunks: list[list[Claim]], repeats: int) -> float:
    """Median over chunks of the best of `repeats` runs, in µs per claim."""
    samples = []
    for chunk in chunks:
        best = min(_timed(fn, chunk) for _ in range(repeats))
        samples.append(best / len(chunk) * 1e6)
    return statistics.median(samples)


def _timed(fn: Callable[[Sequence[Claim]], object], chunk: Sequence[Claim]) -> float:
    t0 = time.perf_counter()
    fn(chunk)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunk", type=int, default=1000, help="claims per chunk (CLAIMS_CHUNK_SIZE)")
    parser.add_argument("--chunks", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--single", type=int, default=300, help="claims scored one at a time (baseline)")
    parser.add_argument("--train-claims", type=int, default=training.DEFAULT_CLAIMS)
    parser.add_argument("--model", type=Path, help="an existing artifact instead of training one")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    ref = reference_codes_from_files()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.model
        if path is None:
            path = Path(tmp) / "bench_model.joblib"
            t0 = time.perf_counter()
            training.save(training.train(args.train_claims, training.DEFAULT_SEED, ref), path)
            print(f"trained on {args.train_claims:,} claims in {time.perf_counter() - t0:.1f}s")
        scorer: Scorer = load_scorer(path, review_threshold=0.8)

    rng = np.random.default_rng(99)
    claims = to_records(generate_block(rng, 1, args.chunk * args.chunks, 20, 0.0, ref, date.today()))
    chunks = [claims[i : i + args.chunk] for i in range(0, len(claims), args.chunk)]
    pipe = scorer.a.artifact.pipeline
    ctx = RuleContext(
        today=date.today(),
        facilities=[f[0] for f in facility_rows(DEFAULT_FACILITIES)],
        payers=ref.payer_ids,
        financial_classes=ref.financial_classes,
        known_procedures=ref.procedure_codes,
    )
    frames = {id(c): features.extract(c) for c in chunks}

    results: dict[str, float] = {}
    for threads in (1, None):
        label = "1 thread" if threads == 1 else "default threads"
        with threadpool_limits(threads):
            results[f"score ({label})"] = per_claim_us(scorer.score, chunks, args.repeats)
            results[f"  features ({label})"] = per_claim_us(features.extract, chunks, args.repeats)
            results[f"  predict_proba ({label})"] = per_claim_us(
                lambda c: pipe.predict_proba(frames[id(c)]), chunks, args.repeats
            )
    with threadpool_limits(1):
        results["baseline: validate stage"] = per_claim_us(lambda c: validate_chunk(c, ctx), chunks, args.repeats)
        singles = claims[: args.single]
        t0 = time.perf_counter()
        for claim in singles:
            scorer.score([claim])
        results["baseline: score one claim at a time"] = (time.perf_counter() - t0) / len(singles) * 1e6

    meta = scorer.a.artifact.metadata
    print(f"model {meta['version']} ({meta['algorithm']}, {meta['n_iter']} rounds x {len(meta['classes'])} classes)")
    print(f"chunks of {args.chunk:,} claims, median over {len(chunks)} chunks, best of {args.repeats}")
    for name, us in results.items():
        print(f"  {name:<42} {us:>9.1f} µs/claim")
    figure = results["score (1 thread)"]  # how a worker scores: one OpenMP thread per pool process
    verdict = "within" if figure <= TARGET_US else "OVER"
    ratio = figure / results["baseline: validate stage"]
    print(f"scoring adds {figure:.1f} µs/claim at chunk size ({ratio:.1f}x the validate stage, one thread as in a")
    print(f"worker): {verdict} the {TARGET_US:.0f} µs target")
    if args.json:
        args.json.write_text(json.dumps({"chunk": args.chunk, "us_per_claim": results, "target_us": TARGET_US}))


if __name__ == "__main__":
    main()
