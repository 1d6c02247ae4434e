"""any change to the reference tables bumps the reference version, so workers reload only on a change

Revision ID: s0008
Revises: s0007
Create Date: 2026-11-26 05:10:00

Workers cache the reference data (claims_tasks/resources.py) and reloaded it when
staging.reference_versions moved, and also every 300 s whatever happened, as a backstop for hand edits made
without db.edit_reference.bump_version. That periodic reload built a second copy of ~10 MiB of code sets
beside the one in use and left the process's RSS a step higher (13 MiB at ~300 s into the 1,000,000-claim
memory run, docs/RELIABILITY.md). These triggers make the version itself catch every edit, by hand or by
load, as s0006 does for the RVU table: the backstop is no longer needed, and a reload happens only when the
data changed. Transition tables: a statement that changed no row (a load finding nothing new) bumps nothing.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "s0008"
down_revision: str | None = "s0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What WorkerResources.reference() loads (db/staging.py load_reference_sets, db/edit_reference.py), but the
# RVU table, which has its own version (s0006).
TABLES = (
    "facilities",
    "payers",
    "financial_classes",
    "icd10_editions",
    "icd10_codes",
    "hcpcs_codes",
    "modifiers",
    "mue_limits",
    "ncci_pairs",
    "payer_prior_auth",
)

_FUNCTION = """
CREATE FUNCTION staging.bump_reference_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'TRUNCATE' THEN  -- nested: a TRUNCATE trigger has no transition table to look at
        IF NOT EXISTS (SELECT 1 FROM changed_rows) THEN RETURN NULL; END IF;
    END IF;
    INSERT INTO staging.reference_versions AS v (name, version) VALUES ('reference', 1)
    ON CONFLICT (name) DO UPDATE SET version = v.version + 1, updated_at = now();
    RETURN NULL;
END $$
"""
_EVENTS = {
    "insert": "AFTER INSERT ON staging.{t} REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT",
    "update": "AFTER UPDATE ON staging.{t} REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT",
    "delete": "AFTER DELETE ON staging.{t} REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT",
    "truncate": "AFTER TRUNCATE ON staging.{t} FOR EACH STATEMENT",
}


def upgrade() -> None:
    op.execute(_FUNCTION)
    for table in TABLES:
        for event, spec in _EVENTS.items():
            op.execute(
                f"CREATE TRIGGER trg_{table}_{event}_version {spec.format(t=table)}"
                " EXECUTE FUNCTION staging.bump_reference_version()"
            )


def downgrade() -> None:
    for table in TABLES:
        for event in _EVENTS:
            op.execute(f"DROP TRIGGER trg_{table}_{event}_version ON staging.{table}")
    op.execute("DROP FUNCTION staging.bump_reference_version()")
