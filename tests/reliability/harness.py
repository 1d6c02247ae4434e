"""What the fault-injection tests share: real processes (beat, a private redis-server), the faults
themselves (kill a process tree, close a database to connections), and the tally every test ends with.

The tally is independent of the ledger code it checks: it reads claim ids from both databases and counts
in Python what was lost (seeded, but in neither production table) and what was duplicated (a claim with
two outcomes), so a bug in `db.ledger.reconcile` cannot hide one.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from db import engines
from tests.workers import ROOT, WorkerProcess

# Scale knob for development on a shared machine: CLAIMS_RELIABILITY_SCALE=0.1 runs every fault on a tenth
# of its claims. CI runs at 1.
SCALE = float(os.environ.get("CLAIMS_RELIABILITY_SCALE", "1"))


def scaled(claims: int, floor: int = 2_000) -> int:
    return max(floor, int(claims * SCALE))


# ---------------------------------------------------------------- processes


def children(pid: int) -> list[int]:
    """Every descendant of pid (prefork pool processes), read from /proc."""
    by_parent: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces; the parent pid is the 2nd field after it.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        by_parent.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        kids = by_parent.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def kill_tree(proc: subprocess.Popen[bytes]) -> list[int]:
    """SIGKILL a process and all its descendants at once, as when a machine or container dies: nothing
    gets to finish its chunk or give its messages back. Returns the pids killed."""
    pids = [proc.pid, *children(proc.pid)]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() and _state(pid) != "Z" for pid in pids[1:]):
        assert time.monotonic() < deadline, "killed pool processes did not go away"
        time.sleep(0.05)
    return pids


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "X"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class BeatProcess:
    """A real `celery beat` in a subprocess; its schedule file lives under the test's tmp_path."""

    def __init__(self, tmp_path: Path, name: str = "beat", extra_env: dict[str, str] | None = None) -> None:
        self.log = tmp_path / f"{name}.log"
        self._sink = self.log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "claims_tasks", "beat", "--loglevel", "INFO",
             "--schedule", str(tmp_path / f"{name}-schedule")],
            cwd=ROOT, stdout=self._sink, stderr=subprocess.STDOUT, env={**os.environ, **(extra_env or {})},
        )  # fmt: skip

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._sink.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A private redis-server that keeps nothing on disk (no RDB, no AOF): restarting it loses every queued
    and unacknowledged message, the worst case for a broker restart."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir), "--logfile", str(self.dir / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )  # fmt: skip
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                assert time.monotonic() < deadline, (self.dir / "redis.log").read_text()
                time.sleep(0.05)

    def kill(self) -> None:
        """Gone at once: a crash or an OOM kill, nothing flushed."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self, down_for: float = 2.0) -> None:
        self.kill()
        time.sleep(down_for)
        self.start()
        self.restarts += 1

    def stop(self) -> None:
        self.kill()


# ---------------------------------------------------------------- databases


def allow_connections(dsn: str, allow: bool) -> None:
    """Open or close a database to new connections; closing also ends the ones it has, the way an outage
    or a failover does. (As in tests/failures/test_worker_paths.py.)"""
    name = engines.database_name(dsn)
    with psycopg.connect(engines.with_database(dsn, "postgres"), autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS {str(allow).lower()}')
        if not allow:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )


@contextmanager
def database_timezone(dsn: str, zone: str) -> Iterator[None]:
    """New sessions of this database default to another time zone, as on a server not set to UTC."""
    name = engines.database_name(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" SET timezone = {_literal(zone)}')
        try:
            yield
        finally:
            conn.execute(f'ALTER DATABASE "{name}" RESET timezone')


def _literal(text: str) -> str:
    assert "'" not in text
    return f"'{text}'"


# ---------------------------------------------------------------- waiting and counting


def progress(staging_dsn: str) -> tuple[int, int]:
    """(claims with an outcome, claims that entered the pipeline), over the whole ledger."""
    with psycopg.connect(staging_dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE status NOT IN ('new', 'queued')), count(*) FILTER (WHERE status <> 'new')"
            " FROM staging.claims"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def wait_until(what: str, check: Callable[[], bool], timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-4000:] if log and log.exists() else ""
            raise TimeoutError(f"{what} not reached after {timeout}s\n{tail}")
        time.sleep(0.1)


def wait_for_progress(staging_dsn: str, at_least: int, timeout: float = 120, log: Path | None = None) -> None:
    wait_until(f"{at_least} claims processed", lambda: progress(staging_dsn)[0] >= at_least, timeout, log)


@dataclass(frozen=True)
class Tally:
    claims: int
    lost: int
    duplicated: int
    done: int
    failed: int


def tally(staging_dsn: str, production_dsn: str) -> Tally:
    """Every claim in staging against both production tables, counted here rather than by reconcile."""
    with psycopg.connect(staging_dsn, autocommit=True) as s, psycopg.connect(production_dsn, autocommit=True) as p:
        seeded = {cid for (cid,) in s.execute("SELECT claim_id FROM staging.claims")}
        written = [cid for (cid,) in p.execute("SELECT claim_id FROM claims")]
        failed = [cid for (cid,) in p.execute("SELECT claim_id FROM failed_claims WHERE status <> 'repaired'")]
        extra_lines = p.execute(
            "SELECT count(*) FROM (SELECT claim_id, line_number FROM claim_lines GROUP BY 1, 2 HAVING count(*) > 1) x"
        ).fetchone()
    outcomes: dict[str, int] = {}
    for cid in (*written, *failed):
        outcomes[cid] = outcomes.get(cid, 0) + 1
    lost = len(seeded - outcomes.keys())
    duplicated = sum(1 for n in outcomes.values() if n > 1) + (extra_lines[0] if extra_lines else 0)
    return Tally(claims=len(seeded), lost=lost, duplicated=duplicated, done=len(written), failed=len(set(failed)))


def start_worker(tmp_path: Path, name: str, env: dict[str, str], concurrency: int = 2) -> WorkerProcess:
    worker = WorkerProcess(tmp_path / f"{name}.log", concurrency=concurrency, name=name, extra_env=env)
    worker.wait_ready()
    return worker


def pool_pids(worker: WorkerProcess, concurrency: int = 2) -> list[int]:
    """The worker's pool processes, once all are forked (\"ready\" may be logged before the last one is)."""
    wait_until("the pool forked", lambda: len(children(worker.proc.pid)) >= concurrency, 20, worker.log)
    return sorted(children(worker.proc.pid))
