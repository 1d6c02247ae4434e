"""deploy/prometheus: the rules load (`promtool check rules`), fire where they should (`promtool test rules`),
name only metrics the API's /metrics really exposes, and point at runbook sections that exist."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.main import create_app
from claims_tasks.config import Settings

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "alerts_test.yml"
# Recorded by Prometheus itself for each scrape target, not by the app.
PROMETHEUS_OWN = {"up"}
PROMQL_WORDS = {
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values", "group",
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset",
    "rate", "irate", "increase", "delta", "idelta", "deriv", "histogram_quantile", "absent", "absent_over_time",
    "clamp_min", "clamp_max", "abs", "time", "vector", "scalar", "label_replace", "avg_over_time", "max_over_time",
    "min_over_time", "sum_over_time", "changes", "resets", "predict_linear", "inf", "nan",
}  # fmt: skip


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is missing: `bash deploy/local.sh test` installs Debian's prometheus package")
    return path


def rules() -> list[dict]:
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]


def metric_names(expr: str) -> set[str]:
    """Series names a PromQL expression reads (labels, strings, durations, functions and keywords removed)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    names = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", text))
    return {n for n in names if n.lower() not in PROMQL_WORDS}


def exposed_series(settings: Settings, api_keys: dict[str, str]) -> set[str]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        response = client.get("/metrics", headers={"X-API-Key": api_keys["auditor"]})
    assert response.status_code == 200
    series: set[str] = set()
    for family in text_string_to_metric_families(response.text):
        if family.type == "counter":
            series |= {f"{family.name}_total", f"{family.name}_created"}
        elif family.type == "histogram":
            series |= {f"{family.name}_bucket", f"{family.name}_sum", f"{family.name}_count", f"{family.name}_created"}
        else:
            series.add(family.name)
        series |= {s.name for s in family.samples}
    return series


def test_promtool_checks_the_rules() -> None:
    done = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules())} rules found" in done.stdout


def test_alerts_fire_on_the_series_they_watch() -> None:
    done = subprocess.run([promtool(), "test", "rules", str(RULE_TESTS)], capture_output=True, text=True, timeout=60,
                          cwd=RULE_TESTS.parent)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_rules_name_only_metrics_the_api_exposes(clean: Settings, api_keys: dict[str, str]) -> None:
    exposed = exposed_series(clean, api_keys)
    unknown = {r["alert"]: sorted(metric_names(r["expr"]) - exposed - PROMETHEUS_OWN) for r in rules()}
    assert {k: v for k, v in unknown.items() if v} == {}
    assert "queue_depth" in exposed and "claims_processed_total" in exposed  # the parse found the real thing


def _anchor(heading: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_alert_is_documented_with_a_runbook_that_exists() -> None:
    monitoring = (ROOT / "docs" / "MONITORING.md").read_text()
    for rule in rules():
        assert rule["alert"] in monitoring, f"docs/MONITORING.md does not explain {rule['alert']}"
        target, _, anchor = rule["annotations"]["runbook"].partition("#")
        doc = ROOT / target
        assert doc.is_file(), f"{rule['alert']}: runbook {target} does not exist"
        if anchor:
            anchors = {_anchor(h) for h in re.findall(r"(?m)^#+\s+(.+)$", doc.read_text())}
            assert anchor in anchors, f"{rule['alert']}: {target} has no section #{anchor}"


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum by (queue) (queue_depth{queue=~"claims\\\\.shard\\\\..+"}) > 200', {"queue_depth"}),
        ("histogram_quantile(0.95, sum by (le) (rate(chunk_duration_seconds_bucket[15m]))) > 30",
         {"chunk_duration_seconds_bucket"}),
        ("a_total / on() b > 0 and up == 0", {"a_total", "b", "up"}),
    ],
)  # fmt: skip
def test_metric_names(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names
