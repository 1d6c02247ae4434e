"""Security checks CI runs with the suite: bandit finds nothing at medium severity or above (or each finding
is justified inline with `# nosec B... # reason`), and no secret is in a file git tracks or would add."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.workers import ROOT

BANDIT_TARGETS = ["claims_tasks", "api", "ml", "db"]


def test_bandit_finds_nothing_at_medium_severity_or_above() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bandit", "-r", *BANDIT_TARGETS, "-ll", "-q", "-f", "json"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    report = json.loads(done.stdout)
    findings = [f"{r['filename']}:{r['line_number']} {r['test_id']} {r['issue_text']}" for r in report["results"]]
    assert not findings, "bandit (justify a false positive inline: `# nosec B608 # why`):\n" + "\n".join(findings)
    assert report["errors"] == [] and done.returncode == 0, done.stderr[-2000:]


# ---------------------------------------------------------------- secrets

_FERNET = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}=(?![A-Za-z0-9_=-])")
_PRIVATE_KEY = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----")
_URL_PASSWORD = re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:([^@\s/'\"]+)@")
# A password set to a quoted literal, anywhere; in configuration files also unquoted (KEY=value, key: value).
_QUOTED_PASSWORD = re.compile(r"(?i)passw(?:or)?d\w*[\"']?\s*[:=]\s*[\"']([^\"'\s]+)[\"']")
_BARE_PASSWORD = re.compile(r"(?i)passw(?:or)?d\w*\s*[:=]\s*([^\s\"'#]+)")
_CONFIG_SUFFIXES = (".env", ".yml", ".yaml", ".ini", ".cfg", ".toml", ".conf", ".properties", ".example")
# What documentation and templates write where a secret goes.
_PLACEHOLDER = re.compile(
    r"(?i)^(?:\$\{.*|\$\w+|<.*>|\{.*\}|%\(.*|\*+|x+|\.\.\.|change_?me\w*|\w*placeholder\w*|password|passwd|pass|"
    r"secret|none|null|true|false|str|example\w*|your[_-]?\w*|redacted|\?)$"
)


def find_secrets(name: str, text: str) -> list[str]:
    """Secrets in one file's text, as 'name:line: kind'. Placeholders are not secrets."""
    found = []
    bare_too = name.endswith(_CONFIG_SUFFIXES) or Path(name).name.startswith(".env")
    for number, line in enumerate(text.splitlines(), 1):
        for match in _FERNET.finditer(line):
            try:
                if len(base64.urlsafe_b64decode(match.group())) == 32:
                    found.append(f"{name}:{number}: a Fernet key")
            except ValueError:
                pass
        if _PRIVATE_KEY.search(line):
            found.append(f"{name}:{number}: a private key")
        for match in _URL_PASSWORD.finditer(line):
            if not _PLACEHOLDER.match(match.group(1)):
                found.append(f"{name}:{number}: a password in a URL")
        patterns = (_QUOTED_PASSWORD, _BARE_PASSWORD) if bare_too else (_QUOTED_PASSWORD,)
        values = {m.group(1) for pattern in patterns for m in pattern.finditer(line)}
        if any(not _PLACEHOLDER.match(v.rstrip(",;")) for v in values):
            found.append(f"{name}:{number}: a password")
    return found


def repository_files() -> list[str]:
    """What git tracks, and what it would add (untracked, not ignored)."""
    done = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, timeout=60,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"not a git checkout: {done.stderr.decode(errors='replace').strip()}")
    return sorted({n for n in done.stdout.decode().split("\0") if n})


def test_no_secret_in_the_repository() -> None:
    leaks = []
    for name in repository_files():
        path = ROOT / name
        if not path.is_file() or path.stat().st_size > 5_000_000:
            continue
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary
        leaks += find_secrets(name, data.decode(errors="replace"))
    assert not leaks, "secrets in the repository (use the environment or the untracked .env):\n" + "\n".join(leaks)


def test_env_files_are_ignored() -> None:
    done = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT, timeout=30)
    assert done.returncode == 0, ".env must be in .gitignore: it holds the encryption key"


# Planted samples are assembled at run time, so that this file itself holds none for the scan to find.
_PW = "s3cr3t-" + "Pw"
PLANTED = [
    ("x.py", f"KEY = '{base64.urlsafe_b64encode(bytes(range(32))).decode()}'"),
    ("id_rsa", "-----BEGIN RSA " + "PRIVATE KEY-----"),
    ("k.pem", "-----BEGIN OPENSSH " + "PRIVATE KEY-----"),
    ("README.md", "CLAIMS_STAGING_DSN=postgresql://claims:" + _PW + "@db:5432/staging"),
    ("x.py", "connect(pass" + f'word="{_PW}")'),
    ("docker-compose.yml", "      POSTGRES_PASS" + f"WORD: {_PW}"),
    (".env.example", "CLAIMS_WORKER_DB_PASS" + f"WORD={_PW}"),
]


@pytest.mark.parametrize(("name", "text"), PLANTED)
def test_the_scan_finds_planted_secrets(name: str, text: str) -> None:
    assert find_secrets(name, text)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (".env.example", "CLAIMS_ENCRYPTION_KEY=CHANGE_ME_paste_the_generated_key_here"),
        ("docs/RUNBOOK.md", "postgresql://claims:PASSWORD@db.internal:5432/staging_process"),
        ("docker-compose.yml", "POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:?set it in .env}"),
        ("claims_tasks/config.py", "    worker_db_password: SecretStr | None = None"),
        ("x.py", "key = Fernet.generate_key()"),
    ],
)
def test_placeholders_are_not_secrets(name: str, text: str) -> None:
    assert find_secrets(name, text) == []
