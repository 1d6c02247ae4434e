"""Real servers in subprocesses for the API tests (uvicorn, Flower, each on a free port), and the module-level
set-up of a processed batch."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import redis

from claims_tasks.broker import queue_depths
from claims_tasks.celery_app import app as celery_app
from claims_tasks.config import Settings
from tests.workers import wait_for_batch

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """A child process serving HTTP on 127.0.0.1:<port>, its output in a log file."""

    def __init__(self, argv: list[str], port: int, log: Path, env: dict[str, str] | None = None) -> None:
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.log = log
        self._sink = log.open("wb")
        self.proc = subprocess.Popen(
            argv, cwd=ROOT, stdout=self._sink, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )

    def wait_ready(self, path: str, timeout: float = 60, **kwargs: object) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited ({self.proc.returncode}):\n{self.log.read_text()}")
            try:
                httpx.get(self.base_url + path, timeout=2, **kwargs)  # type: ignore[arg-type]
                return
            except httpx.TransportError:
                time.sleep(0.2)
        raise TimeoutError(f"server not ready after {timeout}s:\n{self.log.read_text()}")

    def stop(self, timeout: float = 20) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._sink.close()


def api_server(log: Path, env: dict[str, str] | None = None) -> ServerProcess:
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "api.main:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
    ]
    server = ServerProcess(argv, port, log, env)
    server.wait_ready("/health")
    return server


def flower_server(log: Path, basic_auth: str) -> ServerProcess:
    port = free_port()
    argv = [sys.executable, "-m", "celery", "-A", "claims_tasks", "flower", f"--port={port}", "--address=127.0.0.1"]
    server = ServerProcess(argv, port, log, {"FLOWER_BASIC_AUTH": basic_auth})
    server.wait_ready("/healthcheck")
    return server


def truncate_everything(settings: Settings) -> None:
    """What `clean` does, for module-scoped fixtures (one seeded batch shared by a module's tests)."""
    with psycopg.connect(settings.staging_dsn, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE staging.claims, staging.claim_lines, staging.claim_diagnoses, staging.seed_defects,"
            " staging.batches"
        )
    with psycopg.connect(settings.production_dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE claims, claim_lines, claim_diagnoses, failed_claims, phi_reads")
    redis.Redis.from_url(settings.broker_url).flushdb()


def wait_until_idle(settings: Settings, batch_id: str, timeout: float = 120) -> None:
    """The batch finished and every queue drained (repairs of failed claims run after it, on claims.retry)."""
    wait_for_batch(settings.staging_dsn, batch_id, timeout=timeout)
    client = redis.Redis.from_url(settings.broker_url)
    queues = [q.name for q in celery_app.conf.task_queues or ()]
    deadline = time.monotonic() + timeout
    while sum(queue_depths(settings.broker_url, queues).values()) or client.hlen("unacked"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"queues not drained: {queue_depths(settings.broker_url, queues)}")
        time.sleep(0.3)
    time.sleep(1.0)  # the last chunk's metrics are flushed just after its commit
