"""Errors as JSON with a category and a correlation id; nothing else of an exception reaches a client.

Every response carries `X-Correlation-ID` (the caller's, when it sent a well-formed one; otherwise a new
one). An error body repeats it, and the server log line for an unexpected error names it, so an operator
can find the traceback a client never sees.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import psycopg
import psycopg_pool
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException

from claims_tasks.errors import ClaimsError

logger = logging.getLogger(__name__)

CORRELATION_HEADER = "X-Correlation-ID"
_CORRELATION_RE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_CATEGORY_BY_STATUS = {
    400: "validation",
    401: "authentication",
    403: "authorization",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "validation",
    415: "validation",
    422: "validation",
    503: "unavailable",
}


class ApiError(Exception):
    """An error meant for the client: status, category and a message that names what and where."""

    def __init__(self, status: int, category: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, category, message)
        self.status = status
        self.category = category
        self.message = message
        self.headers = headers or {}


def correlation_id(request: Request) -> str:
    return str(getattr(request.state, "correlation_id", "") or "")


def error_response(
    request: Request,
    status: int,
    category: str,
    message: str,
    details: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    cid = correlation_id(request)
    body: dict[str, Any] = {"category": category, "message": message, "correlation_id": cid}
    if details:
        body["details"] = details
    return JSONResponse(body, status_code=status, headers={**(headers or {}), CORRELATION_HEADER: cid})


def _shown(text: object, limit: int = 40) -> str:
    """A client-supplied name (a key, a path) as it may appear in a message: printable and short."""
    value = "".join(ch if ch.isprintable() else "?" for ch in str(text))
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(_shown(part) for part in loc)


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(request, exc.status, exc.category, exc.message, headers=exc.headers)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    category = _CATEGORY_BY_STATUS.get(exc.status_code, "client_error" if exc.status_code < 500 else "internal")
    message = exc.detail if isinstance(exc.detail, str) else "request refused"
    if exc.status_code == 400 and message == "There was an error parsing the body":
        message = "invalid request: the body is not UTF-8 JSON"
    elif exc.status_code == 404 and message == "Not Found":
        message = f"no route {_shown(request.url.path, 100)!r}"
    elif exc.status_code == 405:
        message = f"method {_shown(request.method, 10)} is not allowed on {_shown(request.url.path, 100)!r}"
    return error_response(request, exc.status_code, category, message, headers=dict(exc.headers or {}))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Messages and locations only: the offending value may be patient data, so it is never echoed.
    details = [{"location": _location(e.get("loc", ())), "message": str(e.get("msg", ""))} for e in exc.errors()]
    summary = "; ".join(f"{d['location']}: {d['message']}" for d in details[:3])
    more = f" (and {len(details) - 3} more)" if len(details) > 3 else ""
    return error_response(request, 422, "validation", f"invalid request: {summary}{more}", details)


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, ClaimsError):
        message = str(exc)
    elif isinstance(exc, psycopg_pool.PoolTimeout):
        message = "no database connection available in time; try again"
    else:
        message = "database unavailable; try again"
    logger.warning("correlation_id=%s unavailable: %s", correlation_id(request), exc)
    return error_response(request, 503, "unavailable", message, headers={"Retry-After": "5"})


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ClaimsError, _unavailable)
    app.add_exception_handler(psycopg_pool.PoolTimeout, _unavailable)
    app.add_exception_handler(psycopg.OperationalError, _unavailable)


class CorrelationMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware: it costs a task per request and breaks streaming).

    Gives each request a correlation id, adds it to the response headers, reports each request's duration
    to `observe(route, method, status, seconds)`, and turns any exception no handler caught into a JSON
    500 that names the correlation id and nothing else.
    """

    def __init__(self, app: ASGIApp, observe: Callable[[str, str, int, float], None] | None = None) -> None:
        self.app = app
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = ""
        for name, value in scope.get("headers", ()):
            if name == b"x-correlation-id":
                incoming = value.decode("latin-1")
                break
        cid = incoming if _CORRELATION_RE.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["correlation_id"] = cid
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = int(message["status"])
                headers = MutableHeaders(scope=message)
                if CORRELATION_HEADER not in headers:
                    headers.append(CORRELATION_HEADER, cid)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            logger.exception("correlation_id=%s unhandled error on %s %s", cid, scope["method"], scope["path"])
            if response_started:
                raise
            response = JSONResponse(
                {"category": "internal", "message": f"internal error; quote correlation id {cid}",
                 "correlation_id": cid},
                status_code=500,
                headers={CORRELATION_HEADER: cid},
            )  # fmt: skip
            await response(scope, receive, send)
            status = 500
        finally:
            if self.observe is not None:
                route = scope.get("route")
                template = getattr(route, "path", None) or "unmatched"
                self.observe(template, scope["method"], status, time.perf_counter() - started)
