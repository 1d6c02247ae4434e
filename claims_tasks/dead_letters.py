"""Dead letters: a chunk the fleet gave up on is recorded, and replayed by beat once its cause is gone.

A task gives up after its last retry (or at once, for an error no retry can fix) by publishing a message
to claims.dead_letter; a worker records it in staging.dead_letters. Beat's sweep replays due letters with
exponential backoff, a bounded number of times, and only while both databases answer — replaying into an
outage would only burn the budget. The claims of a dead chunk stay `queued` in the ledger throughout, so
nothing is lost even if a letter is purged: the stale-claim sweep dispatches them again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from claims_tasks.errors import ClaimsError
from db import dead_letters, engines
from db.dead_letters import DeadLetter

logger = logging.getLogger(__name__)

REDRIVE_LOCK_KEY = 0x444C5172  # "DLQr": one redriver at a time

Publish = Callable[[DeadLetter], None]


def databases_answer(*dsns: tuple[str, str]) -> bool:
    for dsn, role in dsns:
        try:
            with engines.connection(dsn, role) as conn:
                conn.execute("SELECT 1")
        except ClaimsError:
            return False
    return True


def redrive(
    staging_dsn: str, production_dsn: str, publish: Publish, *, max_replays: int, backoff_s: float
) -> list[int]:
    """Replay the dead letters that are due; returns their ids."""
    if not databases_answer((staging_dsn, "staging"), (production_dsn, "production")):
        logger.info("dead letters not replayed: a database does not answer yet")
        return []
    replayed: list[int] = []
    with engines.connection(staging_dsn, "staging") as conn:
        locked = conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (REDRIVE_LOCK_KEY,)).fetchone()
        if not (locked and locked[0]):
            return []
        for letter in dead_letters.due_for_replay(conn, max_replays, backoff_s):
            publish(letter)
            dead_letters.mark_replayed(conn, letter.id)
            replayed.append(letter.id)
        conn.commit()
    if replayed:
        logger.warning("replayed dead letters %s", replayed)
    return replayed


def replay_now(staging_dsn: str, publish: Publish, letter_ids: list[int] | None) -> list[int]:
    """An operator's replay: no health check, no budget (it still counts as a replay)."""
    with engines.connection(staging_dsn, "staging") as conn:
        letters = (
            [dead_letters.get(conn, i) for i in letter_ids]
            if letter_ids
            else dead_letters.listing(conn, status="dead", limit=10_000)
        )
        for letter in letters:
            if letter.status == "purged":
                raise ClaimsError(f"dead letter {letter.id} was purged")
            publish(letter)
            dead_letters.mark_replayed(conn, letter.id)
        conn.commit()
    return [letter.id for letter in letters]
