"""Operator commands for what failed: failed claims and their review, amendments, dead letters, key rotation.

Registered on the `claims-tasks` group by claims_tasks.cli. Every change records who made it (--actor,
default: the login name) in review_actions.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from claims_tasks.config import get_settings
from claims_tasks.corrections import parse_assignments, parse_line_assignments
from claims_tasks.resources import WorkerResources, build_resources

actor_option = click.option("--actor", default=getpass.getuser, show_default="login name", help="Who acts.")
notes_option = click.option("--notes", default=None, help="Why, for the audit trail.")
set_option = click.option("--set", "sets", multiple=True, metavar="FIELD=VALUE", help="Correct a claim field.")
line_option = click.option("--line", "lines", multiple=True, metavar="N:FIELD=VALUE", help="Correct line N.")
dx_option = click.option("--dx", "dxs", multiple=True, metavar="N:icd10_code=CODE", help="Correct diagnosis N.")


def correction_options(fn: Any) -> Any:
    """--set/--line/--dx corrections plus who and why: shared by resubmit, reprocess and amend."""
    for option in reversed((set_option, line_option, dx_option, actor_option, notes_option)):
        fn = option(fn)
    return fn


@contextmanager
def _resources() -> Iterator[WorkerResources]:
    res = build_resources(get_settings())
    try:
        yield res
    finally:
        res.close()


def _echo_json(doc: Any) -> None:
    click.echo(json.dumps(doc, default=str, indent=2))


@click.group("failed")
def failed_group() -> None:
    """Failed claims: list, show, review actions, resolution metrics."""


@failed_group.command("list")
@click.option("--status", default=None)
@click.option("--category", default=None)
@click.option("--facility", default=None)
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
def failed_list(status: str | None, category: str | None, facility: str | None, limit: int) -> None:
    """Failed claims by priority (0 first), oldest first."""
    from db import engines, review

    with engines.connection(get_settings().production_dsn, "production") as conn:
        rows = review.list_failed(conn, status=status, category=category, facility_id=facility, limit=limit)
    for r in rows:
        click.echo(
            f"{r.claim_id:<16} {r.status:<9} {r.failure_category:<12} p{r.priority} "
            f"{','.join(r.rule_codes):<40} {r.assigned_to or '-'}"
        )


@failed_group.command("show")
@click.argument("claim_id")
@click.option("--decrypt", is_flag=True, help="Include the decrypted claim (PHI; the read is not hidden).")
def failed_show(claim_id: str, decrypt: bool) -> None:
    """One failed claim: failures, repairs and its audit trail."""
    from claims_tasks.records import claim_from_payload, claim_to_payload
    from db import review

    with _resources() as res, res.production.connection() as conn:
        failed = review.latest_failure(conn, claim_id)
        doc: dict[str, Any] = {k: v for k, v in failed.__dict__.items() if k != "encrypted_payload"}
        doc["actions"] = review.actions(conn, claim_id)
        if decrypt:
            claim = claim_from_payload(res.cipher.decrypt(failed.encrypted_payload))
            doc["claim"] = json.loads(claim_to_payload(claim))
    _echo_json(doc)


@failed_group.command("assign")
@click.argument("claim_id")
@click.option("--to", "assignee", required=True, help="The reviewer.")
@actor_option
@notes_option
def failed_assign(claim_id: str, assignee: str, actor: str, notes: str | None) -> None:
    """Assign a failed claim to a reviewer (status becomes review)."""
    from claims_tasks import failures

    with _resources() as res:
        failures.assign(res, claim_id, assignee, actor, notes)
    click.echo(f"{claim_id} assigned to {assignee}")


@failed_group.command("accept")
@click.argument("claim_id")
@actor_option
@notes_option
def failed_accept(claim_id: str, actor: str, notes: str | None) -> None:
    """Override the edits: send the claim to production as it stands."""
    from claims_tasks import failures

    with _resources() as res:
        failures.accept(res, claim_id, actor, notes)
    click.echo(f"{claim_id} accepted into production")


@failed_group.command("void")
@click.argument("claim_id")
@actor_option
@notes_option
def failed_void(claim_id: str, actor: str, notes: str | None) -> None:
    """Close the failure without production."""
    from claims_tasks import failures

    with _resources() as res:
        failures.void(res, claim_id, actor, notes)
    click.echo(f"{claim_id} voided")


@failed_group.command("resubmit")
@click.argument("claim_id")
@correction_options
def failed_resubmit(
    claim_id: str, sets: tuple[str, ...], lines: tuple[str, ...], dxs: tuple[str, ...], actor: str,
    notes: str | None,
) -> None:  # fmt: skip
    """Correct a failed (or not yet dispatched) claim and re-process only that claim."""
    _reprocess(claim_id, sets, lines, dxs, actor, notes)


def _reprocess(
    claim_id: str, sets: tuple[str, ...], lines: tuple[str, ...], dxs: tuple[str, ...], actor: str,
    notes: str | None,
) -> None:  # fmt: skip
    from claims_tasks import failures
    from claims_tasks.tasks import chunk_sender

    settings = get_settings()
    with _resources() as res, chunk_sender() as send:
        batch_id = failures.reprocess(
            res, claim_id, send, shards=settings.shards, chunk_size=settings.chunk_size, actor=actor, notes=notes,
            changes=parse_assignments(list(sets)), line_changes=parse_line_assignments(list(lines)),
            diagnosis_changes=parse_line_assignments(list(dxs)),
        )  # fmt: skip
    click.echo(f"{claim_id} re-processing in batch {batch_id}")
    click.echo(batch_id)


@failed_group.command("stats")
@click.option("--json", "as_json", is_flag=True)
def failed_stats(as_json: bool) -> None:
    """Resolution metrics per failure category: rate and time to resolve."""
    from db import engines, review

    with engines.connection(get_settings().production_dsn, "production") as conn:
        stats = review.resolution_stats(conn)
    if as_json:
        _echo_json(stats)
        return
    for s in stats:
        click.echo(
            f"{s['failure_category']:<12} failed {s['failed']:>7,} closed {s['closed']:>7,} "
            f"({s['resolution_rate']:.1%}) repaired {s['repaired']:,} resolved {s['resolved']:,} "
            f"voided {s['voided']:,} mean {s['mean_hours'] or 0}h p50 {s['p50_hours'] or 0}h"
        )


@click.command("reprocess")
@click.argument("claim_id")
@correction_options
def reprocess_command(
    claim_id: str, sets: tuple[str, ...], lines: tuple[str, ...], dxs: tuple[str, ...], actor: str,
    notes: str | None,
) -> None:  # fmt: skip
    """process_partial_claim: update some fields or lines of one claim and re-process only it."""
    _reprocess(claim_id, sets, lines, dxs, actor, notes)


@click.command("amend")
@click.argument("claim_id")
@click.option("--frequency", type=click.Choice(["7", "8"]), required=True, help="7 replace, 8 void.")
@correction_options
def amend_command(
    claim_id: str, frequency: str, sets: tuple[str, ...], lines: tuple[str, ...], dxs: tuple[str, ...],
    actor: str, notes: str | None,
) -> None:  # fmt: skip
    """Replace (7) or void (8) a claim in production; the previous version is kept as history."""
    from claims_tasks.amend import amend_claim

    with _resources() as res:
        version = amend_claim(
            res, claim_id, frequency, actor=actor, notes=notes, changes=parse_assignments(list(sets)),
            line_changes=parse_line_assignments(list(lines)), diagnosis_changes=parse_line_assignments(list(dxs)),
        )  # fmt: skip
    click.echo(f"{claim_id} is now version {version} ({'voided' if frequency == '8' else 'replaced'})")


@click.command("rotate-key")
def rotate_key_command() -> None:
    """Re-encrypt every failed claim's payload with the first key of CLAIMS_ENCRYPTION_KEY (new,old)."""
    from claims_tasks.crypto import make_cipher
    from claims_tasks.keys import rotate_payloads

    settings = get_settings()
    n = rotate_payloads(settings.production_dsn, make_cipher(settings.encryption_keys()))
    click.echo(f"re-encrypted {n:,} payloads with the newest key; older keys may now be removed")


@click.group("dlq")
def dlq_group() -> None:
    """Dead letters: chunks the fleet gave up on."""


@dlq_group.command("list")
@click.option("--status", type=click.Choice(["dead", "replayed", "resolved", "purged"]), default=None)
def dlq_list(status: str | None) -> None:
    from db import dead_letters, engines

    with engines.connection(get_settings().staging_dsn, "staging") as conn:
        letters = dead_letters.listing(conn, status)
    for d in letters:
        click.echo(
            f"{d.id:>6} {d.status:<9} {d.task_name:<28} batch {d.batch_id or '-':<24} attempts {d.attempts} "
            f"replays {d.replays} last {d.last_seen:%Y-%m-%d %H:%M:%S} {d.exception.splitlines()[0][:80]}"
        )


@dlq_group.command("show")
@click.argument("letter_id", type=int)
def dlq_show(letter_id: int) -> None:
    from db import dead_letters, engines

    with engines.connection(get_settings().staging_dsn, "staging") as conn:
        _echo_json(dead_letters.get(conn, letter_id).__dict__)


@dlq_group.command("replay")
@click.argument("letter_ids", type=int, nargs=-1)
@click.option("--all", "replay_all", is_flag=True, help="Every dead letter in status dead.")
def dlq_replay(letter_ids: tuple[int, ...], replay_all: bool) -> None:
    """Publish dead letters again now (no health check)."""
    from claims_tasks.dead_letters import replay_now
    from claims_tasks.tasks import publish_letter

    if not letter_ids and not replay_all:
        raise click.UsageError("name dead letter ids, or --all")
    replayed = replay_now(get_settings().staging_dsn, publish_letter, list(letter_ids) or None)
    click.echo(f"replayed {len(replayed)} dead letter(s): {', '.join(map(str, replayed)) or '-'}")


@dlq_group.command("purge")
@click.argument("letter_ids", type=int, nargs=-1)
@click.option("--all", "purge_all", is_flag=True)
def dlq_purge(letter_ids: tuple[int, ...], purge_all: bool) -> None:
    """Stop replaying dead letters. Their claims stay queued in the ledger and are re-dispatched after
    CLAIMS_REQUEUE_AFTER seconds: purging never loses a claim."""
    from db import dead_letters, engines

    if not letter_ids and not purge_all:
        raise click.UsageError("name dead letter ids, or --all")
    with engines.connection(get_settings().staging_dsn, "staging") as conn:
        n = dead_letters.purge(conn) if purge_all else sum(dead_letters.purge(conn, i) for i in letter_ids)
        conn.commit()
    click.echo(f"purged {n} dead letter(s)")


COMMANDS = (failed_group, reprocess_command, amend_command, rotate_key_command, dlq_group)
