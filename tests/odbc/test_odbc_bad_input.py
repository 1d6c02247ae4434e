"""Bad ODBC production DSNs as an operator meets them: `claims-tasks init` and a worker's start each
print one line naming the driver (and host) and exit non-zero."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from claims_tasks.config import Settings
from tests.odbc.support import odbc_dsn, require_psqlodbc

require_psqlodbc()

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "claims_tasks.cli"]


def _init(dsn: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CLAIMS_PRODUCTION_DSN": dsn}
    return subprocess.run([*CLI, "init"], capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)


def _one_line(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize(
    ("dsn", "needles"),
    [
        ("DRIVER={Oracle in OraClient19};SERVER=db.example", ("unknown ODBC driver 'Oracle in OraClient19'",)),
        ("DRIVER={ODBC Driver 99 for SQL Server};SERVER=db.example;DATABASE=x",
         ("ODBC driver 'ODBC Driver 99 for SQL Server' is not installed", "PostgreSQL Unicode")),
        ("mssql+pyodbc://sa:secret@db.example:1433/claims", ("names no ODBC driver", "db.example")),
    ],
)  # fmt: skip
def test_init_refuses_bad_dsns_in_one_line(test_env: dict[str, str], dsn: str, needles: tuple[str, ...]) -> None:
    proc = _init(dsn)
    _one_line(proc, *needles)
    assert "secret" not in proc.stderr


def test_init_names_driver_and_host_for_a_refused_login(settings: Settings) -> None:
    proc = _init(odbc_dsn(settings.production_dsn, UID="no_such_login", PWD="wrong"))
    _one_line(proc, "ODBC driver 'PostgreSQL Unicode' at 127.0.0.1:5432", "refused the connection")
    assert "wrong" not in proc.stderr


def test_init_checks_a_psqlodbc_target(settings: Settings) -> None:
    proc = _init(odbc_dsn(settings.production_dsn))
    assert proc.returncode == 0, proc.stderr
    assert "production: PostgreSQL schema present (ODBC driver 'PostgreSQL Unicode'" in proc.stdout


def test_worker_refuses_to_start_on_a_refused_login(settings: Settings, tmp_path: Path) -> None:
    env = {**os.environ, "CLAIMS_PRODUCTION_DSN": odbc_dsn(settings.production_dsn, UID="no_such_login")}
    proc = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "claims_tasks", "worker", "-c", "1"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=60,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "claims_tasks worker: production database (ODBC driver 'PostgreSQL Unicode' at 127.0.0.1:5432" in proc.stderr
    assert "Traceback" not in proc.stderr
