"""/batch_status latency: idle, then while real workers process a seeded batch, in one run.

    python benchmarks/bench_api.py [--claims 1000000] [--workers 2] [--concurrency 1]
                                   [--idle-requests 2000] [--load-seconds 60] [--redis redis://127.0.0.1:6379/14]

Everything is real and private to the run: scratch staging and production databases (created, migrated,
dropped), the Redis database given (flushed before and after: pick one nobody else uses), `claims-tasks
init|seed|dispatch|apikey` as subprocesses, a uvicorn serving api.main:app, and `--workers` celery worker
processes. The client is one keep-alive HTTP connection polling /batch_status/<batch> every `--interval`
seconds with an auditor key (so every request also pays the key lookup), as a dashboard would.

Baseline: the same endpoint on the same server with the batch queued and no worker running. Under load:
from the moment the workers are ready until the batch finishes or `--load-seconds` pass.
Target (issue 6): p95 <= 20 ms under load. Exit status 1 when missed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import httpx
import redis
from cryptography.fernet import Fernet
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from db import engines  # noqa: E402

PG = os.environ.get("CLAIMS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
TARGET_P95_MS = 20.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def summary(ms: list[float]) -> dict[str, float]:
    return {
        "n": len(ms),
        "p50": round(statistics.median(ms), 2),
        "p95": round(percentile(ms, 95), 2),
        "p99": round(percentile(ms, 99), 2),
        "max": round(max(ms), 2),
    }


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "claims_tasks.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"claims-tasks {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn(stack: ExitStack, argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    sink = stack.enter_context(log.open("wb"))
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)

    def stop() -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    stack.callback(stop)
    return proc


def wait_until(check: object, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise SystemExit(f"{what} not ready after {timeout:.0f}s")


def poll(client: httpx.Client, url: str, key: str, interval: float, until: object) -> tuple[list[float], dict]:
    """Request `url` every `interval` s until until(last_doc) is true; latencies in ms."""
    latencies: list[float] = []
    doc: dict = {}
    while True:
        t0 = time.perf_counter()
        response = client.get(url, headers={"X-API-Key": key})
        latencies.append((time.perf_counter() - t0) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"GET {url}: {response.status_code} {response.text}")
        doc = response.json()
        if until(doc):  # type: ignore[operator]
            return latencies, doc
        time.sleep(interval)


def stage_seconds(client: httpx.Client, key: str) -> dict[str, float]:
    """What the workers spent their time on, from /metrics (chunk_stage_seconds, chunk durations)."""
    text = client.get("/metrics", headers={"X-API-Key": key}).text
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "chunk_stage_seconds_total":
                out[sample.labels["stage"]] = round(sample.value, 2)
            elif sample.name in ("chunk_duration_seconds_sum", "chunk_duration_seconds_count"):
                key_name = "chunks" if sample.name.endswith("_count") else "chunk_total"
                out[key_name] = round(out.get(key_name, 0.0) + sample.value, 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--concurrency", type=int, default=1, help="pool processes per worker")
    parser.add_argument("--idle-requests", type=int, default=2000)
    parser.add_argument("--load-seconds", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=0.01, help="pause between requests, seconds")
    parser.add_argument("--redis", default=os.environ.get("CLAIMS_BENCH_REDIS", "redis://127.0.0.1:6379/14"))
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    tag = uuid.uuid4().hex[:8]
    staging_dsn = f"{PG}/bench_{tag}_staging"
    production_dsn = f"{PG}/bench_{tag}_production"
    env = {
        **os.environ,
        "CLAIMS_STAGING_DSN": staging_dsn,
        "CLAIMS_PRODUCTION_DSN": production_dsn,
        "CLAIMS_BROKER_URL": args.redis,
        "CLAIMS_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "APP_ENV": "test",
    }
    broker = redis.Redis.from_url(args.redis)
    broker.flushdb()
    logs = Path(tempfile.mkdtemp(prefix="bench_api_"))
    figures: dict[str, object] = {"claims": args.claims, "workers": args.workers, "concurrency": args.concurrency}
    try:
        with ExitStack() as stack:
            t0 = time.perf_counter()
            cli(env, "init")
            cli(env, "seed", "--claims", str(args.claims), "--invalid-share", "0.05", "--seed", "1")
            print(f"seeded {args.claims:,} claims in {time.perf_counter() - t0:.1f}s", flush=True)
            key = cli(env, "apikey", "create", "--role", "auditor", "--name", "bench").strip().splitlines()[-1]

            port = free_port()
            spawn(stack, [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1",
                          "--port", str(port), "--no-access-log"], env, logs / "api.log")  # fmt: skip
            client = stack.enter_context(httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10))

            def api_up() -> bool:
                try:
                    return client.get("/openapi.json").status_code == 200
                except httpx.TransportError:
                    return False

            wait_until(api_up, "API", 60)

            t0 = time.perf_counter()
            batch_id = cli(env, "dispatch").strip().splitlines()[-1]
            print(f"dispatched batch {batch_id} in {time.perf_counter() - t0:.1f}s (no worker yet)", flush=True)
            url = f"/batch_status/{batch_id}"

            # Baseline: idle fleet, the batch queued.
            idle: list[float] = []
            for _ in range(args.idle_requests):
                t = time.perf_counter()
                response = client.get(url, headers={"X-API-Key": key})
                idle.append((time.perf_counter() - t) * 1000)
                assert response.status_code == 200, response.text
                time.sleep(args.interval)
            figures["idle_ms"] = summary(idle)
            print(f"idle     /batch_status: {figures['idle_ms']}", flush=True)

            for i in range(args.workers):
                spawn(stack, [sys.executable, "-m", "celery", "-A", "claims_tasks", "worker", "-c",
                              str(args.concurrency), "-n", f"bench{i}-{tag}@%h", "--loglevel", "WARNING",
                              "--without-gossip", "--without-mingle"], env, logs / f"worker{i}.log")  # fmt: skip

            def workers_busy() -> bool:
                doc = client.get(url, headers={"X-API-Key": key}).json()
                return doc["processed"] > 0

            wait_until(workers_busy, "workers", 120)
            started = time.monotonic()
            before = client.get(url, headers={"X-API-Key": key}).json()["processed"]
            loaded, last = poll(
                client, url, key, args.interval,
                lambda d: d["status"] == "finished" or time.monotonic() - started > args.load_seconds,
            )  # fmt: skip
            window = time.monotonic() - started
            figures["loaded_ms"] = summary(loaded)
            figures["workers_claims_per_s"] = round((last["processed"] - before) / window, 1)
            figures["load_window_s"] = round(window, 1)
            figures["batch_progress_at_end_pct"] = last["percent"]
            print(f"loaded   /batch_status: {figures['loaded_ms']}", flush=True)
            print(
                f"workers processed {last['processed'] - before:,} claims in {window:.1f}s "
                f"= {figures['workers_claims_per_s']:,} claims/s while measured; batch at {last['percent']}%",
                flush=True,
            )
            figures["worker_stage_seconds"] = stage_seconds(client, key)
            print(f"workers' time per chunk stage (s, all chunks): {figures['worker_stage_seconds']}", flush=True)
    finally:
        broker.flushdb()
        for dsn in (staging_dsn, production_dsn):
            engines.drop_database(dsn)

    loaded_p95 = figures["loaded_ms"]["p95"]  # type: ignore[index]
    idle_p95 = figures["idle_ms"]["p95"]  # type: ignore[index]
    ok = loaded_p95 <= TARGET_P95_MS
    figures["target_p95_ms"] = TARGET_P95_MS
    figures["ok"] = ok
    print(
        f"/batch_status p95: idle {idle_p95} ms, under load {loaded_p95} ms "
        f"({loaded_p95 / idle_p95:.1f}x idle); target <= {TARGET_P95_MS} ms: {'met' if ok else 'MISSED'}"
    )
    print(f"logs: {logs}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
