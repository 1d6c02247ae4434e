"""Settings precedence: environment > APP_CONFIG / config.<APP_ENV>.yaml > config.yaml > defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from claims_tasks.config import load_settings
from claims_tasks.errors import ConfigError


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for var in (
        "APP_ENV",
        "APP_CONFIG",
        "CLAIMS_SHARDS",
        "CLAIMS_CHUNK_SIZE",
        "CLAIMS_STAGING_DSN",
        "CLAIMS_PRODUCTION_DSN",
        "CLAIMS_BROKER_URL",
        "CLAIMS_ENCRYPTION_KEY",
    ):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def test_defaults(workdir: Path) -> None:
    s = load_settings()
    assert s.staging_dsn == "postgresql://postgres@127.0.0.1:5432/staging_process"
    assert s.production_dsn == "postgresql://postgres@127.0.0.1:5432/smart_pro_claims"
    assert s.broker_url == "redis://127.0.0.1:6379/0"
    assert (s.shards, s.chunk_size) == (4, 4000)
    assert s.encryption_keys() == []


def test_precedence(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (workdir / "config.yaml").write_text("shards: 6\nchunk_size: 300\ntimely_filing_days: 90\n")
    assert load_settings().shards == 6
    (workdir / "config.staging.yaml").write_text("shards: 7\n")
    monkeypatch.setenv("APP_ENV", "staging")
    s = load_settings()
    assert (s.shards, s.chunk_size, s.timely_filing_days) == (7, 300, 90)
    other = workdir / "other.yaml"
    other.write_text("shards: 9\n")
    monkeypatch.setenv("APP_CONFIG", str(other))
    assert load_settings().shards == 9
    monkeypatch.setenv("CLAIMS_SHARDS", "11")
    assert load_settings().shards == 11


def test_secret_in_yaml_is_refused(workdir: Path) -> None:
    (workdir / "config.yaml").write_text("encryption_key: abc\n")
    with pytest.raises(ConfigError, match="CLAIMS_ENCRYPTION_KEY"):
        load_settings()


def test_bad_values_name_the_variable(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAIMS_STAGING_DSN", "mysql://x/y")
    with pytest.raises(ConfigError, match="CLAIMS_STAGING_DSN"):
        load_settings()
    monkeypatch.delenv("CLAIMS_STAGING_DSN")
    monkeypatch.setenv("CLAIMS_SHARDS", "zero")
    with pytest.raises(ConfigError, match="CLAIMS_SHARDS"):
        load_settings()


def test_missing_app_config_file(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_CONFIG", str(workdir / "nope.yaml"))
    with pytest.raises(ConfigError, match=r"nope\.yaml"):
        load_settings()


def test_several_keys_newest_first(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAIMS_ENCRYPTION_KEY", " new , old ")
    assert load_settings().encryption_keys() == ["new", "old"]
