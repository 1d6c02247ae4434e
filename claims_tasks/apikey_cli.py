"""`claims-tasks apikey create|list|revoke`: the API's keys, kept hashed in the production database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
import psycopg

from claims_tasks.config import get_settings
from claims_tasks.errors import ClaimsError
from db import apikeys, engines


@contextmanager
def _production() -> Iterator[psycopg.Connection]:
    dsn = get_settings().production_dsn
    with engines.connection(dsn, "production") as conn:
        try:
            yield conn
            conn.commit()
        except psycopg.errors.UndefinedTable:
            raise ClaimsError(
                f"production database at {engines.describe(dsn)} has no api_keys table: run claims-tasks init"
            ) from None


@click.group()
def apikey() -> None:
    """API keys for the REST API and the operators' page (roles: auditor, user, admin)."""


@apikey.command()
@click.option("--role", type=click.Choice(apikeys.ROLES), required=True, help="What the key may do.")
@click.option("--name", default=None, help="Who or what holds the key (default: the role and a date).")
def create(role: str, name: str | None) -> None:
    """Create a key. It is printed once, alone on the last line, and cannot be shown again."""
    from datetime import UTC, datetime

    name = name or f"{role}-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    with _production() as conn:
        key, secret = apikeys.create_key(conn, role=role, name=name)
    click.echo(f"created key {key.id} ({key.name}, role {key.role}); store it now, it is not shown again:")
    click.echo(secret)


@apikey.command(name="list")
def list_() -> None:
    """Every key: id, role, state, name and the first characters of the key."""
    with _production() as conn:
        keys = apikeys.list_keys(conn)
    if not keys:
        click.echo("no keys (create one with: claims-tasks apikey create --role admin)")
        return
    click.echo(f"{'id':>5}  {'role':<8} {'state':<8} {'created':<20} {'prefix':<13} name")
    for k in keys:
        state = "active" if k.active else "revoked"
        click.echo(f"{k.id:>5}  {k.role:<8} {state:<8} {k.created_at:%Y-%m-%d %H:%M:%S}  {k.key_prefix:<13} {k.name}")


@apikey.command()
@click.argument("key_id", type=click.IntRange(1, 2**63 - 1))
def revoke(key_id: int) -> None:
    """Revoke a key by id (see `list`); requests with it are refused from then on."""
    with _production() as conn:
        key = apikeys.revoke_key(conn, key_id)
    if key is None:
        raise ClaimsError(f"no API key with id {key_id} (see: claims-tasks apikey list)")
    click.echo(f"revoked key {key.id} ({key.name}, role {key.role})")
