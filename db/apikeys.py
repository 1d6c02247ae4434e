"""API keys in the production database: created, listed, revoked, and looked up by the API per request.

A key is shown once, at creation; only its SHA-256 is stored. The secret carries 256 random bits, so a
fast hash is enough (a slow password hash protects low-entropy secrets, which these are not) and the
per-request lookup stays one indexed equality.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

import psycopg

ROLES: tuple[str, ...] = ("auditor", "user", "admin")
KEY_PREFIX = "ctk_"
# What `list` shows of a key, so an operator can tell keys apart without the secret.
SHOWN_CHARS = 12
MAX_KEY_LENGTH = 200

_COLUMNS = "id, name, role, key_prefix, created_at, revoked_at"


@dataclass(frozen=True)
class ApiKey:
    id: int
    name: str
    role: str
    key_prefix: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def generate_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()


def create_key(conn: psycopg.Connection, *, role: str, name: str) -> tuple[ApiKey, str]:
    """A new key; returns its row and the secret, which is not stored and cannot be shown again."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    secret = generate_secret()
    row = conn.execute(
        f"INSERT INTO api_keys (name, role, key_prefix, key_hash) VALUES (%s, %s, %s, %s) RETURNING {_COLUMNS}",  # nosec B608 # column lists are code constants (records.*_FIELDS); values are bound parameters
        (name, role, secret[:SHOWN_CHARS], hash_secret(secret)),
    ).fetchone()
    assert row is not None
    return ApiKey(*row), secret


def list_keys(conn: psycopg.Connection) -> list[ApiKey]:
    return [ApiKey(*r) for r in conn.execute(f"SELECT {_COLUMNS} FROM api_keys ORDER BY id").fetchall()]  # nosec B608 # column lists are code constants (records.*_FIELDS); values are bound parameters


def revoke_key(conn: psycopg.Connection, key_id: int) -> ApiKey | None:
    """Revoke (idempotently); None when there is no such key. A revoked key keeps its audit trail."""
    row = conn.execute(
        f"UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = %s RETURNING {_COLUMNS}",  # nosec B608 # column lists are code constants (records.*_FIELDS); values are bound parameters
        (key_id,),
    ).fetchone()
    return ApiKey(*row) if row else None


_ACTIVE_BY_HASH = f"SELECT {_COLUMNS} FROM api_keys WHERE key_hash = %s AND revoked_at IS NULL"  # nosec B608 # column lists are code constants (records.*_FIELDS); values are bound parameters


def _plausible(secret: str | None) -> bool:
    return bool(secret) and len(secret or "") <= MAX_KEY_LENGTH


def find_active_key(conn: psycopg.Connection, secret: str) -> ApiKey | None:
    """The active key whose secret this is, or None (unknown, revoked, or not even key-shaped)."""
    if not _plausible(secret):
        return None
    row = conn.execute(_ACTIVE_BY_HASH, (hash_secret(secret),)).fetchone()
    return ApiKey(*row) if row else None


async def find_active_key_async(conn: psycopg.AsyncConnection, secret: str) -> ApiKey | None:
    """find_active_key for the API's event loop (every request pays it: no thread hop)."""
    if not _plausible(secret):
        return None
    cur = await conn.execute(_ACTIVE_BY_HASH, (hash_secret(secret),))
    row = await cur.fetchone()
    return ApiKey(*row) if row else None


def get_key(conn: psycopg.Connection, key_id: int) -> ApiKey | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE id = %s", (key_id,)).fetchone()  # nosec B608 # column lists are code constants (records.*_FIELDS); values are bound parameters
    return ApiKey(*row) if row else None
