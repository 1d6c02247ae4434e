"""The Celery application: `celery -A claims_tasks worker|beat|flower` finds it as claims_tasks.app."""

from __future__ import annotations

from celery import Celery

app = Celery("claims_tasks", include=["claims_tasks.tasks", "claims_tasks.lifecycle_tasks"])
app.config_from_object("celeryconfig")

# CLAIMS_WORKER_QUEUES: a worker started without -Q consumes the queues it names (connected here, before
# any worker sets up).
from claims_tasks import worker_queues  # noqa: E402, F401
