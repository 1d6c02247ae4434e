"""A real `celery worker` in a subprocess, on the test databases and Redis database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]


class WorkerProcess:
    def __init__(
        self,
        log: Path,
        concurrency: int = 2,
        queues: list[str] | None = None,
        name: str = "test",
        extra_env: dict[str, str] | None = None,
    ) -> None:
        argv = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "claims_tasks",
            "worker",
            "-c",
            str(concurrency),
            "-n",
            f"{name}-{os.getpid()}@%h",
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
        ]
        if queues:
            argv += ["-Q", ",".join(queues)]
        self.log = log
        self.concurrency = concurrency
        self._sink = log.open("wb")
        self.proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            stdout=self._sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(extra_env or {})},
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited ({self.proc.returncode}):\n{self.log.read_text()}")
            if b" ready." in self.log.read_bytes():
                return
            time.sleep(0.2)
        raise TimeoutError(f"worker not ready after {timeout}s:\n{self.log.read_text()}")

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
def ready_worker(log: Path, **kwargs: Any) -> Iterator[WorkerProcess]:
    """A worker (WorkerProcess's arguments) that is ready to take chunks; stopped on the way out."""
    proc = WorkerProcess(log, **kwargs)
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


def wait_for_ledger(staging_dsn: str, production_dsn: str, batch_id: str | None = None, timeout: float = 120) -> Any:
    """Poll reconcile until ok (nothing in flight, consistent); returns the report."""
    from db.ledger import reconcile

    deadline = time.monotonic() + timeout
    while True:
        report = reconcile(staging_dsn, production_dsn, batch_id)
        if report.ok:
            return report
        if time.monotonic() > deadline:
            raise TimeoutError(f"ledger not ok: {report.as_dict()}\n{_stuck_repairs(staging_dsn, production_dsn)}")
        time.sleep(0.5)


def _stuck_repairs(staging_dsn: str, production_dsn: str) -> str:
    """What a timed-out ledger wait was waiting for: the failed claims' repair rows, oldest first."""
    with psycopg.connect(staging_dsn) as sconn, psycopg.connect(production_dsn) as pconn:
        failed = [cid for (cid,) in sconn.execute("SELECT claim_id FROM staging.claims WHERE status = 'failed'")]
        rows = pconn.execute(
            "SELECT claim_id, status, attempts, now() - updated_at, now() - created_at,"
            " EXISTS (SELECT 1 FROM claims p WHERE p.claim_id = f.claim_id)"
            " FROM failed_claims f WHERE claim_id = ANY(%s) AND status IN ('retrying', 'repaired')"
            " ORDER BY updated_at LIMIT 10",
            (failed,),
        ).fetchall()
    return (
        "failed in staging, still in repair (claim, status, attempts, since update, age, in production):\n"
        + "\n".join(map(str, rows))
    )


def wait_for_batch(staging_dsn: str, batch_id: str, timeout: float = 180) -> tuple[int, int, int, int]:
    """Poll the batch row until finished; returns (total, done, failed, review)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(staging_dsn, autocommit=True) as conn:
        while True:
            row = conn.execute(
                "SELECT status, total, done, failed, review FROM staging.batches WHERE batch_id = %s",
                (batch_id,),
            ).fetchone()
            if row and row[0] == "finished":
                return row[1], row[2], row[3], row[4]
            if time.monotonic() > deadline:
                raise TimeoutError(f"batch {batch_id} not finished: {row}")
            time.sleep(0.25)
