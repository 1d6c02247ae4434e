"""A model on disk: `<name>.joblib` (the fitted scikit-learn Pipeline) and `<name>.json` beside it
(version, training date, library versions, feature and class lists, held-out metrics, checksum).

`load` refuses, with one line naming the file and the reason, anything it cannot vouch for: a missing
file, a checksum that does not match (a corrupt or half-copied artifact), a scikit-learn version other
than the one it was trained with (pickles are not portable across versions), or a feature list other
than the one this code extracts. A worker never scores with a model it could not check.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import sklearn
from sklearn.exceptions import InconsistentVersionWarning
from sklearn.pipeline import Pipeline

from claims_tasks.errors import ClaimsError
from ml.features import FEATURES

CLEAN = "clean"


class ModelError(ClaimsError):
    """The model artifact cannot be used; the message names the file and why."""


@dataclass(frozen=True)
class ModelArtifact:
    path: Path
    pipeline: Pipeline
    metadata: dict[str, Any]

    @property
    def version(self) -> str:
        return str(self.metadata["version"])

    @property
    def classes(self) -> list[str]:
        return list(self.metadata["classes"])


def metadata_path(path: Path) -> Path:
    return Path(path).with_suffix(".json")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def save(pipeline: Pipeline, metadata: dict[str, Any], path: Path) -> dict[str, Any]:
    """Write the pipeline and its metadata (with the pipeline file's checksum); returns the metadata.
    Without a "version" in `metadata` the version is derived from the checksum, so the same training
    gives the same version. Each file is replaced atomically; a reader between the two sees a checksum
    mismatch and refuses."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    joblib.dump(pipeline, tmp, compress=3)
    digest = sha256_of(tmp)
    doc = {**metadata, "artifact": path.name, "sha256": digest}
    doc["version"] = metadata.get("version") or f"filter-{digest[:10]}"
    os.replace(tmp, path)
    _write_atomic(metadata_path(path), (json.dumps(doc, indent=2, sort_keys=False) + "\n").encode())
    return doc


def read_metadata(path: Path) -> dict[str, Any]:
    """The metadata of the artifact at `path`, without unpickling anything."""
    path = Path(path)
    meta = metadata_path(path)
    if not path.is_file():
        raise ModelError(
            f"model artifact {path} does not exist (train one with `claims-tasks train` or `claims-tasks init`)"
        )
    if not meta.is_file():
        raise ModelError(f"model metadata {meta} does not exist (it is written beside the artifact)")
    try:
        doc = json.loads(meta.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"model metadata {meta} is corrupt: {type(exc).__name__}") from None
    missing = [k for k in ("version", "sklearn_version", "features", "classes", "sha256") if k not in doc]
    if not isinstance(doc, dict) or missing:
        raise ModelError(f"model metadata {meta} is incomplete: missing {', '.join(missing) or 'everything'}")
    return doc


def check_metadata(path: Path, doc: dict[str, Any], expected_version: str | None = None) -> None:
    """The checks that need no unpickling: library version, feature list, classes, pinned version."""
    if doc["sklearn_version"] != sklearn.__version__:
        raise ModelError(
            f"model {path} was trained with scikit-learn {doc['sklearn_version']}, this process has "
            f"{sklearn.__version__}; retrain it with `claims-tasks train`"
        )
    if list(doc["features"]) != list(FEATURES):
        raise ModelError(f"model {path} {_feature_diff(doc['features'])}; retrain it with `claims-tasks train`")
    if CLEAN not in doc["classes"]:
        raise ModelError(f"model {path} has no '{CLEAN}' class, so it cannot give a denial risk")
    if expected_version and doc["version"] != expected_version:
        raise ModelError(
            f"model {path} is version {doc['version']}, but CLAIMS_MODEL_VERSION asks for {expected_version}"
        )


def _feature_diff(recorded: list[str]) -> str:
    missing = [f for f in FEATURES if f not in recorded]
    extra = [f for f in recorded if f not in FEATURES]
    if missing or extra:
        parts = [f"lacks {', '.join(missing)}" if missing else "", f"has unknown {', '.join(extra)}" if extra else ""]
        return "expects a different feature list: it " + " and ".join(p for p in parts if p)
    return "expects the features in a different order"


def load(path: Path, expected_version: str | None = None) -> ModelArtifact:
    """The artifact at `path`, checked; ModelError (one line) for anything wrong with it."""
    path = Path(path)
    doc = read_metadata(path)
    check_metadata(path, doc, expected_version)
    if sha256_of(path) != doc["sha256"]:
        raise ModelError(f"model artifact {path} is corrupt: its checksum does not match {metadata_path(path)}")
    with warnings.catch_warnings():
        warnings.simplefilter("error", InconsistentVersionWarning)
        try:
            pipeline = joblib.load(path)
        except InconsistentVersionWarning as exc:
            raise ModelError(
                f"model {path} was pickled by scikit-learn {exc.original_sklearn_version}, this process has "
                f"{exc.current_sklearn_version}; retrain it with `claims-tasks train`"
            ) from None
        except Exception as exc:  # an unreadable pickle can raise almost anything
            raise ModelError(f"model artifact {path} is corrupt: {type(exc).__name__}") from None
    if not isinstance(pipeline, Pipeline) or not hasattr(pipeline, "predict_proba"):
        raise ModelError(f"model artifact {path} does not hold a scikit-learn Pipeline")
    names = [str(n) for n in getattr(pipeline, "feature_names_in_", [])]
    if names != list(FEATURES):
        raise ModelError(f"model {path} {_feature_diff(names)}; retrain it with `claims-tasks train`")
    if [str(c) for c in pipeline.classes_] != list(doc["classes"]):
        raise ModelError(f"model {path} predicts classes other than its metadata lists")
    return ModelArtifact(path=path, pipeline=pipeline, metadata=doc)
