"""The pipeline end to end in the real fleet, next to two baselines measured in the same run.

    python benchmarks/bench_pipeline.py [--claims 1000000] [--workers 2] [--naive-claims 20000]
                                        [--scale-claims N] [--chunk-size 1000] [--json PATH]

Seeds N claims (10 % invalid) into scratch databases, starts `celery -A claims_tasks worker -c W` on a
private Redis database, dispatches, and waits until every claim has its outcome and `reconcile` is ok.
In the same run it measures:

1. end to end: claims/s from dispatch to ledger-complete, every rule, the model and encryption on;
2. copy-through limit: the same claims copied staging -> production as raw COPY bytes (no decoding, no
   processing), the same chunks, the same process count (benchmarks/bench_tasks.py);
3. naive baseline: one Celery task per claim with row-by-row INSERTs, on a sample (--naive-claims);
4. dispatch time, worker peak RSS, p50/p95 chunk latency and the time per stage from the workers' own
   timers (chunk_stage_seconds in the fleet's metrics);
5. scale-out on --scale-claims fresh claims: 1 vs 2 worker processes, 1 vs 2 production shards.

Every figure is printed with the load average it was taken under: the machine is shared, so compare the
ratios of one run, not absolute figures across runs. Targets (issue 10, 2 cores): >= 25,000 claims/s end
to end, >= 40 % of copy-through, >= 100x naive, dispatch of 1,000,000 ids <= 5 s, worker RSS <= 300 MB.
Environment: CLAIMS_BENCH_PG (server, default local), CLAIMS_BENCH_REDIS (a database it may flush).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.fernet import Fernet

from benchmarks.fleet import (
    PG,
    REDIS,
    ROOT,
    Scratch,
    backend_pids,
    cpu_seconds,
    flush_redis,
    load_average,
    percentile,
    running_worker,
    scratch_databases,
)

TARGETS = {"claims_per_s": 25_000, "ratio": 0.40, "speedup": 100, "dispatch_s_per_million": 5.0, "rss_mb": 300}
BENCH_DIR = ROOT / "var" / "bench"
MODEL_CACHE = BENCH_DIR / "filter_model.joblib"
STAGES = ("read", "lookup", "validate", "score", "encode", "write", "status")


def bench_model(path: Path | None) -> Path:
    """The model the workers serve: --model, else one trained once with the current recipe and kept."""
    if path is not None:
        return path
    from ml import artifacts

    try:
        artifacts.load(MODEL_CACHE)
    except Exception:  # missing, or trained by older code: train again (a few seconds)
        from claims_tasks.model_cli import train_model

        MODEL_CACHE.parent.mkdir(parents=True, exist_ok=True)
        train_model(MODEL_CACHE, 8_000)
    return MODEL_CACHE


def environment(scratch: Scratch, model: Path, chunk_size: int, shards: int) -> dict[str, str]:
    return {
        "APP_ENV": "test",
        "CLAIMS_STAGING_DSN": scratch.staging_dsn,
        "CLAIMS_PRODUCTION_DSN": scratch.production_dsn,
        "CLAIMS_BROKER_URL": scratch.redis_url,
        "CLAIMS_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "CLAIMS_MODEL_PATH": str(model.resolve()),
        "CLAIMS_CHUNK_SIZE": str(chunk_size),
        "CLAIMS_SHARDS": str(shards),
        # one pool process per core: polars' own threads would only contend with the other process
        "POLARS_MAX_THREADS": "1",
    }


def all_dsns(scratch: Scratch, env: dict[str, str]) -> list[str]:
    shards = env.get("CLAIMS_PRODUCTION_SHARDS", "").split(",")
    return sorted({scratch.staging_dsn, scratch.production_dsn, *(d for d in shards if d)})


def database_name(dsn: str) -> str:
    return dsn.rsplit("/", 1)[1]


def queues(shards: int) -> list[str]:
    from claims_tasks.sharding import DEAD_LETTER_QUEUE, RETRY_QUEUE, shard_queues

    return [*shard_queues(shards), RETRY_QUEUE, DEAD_LETTER_QUEUE]


def seed(scratch: Scratch, n: int, seed_value: int) -> float:
    from db.seed import seed_claims

    return seed_claims(scratch.staging_dsn, n, facilities=20, invalid_share=0.10, seed=seed_value).seconds


def wait_finished(staging_dsn: str, batch_id: str, timeout: float) -> float:
    """Poll the batch's counters (beside the ledger) until every claim has an outcome; returns when."""
    import psycopg

    deadline = time.monotonic() + timeout
    with psycopg.connect(staging_dsn, autocommit=True) as conn:
        while True:
            row = conn.execute("SELECT status FROM staging.batches WHERE batch_id = %s", (batch_id,)).fetchone()
            if row and row[0] == "finished":
                return time.perf_counter()
            if time.monotonic() > deadline:
                raise TimeoutError(f"batch {batch_id} not finished after {timeout:.0f}s")
            time.sleep(0.05)


def wait_reconciled(scratch: Scratch, env: dict[str, str], batch_id: str, timeout: float = 300) -> dict[str, Any]:
    from db.ledger import reconcile

    shards = [d for d in env.get("CLAIMS_PRODUCTION_SHARDS", "").split(",") if d]
    deadline = time.monotonic() + timeout
    while True:
        report = reconcile(scratch.staging_dsn, scratch.production_dsn, batch_id, shards)
        if report.ok:
            return report.as_dict()
        # Not ok yet: repairs in flight (and, with sharded production, a repair caught between its two
        # databases can look missing for a moment); only a report still not ok at the deadline is an error.
        if time.monotonic() > deadline:
            raise RuntimeError(f"ledger of {batch_id} not ok: {report.as_dict()}")
        time.sleep(0.5)


def fleet_figures(redis_url: str) -> tuple[dict[str, float], list[float]]:
    """The workers' stage seconds (summed over processes) and every chunk's seconds, from the metrics."""
    import redis as redis_lib

    from claims_tasks.metrics import METRICS_KEY, SAMPLES_KEY

    client = redis_lib.Redis.from_url(redis_url)
    stages: dict[str, float] = {}
    for key, value in client.hgetall(METRICS_KEY).items():
        name, labels, _suffix = key.decode().split("|", 2)
        if name == "chunk_stage_seconds":
            stages[json.loads(labels)["stage"]] = float(value)
    samples = [float(v) for v in client.lrange(SAMPLES_KEY + "chunk_seconds", 0, -1)]
    return stages, samples


def run_end_to_end(scratch: Scratch, env: dict[str, str], n: int, workers: int, seed_value: int, tag: str) -> dict:
    """Seed n claims, dispatch them to a fresh worker, wait for the ledger; the run's figures."""
    from claims_tasks.dispatch import dispatch
    from claims_tasks.tasks import chunk_sender

    seconds_seed = seed(scratch, n, seed_value)
    flush_redis(scratch.redis_url)
    shards = int(env["CLAIMS_SHARDS"])
    with running_worker(BENCH_DIR / f"{tag}.log", workers, queues(shards), env) as worker:
        load = load_average()
        databases = [database_name(d) for d in all_dsns(scratch, env)]
        backends = backend_pids(f"{PG}/postgres", databases)
        cpu_before = (worker.cpu(), sum(cpu_seconds(p) for p in backends), time.process_time())
        updates_before = claim_updates(scratch.staging_dsn)
        started = time.perf_counter()
        with chunk_sender() as send:  # as `claims-tasks dispatch` does, with this run's chunk size
            result = dispatch(scratch.staging_dsn, send, shards=int(env["CLAIMS_SHARDS"]),
                              chunk_size=int(env["CLAIMS_CHUNK_SIZE"]), page_size=20_000)  # fmt: skip
        assert result is not None and result.claims == n, result
        dispatched = time.perf_counter()
        finished = wait_finished(scratch.staging_dsn, result.batch_id, timeout=max(120, n / 500))
        backends = sorted(set(backends) | set(backend_pids(f"{PG}/postgres", databases)))
        cpu_after = (worker.cpu(), sum(cpu_seconds(p) for p in backends), time.process_time())
        ledger = wait_reconciled(scratch, env, result.batch_id)  # automated repairs of failed claims finish too
        reconciled = time.perf_counter()
        rss = worker.peak_rss_mb()
    time.sleep(1.0)  # backends publish their table statistics at most once a second
    updates = [a - b for a, b in zip(claim_updates(scratch.staging_dsn), updates_before, strict=True)]
    stages, samples = fleet_figures(scratch.redis_url)
    elapsed = finished - started
    return {
        "claims": n,
        "workers": workers,
        "claims_per_s": round(n / elapsed),
        "seconds": round(elapsed, 2),
        "dispatch_seconds": round(dispatched - started, 2),
        "reconciled_after_s": round(reconciled - started, 2),
        "chunks": result.chunks,
        "chunk_p50_ms": round(percentile(samples, 0.50) * 1000, 1),
        "chunk_p95_ms": round(percentile(samples, 0.95) * 1000, 1),
        "stage_us_per_claim": {s: round(stages.get(s, 0.0) / n * 1e6, 1) for s in STAGES},
        # where the two cores went (µs of CPU per claim): pool processes, the worker's main process (Celery
        # and Redis traffic), PostgreSQL backends of the pooled connections, this process (the dispatcher)
        "cpu_us_per_claim": {
            "worker_pool": round((cpu_after[0]["pool"] - cpu_before[0]["pool"]) / n * 1e6, 1),
            "worker_main": round((cpu_after[0]["main"] - cpu_before[0]["main"]) / n * 1e6, 1),
            "postgres_backends": round((cpu_after[1] - cpu_before[1]) / n * 1e6, 1),
            "dispatcher": round((cpu_after[2] - cpu_before[2]) / n * 1e6, 1),
        },
        "worker_rss_mb": {k: round(v) for k, v in rss.items()},
        "states": ledger["states"],
        # staging.claims row updates in place (HOT) among all of them: dispatch, status flips, sweeps
        "staging_updates": updates[0],
        "staging_hot_update_share": round(updates[1] / updates[0], 3) if updates[0] else None,
        "seed_seconds": round(seconds_seed, 2),
        "worker_warmup_seconds": round(worker.warmup_seconds, 2),  # before the clock starts
        "load_average": load,
    }


def claim_updates(staging_dsn: str) -> tuple[int, int]:
    """Updates and heap-only (HOT) updates of staging.claims so far."""
    import psycopg

    with psycopg.connect(staging_dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relid = 'staging.claims'::regclass"
        ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def prepare_copy_tables(production_dsn: str) -> None:
    """Tables shaped like production's (same columns and indexes), constraints relaxed so that invalid
    claims copy too; the copy-through writes there."""
    import psycopg

    from benchmarks.bench_tasks import COPY_SCHEMA

    with psycopg.connect(production_dsn, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {COPY_SCHEMA} CASCADE")
        conn.execute(f"CREATE SCHEMA {COPY_SCHEMA}")
        for table in ("claims", "claim_lines", "claim_diagnoses"):
            conn.execute(
                f"CREATE TABLE {COPY_SCHEMA}.{table} (LIKE public.{table} INCLUDING DEFAULTS INCLUDING INDEXES)"
            )
            rows = conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = %s AND table_name = %s",
                (COPY_SCHEMA, table),
            ).fetchall()
            keys = {
                r[0]
                for r in conn.execute(
                    "SELECT a.attname FROM pg_index i JOIN pg_attribute a"
                    " ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
                    " WHERE i.indrelid = %s::regclass AND i.indisprimary",
                    (f"{COPY_SCHEMA}.{table}",),
                )
            }
            for column, dtype in rows:
                if column not in keys:
                    conn.execute(f"ALTER TABLE {COPY_SCHEMA}.{table} ALTER COLUMN {column} DROP NOT NULL")
                if dtype == "numeric":
                    conn.execute(f"ALTER TABLE {COPY_SCHEMA}.{table} ALTER COLUMN {column} TYPE numeric")


def run_copy_through(scratch: Scratch, env: dict[str, str], workers: int, chunk_size: int) -> dict:
    """Every staging claim copied as raw COPY bytes, in the dispatcher's chunks, by the same fleet."""
    import psycopg
    import redis as redis_lib

    from benchmarks.bench_tasks import COPIED_KEY, COPY_QUEUE, copy_through
    from claims_tasks.celery_app import app
    from claims_tasks.dispatch import plan_chunks

    prepare_copy_tables(scratch.production_dsn)
    flush_redis(scratch.redis_url)
    client = redis_lib.Redis.from_url(scratch.redis_url)
    shards = int(env["CLAIMS_SHARDS"])
    with running_worker(BENCH_DIR / "copy.log", workers, [COPY_QUEUE], env, "benchmarks.bench_tasks"):
        load = load_average()
        started = time.perf_counter()
        with psycopg.connect(scratch.staging_dsn) as conn:
            rows = conn.execute("SELECT claim_id, facility_id, total_charge FROM staging.claims").fetchall()
        plan = plan_chunks(rows, shards, chunk_size)
        with app.producer_or_acquire() as producer:
            for _shard, ids, _priority in plan:
                copy_through.apply_async(args=(ids,), queue=COPY_QUEUE, producer=producer)
        deadline = time.monotonic() + max(120, len(rows) / 500)
        while int(client.get(COPIED_KEY) or 0) < len(rows):
            if time.monotonic() > deadline:
                raise TimeoutError("copy-through did not finish")
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
    return {"claims": len(rows), "claims_per_s": round(len(rows) / elapsed), "seconds": round(elapsed, 2),
            "chunks": len(plan), "load_average": load}  # fmt: skip


def processed(staging_dsn: str, batch_id: str) -> tuple[int, bool]:
    """(claims of the batch with an outcome, whether the batch is finished)."""
    import psycopg

    with psycopg.connect(staging_dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT done + failed + review + resolved, status = 'finished' FROM staging.batches WHERE batch_id = %s",
            (batch_id,),
        ).fetchone()
    return (int(row[0]), bool(row[1])) if row else (0, False)


def run_naive(scratch: Scratch, env: dict[str, str], n: int, workers: int, seed_value: int, timebox: float) -> dict:
    """n fresh claims, one task per claim (dispatched as chunks of one id), row-by-row writes. Its rate is
    steady from the first seconds, so it is measured over at most `timebox` seconds (the sample would take
    minutes to finish); what it did not reach stays queued in its own batch."""
    from benchmarks.bench_tasks import naive_claim
    from claims_tasks.celery_app import app
    from claims_tasks.dispatch import dispatch
    from claims_tasks.sharding import shard_queue

    seed(scratch, n, seed_value)
    flush_redis(scratch.redis_url)
    shards = int(env["CLAIMS_SHARDS"])
    with running_worker(BENCH_DIR / "naive.log", workers, queues(shards), env, "benchmarks.bench_tasks"):
        load = load_average()
        started = time.perf_counter()
        with app.producer_or_acquire() as producer:

            def send(batch_id: str, shard: int, ids: list[str], _priority: int) -> None:
                naive_claim.apply_async(args=(batch_id, ids[0]), queue=shard_queue(shard), producer=producer)

            result = dispatch(scratch.staging_dsn, send, shards=shards, chunk_size=1, page_size=20_000)
        assert result is not None and result.claims == n
        while True:
            done, finished = processed(scratch.staging_dsn, result.batch_id)
            elapsed = time.perf_counter() - started
            if finished or elapsed >= timebox:
                break
            time.sleep(0.2)
    if finished:
        wait_reconciled(scratch, env, result.batch_id)
    return {"claims": n, "processed": done, "finished": finished, "claims_per_s": round(done / elapsed, 1),
            "seconds": round(elapsed, 2), "load_average": load}  # fmt: skip


def scale_out(
    scratch: Scratch, env: dict[str, str], n: int, shards_available: int, seed_value: int, chunk_sizes: list[int]
) -> dict:
    """The same work on fresh claims with 1 and 2 worker processes, on 1 and 2 production shards, and at
    other chunk sizes (--sweep-chunks)."""
    runs: dict[str, dict] = {}
    runs["1 process, 1 shard"] = run_end_to_end(scratch, env, n, 1, seed_value, "scale-1p")
    runs["2 processes, 1 shard"] = run_end_to_end(scratch, env, n, 2, seed_value + 1, "scale-2p")
    if shards_available >= 2:
        sharded = {**env, "CLAIMS_PRODUCTION_SHARDS": ",".join(scratch.production_shard(i) for i in range(2))}
        runs["2 processes, 2 shards"] = run_end_to_end(scratch, sharded, n, 2, seed_value + 2, "scale-2s")
    for k, size in enumerate(chunk_sizes):
        sized = {**env, "CLAIMS_CHUNK_SIZE": str(size)}
        runs[f"2 processes, chunks of {size:,}"] = run_end_to_end(
            scratch, sized, n, 2, seed_value + 3 + k, f"chunk-{size}"
        )
    return {k: {f: v[f] for f in ("claims", "claims_per_s", "seconds", "chunk_p50_ms", "worker_rss_mb",
                                  "load_average")} for k, v in runs.items()}  # fmt: skip


def sharding_supported() -> bool:
    from claims_tasks.config import Settings

    return "production_shards" in Settings.model_fields


def report(doc: dict[str, Any]) -> str:
    e2e, copy, naive = doc["end_to_end"], doc["copy_through"], doc["naive"]
    load = lambda r: "/".join(f"{x:.2f}" for x in r["load_average"])  # noqa: E731
    lines = [
        f"{'figure':<34} {'value':>14}  load avg (1/5/15 min)",
        f"{'end to end (claims/s)':<34} {e2e['claims_per_s']:>14,}  {load(e2e)}",
        f"{'copy-through limit (claims/s)':<34} {copy['claims_per_s']:>14,}  {load(copy)}",
        f"{'naive, task per claim (claims/s)':<34} {naive['claims_per_s']:>14,.1f}  {load(naive)}"
        f"  ({naive.get('processed', 0):,} of {naive['claims']:,} claims in {naive['seconds']:.0f} s)",
        f"{'ratio to copy-through':<34} {doc['ratio_to_copy_through']:>14.1%}",
        f"{'speed-up vs naive':<34} {doc['speedup_vs_naive']:>13.0f}x",
        f"{'dispatch of N ids (s)':<34} {doc['dispatch_seconds']:>14.2f}",
        f"{'chunk latency p50 / p95 (ms)':<34} {e2e['chunk_p50_ms']:>7.0f} / {e2e['chunk_p95_ms']:<6.0f}",
        f"{'worker peak RSS, largest (MB)':<34} {doc['worker_peak_rss_mb']:>14.0f}  {e2e['worker_rss_mb']}",
        f"{'staging updates heap-only (HOT)':<34} {e2e['staging_hot_update_share'] or 0:>14.1%}"
        f"  of {e2e['staging_updates']:,}",
        "",
        "time per stage, from the workers' timers (µs per claim, summed over processes):",
        "  " + "  ".join(f"{s} {v:,.1f}" for s, v in e2e["stage_us_per_claim"].items()),
        "CPU per claim (µs), by process:",
        "  " + "  ".join(f"{s} {v:,.1f}" for s, v in e2e["cpu_us_per_claim"].items()),
    ]
    if doc.get("scale_out"):
        lines += ["", f"{'scale-out':<26} {'claims':>9} {'claims/s':>10} {'p50 ms':>8}  load avg"]
        for name, r in doc["scale_out"].items():
            lines.append(f"{name:<26} {r['claims']:>9,} {r['claims_per_s']:>10,} {r['chunk_p50_ms']:>8.0f}  {load(r)}")
    lines += ["", "targets: " + ", ".join(f"{k} {'met' if v else 'NOT met'}" for k, v in doc["targets_met"].items())]
    return "\n".join(lines)


_SKIPPED = {"claims": 0, "claims_per_s": float("nan"), "seconds": 0, "load_average": (0.0, 0.0, 0.0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2, help="worker pool processes (celery -c)")
    parser.add_argument("--naive-claims", type=int, default=20_000)
    parser.add_argument("--naive-seconds", type=float, default=45.0, help="time box of the naive baseline")
    parser.add_argument("--scale-claims", type=int, default=None, help="claims per scale-out run (0: skip)")
    parser.add_argument("--chunk-size", type=int, default=None, help="default: CLAIMS_CHUNK_SIZE's default")
    parser.add_argument("--shards", type=int, default=4, help="facility shards (queues)")
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--redis", default=REDIS, help="a Redis database the benchmark may flush")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--skip", default="", help="runs to leave out while investigating: copy,naive")
    parser.add_argument("--sweep-chunks", default="", help="chunk sizes to add to the scale-out runs: 1000,5000")
    args = parser.parse_args()
    skip = set(args.skip.split(","))
    scale_n = min(args.claims, 50_000) if args.scale_claims is None else args.scale_claims
    if args.chunk_size is None:
        from claims_tasks.config import Settings

        args.chunk_size = Settings.model_fields["chunk_size"].default

    started = time.perf_counter()
    model = bench_model(args.model)
    scratch = Scratch(redis_url=args.redis)
    env = environment(scratch, model, args.chunk_size, args.shards)
    os.environ.update(env)  # before claims_tasks.tasks is imported: celeryconfig reads them once
    os.environ.setdefault("TMPDIR", tempfile.gettempdir())
    shards = 2 if scale_n and sharding_supported() else 1
    with scratch_databases(scratch, shards, model):
        print(f"load average at start: {load_average()}", flush=True)
        e2e = run_end_to_end(scratch, env, args.claims, args.workers, 1, "end-to-end")
        print(f"end to end: {e2e['claims_per_s']:,} claims/s", flush=True)
        copy = run_copy_through(scratch, env, args.workers, args.chunk_size) if "copy" not in skip else _SKIPPED
        print(f"copy-through: {copy['claims_per_s']:,} claims/s", flush=True)
        naive = (
            run_naive(scratch, env, args.naive_claims, args.workers, 7, args.naive_seconds)
            if "naive" not in skip
            else _SKIPPED
        )
        print(f"naive: {naive['claims_per_s']:,} claims/s", flush=True)
        sweep = [int(x) for x in args.sweep_chunks.split(",") if x]
        scaled = scale_out(scratch, env, scale_n, shards, 11, sweep) if scale_n else {}

    rss = max(e2e["worker_rss_mb"].values())
    doc: dict[str, Any] = {
        "claims": args.claims,
        "workers": args.workers,
        "chunk_size": args.chunk_size,
        "end_to_end_claims_per_s": e2e["claims_per_s"],
        "copy_through_claims_per_s": copy["claims_per_s"],
        "naive_claims_per_s": naive["claims_per_s"],
        "ratio_to_copy_through": round(e2e["claims_per_s"] / copy["claims_per_s"], 3),
        "speedup_vs_naive": round(e2e["claims_per_s"] / naive["claims_per_s"], 1),
        "worker_peak_rss_mb": rss,
        "dispatch_seconds": e2e["dispatch_seconds"],
        "chunk_latency_ms": {"p50": e2e["chunk_p50_ms"], "p95": e2e["chunk_p95_ms"]},
        "stage_us_per_claim": e2e["stage_us_per_claim"],
        "end_to_end": e2e,
        "copy_through": copy,
        "naive": naive,
        "scale_out": scaled,
        "benchmark_seconds": round(time.perf_counter() - started, 1),
    }
    doc["targets_met"] = {
        "claims_per_s": e2e["claims_per_s"] >= TARGETS["claims_per_s"],
        "ratio_to_copy_through": doc["ratio_to_copy_through"] >= TARGETS["ratio"],
        "speedup_vs_naive": doc["speedup_vs_naive"] >= TARGETS["speedup"],
        "dispatch": e2e["dispatch_seconds"] <= TARGETS["dispatch_s_per_million"] * args.claims / 1_000_000,
        "worker_rss": rss <= TARGETS["rss_mb"],
    }
    print()
    print(report(doc))
    print(f"\n(benchmark took {doc['benchmark_seconds']:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
