"""The read model on a SQLite file: compare-and-set, idempotent views, the read side's queries."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from sportapp_core.adapters.sqlalchemy import create_store_engine
from sportapp_core.adapters.sqlalchemy.migrations import READ_STORE_SCHEMA, upgrade_schema
from sportapp_core.adapters.sqlalchemy.read_model import SqlAlchemyReadModel, user_views
from sportapp_core.adapters.sqlalchemy.views import ReadModelViews
from sportapp_core.domain import EmailAddress, UserRegistered
from sportapp_core.services.errors import DependencyUnavailable
from sportapp_core.services.projection import ProjectionSettings, Projector
from tests.unit.consulta.fakes import T0, FakeClock, FakeFeed


def registered(user_id: int, raw_email: str) -> UserRegistered:
    email = EmailAddress.parse(raw_email)
    return UserRegistered(
        user_id=user_id,
        email=email,
        registered_at=T0 + timedelta(seconds=user_id),
    )


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'consulta.db'}"


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    engine = create_store_engine(url)
    upgrade_schema(engine, READ_STORE_SCHEMA)
    yield engine
    engine.dispose()


@pytest.fixture
def read_model(engine: Engine) -> SqlAlchemyReadModel:
    return SqlAlchemyReadModel(engine)


def view_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(user_views)).scalar_one())


def test_a_new_read_model_starts_at_position_zero(read_model: SqlAlchemyReadModel) -> None:
    assert read_model.position("users").position == 0


def test_upgrading_the_schema_again_keeps_the_stored_position(
    engine: Engine, read_model: SqlAlchemyReadModel
) -> None:
    with read_model.transaction("users") as transaction:
        transaction.advance(expected=0, to=5, at=T0, lag_ms=1.0)
        transaction.commit()

    upgrade_schema(engine, READ_STORE_SCHEMA)

    assert read_model.position("users").position == 5


def test_compare_and_set_refuses_a_stale_position(read_model: SqlAlchemyReadModel) -> None:
    with read_model.transaction("users") as transaction:
        assert transaction.advance(expected=0, to=3, at=T0, lag_ms=12.5)
        transaction.commit()

    with read_model.transaction("users") as transaction:
        assert not transaction.advance(expected=0, to=4, at=T0, lag_ms=1.0)

    stored = read_model.position("users")
    assert (stored.position, stored.updated_at, stored.lag_ms) == (3, T0, 12.5)


def test_a_user_added_twice_has_one_view(engine: Engine, read_model: SqlAlchemyReadModel) -> None:
    with read_model.transaction("users") as transaction:
        added = transaction.add_users([registered(1, "ana@example.com")] * 2, T0)
        transaction.commit()
    with read_model.transaction("users") as transaction:
        added_again = transaction.add_users([registered(1, "ana@example.com")], T0)
        transaction.commit()

    assert (added, added_again) == (1, 0)
    assert view_count(engine) == 1


def test_an_uncommitted_transaction_leaves_neither_views_nor_position(
    engine: Engine, read_model: SqlAlchemyReadModel
) -> None:
    with read_model.transaction("users") as transaction:
        transaction.advance(expected=0, to=1, at=T0, lag_ms=1.0)
        transaction.add_users([registered(1, "ana@example.com")], T0)

    assert read_model.position("users").position == 0
    assert view_count(engine) == 0


def test_projectors_of_two_processes_racing_on_sqlite_apply_each_event_once(url: str, engine: Engine) -> None:
    feed = FakeFeed(FakeClock())
    # One engine each, as two gunicorn workers have: only SQLite's write lock is shared.
    engines = [create_store_engine(url) for _ in range(2)]
    runners = [
        Projector(SqlAlchemyReadModel(e), feed, feed.clock, settings=ProjectionSettings(5, 0.0))
        for e in engines
    ]
    stopped = threading.Event()
    threads = [threading.Thread(target=runner.run, args=(stopped,)) for runner in runners]
    for thread in threads:
        thread.start()
    try:
        for number in range(200):
            feed.register(f"user{number}@example.com")
        deadline = time.monotonic() + 10
        while SqlAlchemyReadModel(engine).position("users").position < 200:
            assert time.monotonic() < deadline, "the projection did not catch up in 10 s"
            time.sleep(0.01)
    finally:
        stopped.set()
        for thread in threads:
            thread.join(5)
        for each in engines:
            each.dispose()

    views = ReadModelViews(engine)
    try:
        page = views.users_page(after=None, limit=100)
    finally:
        views.close()
    assert view_count(engine) == page["total"] == 200
    assert [user["id"] for user in page["users"]] == list(range(1, 101))


@pytest.fixture
def three_users(read_model: SqlAlchemyReadModel) -> None:
    add_three_users(read_model)


def add_three_users(read_model: SqlAlchemyReadModel) -> None:
    with read_model.transaction("users") as transaction:
        transaction.add_users(
            [registered(i, f"{name}@Example.com") for i, name in enumerate(("Ana", "bea", "cy"), 1)],
            T0,
        )
        transaction.commit()


@pytest.fixture(params=["a file", "memory"])
def read_views(request: pytest.FixtureRequest, engine: Engine) -> Iterator[ReadModelViews]:
    """The views on the read store's file; or on a store in memory, which lives in its pool's one
    connection: the lookups keep that one, and the pages still see the same tables."""
    if request.param == "memory":
        engine = create_store_engine("sqlite://")
        upgrade_schema(engine, READ_STORE_SCHEMA)
        add_three_users(SqlAlchemyReadModel(engine))
    views = ReadModelViews(engine)
    yield views
    views.close()
    if request.param == "memory":
        engine.dispose()


@pytest.mark.usefixtures("three_users")
def test_pages_follow_the_cursor_and_say_where_the_next_starts(read_views: ReadModelViews) -> None:
    first = read_views.users_page(after=None, limit=2)
    assert read_views.user(1) is not None  # a lookup between the pages, on its kept connection
    second = read_views.users_page(after=first["next_after"], limit=2)

    assert [user["id"] for user in first["users"]] == [1, 2]
    assert first["next_after"] == 2
    assert [user["email"] for user in second["users"]] == ["cy@example.com"]
    assert second["next_after"] is None
    assert first["total"] == second["total"] == 3


@pytest.mark.usefixtures("three_users")
def test_a_user_view_has_only_public_fields(read_views: ReadModelViews) -> None:
    assert read_views.user(1) == {
        "id": 1,
        "email": "Ana@example.com",
        "created_at": T0 + timedelta(seconds=1),
    }
    assert read_views.user(99) is None


@pytest.mark.usefixtures("three_users")
def test_an_address_is_registered_in_any_case(read_views: ReadModelViews) -> None:
    assert read_views.is_registered(EmailAddress.parse("ANA@example.COM"))
    assert not read_views.is_registered(EmailAddress.parse("dan@example.com"))


def test_a_lookup_on_a_store_that_does_not_answer_is_the_read_store_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "read.db"
    engine = create_store_engine(f"sqlite:///{path}")
    upgrade_schema(engine, READ_STORE_SCHEMA)
    lookups = ReadModelViews(engine)
    engine.dispose()
    path.unlink()
    path.mkdir()  # where the store was, nothing SQLite can open

    try:
        with pytest.raises(DependencyUnavailable) as raised:
            lookups.user(1)
    finally:
        lookups.close()

    assert raised.value.dependency == "read store"
