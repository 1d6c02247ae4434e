"""The migrations and the table definitions in db/models.py describe the same schema, in both databases."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from claims_tasks.config import Settings
from db.engines import ALEMBIC_INI, sqlalchemy_url
from db.models import STAGING_SCHEMA, is_claims_partition, production_metadata, staging_metadata


@pytest.mark.parametrize("target", ["staging", "production"])
def test_migrated_schema_matches_the_models(settings: Settings, target: str) -> None:
    dsn = settings.staging_dsn if target == "staging" else settings.production_dsn
    metadata = staging_metadata if target == "staging" else production_metadata
    engine = sa.create_engine(sqlalchemy_url(dsn))
    try:
        with engine.connect() as conn:
            opts = {"include_schemas": True, "include_name": _only(target)}
            diff = compare_metadata(MigrationContext.configure(conn, opts=opts), metadata)
    finally:
        engine.dispose()
    assert diff == [], f"{target}: models and migrations disagree: {diff}"


@pytest.mark.parametrize("target", ["staging", "production"])
def test_one_head_per_database(target: str) -> None:
    script = ScriptDirectory.from_config(Config(str(ALEMBIC_INI), ini_section=target))
    assert len(script.get_heads()) == 1, f"{target} has several heads {script.get_heads()}: add a merge revision"


def _only(target: str):  # type: ignore[no-untyped-def]
    def include(name: str | None, type_: str, parent: object) -> bool:
        if type_ == "schema":
            return name == STAGING_SCHEMA if target == "staging" else name in (None, "public")
        # claims' partitions (claims_default, claims_y2025, ...) belong to the parent table in the models.
        return not (type_ == "table" and (name == "alembic_version" or is_claims_partition(name)))

    return include
