"""The GitHub Actions workflow runs what .ci/run runs, on the services the tests expect; pre-commit has ruff and
bandit, configured from pyproject, and the code passes bandit as configured."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def workflow() -> dict:
    return yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())


def test_ci_workflow_runs_the_ci_script_with_postgres_and_redis() -> None:
    [job] = workflow()["jobs"].values()
    runs = [step.get("run", "") for step in job["steps"]]
    assert any(r.strip() == "bash .ci/run" for r in runs), runs
    assert "deploy/local.sh test" in (ROOT / ".ci" / "run").read_text()
    services = job["services"]
    assert services["postgres"]["image"] == "postgres:15" and "5432:5432" in services["postgres"]["ports"]
    assert services["postgres"]["env"]["POSTGRES_HOST_AUTH_METHOD"] == "trust"  # conftest connects as postgres
    assert services["redis"]["image"].startswith("redis:7") and "6379:6379" in services["redis"]["ports"]
    assert all("--health-cmd" in s["options"] for s in services.values())
    python = next(s["with"]["python-version"] for s in job["steps"] if "setup-python" in s.get("uses", ""))
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == f">={python}"
    assert job["timeout-minutes"] <= 90


def test_pre_commit_runs_ruff_and_bandit_from_pyproject() -> None:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    assert {"ruff", "ruff-format", "bandit"} <= set(hooks)
    assert hooks["bandit"]["args"][-2:] == ["-c", "pyproject.toml"]
    assert "bandit" in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]


def test_the_code_passes_bandit_as_configured() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bandit", "-q", "-c", "pyproject.toml", "-r", "claims_tasks", "db", "api", "ml"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:]
