"""Statements prepared on the DBAPI connection (PreparedStatement, the prepared writing unit of work)
on a real SQLite file and a real PostgreSQL server: values bound through their column types, rows
read back through them, errors raised as SQLAlchemy raises them and never with the values in them,
and a connection the server dropped is not handed out again."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, StatementError

from sportapp_core.adapters.sqlalchemy import SqlAlchemyUnitOfWorkFactory
from sportapp_core.adapters.sqlalchemy.prepared import PreparedStatement
from sportapp_core.adapters.sqlalchemy.statements import (
    ADD_KEY,
    INSERT_USER,
    KEY_COLUMNS,
    USER_BY_ID,
    USER_COLUMNS,
)
from sportapp_core.domain import EmailAddress, NewUser
from sportapp_core.ports import IdempotencyRecord
from sportapp_core.services.errors import DependencyUnavailable
from tests.fakes import EPOCH
from tests.integration.backends import POSTGRESQL, only_on
from tests.integration.postgres import end_other_connections

pytestmark = pytest.mark.integration

# Stands for a password hash: no error may show it.
SECRET_HASH = "$argon2id$v=19$m=19456,t=2,p=1$c2VjcmV0c2FsdA$dGhpcy1tdXN0LW5ldmVyLWJlLXNob3du"


def insert_user(engine: Engine) -> PreparedStatement:
    return PreparedStatement(INSERT_USER[engine.dialect.name], engine.dialect, column_keys=USER_COLUMNS)


def user_values(address: str, created_at: datetime) -> dict[str, object]:
    return {
        "email": address,
        "email_canonical": address,
        "password_hash": SECRET_HASH,
        "created_at": created_at,
    }


def test_values_go_through_their_column_types_both_ways(engine: Engine) -> None:
    # 20:00 in Kolkata is 14:30 UTC: stored as UTC, read back as an aware UTC datetime.
    kolkata = timezone(timedelta(hours=5, minutes=30))
    kolkata_evening = datetime(2026, 3, 28, 20, 0, 15, 123456, tzinfo=kolkata)
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        [inserted] = insert_user(engine).rows(cursor, user_values("ana@example.com", kolkata_evening))
        [read] = PreparedStatement(USER_BY_ID, engine.dialect).rows(cursor, {"user_id": inserted["id"]})
        connection.rollback()
    finally:
        connection.close()

    assert read["email"] == "ana@example.com"
    assert read["created_at"] == kolkata_evening
    assert read["created_at"].isoformat() == "2026-03-28T14:30:15.123456+00:00"


def test_a_value_its_type_refuses_is_a_statement_error_without_the_values(engine: Engine) -> None:
    naive_values = user_values("ana@example.com", datetime(2026, 1, 1))
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        with pytest.raises(StatementError, match="naive datetime") as caught:
            insert_user(engine).rows(cursor, naive_values)
    finally:
        connection.close()

    assert SECRET_HASH not in str(caught.value)


def test_a_unit_refusing_a_value_never_shows_the_password_hash(
    uow_factory: SqlAlchemyUnitOfWorkFactory,
) -> None:
    secret_user = NewUser(EmailAddress.parse("ana@example.com"), SECRET_HASH)
    with uow_factory(for_writing=True) as uow, pytest.raises(StatementError) as caught:
        uow.users.add(secret_user, datetime(2026, 1, 1))

    assert "naive datetime" in str(caught.value)
    assert SECRET_HASH not in str(caught.value)


def test_a_value_not_given_is_refused_not_bound_as_null(engine: Engine) -> None:
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        with pytest.raises(StatementError, match="no value given for password_hash"):
            insert_user(engine).rows(
                cursor, {"email": "a@example.com", "email_canonical": "a@example.com", "created_at": EPOCH}
            )
    finally:
        connection.close()


def test_a_driver_error_is_sqlalchemys_without_the_parameters(engine: Engine) -> None:
    add_key = PreparedStatement(ADD_KEY, engine.dialect, column_keys=KEY_COLUMNS)
    # The key's conflict is the error; the address, a value bound beside it, must not show.
    values = {"key": "k-1", "email_canonical": "not-to-be-shown@example.com", "user_id": 1}
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        add_key.rows(cursor, values)
        with pytest.raises(IntegrityError) as caught:
            add_key.rows(cursor, values)
    finally:
        connection.rollback()
        connection.close()

    assert "not-to-be-shown" not in str(caught.value)


def test_a_unit_that_fails_leaves_its_connection_usable_for_the_next(
    uow_factory: SqlAlchemyUnitOfWorkFactory,
) -> None:
    user_id = 0
    with uow_factory(for_writing=True) as uow:
        user_id = uow.users.add(NewUser(EmailAddress.parse("ana@example.com"), "fake$x"), EPOCH).id
        uow.idempotency.add(IdempotencyRecord("k-1", "ana@example.com", user_id))
        uow.commit()

    with pytest.raises(IntegrityError), uow_factory(for_writing=True) as uow:
        uow.idempotency.add(IdempotencyRecord("k-1", "ana@example.com", user_id))

    with uow_factory(for_writing=True) as uow:
        assert uow.idempotency.get("k-1") == IdempotencyRecord("k-1", "ana@example.com", user_id)
        assert uow.users.count() == 1


@only_on(POSTGRESQL)
def test_a_connection_the_server_ended_is_unavailable_and_not_reused(
    store_url: str, uow_factory: SqlAlchemyUnitOfWorkFactory
) -> None:
    with uow_factory(for_writing=True) as uow:
        uow.users.count()  # the pool now holds one connection; it is handed out again next
    assert end_other_connections(store_url), "no pooled connection to end"

    with pytest.raises(DependencyUnavailable), uow_factory(for_writing=True) as uow:
        uow.users.count()

    with uow_factory(for_writing=True) as uow:  # a new connection, not the ended one
        assert uow.users.count() == 0


def test_a_committed_unit_runs_no_more_statements(engine: Engine) -> None:
    with SqlAlchemyUnitOfWorkFactory(engine)(for_writing=True) as uow:
        uow.users.add(NewUser(EmailAddress.parse("ana@example.com"), "fake$x"), EPOCH)
        uow.commit()
        # On SQLite it would run in a transaction of its own, committed at once: nothing to undo.
        with pytest.raises(RuntimeError, match="has committed"):
            uow.users.add(NewUser(EmailAddress.parse("bea@example.com"), "fake$x"), EPOCH)

    with SqlAlchemyUnitOfWorkFactory(engine)() as uow:
        assert uow.users.count() == 1


@only_on(POSTGRESQL)
def test_a_lost_connection_retires_every_older_one_in_the_pool(
    store_url: str, engine: Engine
) -> None:
    factory = SqlAlchemyUnitOfWorkFactory(engine)
    with factory(for_writing=True), factory(for_writing=True), factory(for_writing=True):
        pass  # three connections opened, all back in the pool now
    end_other_connections(store_url)

    with pytest.raises(DependencyUnavailable), factory(for_writing=True) as uow:
        uow.users.count()
    # The next units get new connections: none of the two stale ones left in the pool.
    for _ in range(2):
        with factory(for_writing=True) as uow:
            assert uow.users.count() == 0
