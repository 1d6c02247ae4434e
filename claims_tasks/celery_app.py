"""The Celery application: `celery -A claims_tasks worker|beat|flower` finds it as claims_tasks.app."""

from __future__ import annotations

from celery import Celery

app = Celery("claims_tasks", include=["claims_tasks.tasks"])
app.config_from_object("celeryconfig")
