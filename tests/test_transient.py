"""Which database errors a chunk retries (db.engines.is_transient): no answer, or an answer that says try
again; never a refusal that a retry would only repeat until the chunk is dead-lettered whole."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors
from psycopg_pool import PoolTimeout

from claims_tasks.errors import TransientError
from db.engines import is_transient


@pytest.mark.parametrize(
    "exc",
    [
        psycopg.OperationalError("connection failed: database is not currently accepting connections"),
        PoolTimeout("couldn't get a connection after 10.00 sec"),
        errors.AdminShutdown(),  # 57P01: the outage tests' pg_terminate_backend
        errors.QueryCanceled(),  # 57014: statement timeout
        errors.SerializationFailure(),  # 40001
        errors.DeadlockDetected(),  # 40P01
        errors.TooManyConnections(),  # 53300
        errors.LockNotAvailable(),  # 55P03
        TransientError("retry me"),
    ],
)
def test_worth_a_retry(exc: BaseException) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        errors.ProgramLimitExceeded(),  # 54000: an index entry too large (an OperationalError to psycopg)
        errors.NumericValueOutOfRange(),  # 22003
        errors.UniqueViolation(),  # 23505
        errors.UndefinedFunction(),  # 42883: a bug
        errors.ObjectNotInPrerequisiteState(),  # 55000
        ValueError("not a database error"),
    ],
)
def test_not_worth_a_retry(exc: BaseException) -> None:
    assert not is_transient(exc)
