"""/analytics/...: any key reads the aggregates; they answer what db/analytics.py answers."""

from __future__ import annotations

from datetime import date

import psycopg
from fastapi.testclient import TestClient

from api.main import create_app
from claims_tasks.config import Settings
from db import analytics
from tests.lifecycle.conftest import Processed
from tests.lifecycle.conftest import processed as processed  # the fixture


def _refresh(settings: Settings) -> None:
    with psycopg.connect(settings.production_dsn, autocommit=True) as conn:
        assert analytics.refresh(conn) is not None


def test_analytics_routes_answer_what_the_queries_answer(
    clean: Settings, api_keys: dict[str, str], processed: Processed
) -> None:
    _refresh(clean)
    headers = {"X-API-Key": api_keys["auditor"]}
    with TestClient(create_app(clean), raise_server_exceptions=False) as client:
        risk = client.get("/analytics/revenue_at_risk", headers=headers)
        patterns = client.get("/analytics/failure_patterns?order_by=revenue&limit=5", headers=headers)
        trend = client.get("/analytics/trends?days=7&window=3&per_facility=true", headers=headers)
        shards = client.get("/analytics/throughput?hours=3", headers=headers)
        refused = client.get("/analytics/trends?days=0", headers=headers)
        anonymous = client.get("/analytics/revenue_at_risk")
    assert [r.status_code for r in (risk, patterns, trend, shards, refused, anonymous)] == [200] * 4 + [422, 401]
    assert risk.json()["failures"] == processed.failed
    assert len(patterns.json()["items"]) <= 5 and patterns.json()["order_by"] == "revenue"
    today = [p for p in trend.json()["points"] if p["day"] == date.today().isoformat()]
    assert sum(p["processed"] for p in today) == processed.done
    assert sum(t["outcomes"] for t in shards.json()["totals"]) == processed.done + processed.failed
