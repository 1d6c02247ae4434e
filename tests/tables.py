"""The claim tables each test empties. Kept apart from conftest.py so test modules can import them:
importing `tests.conftest` would run conftest a second time, with new private database names."""

STAGING_TABLES = (
    "claims", "claim_lines", "claim_diagnoses", "seed_defects", "batches", "dead_letters", "x12_interchanges",
    "retired_claims", "dispatch_inbox",
)  # fmt: skip
PRODUCTION_TABLES = ("claims", "claim_lines", "claim_diagnoses", "failed_claims", "review_actions", "claim_history")
