"""Logging for the CLI and the API (Celery configures its own in workers). Never log claim payloads."""

from __future__ import annotations

import logging.config


def configure(level: str = "WARNING") -> None:
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
            "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
            "root": {"level": level, "handlers": ["stderr"]},
        }
    )
