"""claims_tasks: a Celery fleet that moves healthcare claims from staging to production.

`app` is resolved lazily so that pure modules (rules, records) import without loading Celery;
`celery -A claims_tasks` still finds it through getattr.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from celery import Celery

    app: Celery

__all__ = ["app"]


def __getattr__(name: str) -> Any:
    if name == "app":
        from claims_tasks.celery_app import app

        return app
    raise AttributeError(f"module 'claims_tasks' has no attribute {name!r}")
