"""`celery -A claims_tasks flower` for real: basic auth from FLOWER_BASIC_AUTH, queue lengths over kombu's
priority lists (Flower must read the same priority_steps and sep as the workers, from
broker_transport_options), and the tasks a real worker ran, seen through task events."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import redis

from claims_tasks.broker import PRIORITY_SEP, queue_depths
from claims_tasks.config import Settings
from claims_tasks.sharding import shard_queue, shard_queues
from claims_tasks.tasks import run_dispatch
from db.seed import seed_claims
from tests.api.servers import ROOT, flower_server, free_port
from tests.workers import WorkerProcess, wait_for_batch

pytestmark = pytest.mark.slow

AUTH = ("ops", "flower-test-pass")


def test_flower_shows_queue_lengths_and_the_workers_tasks(clean: Settings, tmp_path: Path) -> None:
    # Imported here, not at module level: pytest inspects module attributes at collection, and touching a
    # task proxy then would configure Celery before the test environment exists (the default broker).
    from claims_tasks.tasks import process_chunk

    flower = flower_server(tmp_path / "flower.log", ":".join(AUTH))
    worker: WorkerProcess | None = None
    try:
        assert httpx.get(f"{flower.base_url}/api/tasks", timeout=5).status_code == 401
        assert httpx.get(f"{flower.base_url}/api/tasks", auth=("ops", "wrong"), timeout=5).status_code == 401

        seed_claims(clean.staging_dsn, 2_500, facilities=10, invalid_share=0.0, seed=4)
        result = run_dispatch()
        assert result is not None
        # One more message at priority 9: it lands in the list "claims.shard.0:9", which Flower counts only
        # if it uses the workers' separator and steps. (An empty chunk: the worker processes it, writes nothing.)
        process_chunk.apply_async(args=("b-flower-probe", 0, []), queue=shard_queue(0), priority=9)
        assert redis.Redis.from_url(clean.broker_url).llen(f"{shard_queue(0)}{PRIORITY_SEP}9") == 1
        chunks = result.chunks + 1

        # No worker yet: every chunk waits, in the priority lists kombu keeps per queue ("<queue>:<step>").
        lengths = httpx.get(f"{flower.base_url}/api/queues/length", auth=AUTH, timeout=10).json()
        shown = {q["name"]: q["messages"] for q in lengths["active_queues"]}
        shards = shard_queues(clean.shards)
        assert sum(shown[q] for q in shards) == chunks
        assert {q: shown[q] for q in shards} == queue_depths(clean.broker_url, shards)

        worker = WorkerProcess(tmp_path / "worker.log", name="flower")
        worker.wait_ready()
        wait_for_batch(clean.staging_dsn, result.batch_id, timeout=120)

        deadline = time.monotonic() + 30
        while True:
            tasks = httpx.get(
                f"{flower.base_url}/api/tasks",
                params={"taskname": "claims_tasks.process_chunk", "state": "SUCCESS"},
                auth=AUTH,
                timeout=10,
            ).json()
            if len(tasks) >= chunks or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert len(tasks) == chunks
        assert sum(result.batch_id in t["args"] for t in tasks.values()) == result.chunks
        assert all(t["worker"].startswith("flower-") for t in tasks.values())

        drained = httpx.get(f"{flower.base_url}/api/queues/length", auth=AUTH, timeout=10).json()
        assert all(q["messages"] == 0 for q in drained["active_queues"] if q["name"] in shards)
        assert set(shards) <= {q["name"] for q in drained["active_queues"]}
    finally:
        if worker is not None:
            worker.stop()
        flower.stop()


def test_flower_refuses_to_start_without_a_login(test_env: dict[str, str]) -> None:
    env = {k: v for k, v in os.environ.items() if k != "FLOWER_BASIC_AUTH"}
    done = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "claims_tasks", "flower", f"--port={free_port()}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "set FLOWER_BASIC_AUTH=user:password" in done.stderr
