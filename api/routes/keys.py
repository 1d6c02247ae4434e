"""API keys as the API shows them (never a secret: those are shown once, by `claims-tasks apikey create`)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import AdminDep, ApiKeyDep, ResourcesDep
from api.errors import ApiError
from api.schemas import AUTHENTICATED, ApiKeyOut, error_responses
from db import apikeys

router = APIRouter(tags=["api keys"], responses=error_responses(*AUTHENTICATED))


def _out(k: apikeys.ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=k.id,
        name=k.name,
        role=k.role,  # type: ignore[arg-type]
        key_prefix=k.key_prefix,
        created_at=k.created_at,
        revoked_at=k.revoked_at,
    )


@router.get("/whoami", response_model=ApiKeyOut)
def whoami(principal: ApiKeyDep, res: ResourcesDep) -> ApiKeyOut:
    """The calling key: its name and role (the operators' page shows what the role allows)."""
    with res.production.connection() as conn:
        key = apikeys.get_key(conn, principal.key_id)
    if key is None:  # keys are revoked, never deleted: only a hand-edited database gets here
        raise ApiError(401, "authentication", "the key no longer exists")
    return _out(key)


@router.get("/api_keys", response_model=list[ApiKeyOut], responses=error_responses(403))
def list_keys(_: AdminDep, res: ResourcesDep) -> list[ApiKeyOut]:
    """Every key with its role and state (admin only); create and revoke with `claims-tasks apikey`."""
    with res.production.connection() as conn:
        return [_out(k) for k in apikeys.list_keys(conn)]
