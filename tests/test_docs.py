"""Every command the operations docs show works: each shell line in their code blocks is read, and

- run here, against the test databases, when it only reads (`claims-tasks reconcile`, `analytics`,
  `partition --list`, a dry `retention`, `cdc --limit`, `--help` forms, `promtool`, read-only `psql`,
  `python benchmarks/… --help`, `ruff check`, `bandit`) — it must exit 0;
- otherwise parsed against the real command line (claims-tasks and celery options, subcommands), and the
  repository paths it names must exist (kubectl, docker compose, deploy/local.sh, cp);
- a program no rule knows is a failure, so a new kind of command cannot slip in unchecked.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import click
import psycopg
import pytest
import redis
from click.testing import CliRunner

from claims_tasks import config
from claims_tasks.cli import main as claims_cli
from claims_tasks.config import Settings
from db.engines import database_name
from tests.tables import PRODUCTION_TABLES, STAGING_TABLES

ROOT = Path(__file__).resolve().parents[1]
DOCS = ["ARCHITECTURE.md", "OPERATIONS_RUNBOOK.md", "TROUBLESHOOTING.md", "MONITORING.md", "HIPAA_COMPLIANCE.md",
        "SECURITY.md"]  # fmt: skip
SHELL_BLOCK = re.compile(r"```(?:bash|sh|shell|console)\n(.*?)```", re.S)
# claims-tasks commands that only read (or, like a dry retention run, write nothing but their audit row).
READ_ONLY = {"reconcile", "analytics", "model-info", "failed list", "failed stats", "dlq list", "apikey list"}


def commands(text: str) -> list[str]:
    out: list[str] = []
    for block in SHELL_BLOCK.findall(text):
        pending = ""
        for raw in block.splitlines():
            line = raw.rstrip()
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            line = (pending + line).strip()
            pending = ""
            if line and not line.startswith("#"):
                out.append(line)
    return out


def segments(command: str) -> list[list[str]]:
    """The command's simple commands (split at &&, ||, |, ;), comments and env assignments removed."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars="|&;")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    parts: list[list[str]] = [[]]
    for token in lexer:
        if token in ("&&", "||", "|", ";"):
            parts.append([])
        else:
            parts[-1].append(token)
    cleaned = []
    for part in parts:
        while part and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", part[0]):
            part = part[1:]
        if part:
            cleaned.append(part)
    return cleaned


@dataclass
class Outcome:
    ran: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _click_path(group: click.Group, args: list[str]) -> tuple[list[str], click.Command, list[str]]:
    """(subcommand names, the leaf command, its arguments)."""
    names: list[str] = []
    command: click.Command = group
    rest = list(args)
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        sub = command.commands.get(rest[0])
        if sub is None:
            raise click.UsageError(f"no command {rest[0]!r} under {' '.join(['claims-tasks', *names])}")
        names.append(rest.pop(0))
        command = sub
    return names, command, rest


def _claims_tasks(args: list[str], out: Outcome, line: str) -> None:
    try:
        names, command, rest = _click_path(claims_cli, args)
        if "--help" not in rest:
            command.make_context(" ".join(names) or "claims-tasks", [a if "<" not in a else "X" for a in rest])
    except click.ClickException as exc:
        out.problems.append(f"{line}: {exc.format_message()}")
        return
    key = " ".join(names[:2])
    runnable = (
        "--help" in rest
        or names[:1] == ["analytics"]
        or key in READ_ONLY
        or (names == ["partition"] and "--years" not in rest)
        or (names == ["retention"] and "--execute" not in rest)
        or (names == ["cdc"] and "--follow" not in rest and "--state" not in rest)
    )
    if not runnable or any("<" in a for a in args):
        out.checked.append(line)
        return
    result = CliRunner().invoke(claims_cli, args, catch_exceptions=False)
    if result.exit_code != 0:
        out.problems.append(f"{line}: exit {result.exit_code}: {result.output[-500:]}")
    else:
        out.ran.append(line)


def _celery(args: list[str], out: Outcome, line: str) -> None:
    from celery.bin.base import CLIContext
    from celery.bin.celery import celery as celery_cli

    from claims_tasks.celery_app import app

    if args[:2] != ["-A", "claims_tasks"] or len(args) < 3:
        out.problems.append(f"{line}: celery commands here start `celery -A claims_tasks <subcommand>`")
        return
    sub, rest = args[2], args[3:]
    if sub not in celery_cli.commands:
        out.problems.append(f"{line}: celery has no subcommand {sub!r}")
        return
    parent = click.Context(celery_cli, info_name="celery", obj=CLIContext(app, True, None, True))
    try:
        celery_cli.commands[sub].make_context(sub, list(rest), parent=parent)
    except click.ClickException as exc:
        out.problems.append(f"{line}: {exc.format_message()}")
        return
    out.checked.append(line)


def _run(argv: list[str], out: Outcome, line: str, cwd: Path, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120, env=env)
    if done.returncode != 0:
        out.problems.append(f"{line}: exit {done.returncode}: {(done.stdout + done.stderr)[-500:]}")
    else:
        out.ran.append(line)


def _repo_paths(args: list[str], out: Outcome, line: str, cwd: Path) -> None:
    for arg in args:
        candidate = arg.split("=", 1)[-1]
        repo_path = re.match(r"^(\./)?(deploy|docs|sql|benchmarks|tests|\.env\.example)\b", candidate)
        if repo_path and not (cwd / candidate).exists():
            out.problems.append(f"{line}: {candidate} does not exist")
    out.checked.append(line)


def check(line: str, settings: Settings, out: Outcome) -> None:
    cwd = ROOT
    databases = {"staging_process": database_name(settings.staging_dsn),
                 "smart_pro_claims": database_name(settings.production_dsn)}  # fmt: skip
    for argv in segments(line):
        program, args = argv[0], argv[1:]
        if program == "cd":
            cwd = cwd / args[0]
            if not cwd.is_dir():
                out.problems.append(f"{line}: no directory {args[0]}")
        elif program == "claims-tasks":
            _claims_tasks(args, out, line)
        elif program == "celery":
            _celery(args, out, line)
        elif program == "promtool":
            if shutil.which("promtool") is None:
                pytest.fail("promtool is missing: `bash deploy/local.sh test` installs Debian's prometheus package")
            _run(argv, out, line, cwd)
        elif program == "psql":
            sql = args[args.index("-c") + 1] if "-c" in args else ""
            if not re.match(r"(?i)\s*select\b", sql):
                out.problems.append(f"{line}: only read-only psql (SELECT) belongs in the docs")
                continue
            mapped = [databases.get(a, a) for a in args]
            _run(["psql", "-v", "ON_ERROR_STOP=1", "-X", "-q", *mapped], out, line, cwd)
        elif program in ("python", "python3"):
            if args[:1] == ["-m"] and args[1:2] in (["bandit"], ["pytest"]):
                _run([sys.executable, *args], out, line, cwd) if args[1] == "bandit" else out.checked.append(line)
            elif args and args[0].startswith("benchmarks/") and "--help" in args:
                _run([sys.executable, *args], out, line, cwd)
            else:
                out.problems.append(f"{line}: python here is `python benchmarks/….py --help` or `python -m bandit`")
        elif program == "ruff":
            _run([sys.executable, "-m", "ruff", *args], out, line, cwd)
        elif program in ("pg_restore", "pg_dump"):
            if shutil.which(program) is None:
                out.problems.append(f"{line}: {program} is not installed")
            out.checked.append(line)
        elif program == "bash" and args[:1] == ["deploy/local.sh"]:
            modes = re.findall(r"^\s+(\w+)\)", (ROOT / "deploy" / "local.sh").read_text(), re.M)
            if args[1:2] and args[1] not in modes:
                out.problems.append(f"{line}: deploy/local.sh has no mode {args[1]!r} ({modes})")
            out.checked.append(line)
        elif program in ("kubectl", "docker", "cp"):
            _repo_paths(args, out, line, cwd)
        elif program == "curl":
            from api.main import app

            paths = {getattr(r, "path", None) for r in app.routes}
            for url in (a for a in args if a.startswith("http")):
                if re.sub(r"^https?://[^/]+", "", url) not in paths:
                    out.problems.append(f"{line}: the API serves no {url}")
            out.checked.append(line)
        else:
            out.problems.append(f"{line}: no rule for {program!r} in tests/test_docs.py")


@pytest.fixture(scope="module")
def outcomes(test_env: dict[str, str]) -> dict[str, Outcome]:
    """Every doc's commands, checked once, on emptied databases (what the `clean` fixture does)."""
    config.get_settings.cache_clear()
    settings = config.get_settings()
    with psycopg.connect(settings.staging_dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE " + ", ".join(f"staging.{t}" for t in STAGING_TABLES))
    with psycopg.connect(settings.production_dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE " + ", ".join(PRODUCTION_TABLES))
    redis.Redis.from_url(settings.broker_url).flushdb()
    found: dict[str, Outcome] = {}
    for doc in DOCS:
        found[doc] = Outcome()
        for line in commands((ROOT / "docs" / doc).read_text()):
            check(line, settings, found[doc])
    return found


@pytest.mark.parametrize("doc", DOCS)
def test_every_command_in_the_docs_works(outcomes: dict[str, Outcome], doc: str) -> None:
    out = outcomes[doc]
    assert out.problems == []
    assert len(out.ran) + len(out.checked) >= len(commands((ROOT / "docs" / doc).read_text()))


def test_the_docs_run_what_can_run_here(outcomes: dict[str, Outcome]) -> None:
    ran = [line for out in outcomes.values() for line in out.ran]
    assert len(ran) >= 20, ran


def test_the_docs_link_each_other_and_the_existing_docs() -> None:
    for doc in DOCS:
        text = (ROOT / "docs" / doc).read_text()
        for target in re.findall(r"\]\(([A-Z_]+\.md)(?:#[\w-]+)?\)", text):
            assert (ROOT / "docs" / target).is_file(), f"{doc} links {target}, which does not exist"
    architecture = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    for existing in ("RULES.md", "MODEL.md", "X12.md", "FAILURES.md", "API.md", *DOCS[1:]):
        assert f"]({existing}" in architecture, f"ARCHITECTURE.md does not link {existing}"


BROKEN = [
    ("claims-tasks partiton --list", "no command 'partiton'"),
    ("claims-tasks analytics trends --days 0", "not in the range"),
    ("claims-tasks cdc --from 1:x --limit 1", "exit 2"),
    ("claims-tasks retention --exectue", "--exectue"),
    ("celery -A claims_tasks wroker", "no subcommand 'wroker'"),
    ("kubectl apply -k deploy/k9s", "deploy/k9s does not exist"),
    ('psql -d smart_pro_claims -c "DELETE FROM claims"', "only read-only psql"),
    ("rm -rf /", "no rule for 'rm'"),
    ("curl http://127.0.0.1:8000/healthz", "serves no"),
]


@pytest.mark.parametrize(("line", "expected"), BROKEN)
def test_a_broken_command_is_caught(clean: Settings, line: str, expected: str) -> None:
    out = Outcome()
    check(line, clean, out)
    assert any(expected in p for p in out.problems), out.problems


def test_commands_are_read_as_a_shell_would() -> None:
    text = (
        "```bash\nclaims-tasks cdc \\\n  --limit 3   # a comment\n# only a comment\nA=1 B=2 ruff check x && cd y\n```\n"
    )
    assert commands(text) == ["claims-tasks cdc    --limit 3   # a comment", "A=1 B=2 ruff check x && cd y"]
    assert segments(commands(text)[0]) == [["claims-tasks", "cdc", "--limit", "3"]]
    assert segments("A=1 B=2 ruff check x && cd y | z") == [["ruff", "check", "x"], ["cd", "y"], ["z"]]
    assert os.path.isdir(ROOT / "docs")
