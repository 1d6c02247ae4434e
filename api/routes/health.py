"""GET /health, the one route without a key: for load balancers and container health checks."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from api.deps import ResourcesDep
from api.schemas import HealthStatus, error_responses
from claims_tasks.broker import check_broker
from claims_tasks.errors import ClaimsError
from db import engines


def add_to(app: FastAPI) -> None:
    """Declared on the app itself, not through a router: FastAPI >= 0.160 keeps an included router's routes
    inside it, and container checks (tests/test_compose.py) look for /health among `app.routes`."""
    app.add_api_route(
        "/health",
        health,
        methods=["GET"],
        tags=["health"],
        response_model=HealthStatus,
        responses={503: {"model": HealthStatus, "description": "A database or the broker is down."},
                   **error_responses(500)},
    )  # fmt: skip


def health(res: ResourcesDep) -> JSONResponse:
    """PostgreSQL on both sides, the broker, and the workers. 503 when the API cannot serve (a database or
    the broker is down); 200 with status `degraded` when it can but no worker answers the census."""
    settings = res.settings
    checks: dict[str, str] = {}
    for role, dsn in (("staging", settings.staging_dsn), ("production", settings.production_dsn)):
        try:
            with engines.connection(dsn, role) as conn:
                conn.execute("SELECT 1")
            checks[role] = "ok"
        except ClaimsError as exc:
            checks[role] = str(exc)
    try:
        check_broker(settings.broker_url)
        checks["broker"] = "ok"
    except ClaimsError as exc:
        checks["broker"] = str(exc)
    serving = all(v == "ok" for v in checks.values())
    workers = 0
    if checks["broker"] == "ok":
        census = res.census.census()
        workers = len(census.workers)
        checks["workers"] = f"ok: {workers} answering" if workers else (census.error or "none answering")
    else:
        checks["workers"] = "unknown: broker down"
    state = "down" if not serving else ("ok" if workers else "degraded")
    body = HealthStatus(status=state, checks=checks, workers=workers)
    return JSONResponse(body.model_dump(), status_code=200 if serving else 503)
