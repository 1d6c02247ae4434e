"""Key rotation for failed claims' encrypted payloads (MultiFernet: the first key encrypts, all decrypt)."""

from __future__ import annotations

from cryptography.fernet import InvalidToken, MultiFernet

from claims_tasks.errors import ClaimsError
from db import engines

BATCH = 1_000


def rotate_payloads(production_dsn: str, cipher: MultiFernet) -> int:
    """Re-encrypt every failed claim's payload with the newest key, in batches, each its own transaction.
    Safe to interrupt and run again: a payload already under the newest key is simply rotated again."""
    rotated = 0
    last_id = 0
    with engines.connection(production_dsn, "production") as conn:
        while True:
            rows = conn.execute(
                # Payloads purged by retention (phi_purged_at) are empty: nothing to re-encrypt.
                "SELECT id, encrypted_payload FROM failed_claims WHERE id > %s AND phi_purged_at IS NULL"
                " ORDER BY id LIMIT %s FOR UPDATE",
                (last_id, BATCH),
            ).fetchall()
            if not rows:
                conn.rollback()
                return rotated
            updates = []
            for row_id, blob in rows:
                try:
                    updates.append((cipher.rotate(bytes(blob)), row_id))
                except InvalidToken:
                    conn.rollback()
                    raise ClaimsError(
                        f"failed claim {row_id}: no key in CLAIMS_ENCRYPTION_KEY decrypts its payload; "
                        "list the old key after the new one (new,old) and run rotate-key again"
                    ) from None
            conn.cursor().executemany("UPDATE failed_claims SET encrypted_payload = %s WHERE id = %s", updates)
            conn.commit()
            rotated += len(updates)
            last_id = rows[-1][0]
