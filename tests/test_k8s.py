"""deploy/k8s checked offline: every manifest against the Kubernetes JSON schemas (kubernetes-validate, strict:
unknown fields fail) or, for KEDA's resources, deploy/k8s/schemas/; then against the code — commands are
real entry points, environment names are settings, the autoscaler counts every Redis list of every shard
queue (kombu's priority lists) and sums them, beat is single and recreated, api and flower have probes on
paths they serve, and no secret value is in the repository."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from claims_tasks import config
from claims_tasks.broker import priority_lists
from claims_tasks.sharding import RETRY_QUEUE, shard_queue
from tests.test_compose import ALLOWED_ENV, check_command

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.30"
KEDA_SCHEMAS = {
    "ScaledObject": K8S / "schemas" / "keda-scaledobject.schema.json",
    "TriggerAuthentication": K8S / "schemas" / "keda-triggerauthentication.schema.json",
}
SECRETS = {"claims-tasks-secrets", "claims-tasks-keda"}
RUNBOOK = ROOT / "docs" / "OPERATIONS_RUNBOOK.md"

Problems = list[str]
Docs = list[dict[str, Any]]


def load() -> Docs:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    docs: Docs = []
    for name in kustomization["resources"]:
        docs += [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]
    return docs


@pytest.fixture(scope="module")
def manifests() -> Docs:
    return load()


def by_kind(docs: Docs, kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return doc["spec"]["template"]["spec"]["containers"]


def check_schemas(docs: Docs) -> Problems:
    problems = []
    for doc in docs:
        where = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        if doc.get("kind") in KEDA_SCHEMAS:
            schema = json.loads(KEDA_SCHEMAS[doc["kind"]].read_text())
            errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(doc), key=str)
            problems += [f"{where}: {'.'.join(map(str, e.path))}: {e.message}" for e in errors]
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{where}: {'.'.join(map(str, exc.path))}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(f"{where}: no Kubernetes schema for {doc.get('apiVersion')} {doc.get('kind')}")
    return problems


def check_commands(docs: Docs) -> Problems:
    problems = []
    for workload in [*by_kind(docs, "Deployment").values(), *by_kind(docs, "Job").values()]:
        for c in containers(workload):
            probe = (c.get("readinessProbe") or {}).get("httpGet") or {}
            ports = [str(p["containerPort"]) for p in c.get("ports", [])]
            service = {"build": ".", "command": [*c.get("command", []), *c.get("args", [])], "ports": ports}
            if probe:
                service["healthcheck"] = {"test": [f"http://127.0.0.1:{ports[0]}{probe['path']}"]}
            problems += check_command(f"{workload['metadata']['name']}/{c['name']}", service)
    return problems


def check_environment(docs: Docs) -> Problems:
    problems = []
    names: list[tuple[str, str]] = [
        (f"ConfigMap/{cm['metadata']['name']}", key)
        for cm in by_kind(docs, "ConfigMap").values() for key in cm.get("data", {})
    ]  # fmt: skip
    for workload in [*by_kind(docs, "Deployment").values(), *by_kind(docs, "Job").values()]:
        names += [(workload["metadata"]["name"], e["name"]) for c in containers(workload) for e in c.get("env", [])]
    for where, var in names:
        if var.startswith("CLAIMS_"):
            if var.removeprefix("CLAIMS_").lower() not in config.Settings.model_fields:
                problems.append(f"{where}: {var} is not a setting")
        elif var not in ALLOWED_ENV:
            problems.append(f"{where}: {var} is read by nothing known")
    return problems


def check_secrets(docs: Docs, runbook: str) -> Problems:
    problems = [
        f"Secret/{d['metadata']['name']}: no Secret belongs in the repository" for d in docs if d["kind"] == "Secret"
    ]
    used: set[tuple[str, str | None]] = set()
    for workload in [*by_kind(docs, "Deployment").values(), *by_kind(docs, "Job").values()]:
        for c in containers(workload):
            used |= {(s["secretRef"]["name"], None) for s in c.get("envFrom", []) if "secretRef" in s}
            for e in c.get("env", []):
                ref = (e.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    used.add((ref["name"], ref["key"]))
                elif re.search(r"KEY|SECRET|PASSWORD|DSN|BROKER_URL|AUTH", e["name"]):
                    problems.append(f"{workload['metadata']['name']}: {e['name']} must come from a Secret")
    for auth in by_kind(docs, "TriggerAuthentication").values():
        used |= {(r["name"], r["key"]) for r in auth["spec"]["secretTargetRef"]}
    for name, key in sorted(used, key=str):
        if name not in SECRETS:
            problems.append(f"Secret {name} is not one the runbook tells operators to create")
        elif f"create secret generic {name}" not in runbook or (key and f"--from-literal={key}=" not in runbook):
            problems.append(f"the runbook does not show how to create {name}{f' key {key}' if key else ''}")
    return problems


def check_beat(docs: Docs) -> Problems:
    beat = by_kind(docs, "Deployment").get("claims-tasks-beat")
    if beat is None:
        return ["no claims-tasks-beat Deployment"]
    problems = []
    if beat["spec"].get("replicas") != 1:
        problems.append(f"beat must have exactly 1 replica, has {beat['spec'].get('replicas')}")
    if (beat["spec"].get("strategy") or {}).get("type") != "Recreate":
        problems.append("beat's strategy must be Recreate (a rolling update would run two beats)")
    others = [n for n, d in by_kind(docs, "Deployment").items()
              if n != "claims-tasks-beat" and any("beat" in c.get("command", []) or "-B" in c.get("command", [])
                                                  for c in containers(d))]  # fmt: skip
    if others:
        problems.append(f"only claims-tasks-beat may run beat; also {others}")
    return problems


def check_probes(docs: Docs) -> Problems:
    problems = []
    expected = {"claims-tasks-api": "/health", "claims-tasks-flower": "/healthcheck"}
    for name, path in expected.items():
        deployment = by_kind(docs, "Deployment").get(name)
        if deployment is None:
            problems.append(f"no {name} Deployment")
            continue
        for c in containers(deployment):
            for probe in ("readinessProbe", "livenessProbe"):
                if probe not in c:
                    problems.append(f"{name}: no {probe}")
            ready = ((c.get("readinessProbe") or {}).get("httpGet") or {}).get("path")
            if ready != path:
                problems.append(f"{name}: readinessProbe should GET {path}, gets {ready}")
    for name in ("claims-tasks-worker", "claims-tasks-beat"):
        deployment = by_kind(docs, "Deployment").get(name, {"spec": {"template": {"spec": {"containers": []}}}})
        if not all("livenessProbe" in c for c in containers(deployment)) or not containers(deployment):
            problems.append(f"{name}: no livenessProbe")
    return problems


def expected_lists(shards: int) -> set[str]:
    return {lst for q in [*(shard_queue(i) for i in range(shards)), RETRY_QUEUE] for lst in priority_lists(q)}


def check_autoscaling(docs: Docs) -> Problems:
    [scaled] = by_kind(docs, "ScaledObject").values()
    problems = []
    target = scaled["spec"]["scaleTargetRef"]["name"]
    if target not in by_kind(docs, "Deployment") or "worker" not in target:
        problems.append(f"the ScaledObject scales {target!r}, not the worker Deployment")
    shards = int(by_kind(docs, "ConfigMap")["claims-tasks-config"]["data"]["CLAIMS_SHARDS"])
    triggers = scaled["spec"]["triggers"]
    lists = [t["metadata"].get("listName") for t in triggers if t["type"] == "redis"]
    missing = expected_lists(shards) - set(lists)
    if missing:
        problems.append(f"no trigger counts the Redis list(s) {sorted(missing)} (CLAIMS_SHARDS={shards})")
    if len(lists) != len(set(lists)):
        problems.append("a Redis list is counted twice")
    extra = set(lists) - expected_lists(shards)
    if extra:
        problems.append(f"triggers count lists no queue uses: {sorted(extra)}")
    formula = ((scaled["spec"].get("advanced") or {}).get("scalingModifiers") or {}).get("formula", "")
    terms = [t.strip() for t in formula.split("+")]
    names = [t.get("name") for t in triggers]
    if sorted(terms) != sorted(n for n in names if n):
        problems.append(f"the formula must be the sum of every trigger, once each: {formula!r}")
    worker = by_kind(docs, "Deployment").get(target, {})
    if worker and worker["spec"]["template"]["spec"].get("terminationGracePeriodSeconds", 30) < 60:
        problems.append("the worker must get time to finish its chunk on scale-down (terminationGracePeriodSeconds)")
    return problems


CHECKS: dict[str, Callable[[Docs], Problems]] = {
    "schemas": check_schemas,
    "commands": check_commands,
    "environment": check_environment,
    "secrets": lambda d: check_secrets(d, RUNBOOK.read_text()),
    "beat": check_beat,
    "probes": check_probes,
    "autoscaling": check_autoscaling,
}


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_manifests(manifests: Docs, name: str) -> None:
    assert CHECKS[name](manifests) == []


def _find(docs: Docs, kind: str, name: str) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def _container(docs: Docs, name: str) -> dict[str, Any]:
    return containers(_find(docs, "Deployment", name))[0]


# fmt: off
BROKEN: list[tuple[str, Callable[[Docs], None], str, str]] = [
    ("typo-field", lambda d: _container(d, "claims-tasks-api").update(livenesProbe={}), "schemas", "livenesProbe"),
    ("bad-replicas", lambda d: _find(d, "Deployment", "claims-tasks-api")["spec"].update(replicas="two"), "schemas",
     "replicas"),
    ("keda-typo", lambda d: _find(d, "ScaledObject", "claims-tasks-worker")["spec"].update(maxReplicas=3), "schemas",
     "maxReplicas"),
    ("keda-redis-key", lambda d: _find(d, "ScaledObject", "claims-tasks-worker")["spec"]["triggers"][0]["metadata"]
     .update(listname="x"), "schemas", "listname"),
    ("command", lambda d: _container(d, "claims-tasks-worker").update(
     command=["celery", "-A", "claims_tasks", "wrker"]), "commands", "'wrker'"),
    ("api-port", lambda d: _container(d, "claims-tasks-api").update(command=["uvicorn", "api.main:app", "--host",
     "0.0.0.0", "--port", "9000"]), "commands", "listens on 9000"),
    ("env", lambda d: _find(d, "ConfigMap", "claims-tasks-config")["data"].update(CLAIMS_SHARD="4"), "environment",
     "CLAIMS_SHARD is not a setting"),
    ("literal-secret", lambda d: _container(d, "claims-tasks-worker")["env"].append(
     {"name": "CLAIMS_ENCRYPTION_KEY", "value": "x"}), "secrets", "must come from a Secret"),
    ("secret-in-repo", lambda d: d.append({"kind": "Secret", "metadata": {"name": "s"}}), "secrets",
     "no Secret belongs"),
    ("beat-two", lambda d: _find(d, "Deployment", "claims-tasks-beat")["spec"].update(replicas=2), "beat",
     "exactly 1 replica"),
    ("beat-rolling", lambda d: _find(d, "Deployment", "claims-tasks-beat")["spec"].update(
     strategy={"type": "RollingUpdate"}), "beat", "Recreate"),
    ("no-probe", lambda d: _container(d, "claims-tasks-flower").pop("livenessProbe"), "probes", "no livenessProbe"),
    ("probe-path", lambda d: _container(d, "claims-tasks-api")["readinessProbe"]["httpGet"].update(path="/ready"),
     "probes", "should GET /health"),
    ("list-missing", lambda d: _find(d, "ScaledObject", "claims-tasks-worker")["spec"]["triggers"].pop(5),
     "autoscaling", "claims.shard.1:3"),
    ("more-shards", lambda d: _find(d, "ConfigMap", "claims-tasks-config")["data"].update(CLAIMS_SHARDS="5"),
     "autoscaling", "claims.shard.4"),
    ("max-not-sum", lambda d: _find(d, "ScaledObject", "claims-tasks-worker")["spec"]["advanced"]["scalingModifiers"]
     .update(formula="max(shard0_p0, shard1_p0)"), "autoscaling", "sum of every trigger"),
]
# fmt: on


@pytest.mark.parametrize(("mutate", "check", "expected"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_checks_catch_breakage(manifests: Docs, mutate: Callable[[Docs], None], check: str, expected: str) -> None:
    broken = copy.deepcopy(manifests)
    mutate(broken)
    problems = CHECKS[check](broken)
    assert any(expected in p for p in problems), f"expected a problem mentioning {expected!r}, got {problems}"
