"""Celery settings, loaded by name (`config_from_object("celeryconfig")`) and derived from Settings only."""

from __future__ import annotations

from kombu import Queue

from claims_tasks.broker import PRIORITY_SEP, PRIORITY_STEPS, restore_interval
from claims_tasks.config import get_settings
from claims_tasks.errors import ConfigError
from claims_tasks.sharding import DEAD_LETTER_QUEUE, DISPATCH_QUEUE, RETRY_QUEUE, shard_queues

try:
    _settings = get_settings()
except ConfigError as exc:
    raise SystemExit(f"claims_tasks: {exc}") from None

broker_url = _settings.broker_url
broker_connection_retry_on_startup = True
broker_transport_options = {
    # Unacked chunks come back after this; it must exceed the longest chunk's run time.
    "visibility_timeout": _settings.visibility_timeout,
    # ... and are looked for this often (kombu's default is ~100 s whatever the timeout; see broker.py).
    "unacked_restore_interval": restore_interval(_settings.visibility_timeout),
    "unacked_restore_throttle": 1,
    # Redis has no native priorities: kombu keeps one list per step. 0 is served first.
    "queue_order_strategy": "priority",
    "priority_steps": list(PRIORITY_STEPS),
    "sep": PRIORITY_SEP,
}

task_queues = [
    Queue(DISPATCH_QUEUE),
    *(Queue(name) for name in shard_queues(_settings.shards)),
    Queue(RETRY_QUEUE),
    Queue(DEAD_LETTER_QUEUE),
]
task_default_queue = DISPATCH_QUEUE
task_routes = {
    "claims_tasks.dispatch": {"queue": DISPATCH_QUEUE},
    "claims_tasks.sweep": {"queue": DISPATCH_QUEUE},
    "claims_tasks.refresh_analytics": {"queue": DISPATCH_QUEUE},
    "claims_tasks.ensure_partitions": {"queue": DISPATCH_QUEUE},
    "claims_tasks.repair_claims": {"queue": RETRY_QUEUE},
    "claims_tasks.record_dead_letter": {"queue": DEAD_LETTER_QUEUE},
}
# A message without a priority would land in the top (0) list; ordinary work goes in the middle, so that
# high-value chunks and repairs (0) overtake it.
task_default_priority = 6

task_serializer = "json"
accept_content = ["json"]
# Chunk tasks report through the databases (batches, ledger), not a result backend.
task_ignore_result = True
result_backend = None

# A chunk is acknowledged only after its outcomes are written; a worker lost mid-chunk gives it back.
task_acks_late = True
task_reject_on_worker_lost = True
# One chunk in hand per process: chunks are large, and a prefetched chunk is stuck if its worker dies.
worker_prefetch_multiplier = _settings.worker_prefetch_multiplier
worker_max_tasks_per_child = 10_000
# KiB; a child past this is replaced after its current chunk. A pool process works at ~290-330 MB (model,
# reference tables, polars and allocator arenas at their chunk size), so the limit sits well above that:
# it is there to replace a leaking child, not a working one (tests/reliability/test_memory.py).
worker_max_memory_per_child = 512_000

# Task events, so Flower sees workers and tasks.
worker_send_task_events = True
task_send_sent_event = True

timezone = "UTC"
beat_schedule = {
    "sweep-lost-work": {
        "task": "claims_tasks.sweep",
        "schedule": _settings.sweep_interval,
        "options": {"expires": _settings.sweep_interval},
    },
    "dispatch-new-claims": {
        "task": "claims_tasks.dispatch",
        "schedule": _settings.dispatch_interval,
        # A dispatch message that waited longer than one interval is stale: the next one does its work.
        "options": {"expires": _settings.dispatch_interval},
    },
    # Data lifecycle (issue 9): analytics views refreshed concurrently; yearly partitions made ahead.
    "refresh-analytics": {
        "task": "claims_tasks.refresh_analytics",
        "schedule": _settings.analytics_refresh_interval,
        "options": {"expires": _settings.analytics_refresh_interval},
    },
    "ensure-partitions": {
        "task": "claims_tasks.ensure_partitions",
        "schedule": 6 * 3600.0,
        "options": {"expires": 3600.0},
    },
}
