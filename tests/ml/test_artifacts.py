"""The artifact checks a worker relies on: anything it cannot vouch for is refused with one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from ml import artifacts, features, history
from ml.artifacts import ModelError
from ml.training import gradient_boosting


@pytest.fixture
def model(small_model: Path, tmp_path: Path) -> Path:
    """A private copy of the session's small model, free to damage."""
    path = tmp_path / "model.joblib"
    shutil.copy(small_model, path)
    shutil.copy(artifacts.metadata_path(small_model), artifacts.metadata_path(path))
    return path


def _edit_metadata(path: Path, **changes: object) -> None:
    meta = artifacts.metadata_path(path)
    meta.write_text(json.dumps({**json.loads(meta.read_text()), **changes}))


def _refused(path: Path, *needles: str, version: str | None = None) -> str:
    with pytest.raises(ModelError) as info:
        artifacts.load(path, version)
    message = str(info.value)
    assert "\n" not in message and str(path.with_suffix("")) in message  # names the .joblib or the .json
    for needle in needles:
        assert needle in message
    return message


def test_a_good_artifact_loads(model: Path) -> None:
    loaded = artifacts.load(model, expected_version=None)
    assert loaded.version == json.loads(artifacts.metadata_path(model).read_text())["version"]
    assert artifacts.load(model, expected_version=loaded.version).classes == sorted(history.CLASSES)


def test_missing_artifact_or_metadata(model: Path, tmp_path: Path) -> None:
    _refused(tmp_path / "nothing.joblib", "does not exist")
    artifacts.metadata_path(model).unlink()
    _refused(model, "metadata", "does not exist")


def test_corrupt_artifact(model: Path) -> None:
    data = bytearray(model.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = b"\0" * 64
    model.write_bytes(bytes(data))
    _refused(model, "corrupt", "checksum")


def test_truncated_pickle_with_matching_checksum(model: Path) -> None:
    """Even a file whose checksum was recomputed must unpickle into a Pipeline."""
    model.write_bytes(model.read_bytes()[:1000])
    _edit_metadata(model, sha256=artifacts.sha256_of(model))
    _refused(model, "corrupt")


def test_corrupt_metadata(model: Path) -> None:
    artifacts.metadata_path(model).write_text("{not json")
    _refused(model, "metadata", "corrupt")


def test_scikit_learn_version_mismatch(model: Path) -> None:
    _edit_metadata(model, sklearn_version="0.24.2")
    _refused(model, "scikit-learn 0.24.2", "retrain")


def test_feature_list_mismatch_in_metadata(model: Path) -> None:
    _edit_metadata(model, features=[f for f in features.FEATURES if f != "age"])
    _refused(model, "feature", "lacks age")


def test_model_fitted_on_other_features(tmp_path: Path) -> None:
    """A real model fitted on another feature list, saved with honest-looking metadata."""
    frame = features.extract(history.generate_history(1_500, 3, _ref()).claims)
    renamed = frame.rename({"age": "age_years"})
    pipe = gradient_boosting(0)
    pipe.named_steps["prep"].transformers[1] = (
        "num", "passthrough", ["age_years" if c == "age" else c for c in features.NUMERIC]
    )  # fmt: skip
    labels = np.array(history.label_claims(history.generate_history(1_500, 3, _ref()).claims, np.random.default_rng(0)))
    pipe.fit(renamed, labels)
    path = tmp_path / "other.joblib"
    import sklearn

    artifacts.save(
        pipe,
        {"features": list(features.FEATURES), "classes": [str(c) for c in pipe.classes_],
         "sklearn_version": sklearn.__version__},
        path,
    )  # fmt: skip
    _refused(path, "feature", "lacks age", "age_years")


def test_pinned_version(model: Path) -> None:
    _refused(model, "CLAIMS_MODEL_VERSION", "v-other", version="v-other")


def _ref():  # type: ignore[no-untyped-def]
    from db.reference import reference_codes_from_files

    return reference_codes_from_files()
