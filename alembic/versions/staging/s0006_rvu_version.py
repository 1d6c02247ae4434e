"""the RVU table announces its changes: a statement trigger bumps staging.reference_versions 'rvu'

Revision ID: s0006
Revises: s0005
Create Date: 2026-11-25 23:30:00

Workers cache RVU prices in memory and in Redis (claims_tasks/rvu_cache.py), keyed by this version. The
trigger fires on every statement that changes staging.rvu_values — a reference load, a quarterly file, a
hand fix in psql — so no change can be missed by forgetting a bump; workers see the new version within
their reference check interval and read prices afresh.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "s0006"
down_revision: str | None = "s0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "staging"


# Transition tables: a statement that changed no row (a reference load finding nothing new) bumps nothing.
_FUNCTION = """
CREATE FUNCTION staging.bump_rvu_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'TRUNCATE' THEN  -- nested: a TRUNCATE trigger has no transition table to look at
        IF NOT EXISTS (SELECT 1 FROM changed_rows) THEN RETURN NULL; END IF;
    END IF;
    INSERT INTO staging.reference_versions AS v (name, version) VALUES ('rvu', 1)
    ON CONFLICT (name) DO UPDATE SET version = v.version + 1, updated_at = now();
    RETURN NULL;
END $$
"""
_TRIGGERS = {
    "insert": "AFTER INSERT ON staging.rvu_values REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT",
    "update": "AFTER UPDATE ON staging.rvu_values REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT",
    "delete": "AFTER DELETE ON staging.rvu_values REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT",
    "truncate": "AFTER TRUNCATE ON staging.rvu_values FOR EACH STATEMENT",
}


def upgrade() -> None:
    op.execute(_FUNCTION)
    for event, spec in _TRIGGERS.items():
        op.execute(f"CREATE TRIGGER trg_rvu_values_{event} {spec} EXECUTE FUNCTION staging.bump_rvu_version()")


def downgrade() -> None:
    for event in _TRIGGERS:
        op.execute(f"DROP TRIGGER trg_rvu_values_{event} ON staging.rvu_values")
    op.execute("DROP FUNCTION staging.bump_rvu_version()")
