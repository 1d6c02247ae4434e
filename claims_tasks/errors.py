"""The project's few exceptions. Celery pickles exceptions across processes, so args go to super()."""

from __future__ import annotations


class ClaimsError(Exception):
    """An error an operator can act on; the CLI prints its message as one line and exits non-zero."""


class ConfigError(ClaimsError):
    """A setting is missing or malformed; the message names the variable."""


class ServiceUnavailable(ClaimsError):
    """A database or the broker cannot be reached; the message names which and where."""


class TransientError(ClaimsError):
    """A failure worth retrying (connection lost, deadlock, serialization failure, timeout)."""
