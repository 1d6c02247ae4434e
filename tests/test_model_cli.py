"""`claims-tasks init` trains a model when none exists; `train` and `model-info` as an operator runs them."""

from __future__ import annotations

import json
from pathlib import Path

from claims_tasks.config import Settings
from claims_tasks.model_cli import ensure_model
from ml import artifacts
from tests.test_cli import assert_one_line_error, run


def test_init_trains_a_model_when_none_exists_and_keeps_it(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "models" / "filter_model.joblib"
    env = {"CLAIMS_MODEL_PATH": str(path)}
    first = run("init", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "model: trained filter-" in first.stdout and str(path) in first.stdout
    version = artifacts.load(path).version  # checked as a worker checks it
    before = path.stat().st_mtime_ns
    # init's model step again (in-process: the databases part is covered by test_cli)
    assert ensure_model(path) == f"{path} (version {version}) already there"
    assert path.stat().st_mtime_ns == before
    artifacts.metadata_path(path).write_text("{}")
    assert ensure_model(path).startswith(f"WARNING: model metadata {artifacts.metadata_path(path)} is incomplete")


def test_train_then_model_info(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "m.joblib"
    trained = run("train", "--claims", "3000", "--seed", "9", "--out", str(path), "--version", "v-test")
    assert trained.returncode == 0, trained.stderr
    assert "saved v-test to" in trained.stdout and "macro-F1" in trained.stdout

    info = run("model-info", "--json", env={"CLAIMS_MODEL_PATH": str(path), "CLAIMS_REVIEW_THRESHOLD": "0.7"})
    assert info.returncode == 0, info.stderr
    doc = json.loads(info.stdout)
    assert doc["version"] == "v-test" and doc["path"] == str(path)
    assert doc["metrics"]["macro_f1"] > doc["baseline"]["macro_f1"] + 0.4
    assert doc["training"] == {**doc["training"], "claims": 3000, "seed": 9}
    assert doc["serving"] == {"review_threshold": 0.7, "ab_share": 0.0} and "ab" not in doc
    text = run("model-info", env={"CLAIMS_MODEL_PATH": str(path)})
    assert text.returncode == 0 and "v-test" in text.stdout and "baseline" in text.stdout


def test_model_info_names_what_is_wrong(settings: Settings, tmp_path: Path) -> None:
    missing = run("model-info", env={"CLAIMS_MODEL_PATH": str(tmp_path / "none.joblib")})
    assert_one_line_error(missing, "none.joblib", "does not exist")
    pinned = run("model-info", env={"CLAIMS_MODEL_VERSION": "v-nope"})
    assert_one_line_error(pinned, "CLAIMS_MODEL_VERSION asks for v-nope")
