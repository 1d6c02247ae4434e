"""The real fleet for benchmarks: scratch databases, a private Redis database, `celery worker` processes,
and what the benchmark reads back (worker peak RSS, the workers' own stage timers and chunk latencies).

Nothing here is a mock: the worker is the `celery -A claims_tasks worker` an operator runs, pointed at
databases this module creates (names start with `bench_`) and drops again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[1]
PG = os.environ.get("CLAIMS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
# A Redis database the benchmark may flush; tests use their own (CLAIMS_TEST_REDIS).
REDIS = os.environ.get("CLAIMS_BENCH_REDIS", "redis://127.0.0.1:6379/12")


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


@dataclass
class Scratch:
    """Database names and settings of one benchmark run (environment variables, as workers read them)."""

    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    redis_url: str = REDIS
    extra_production: list[str] = field(default_factory=list)

    def dsn(self, role: str) -> str:
        return f"{PG}/bench_{self.tag}_{role}"

    @property
    def staging_dsn(self) -> str:
        return self.dsn("staging")

    @property
    def production_dsn(self) -> str:
        return self.dsn("production")

    def production_shard(self, i: int) -> str:
        return self.production_dsn if i == 0 else self.dsn(f"production{i}")


@contextmanager
def scratch_databases(scratch: Scratch, shards: int, model_path: Path) -> Iterator[Scratch]:
    """Staging and `shards` production databases, migrated, reference data loaded; dropped afterwards."""
    from claims_tasks.config import load_settings
    from db import engines, reference
    from db.production_reference import sync_production_reference

    dsns = [scratch.staging_dsn, *(scratch.production_shard(i) for i in range(shards))]
    try:
        for i, dsn in enumerate(dsns):
            role = "staging" if i == 0 else "production"
            engines.ensure_database(dsn, role)
            engines.migrate(dsn, role)
        with engines.connection(scratch.staging_dsn, "staging") as conn:
            reference.load_reference(conn)
            conn.commit()
            sync_production_reference(conn, scratch.production_dsn)  # what the workers' rules check
            conn.commit()
        load_settings()  # fail early, with one line, on a bad environment
        yield scratch
    finally:
        for dsn in dsns:
            engines.drop_database(dsn)


def flush_redis(url: str) -> None:
    redis.Redis.from_url(url).flushdb()


def checkpoint() -> None:
    """Write out what earlier phases (seeding, the previous run) left dirty, so that a timed phase does not
    pay for another's writes."""
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def warm_processes(url: str) -> int:
    """Pool processes whose warm-up finished since the Redis database was last flushed."""
    from claims_tasks.metrics import METRICS_KEY

    total = 0.0
    for key, value in redis.Redis.from_url(url).hgetall(METRICS_KEY).items():
        if key.decode().startswith("pool_process_warmups|"):
            total += float(value)
    return int(total)


class Worker:
    """`celery -A claims_tasks worker -c N` as a subprocess; its log goes to a file."""

    def __init__(self, log: Path, concurrency: int, queues: list[str], env: dict[str, str], include: str = "") -> None:
        argv = [sys.executable, "-m", "celery", "-A", "claims_tasks", "worker", "-c", str(concurrency),
                "-n", f"bench-{uuid.uuid4().hex[:6]}@%h", "--loglevel", "WARNING", "--without-gossip",
                "--without-mingle", "-Q", ",".join(queues)]  # fmt: skip
        if include:
            argv += ["--include", include]
        log.parent.mkdir(parents=True, exist_ok=True)
        self.log = log
        self._sink = log.open("wb")
        self.proc = subprocess.Popen(argv, cwd=ROOT, stdout=self._sink, stderr=subprocess.STDOUT,
                                     env={**os.environ, **env})  # fmt: skip
        self.concurrency = concurrency
        self.redis_url = env.get("CLAIMS_BROKER_URL", REDIS)
        self.warmup_seconds = 0.0

    def wait_ready(self, timeout: float = 120) -> None:
        """Ready when every pool process exists and has finished its warm-up (pools opened, reference data
        and prices loaded: claims_tasks/warmup.py, counted in the fleet's metrics), so that a run's clock
        measures the work, not a process starting: a fleet runs for a night, not for one benchmark."""
        started = time.monotonic()
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited ({self.proc.returncode}):\n{self.log.read_text()[-3000:]}")
            if len(children(self.proc.pid)) >= self.concurrency and warm_processes(self.redis_url) >= self.concurrency:
                self.warmup_seconds = time.monotonic() - started
                return
            time.sleep(0.2)
        raise TimeoutError(f"worker not ready after {timeout}s:\n{self.log.read_text()[-3000:]}")

    def peak_rss_mb(self) -> dict[str, float]:
        """VmHWM (peak resident set) of the main process and of each pool process, in MB."""
        out = {"main": _hwm_mb(self.proc.pid)}
        for i, pid in enumerate(children(self.proc.pid)):
            out[f"pool{i}"] = _hwm_mb(pid)
        return out

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by the main process and by the pool processes together."""
        return {"main": cpu_seconds(self.proc.pid), "pool": sum(cpu_seconds(p) for p in children(self.proc.pid))}

    def stop(self, timeout: float = 30) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._sink.close()


@contextmanager
def running_worker(
    log: Path, concurrency: int, queues: list[str], env: dict[str, str], include: str = ""
) -> Iterator[Worker]:
    worker = Worker(log, concurrency, queues, env, include)
    try:
        worker.wait_ready()
        checkpoint()
        yield worker
    finally:
        worker.stop()


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backend_pids(admin_dsn: str, databases: list[str]) -> list[int]:
    """PostgreSQL backends serving these databases now (the workers' pooled connections)."""
    import psycopg

    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = ANY(%s)", (databases,)).fetchall()
    return [r[0] for r in rows]


def _hwm_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[rank]
