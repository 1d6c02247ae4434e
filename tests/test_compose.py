"""docker-compose.yml, deploy/Dockerfile, .dockerignore and .env.example, checked against the code without
Docker: services, entry points, settings, ports, secrets, dependencies, volumes, image layout.

Each check is a function returning a list of problems. The tests assert the list is empty for the real
files; the `*_catches_breakage` tests run every check on deliberately broken in-memory copies, so none of
them can pass by accident. `test_command_resolves[api]` fails until api/main.py defines `app`.
"""

from __future__ import annotations

import copy
import importlib
import json
import re
import shlex
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import pytest
import yaml
from celery import Celery
from cryptography.fernet import Fernet
from flower.options import options as flower_options
from pydantic import ValidationError

from claims_tasks import config
from claims_tasks.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENV_EXAMPLE = ROOT / ".env.example"
PG_INIT_DIR = ROOT / "deploy" / "postgres-init"

INFRA_SERVICES = {"postgres", "redis"}
APP_SERVICES = {"init", "worker", "beat", "api", "flower"}
# App services that read the databases, so must wait for `claims-tasks init` (flower only needs Redis).
NEEDS_INIT = {"worker", "beat", "api"}
CELERY_SUBCOMMANDS = {"worker", "beat", "flower"}
# Variables that are not Settings fields but are read by something in the stack (FLOWER_* by flower, which
# refuses to start on one that names none of its options).
ALLOWED_ENV = {"APP_ENV", "APP_CONFIG", "FLOWER_BASIC_AUTH", "ACCEPT_EULA"}
# Variables the third-party images read (postgres; Microsoft's SQL Server image, the optional mssql profile).
ALLOWED_ENV_PREFIXES = ("POSTGRES_", "MSSQL_")
# Variables compose only interpolates (never passed to a container): documented in .env.example.
COMPOSE_ONLY_VARS = {"API_PORT", "FLOWER_PORT"}
SECRET_VARS = {f"CLAIMS_{name.upper()}" for name in config.SECRET_FIELDS} | {"FLOWER_BASIC_AUTH"}
DEPENDS_CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
# What the running code needs next to it (db/engines.py finds alembic.ini beside its package).
RUNTIME_PATHS = {"claims_tasks", "db", "api", "ml", "alembic", "alembic.ini", "celeryconfig.py", "sql"}
MUST_BE_IGNORED = (".env", ".venv", ".git", ".pytest_cache", ".ruff_cache", "claims_tasks/__pycache__")

Problems = list[str]


# --- reading the files --------------------------------------------------------------------------------------


def load_compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())  # safe_load resolves the `<<: *anchor` merges


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


_INTERPOLATION = re.compile(r"\$\$|\$\{(?P<name>\w+)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}|\$(?P<bare>\w+)")


def interpolated_names(text: str) -> set[str]:
    return {m["name"] or m["bare"] for m in _INTERPOLATION.finditer(text) if m.group() != "$$"}


def resolve(value: Any, env: dict[str, str] | None = None) -> str:
    """Compose's interpolation, `env` standing for the environment: defaults apply, required ones show."""
    env = env or {}

    def sub(m: re.Match[str]) -> str:
        if m.group() == "$$":
            return "$"
        name, op, arg = m["name"] or m["bare"], m["op"] or "", m["arg"] or ""
        value, is_set = env.get(name), name in env
        if op in (":-", "-"):
            return value if (value if op == ":-" else is_set) else arg
        if op in (":?", "?"):
            return value if (value if op == ":?" else is_set) else f"<required {name}>"
        if op in (":+", "+"):
            return arg if (value if op == ":+" else is_set) else ""
        return value or ""

    return _INTERPOLATION.sub(sub, str(value))


def services(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return doc.get("services") or {}


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def argv(service: dict[str, Any]) -> list[str]:
    parts: list[str] = []
    for key in ("entrypoint", "command"):
        value = service.get(key)
        if value:
            parts += shlex.split(value) if isinstance(value, str) else [str(v) for v in value]
    return parts


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def published_ports(service: dict[str, Any]) -> list[tuple[str, int, str]]:
    """(host ip, host port, protocol) for each port published on a fixed host port."""
    found = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            if entry.get("published") is None:
                continue
            ip, host, proto = (
                entry.get("host_ip", ""),
                resolve(entry["published"]),
                entry.get("protocol", "tcp"),
            )
        else:
            spec, _, proto = resolve(entry).partition("/")
            parts = spec.split(":")
            if len(parts) == 1:
                continue  # container port only: Docker picks a free host port
            ip, host = (parts[0], parts[1]) if len(parts) == 3 else ("", parts[0])
        first, _, last = str(host).partition("-")
        found += [(ip, port, proto or "tcp") for port in range(int(first), int(last or first) + 1)]
    return found


def container_ports(service: dict[str, Any]) -> set[int]:
    ports = set()
    for entry in service.get("ports") or []:
        target = entry.get("target") if isinstance(entry, dict) else resolve(entry).partition("/")[0].split(":")[-1]
        ports.add(int(target))
    return ports


def named_volumes_used(service: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(named volumes, bind-mount sources) of one service."""
    named, binds = set(), set()
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            source, kind = entry.get("source"), entry.get("type", "volume")
        else:
            parts = str(entry).split(":")
            if len(parts) == 1:
                continue  # anonymous volume
            source = parts[0]
            kind = "bind" if source.startswith((".", "/", "~", "$")) else "volume"
        if source:
            (named if kind == "volume" else binds).add(source)
    return named, binds


def dockerfile_stages(text: str) -> list[list[tuple[str, str]]]:
    """Instructions (NAME, arguments) grouped by build stage; continuation lines joined, comments dropped."""
    logical, pending = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: list[list[tuple[str, str]]] = []
    for line in logical:
        name, _, args = line.partition(" ")
        if name.upper() == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((name.upper(), args.strip()))
    return stages


def copy_sources(args: str) -> tuple[list[str], bool]:
    """The sources of one COPY and whether they come from another stage (--from)."""
    tokens = json.loads(args) if args.startswith("[") else shlex.split(args)
    flags = [t for t in tokens if t.startswith("--")]
    paths = [t for t in tokens if not t.startswith("--")]
    return paths[:-1], any(f.startswith("--from") for f in flags)


def _ignore_regex(pattern: str) -> re.Pattern[str]:
    pattern = pattern.strip().lstrip("/").removeprefix("./").rstrip("/")
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[" and "]" in pattern[i:]:
            end = pattern.index("]", i)
            out, i = out + pattern[i : end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def is_dockerignored(path: str, ignore_text: str) -> bool:
    """Whether .dockerignore leaves `path` (or a directory holding it) out of the build context."""
    rules = [line.strip() for line in ignore_text.splitlines() if line.strip() and not line.startswith("#")]
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    ignored = False
    for rule in rules:
        negate = rule.startswith("!")
        regex = _ignore_regex(rule.lstrip("!"))
        if any(regex.fullmatch(p) for p in prefixes):
            ignored = not negate
    return ignored


# --- entry points -------------------------------------------------------------------------------------------


def _split_group_args(group: click.Group, args: list[str]) -> tuple[list[str], str | None, list[str]]:
    """(group options, subcommand, subcommand arguments) of a click group's command line."""
    takes_value = {o for p in group.params if isinstance(p, click.Option) and not p.is_flag for o in p.opts}
    i = 0
    while i < len(args) and args[i].startswith("-"):
        i += 2 if args[i] in takes_value else 1
    return args[:i], (args[i] if i < len(args) else None), args[i + 1 :]


def _flag_value(args: list[str], *names: str) -> str | None:
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                return args[i + 1]
            if arg.startswith(name + "=") and name.startswith("--"):
                return arg.split("=", 1)[1]
    return None


def _healthcheck_url(service: dict[str, Any]) -> str | None:
    test = (service.get("healthcheck") or {}).get("test") or []
    text = test if isinstance(test, str) else " ".join(map(str, test))
    match = re.search(r"https?://[^\s'\"]+", text)
    return match.group() if match else None


def _check_celery(name: str, service: dict[str, Any], args: list[str]) -> Problems:
    from celery.bin.base import CLIContext
    from celery.bin.celery import celery as celery_cli

    group_args, sub, rest = _split_group_args(celery_cli, args)
    app_name = _flag_value(group_args, "-A", "--app")
    if not app_name:
        return [f"{name}: celery needs -A claims_tasks, got {args}"]
    try:
        module = importlib.import_module(app_name.partition(":")[0])
    except ImportError as exc:
        return [f"{name}: celery -A {app_name}: cannot import it: {exc}"]
    app = getattr(module, app_name.partition(":")[2] or "app", None)
    if not isinstance(app, Celery):
        return [f"{name}: celery -A {app_name}: no celery.Celery instance `app` there"]
    if sub not in CELERY_SUBCOMMANDS:
        return [f"{name}: celery subcommand {sub!r} is not one of {sorted(CELERY_SUBCOMMANDS)}"]
    if sub not in celery_cli.commands:
        return [f"{name}: `celery {sub}` is not installed (its package provides it: flower for flower)"]
    if sub == "flower":
        unknown = [a for a in rest if a.startswith("--") and a[2:].split("=")[0] not in flower_options._options]
        port = _flag_value(rest, "--port")
        problems = [f"{name}: unknown flower options {unknown}"] if unknown else []
        if port is None or int(port) not in container_ports(service):
            problems.append(f"{name}: flower listens on {port}, but publishes {sorted(container_ports(service))}")
        return problems
    parent = click.Context(celery_cli, info_name="celery", obj=CLIContext(app, True, None, True))
    try:
        ctx = celery_cli.commands[sub].make_context(sub, list(rest), parent=parent)
    except click.ClickException as exc:
        return [f"{name}: celery {sub} {rest}: {exc.format_message()}"]
    if sub == "worker" and ctx.params.get("beat"):
        return [f"{name}: a worker must not embed beat (-B): beat runs once, in the beat service"]
    if sub == "worker" and ctx.params.get("queues"):
        declared = {q.name for q in importlib.import_module("celeryconfig").task_queues}
        unknown_queues = set(ctx.params["queues"]) - declared
        if unknown_queues:
            return [f"{name}: -Q names queues celeryconfig does not declare: {sorted(unknown_queues)}"]
    return []


def _check_claims_tasks(name: str, service: dict[str, Any], args: list[str]) -> Problems:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"].get("scripts", {})
    if "claims-tasks" not in scripts:
        return [f"{name}: pyproject [project.scripts] has no claims-tasks"]
    module, _, attr = scripts["claims-tasks"].partition(":")
    group = getattr(importlib.import_module(module), attr)
    group_args, sub, rest = _split_group_args(group, args)
    if sub not in group.commands:
        return [f"{name}: `claims-tasks {sub}` is not a command; there are {sorted(group.commands)}"]
    try:
        group.make_context("claims-tasks", [*group_args, sub])
        group.commands[sub].make_context(sub, list(rest))
    except click.ClickException as exc:
        return [f"{name}: claims-tasks {' '.join(args)}: {exc.format_message()}"]
    return []


def _check_uvicorn(name: str, service: dict[str, Any], args: list[str]) -> Problems:
    command = importlib.import_module("uvicorn.main").main
    try:
        params = command.make_context("uvicorn", list(args)).params
    except click.ClickException as exc:
        return [f"{name}: uvicorn {args}: {exc.format_message()}"]
    problems = []
    if params["host"] != "0.0.0.0":
        problems.append(f"{name}: uvicorn must listen on 0.0.0.0 in a container, not {params['host']}")
    if params["port"] not in container_ports(service):
        problems.append(f"{name}: uvicorn listens on {params['port']}, publishes {sorted(container_ports(service))}")
    module_name, _, attr = params["app"].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        return [*problems, f"{name}: uvicorn {params['app']}: module {module_name!r} does not import: {exc}"]
    app = getattr(module, attr, None)
    if app is None:
        return [*problems, f"{name}: uvicorn {params['app']}: {module_name} has no attribute {attr!r}"]
    url = _healthcheck_url(service)
    routes = {getattr(r, "path", None) for r in getattr(app, "routes", [])}
    if url and routes and urlsplit(url).path not in routes:
        problems.append(f"{name}: the healthcheck calls {urlsplit(url).path}, which the app does not serve")
    return problems


ENTRY_POINTS: dict[str, Callable[[str, dict[str, Any], list[str]], Problems]] = {
    "celery": _check_celery,
    "claims-tasks": _check_claims_tasks,
    "uvicorn": _check_uvicorn,
}


def check_command(name: str, service: dict[str, Any]) -> Problems:
    """The service's command runs a real entry point of this project with arguments it accepts."""
    if "build" not in service:
        return []  # a stock image (postgres, redis) runs its own program
    args = argv(service)
    if not args:
        return [f"{name}: an app service needs an explicit command (the image's CMD is only --help)"]
    check = ENTRY_POINTS.get(args[0])
    if check is None:
        return [f"{name}: unknown program {args[0]!r}; expected one of {sorted(ENTRY_POINTS)}"]
    return check(name, service, args[1:])


# --- checks on docker-compose.yml ---------------------------------------------------------------------------


def check_services(doc: dict[str, Any]) -> Problems:
    svc = services(doc)
    problems = [f"missing service {s!r}" for s in sorted((INFRA_SERVICES | APP_SERVICES) - set(svc))]
    images = set()
    for name in sorted(APP_SERVICES & set(svc)):
        build = svc[name].get("build")
        build = {"context": build} if isinstance(build, str) else (build or {})
        context, dockerfile = build.get("context", ""), build.get("dockerfile")
        if (ROOT / context).resolve() != ROOT or dockerfile != "deploy/Dockerfile":
            problems.append(f"{name}: must build deploy/Dockerfile with context '.', has {build}")
        images.add(svc[name].get("image"))
    if len(images) > 1:
        problems.append(f"the app services should share one image name (the x-app anchor), have {images}")
    init_restart = svc.get("init", {}).get("restart", "no")
    if init_restart != "no":
        problems.append(f'init is one-shot: restart must be the string "no" (quote it in YAML), not {init_restart!r}')
    return problems


def check_scaling(doc: dict[str, Any]) -> Problems:
    svc, problems = services(doc), []
    beat, worker = svc.get("beat", {}), svc.get("worker", {})
    if int((beat.get("deploy") or {}).get("replicas", 1)) > 1 or int(beat.get("scale", 1)) > 1:
        problems.append("beat must run exactly once: no deploy.replicas or scale above 1")
    for key in ("container_name", "hostname"):
        if key in worker:
            problems.append(f"worker sets {key}, so `--scale worker=N` replicas would clash")
    if published_ports(worker):
        problems.append(f"worker publishes host ports {published_ports(worker)}, so it cannot scale")
    runs_beat = [n for n, s in svc.items() if "beat" in argv(s) or {"-B", "--beat"} & set(argv(s))]
    if runs_beat != ["beat"]:
        problems.append(f"exactly one service, beat, must run celery beat; found {runs_beat}")
    return problems


def check_environment(doc: dict[str, Any]) -> Problems:
    problems = []
    for name, service in services(doc).items():
        for var in environment(service):
            if var.startswith("CLAIMS_"):
                field = var.removeprefix("CLAIMS_").lower()
                if field not in config.Settings.model_fields:
                    problems.append(f"{name}: {var} is not a setting (no field {field!r} in Settings)")
            elif var.startswith("FLOWER_"):
                option = var.removeprefix("FLOWER_").lower()
                if not {option, option.replace("_", "-")} & set(flower_options._options):
                    problems.append(f"{name}: {var} names no flower option, and flower would refuse it")
            elif var not in ALLOWED_ENV and not var.startswith(ALLOWED_ENV_PREFIXES):
                problems.append(f"{name}: {var} is read by nothing known (allowed: {sorted(ALLOWED_ENV)}, POSTGRES_*)")
    return problems


def check_settings_values(doc: dict[str, Any], init_sql: str) -> Problems:
    """The values compose gives the app validate as Settings, and point at the compose services."""
    problems = []
    svc = services(doc)
    for name in sorted(APP_SERVICES & set(svc)):
        env = {k: resolve(v) for k, v in environment(svc[name]).items()}
        values: dict[str, Any] = {
            k.removeprefix("CLAIMS_").lower(): v for k, v in env.items() if k.startswith("CLAIMS_")
        }
        values = {k: Fernet.generate_key().decode() if v.startswith("<required") else v for k, v in values.items()}
        if "APP_ENV" in env:
            values["environment"] = env["APP_ENV"]
        try:
            settings = config.Settings(_env_file=None, **values)  # type: ignore[call-arg]
        except (ValidationError, ConfigError) as exc:
            problems.append(f"{name}: these settings do not validate: {exc}")
            continue
        for field in ("staging_dsn", "production_dsn", "broker_url"):
            if f"CLAIMS_{field.upper()}" not in env:
                problems.append(f"{name}: CLAIMS_{field.upper()} is not set (the default is 127.0.0.1)")
                continue
            url = urlsplit(getattr(settings, field))
            if url.hostname not in svc:
                problems.append(f"{name}: CLAIMS_{field.upper()} points at {url.hostname}, not a compose service")
            if field.endswith("dsn") and f"CREATE DATABASE {url.path.lstrip('/')}" not in init_sql:
                problems.append(f"{name}: the postgres init script does not create {url.path.lstrip('/')}")
    return problems


def check_ports(doc: dict[str, Any]) -> Problems:
    problems, seen = [], []
    for name, service in services(doc).items():
        for ip, port, proto in published_ports(service):
            for other, other_ip, other_port, other_proto in seen:
                overlap = ip == other_ip or not ip or not other_ip or "0.0.0.0" in (ip, other_ip)
                if port == other_port and proto == other_proto and overlap:
                    problems.append(f"{name} and {other} both publish host port {port}/{proto}")
            seen.append((name, ip, port, proto))
    return problems


_FERNET_LIKE = re.compile(r"(?<![\w-])[A-Za-z0-9_-]{43}=(?![\w=-])")


def check_secrets(doc: dict[str, Any], text: str) -> Problems:
    problems = []
    for name, service in services(doc).items():
        for var, value in environment(service).items():
            if var in SECRET_VARS and not re.fullmatch(rf"\$\{{{var}:?\?[^}}]*\}}", value):
                problems.append(f"{name}: {var} must be a required interpolation ${{{var}:?…}} (.env), not {value!r}")
    problems += [f"a literal Fernet key in the file: {m[:6]}…" for m in _FERNET_LIKE.findall(text)]
    return problems


def check_depends_on(doc: dict[str, Any]) -> Problems:
    svc, problems = services(doc), []
    for name, service in svc.items():
        for target, condition in depends_on(service).items():
            if target not in svc:
                problems.append(f"{name} depends on {target!r}, which is not a service")
                continue
            if condition not in DEPENDS_CONDITIONS:
                problems.append(f"{name} -> {target}: unknown condition {condition!r}")
            if condition == "service_healthy" and not (svc[target].get("healthcheck") or {}).get("test"):
                problems.append(f"{name} waits for {target} to be healthy, but {target} has no healthcheck")
            if condition == "service_completed_successfully" and svc[target].get("restart", "no") != "no":
                problems.append(f"{name} waits for {target} to complete, but {target} restarts")
    for name in sorted(NEEDS_INIT & set(svc)):
        if depends_on(svc[name]).get("init") != "service_completed_successfully":
            problems.append(f"{name} must depend on init with condition service_completed_successfully")

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in path:
            problems.append(f"depends_on cycle: {' -> '.join((*path, name))}")
            return
        for target in depends_on(svc.get(name, {})):
            visit(target, (*path, name))

    for name in svc:
        visit(name, ())
    return sorted(set(problems))


def check_volumes(doc: dict[str, Any]) -> Problems:
    declared, used, problems = set(doc.get("volumes") or {}), set(), []
    for name, service in services(doc).items():
        named, binds = named_volumes_used(service)
        used |= named
        problems += [f"{name} uses volume {v!r}, not declared under top-level volumes" for v in named - declared]
        problems += [f"{name} mounts {b}, which does not exist in the repo" for b in binds if not (ROOT / b).exists()]
    problems += [f"volume {v!r} is declared but no service uses it" for v in declared - used]
    return problems


def check_healthchecks(doc: dict[str, Any]) -> Problems:
    svc, problems = services(doc), []
    expect = {"postgres": "pg_isready", "redis": "redis-cli", "api": "/health", "worker": "inspect ping",
              "beat": "celerybeat-schedule", "flower": "/healthcheck"}  # fmt: skip
    for name in sorted(set(svc) - {"init"} - set(expect)):
        if not (svc[name].get("healthcheck") or {}).get("test"):
            problems.append(f"{name}: a long-running service needs a healthcheck")
    for name, needle in expect.items():
        test = (svc.get(name, {}).get("healthcheck") or {}).get("test") or []
        if needle not in (test if isinstance(test, str) else " ".join(map(str, test))):
            problems.append(f"{name}: healthcheck should use {needle}, has {test}")
    for name in ("api", "flower"):
        url = _healthcheck_url(svc.get(name, {}))
        port = _flag_value(argv(svc.get(name, {})), "--port")
        if url and port and urlsplit(url).port != int(port):
            problems.append(f"{name}: healthcheck calls port {urlsplit(url).port}, it listens on {port}")
    schedule = _flag_value(argv(svc.get("beat", {})), "--schedule")
    beat_test = " ".join(map(str, (svc.get("beat", {}).get("healthcheck") or {}).get("test") or []))
    if schedule and schedule not in beat_test:
        problems.append(f"beat: healthcheck does not look at its --schedule file {schedule}")
    return problems


def check_worker_queues(doc: dict[str, Any]) -> Problems:
    """Each worker consumes every shard queue, or the subset CLAIMS_WORKER_QUEUES names, which must be an
    interpolation (set per deployment, `CLAIMS_WORKER_QUEUES=0,1 docker compose up worker`) that resolves to
    queues the shard count declares, whatever value it is given."""
    from claims_tasks.sharding import DEAD_LETTER_QUEUE, DISPATCH_QUEUE, RETRY_QUEUE, shard_queues
    from claims_tasks.worker_queues import resolve as resolve_queues

    problems = []
    for name, service in services(doc).items():
        args = argv(service)
        if args[:1] != ["celery"] or "worker" not in args:
            continue
        env = environment(service)
        raw = env.get("CLAIMS_WORKER_QUEUES")
        if raw is None:
            problems.append(
                f"{name}: set CLAIMS_WORKER_QUEUES: ${{CLAIMS_WORKER_QUEUES:-}} so a deployment can pick shards"
            )
            continue
        if "${CLAIMS_WORKER_QUEUES" not in raw:
            problems.append(f"{name}: CLAIMS_WORKER_QUEUES must be an interpolation, not the fixed {raw!r}")
        shards = int(resolve(env.get("CLAIMS_SHARDS", "4")) or 4)
        declared = [DISPATCH_QUEUE, *shard_queues(shards), RETRY_QUEUE, DEAD_LETTER_QUEUE]
        for given in ({}, {"CLAIMS_WORKER_QUEUES": "0,claims.dispatch"}):
            try:
                resolve_queues(resolve(raw, given), shards, declared)
            except ConfigError as exc:
                problems.append(f"{name}: {exc}")
    return problems


# --- checks on the other files ------------------------------------------------------------------------------


def check_dockerfile(text: str, ignore_text: str) -> Problems:
    stages = dockerfile_stages(text)
    if len(stages) < 2:
        return [f"the Dockerfile should be multi-stage (builder + runtime), has {len(stages)} FROM"]
    problems = []
    final = stages[-1]
    if not final[0][1].split()[0].startswith("python:3.11-slim"):
        problems.append(f"the runtime stage should be python:3.11-slim, is {final[0][1]}")
    users = [args for instr, args in final if instr == "USER"]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        problems.append(f"the runtime stage must switch to a non-root USER, has {users or 'none'}")
    if ("WORKDIR", "/app") not in final:
        problems.append("the runtime stage should have WORKDIR /app")
    if not any(instr == "ENV" and re.search(r"PYTHONPATH=\S*/app\b", args) for instr, args in final):
        problems.append("the runtime stage must set PYTHONPATH=/app: db/engines.py finds alembic.ini beside it")
    copied_final: set[str] = set()
    for index, stage in enumerate(stages):
        for instr, args in stage:
            if instr in ("ENV", "ARG"):
                for token in shlex.split(args):
                    var = token.split("=")[0]
                    if re.search(r"KEY|SECRET|PASSWORD|TOKEN|AUTH", var):
                        problems.append(f"{instr} {var}: secrets come from the environment at run time only")
            if instr not in ("COPY", "ADD"):
                continue
            sources, from_stage = copy_sources(args)
            if from_stage:
                continue
            for src in sources:
                path = src.rstrip("/").removeprefix("./")
                if not any(ROOT.glob(path)):
                    problems.append(f"COPY {src}: no such path in the repo")
                elif is_dockerignored(path, ignore_text):
                    problems.append(f"COPY {src}: .dockerignore leaves it out of the build context")
                if index == len(stages) - 1:
                    copied_final.add(path)
    missing = RUNTIME_PATHS - copied_final
    if missing:
        problems.append(f"the runtime stage does not copy {sorted(missing)}")
    return list(dict.fromkeys(problems))


def check_dockerignore(ignore_text: str) -> Problems:
    return [f".dockerignore should exclude {p}" for p in MUST_BE_IGNORED if not is_dockerignored(p, ignore_text)]


def _is_fernet_key(value: str) -> bool:
    try:
        Fernet(value.encode())
    except (ValueError, TypeError):
        return False
    return True


def check_env_example(text: str, compose_text: str) -> Problems:
    documented: dict[str, str] = {}
    for line in text.splitlines():
        m = re.match(r"#?\s*([A-Z][A-Z0-9_]*)=(.*)$", line.strip())
        if m:
            documented.setdefault(m[1], m[2].strip())
    problems = []
    key = documented.get("CLAIMS_ENCRYPTION_KEY")
    if key is None:
        problems.append(".env.example must list CLAIMS_ENCRYPTION_KEY")
    elif not key or _is_fernet_key(key):
        problems.append(".env.example: CLAIMS_ENCRYPTION_KEY must be a placeholder, not empty nor a real key")
    if "Fernet.generate_key()" not in text:
        problems.append(".env.example should say how to generate a key (Fernet.generate_key())")
    for var in sorted(interpolated_names(compose_text) - set(documented)):
        problems.append(f".env.example does not document {var}, which docker-compose.yml reads")
    for var in sorted(documented):
        if var.startswith("CLAIMS_") and var.removeprefix("CLAIMS_").lower() not in config.Settings.model_fields:
            problems.append(f".env.example: {var} is not a setting")
        elif not var.startswith(("CLAIMS_", *ALLOWED_ENV_PREFIXES)) and var not in ALLOWED_ENV | COMPOSE_ONLY_VARS:
            problems.append(f".env.example: {var} is read by nothing known")
    for var in sorted(SECRET_VARS & set(documented)):
        if _FERNET_LIKE.search(documented[var]):
            problems.append(f".env.example: {var} holds what looks like a real key")
    return problems


# --- tests --------------------------------------------------------------------------------------------------


def _pg_init_sql() -> str:
    return "\n".join(p.read_text() for p in sorted(PG_INIT_DIR.glob("*.sql")))


def test_services(compose: dict[str, Any]) -> None:
    assert check_services(compose) == []


def test_beat_single_and_worker_scalable(compose: dict[str, Any]) -> None:
    assert check_scaling(compose) == []


@pytest.mark.parametrize("name", sorted(INFRA_SERVICES | APP_SERVICES))
def test_command_resolves(compose: dict[str, Any], name: str) -> None:
    assert name in services(compose), f"no service {name}"
    assert check_command(name, services(compose)[name]) == []


def test_environment_names_settings(compose: dict[str, Any]) -> None:
    assert check_environment(compose) == []


def test_settings_values_validate(compose: dict[str, Any]) -> None:
    assert PG_INIT_DIR.is_dir() and _pg_init_sql(), "deploy/postgres-init/ needs a *.sql script"
    assert check_settings_values(compose, _pg_init_sql()) == []


def test_host_ports_do_not_collide(compose: dict[str, Any]) -> None:
    assert check_ports(compose) == []


def test_no_literal_secrets(compose: dict[str, Any]) -> None:
    assert check_secrets(compose, COMPOSE_FILE.read_text()) == []


def test_depends_on(compose: dict[str, Any]) -> None:
    assert check_depends_on(compose) == []


def test_volumes(compose: dict[str, Any]) -> None:
    assert check_volumes(compose) == []


def test_healthchecks(compose: dict[str, Any]) -> None:
    assert check_healthchecks(compose) == []


def test_worker_queues(compose: dict[str, Any]) -> None:
    assert check_worker_queues(compose) == []


def test_dockerfile() -> None:
    assert check_dockerfile(DOCKERFILE.read_text(), DOCKERIGNORE.read_text()) == []


def test_dockerignore() -> None:
    assert check_dockerignore(DOCKERIGNORE.read_text()) == []


def test_env_example() -> None:
    assert check_env_example(ENV_EXAMPLE.read_text(), COMPOSE_FILE.read_text()) == []


# --- every check can fail -----------------------------------------------------------------------------------


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation setting doc[a][b]... = value for path 'a.b...'."""

    def mutate(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for key in parents:
            doc = doc.setdefault(key, {})
        doc[last] = value

    return mutate


def _add_env(service: str, var: str, value: str) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        doc["services"][service]["environment"] = {**environment(doc["services"][service]), var: value}

    return mutate


def _secrets(doc: dict[str, Any]) -> Problems:
    return check_secrets(doc, "")


def _settings(doc: dict[str, Any]) -> Problems:
    return check_settings_values(doc, _pg_init_sql())


_KEY = Fernet.generate_key().decode()
# (id, mutation of a copy of docker-compose.yml, the check, a phrase the problem must contain)
# fmt: off
BROKEN_COMPOSE = [
    ("missing-service", lambda d: d["services"].pop("flower"), check_services, "missing service 'flower'"),
    ("init-restarts", _set("services.init.restart", False), check_services, "restart must be"),
    ("beat-replicas", _set("services.beat.deploy", {"replicas": 2}), check_scaling, "exactly once"),
    ("beat-scale", _set("services.beat.scale", 3), check_scaling, "exactly once"),
    ("worker-name", _set("services.worker.container_name", "w"), check_scaling, "container_name"),
    ("worker-port", _set("services.worker.ports", ["9000:9000"]), check_scaling, "cannot scale"),
    ("worker-beat", _set("services.worker.command", "celery -A x worker -B"), check_scaling, "one service"),
    ("claims-var", _add_env("worker", "CLAIMS_NOT_A_SETTING", "1"), check_environment, "not a setting"),
    ("other-var", _add_env("api", "SOME_RANDOM_VAR", "1"), check_environment, "read by nothing"),
    ("flower-var", _add_env("flower", "FLOWER_BASIC_AUTHH", "a:b"), check_environment, "no flower option"),
    ("port-collision", _set("services.flower.ports", ["127.0.0.1:${API_PORT:-8000}:5555"]), check_ports,
     "both publish host port 8000"),
    ("port-collision-any-ip", _set("services.redis.ports", ["5555:6379"]), check_ports, "host port 5555"),
    ("literal-key", _add_env("worker", "CLAIMS_ENCRYPTION_KEY", _KEY), _secrets, "required interpolation"),
    ("key-default", _add_env("api", "CLAIMS_ENCRYPTION_KEY", "${CLAIMS_ENCRYPTION_KEY:-abc}"), _secrets,
     "required interpolation"),
    ("flower-auth", _add_env("flower", "FLOWER_BASIC_AUTH", "admin:admin"), _secrets, "FLOWER_BASIC_AUTH"),
    ("depends-unknown", _set("services.api.depends_on", {"nosuch": {}}), check_depends_on, "not a service"),
    ("depends-unhealthy", lambda d: d["services"]["redis"].pop("healthcheck"), check_depends_on,
     "no healthcheck"),
    ("depends-condition", _set("services.worker.depends_on.init.condition", "service_done"), check_depends_on,
     "unknown condition"),
    ("depends-cycle", _set("services.init.depends_on.worker", {}), check_depends_on, "cycle"),
    ("depends-no-init", lambda d: d["services"]["api"].pop("depends_on"), check_depends_on,
     "api must depend"),
    ("volume-undeclared", lambda d: d["volumes"].pop("pgdata"), check_volumes, "not declared"),
    ("volume-unused", _set("volumes.spare", None), check_volumes, "no service uses it"),
    ("bind-missing", _set("services.postgres.volumes", ["./no/such:/x"]), check_volumes, "does not exist"),
    ("bad-dsn", _add_env("worker", "CLAIMS_STAGING_DSN", "mysql://db/x"), _settings, "do not validate"),
    ("bad-shards", _add_env("worker", "CLAIMS_SHARDS", "${CLAIMS_SHARDS:-0}"), _settings, "do not validate"),
    ("dsn-host", _add_env("api", "CLAIMS_PRODUCTION_DSN", "postgresql://postgres@db/smart_pro_claims"),
     _settings, "not a compose service"),
    ("dsn-db", _add_env("beat", "CLAIMS_STAGING_DSN", "postgresql://postgres@postgres/other"), _settings,
     "does not create other"),
    ("health-port", _set("services.api.healthcheck.test", ["CMD", "curl", "http://127.0.0.1:80/health"]),
     check_healthchecks, "port 80"),
    ("health-pg", _set("services.postgres.healthcheck.test", ["CMD", "true"]), check_healthchecks,
     "pg_isready"),
    ("health-worker", lambda d: d["services"]["worker"].pop("healthcheck"), check_healthchecks, "inspect ping"),
    ("health-flower-port", _set("services.flower.healthcheck.test", ["CMD", "curl", "http://127.0.0.1:80/healthcheck"]),
     check_healthchecks, "port 80"),
    ("health-beat-file", _set("services.beat.command", "celery -A claims_tasks beat --schedule /var/x"),
     check_healthchecks, "--schedule file /var/x"),
    ("health-extra", _set("services.extra", {"image": "busybox"}), check_healthchecks, "extra: a long-running"),
    ("queues-missing", lambda d: d["services"]["worker"]["environment"].pop("CLAIMS_WORKER_QUEUES"),
     check_worker_queues, "so a deployment can pick shards"),
    ("queues-fixed", _add_env("worker", "CLAIMS_WORKER_QUEUES", "0,1"), check_worker_queues,
     "must be an interpolation"),
    ("queues-bad-default", _add_env("worker", "CLAIMS_WORKER_QUEUES", "${CLAIMS_WORKER_QUEUES:-7}"),
     check_worker_queues, "shard 7 does not exist"),
]
# fmt: on


@pytest.mark.parametrize(
    ("mutate", "check", "expected"), [c[1:] for c in BROKEN_COMPOSE], ids=[c[0] for c in BROKEN_COMPOSE]
)
def test_check_catches_breakage(
    compose: dict[str, Any],
    mutate: Callable[[dict[str, Any]], None],
    check: Callable[[dict[str, Any]], Problems],
    expected: str,
) -> None:
    broken = copy.deepcopy(compose)
    mutate(broken)
    problems = check(broken)
    assert any(expected in p for p in problems), f"expected a problem mentioning {expected!r}, got {problems}"


# (service, a broken command for it, a phrase the problem must contain)
BROKEN_COMMANDS = [
    ("worker", "celery -A claims_tasks wrker", "'wrker'"),
    ("worker", "celery worker", "needs -A"),
    ("beat", "celery -A claims_tasks.errors beat", "no celery.Celery"),
    ("worker", "celery -A claims_tasks worker --concurency 2", "--concurency"),
    ("worker", "celery -A claims_tasks worker -Q claims.nope", "does not declare"),
    ("flower", "celery -A claims_tasks flower --port=5556", "listens on 5556"),
    ("flower", "celery -A claims_tasks flower --port=5555 --basic_oauth=x", "unknown flower options"),
    ("init", ["claims-tasks", "initialise"], "not a command"),
    ("init", ["claims-tasks", "seed", "--claimz", "1"], "--claimz"),
    ("api", "uvicorn api.no_such_module:app --host 0.0.0.0 --port 8000", "does not import"),
    ("api", "uvicorn claims_tasks:nope --host 0.0.0.0 --port 8000", "no attribute 'nope'"),
    ("api", "uvicorn claims_tasks:app --host 127.0.0.1 --port 8000", "0.0.0.0"),
    ("api", "uvicorn claims_tasks:app --host 0.0.0.0 --port 9000", "listens on 9000"),
    ("beat", "python -m claims_tasks", "unknown program"),
    ("beat", None, "explicit command"),
]


@pytest.mark.parametrize(("name", "command", "expected"), BROKEN_COMMANDS)
def test_command_check_catches_breakage(
    compose: dict[str, Any], name: str, command: str | list[str] | None, expected: str
) -> None:
    service = {**services(compose)[name], "command": command}
    problems = check_command(name, service)
    assert any(expected in p for p in problems), f"expected a problem mentioning {expected!r}, got {problems}"


def test_file_checks_catch_breakage() -> None:
    dockerfile, ignore = DOCKERFILE.read_text(), DOCKERIGNORE.read_text()
    single_stage = dockerfile[dockerfile.index("FROM python:3.11-slim AS runtime") :]
    assert any("multi-stage" in p for p in check_dockerfile(single_stage, ignore))
    assert any("non-root" in p for p in check_dockerfile(dockerfile.replace("USER claims", "USER root"), ignore))
    assert any("no such path" in p for p in check_dockerfile(dockerfile + "\nCOPY no_such_dir/ x/\n", ignore))
    assert any("leaves it out" in p for p in check_dockerfile(dockerfile, ignore + "\nalembic.ini\n"))
    assert any(
        "ENV CLAIMS_ENCRYPTION_KEY" in p
        for p in check_dockerfile(dockerfile + "\nENV CLAIMS_ENCRYPTION_KEY=x\n", ignore)
    )
    assert any("'sql'" in p for p in check_dockerfile(dockerfile.replace("COPY sql/ sql/", ""), ignore))
    assert any(".env" in p for p in check_dockerignore(ignore.replace("**/.env\n", "")))

    env_example, compose_text = ENV_EXAMPLE.read_text(), COMPOSE_FILE.read_text()
    real_key = re.sub(
        r"(?m)^CLAIMS_ENCRYPTION_KEY=.*$",
        f"CLAIMS_ENCRYPTION_KEY={Fernet.generate_key().decode()}",
        env_example,
    )
    assert any("placeholder" in p for p in check_env_example(real_key, compose_text))
    assert any(
        "must list" in p for p in check_env_example(real_key.replace("CLAIMS_ENCRYPTION_KEY=", "X="), compose_text)
    )
    assert any("NEW_VAR" in p for p in check_env_example(env_example, compose_text + "\n# ${NEW_VAR:-1}\n"))
    leaked = compose_text + f"\n# {Fernet.generate_key().decode()}\n"
    assert any("literal Fernet key" in p for p in check_secrets(load_compose(), leaked))


def test_helpers() -> None:
    assert resolve("${A:-8000}") == "8000" and resolve("${A:-8000}", {"A": "9"}) == "9"
    assert resolve("${K:?set K}") == "<required K>" and resolve("$$HOME") == "$HOME"
    assert published_ports({"ports": ["127.0.0.1:${P:-80}:8000", "90-91:90-91/udp", "7000"]}) == [
        ("127.0.0.1", 80, "tcp"),
        ("", 90, "udp"),
        ("", 91, "udp"),
    ]
    assert is_dockerignored("a/b/__pycache__/x.pyc", "**/__pycache__") and not is_dockerignored("db", "**/.env")
    assert not is_dockerignored("keep.py", "*.py\n!keep.py")
    assert named_volumes_used({"volumes": ["v:/x", "./d:/y:ro", "/anon"]}) == ({"v"}, {"./d"})
