"""amend_claim: a replacement (frequency 7) or void (8) of a claim already in production.

The replacement is validated with the same rules as any claim; the previous version is kept in
claim_history; the staging ledger is untouched (the claim is still in production exactly once).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from claims_tasks import pipeline
from claims_tasks.corrections import apply_corrections
from claims_tasks.errors import ClaimsError
from claims_tasks.reference_cache import chunk_ids
from claims_tasks.resources import WorkerResources
from claims_tasks.rules import validate_claim
from db import amendments


def amend_claim(
    res: WorkerResources,
    claim_id: str,
    frequency: str,
    *,
    actor: str,
    notes: str | None = None,
    changes: Mapping[str, Any] | None = None,
    line_changes: Mapping[int, Mapping[str, Any]] | None = None,
    diagnosis_changes: Mapping[int, Mapping[str, Any]] | None = None,
) -> int:
    """Returns the claim's new version number."""
    if frequency not in ("7", "8"):
        raise ClaimsError(f"frequency must be 7 (replacement) or 8 (void), got {frequency!r}")
    with res.production.connection() as pconn:
        current = amendments.load_claim(pconn, claim_id, lock=True)
        before = {"version": current.version, "status": current.status}
        if frequency == "8":
            version = amendments.void_claim(pconn, current, actor)
            amendments.audit(pconn, claim_id, actor, "void", before, {"version": version, "status": "voided"},
                             notes)  # fmt: skip
            return version
        corrected, changed = apply_corrections(current.claim, changes, line_changes, diagnosis_changes)
        if not changed:
            raise ClaimsError(f"replacement for claim {claim_id} changes nothing")
        corrected = replace(corrected, claim_frequency="7")
        failures = validate_claim(corrected, pipeline.rule_context(res, res.reference(), chunk_ids([corrected])))
        if failures:
            codes = ", ".join(sorted({f.code for f in failures}))
            raise ClaimsError(f"replacement for claim {claim_id} fails its edits: {codes}")
        version = amendments.replace_claim(pconn, current, corrected, actor)
        amendments.audit(pconn, claim_id, actor, "amend", before,
                         {"version": version, "status": "active", "fields": changed}, notes)  # fmt: skip
        return version
