"""A worker's memory over a long run: RSS of its pool process, sampled while it processes N claims.

    python -m benchmarks.bench_memory [--claims 1000000] [--concurrency 1] [--json out.json]

One `celery worker -c 1` (every chunk goes through the same pool process, so growth cannot hide behind
work spread over processes), on scratch databases this script creates and drops, with a private Redis
database it flushes. RSS (/proc VmRSS) is sampled every second; the baseline is the first sample after
10 % of the claims (model loaded, reference data cached, pools and allocator arenas at their working
size). The run passes when every later sample stays within ±10 % of the baseline and the pool process was
never replaced (a replacement by worker_max_memory_per_child would hide growth). The in-suite version is
tests/reliability/test_memory.py, on fewer claims.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from benchmarks.fleet import REDIS, Scratch, children, flush_redis, running_worker, scratch_databases

ROOT = Path(__file__).resolve().parents[1]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def run(n: int, concurrency: int, chunk_size: int, redis_url: str) -> dict:
    from cryptography.fernet import Fernet

    from claims_tasks.model_cli import train_model
    from claims_tasks.sharding import DEAD_LETTER_QUEUE, RETRY_QUEUE, shard_queues

    scratch = Scratch(redis_url=redis_url)
    model = Path(tempfile.mkdtemp(prefix="bench_memory_")) / "filter_model.joblib"
    train_model(model, 8_000)
    env = {
        "APP_ENV": "test",
        "CLAIMS_STAGING_DSN": scratch.staging_dsn,
        "CLAIMS_PRODUCTION_DSN": scratch.production_dsn,
        "CLAIMS_BROKER_URL": scratch.redis_url,
        "CLAIMS_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "CLAIMS_MODEL_PATH": str(model),
        "CLAIMS_CHUNK_SIZE": str(chunk_size),
        "CLAIMS_REVIEW_THRESHOLD": "1.0",
    }
    os.environ.update(env)
    from claims_tasks.config import get_settings

    get_settings.cache_clear()
    with scratch_databases(scratch, 1, model):
        from db.seed import seed_claims

        flush_redis(scratch.redis_url)
        queues = [*shard_queues(4), RETRY_QUEUE, DEAD_LETTER_QUEUE]
        seeded = seed_claims(scratch.staging_dsn, n, facilities=20, invalid_share=0.05, seed=1)
        with running_worker(ROOT / "var" / "bench_memory" / "worker.log", concurrency, queues, env) as w:
            pool = sorted(children(w.proc.pid))
            from claims_tasks.tasks import run_dispatch
            from db.ledger import reconcile

            started = time.monotonic()
            batch = run_dispatch()
            assert batch is not None
            samples: list[tuple[float, int, int]] = []  # (seconds, claims processed, RSS KiB of the pool)
            while True:
                done = _processed(scratch.staging_dsn, batch.batch_id)
                samples.append((time.monotonic() - started, done, sum(rss_kib(p) for p in pool)))
                if done >= n:
                    break
                if sorted(children(w.proc.pid)) != pool:
                    break  # replaced: reported below as a failure
                time.sleep(1.0)
            replaced = sorted(children(w.proc.pid)) != pool
            seconds = time.monotonic() - started
            # Repairs of failed claims may still be running (one pool process repairs ~5 % of a million
            # claims after the last chunk): the ledger is ok once they are done too. Each reconcile of a
            # million claims takes tens of seconds, so the wait is generous; an inconsistency with nothing
            # left in flight ends it at once.
            deadline = time.monotonic() + 900
            while not (report := reconcile(scratch.staging_dsn, scratch.production_dsn, batch.batch_id)).ok:
                if time.monotonic() > deadline or (report.in_flight == 0 and not report.consistent):
                    break
                time.sleep(2)
    doc = summarise(n, seeded.seconds, seconds, samples, replaced, report.ok)
    doc["ledger"] = report.as_dict()
    return doc


def _processed(staging_dsn: str, batch_id: str) -> int:
    import psycopg

    with psycopg.connect(staging_dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT done + failed + review + resolved FROM staging.batches WHERE batch_id = %s", (batch_id,)
        ).fetchone()
    return int(row[0]) if row else 0


def summarise(
    n: int, seed_s: float, seconds: float, samples: list[tuple[float, int, int]], replaced: bool, ledger_ok: bool
) -> dict:
    warm = [s for s in samples if s[1] >= n // 10]
    base = warm[0][2] if warm else 0
    later = [s[2] for s in warm]
    low, high = (min(later), max(later)) if later else (0, 0)
    return {
        "claims": n,
        "seed_seconds": round(seed_s, 1),
        "seconds": round(seconds, 1),
        "claims_per_second": round(n / seconds) if seconds else 0,
        "baseline_rss_mib": round(base / 1024, 1),
        "min_rss_mib": round(low / 1024, 1),
        "max_rss_mib": round(high / 1024, 1),
        "end_rss_mib": round(later[-1] / 1024, 1) if later else 0,
        "drift_pct": round(100 * (high - base) / base, 1) if base else None,
        "dip_pct": round(100 * (low - base) / base, 1) if base else None,
        "pool_replaced": replaced,
        "ledger_ok": ledger_ok,
        "flat": bool(base) and not replaced and 0.9 * base <= low and high <= 1.1 * base,
        "samples": [(round(t, 1), done, kib) for t, done, kib in samples],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=1_000_000)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--chunk-size", type=int, default=1000)
    parser.add_argument("--redis", default=REDIS, help="a Redis database the benchmark may flush")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    doc = run(args.claims, args.concurrency, args.chunk_size, args.redis)
    if args.json:
        args.json.write_text(json.dumps(doc, indent=2))
    print(
        f"{doc['claims']:,} claims in {doc['seconds']} s ({doc['claims_per_second']:,}/s;"
        f" seeding {doc['seed_seconds']} s)"
        f"\npool RSS: baseline {doc['baseline_rss_mib']} MiB after 10 %, min {doc['min_rss_mib']}, "
        f"max {doc['max_rss_mib']}, end {doc['end_rss_mib']} (drift {doc['drift_pct']} %, dip {doc['dip_pct']} %)"
        f"\npool process replaced: {doc['pool_replaced']}; ledger ok: {doc['ledger_ok']}"
        f"\nflat within ±10 %: {doc['flat']}"
    )
    if not doc["ledger_ok"]:
        print(f"ledger: {doc['ledger']}")
    raise SystemExit(0 if doc["flat"] and doc["ledger_ok"] else 1)


if __name__ == "__main__":
    main()
