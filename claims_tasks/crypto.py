"""Encryption of failed claims' raw data: MultiFernet, so a new key encrypts while old keys still decrypt."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, MultiFernet

from claims_tasks.errors import ConfigError


def make_cipher(keys: Sequence[str]) -> MultiFernet:
    """keys newest first, as CLAIMS_ENCRYPTION_KEY lists them (comma-separated)."""
    if not keys:
        raise ConfigError("CLAIMS_ENCRYPTION_KEY is not set: failed claims cannot be stored encrypted")
    try:
        return MultiFernet([Fernet(k.encode()) for k in keys])
    except ValueError:
        raise ConfigError(
            "CLAIMS_ENCRYPTION_KEY is not a valid Fernet key (32 url-safe base64-encoded bytes)"
        ) from None
