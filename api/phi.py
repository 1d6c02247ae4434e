"""Who may see a failed claim's patient data, and what the others see instead. Pure: no I/O here.

The payload (claims_tasks.records.claim_to_payload, Fernet-encrypted) holds the claim as it arrived.
Roles that work claims (user, admin) see it whole; the auditor role sees it with the patient's
identifiers masked (HIPAA's direct identifiers that a claim carries: names, birth date, account, member
and authorization numbers). Codes, charges, provider NPIs and service dates stay visible: they are what
an audit of the edits looks at.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import InvalidToken, MultiFernet

DISCLOSING_ROLES = frozenset({"user", "admin"})
PHI_FIELDS: tuple[str, ...] = (
    "patient_account_number",
    "patient_first_name",
    "patient_last_name",
    "date_of_birth",
    "subscriber_id",
    "prior_auth_number",
)
MASK = "***"


def may_disclose(role: str) -> bool:
    return role in DISCLOSING_ROLES


def decrypt_payload(cipher: MultiFernet, token: bytes) -> dict[str, Any] | None:
    """The claim document, or None when no configured key opens it (rotated away, or corrupt)."""
    try:
        return json.loads(cipher.decrypt(token))
    except (InvalidToken, ValueError):
        return None


def mask(doc: dict[str, Any]) -> dict[str, Any]:
    """A copy with the patient identifiers replaced; absent (null) ones stay null."""
    return {k: (MASK if k in PHI_FIELDS and v is not None else v) for k, v in doc.items()}


def disclosed_fields(doc: dict[str, Any]) -> list[str]:
    """The PHI fields a disclosing view shows (those with a value), for the audit row."""
    return [f for f in PHI_FIELDS if doc.get(f) is not None]
