"""Dependencies: the process's resources, the caller's identity (X-API-Key) and what their role allows.

The role is read from the key's row in the production database, never from anything the request says.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from api.errors import ApiError
from api.resources import ApiResources
from db import apikeys

API_KEY_HEADER = "X-API-Key"

_api_key = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description="A key from `claims-tasks apikey create --role auditor|user|admin`.",
)


@dataclass(frozen=True)
class Principal:
    key_id: int
    name: str
    role: str

    @property
    def actor(self) -> str:
        """How audit rows name this caller."""
        return f"apikey:{self.key_id}:{self.name}"


async def get_resources(request: Request) -> ApiResources:
    resources: ApiResources | None = getattr(request.app.state, "resources", None)
    if resources is None:
        raise ApiError(503, "unavailable", "the API is starting or stopping; try again")
    return resources


ResourcesDep = Annotated[ApiResources, Depends(get_resources)]


async def authenticate(
    request: Request, res: ResourcesDep, secret: Annotated[str | None, Security(_api_key)]
) -> Principal:
    challenge = {"WWW-Authenticate": f'ApiKey header="{API_KEY_HEADER}"'}
    if not secret:
        raise ApiError(401, "authentication", f"missing {API_KEY_HEADER} header", challenge)
    with res.telemetry.timed("api_key"):
        async with res.production_async.connection() as conn:
            key = await apikeys.find_active_key_async(conn, secret)
    if key is None:
        raise ApiError(401, "authentication", f"{API_KEY_HEADER} is not a valid, active key", challenge)
    principal = Principal(key_id=key.id, name=key.name, role=key.role)
    request.state.principal = principal
    return principal


ApiKeyDep = Annotated[Principal, Depends(authenticate)]


def require_role(*roles: str) -> Any:
    """A dependency that lets only these roles through (403 for the others)."""
    allowed = frozenset(roles)
    unknown = allowed - set(apikeys.ROLES)
    if unknown:
        raise ValueError(f"unknown role(s) {sorted(unknown)}")

    async def check(principal: ApiKeyDep) -> Principal:
        if principal.role not in allowed:
            raise ApiError(
                403,
                "authorization",
                f"role {principal.role!r} may not do this; it needs one of: {', '.join(sorted(allowed))}",
            )
        return principal

    check.__name__ = f"require_{'_or_'.join(sorted(allowed))}"
    return Depends(check)


# Working claims (review actions, amendments): user and admin. (Who sees patient data: api.phi.)
ReviewerDep = Annotated[Principal, require_role("user", "admin")]
AdminDep = Annotated[Principal, require_role("admin")]


def _documented_query_params(request: Request) -> dict[tuple[str, str], frozenset[str]]:
    cached: dict[tuple[str, str], frozenset[str]] | None = getattr(request.app.state, "query_params", None)
    if cached is None:
        cached = {}
        for path, operations in request.app.openapi().get("paths", {}).items():
            for method, operation in operations.items():
                names = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
                cached[(method.upper(), path)] = frozenset(names)
        request.app.state.query_params = cached
    return cached


async def reject_unknown_query(request: Request) -> None:
    """A misspelt filter (`?categroy=coding`) would silently return everything: refuse what the route
    does not document instead."""
    if not request.query_params:
        return
    route = request.scope.get("route")
    allowed = _documented_query_params(request).get((request.method, getattr(route, "path", "")))
    if allowed is None:  # an undocumented route (the page and its assets)
        return
    unknown = sorted(set(request.query_params.keys()) - allowed)
    if unknown:
        takes = ", ".join(sorted(allowed)) or "none"
        raise ApiError(
            422,
            "validation",
            f"query: unknown parameter(s) {', '.join(repr(u[:40]) for u in unknown[:5])}; this route takes: {takes}",
        )
