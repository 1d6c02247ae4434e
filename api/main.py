"""The REST API: `uvicorn api.main:app`. For now the health check; the operators' endpoints come with
the API issue."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from claims_tasks.broker import check_broker
from claims_tasks.config import get_settings
from claims_tasks.errors import ClaimsError
from db import engines

app = FastAPI(title="claims_tasks", version="0.1.0")


@app.get("/health")
def health() -> JSONResponse:
    """PostgreSQL on both sides and the broker; 503 naming what is down."""
    settings = get_settings()
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
    healthy = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ok" if healthy else "degraded", "checks": checks}, status_code=200 if healthy else 503
    )
