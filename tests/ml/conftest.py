"""A small model, trained once per test session, for the ml tests that need one (no services)."""

from __future__ import annotations

from pathlib import Path

import pytest

from claims_tasks.synthetic import ReferenceCodes
from db.reference import reference_codes_from_files
from ml import training

SMALL_CLAIMS = 3_000


@pytest.fixture(scope="session")
def ref() -> ReferenceCodes:
    return reference_codes_from_files()


@pytest.fixture(scope="session")
def small_model(tmp_path_factory: pytest.TempPathFactory, ref: ReferenceCodes) -> Path:
    path = tmp_path_factory.mktemp("ml") / "small.joblib"
    training.save(training.train(SMALL_CLAIMS, 5, ref), path)
    return path
