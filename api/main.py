"""The REST API and operators' page: `uvicorn api.main:app`.

Settings are read here, at the entry point (claims_tasks.config.get_settings), when the app starts; the
routes get them, the pools and the cipher through api.deps. OpenAPI at /docs and /openapi.json.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from api import resources
from api.deps import reject_unknown_query
from api.errors import CorrelationMiddleware, install_handlers
from api.routes import analytics, batches, claims, failed_claims, health, keys, metrics, review, status, ui
from claims_tasks import logs
from claims_tasks.config import Settings, get_settings

DESCRIPTION = """
Batches, fleet status, failed claims and metrics of the claims_tasks fleet.

Every route but `/health` needs an `X-API-Key` header (create keys with
`claims-tasks apikey create --role auditor|user|admin`). Errors are JSON with a `category`, a `message`
and a `correlation_id`, which is also sent as the `X-Correlation-ID` header.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app; `settings` for tests and embedding, otherwise read from the environment at startup."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not logging.getLogger().handlers:
            logs.configure("INFO")
        res = resources.build(settings or get_settings())
        await res.open()
        app.state.resources = res
        try:
            yield
        finally:
            app.state.resources = None
            await res.close()

    app = FastAPI(
        title="claims_tasks",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        dependencies=[Depends(reject_unknown_query)],
    )
    app.state.resources = None
    install_handlers(app)

    def observe(route: str, method: str, status_code: int, seconds: float) -> None:
        res = app.state.resources
        if res is not None:
            res.telemetry.observe_request(route, method, status_code, seconds)

    app.add_middleware(CorrelationMiddleware, observe=observe)
    health.add_to(app)
    for module in (batches, status, failed_claims, review, claims, metrics, keys, analytics, ui):
        app.include_router(module.router)
    return app


app = create_app()
