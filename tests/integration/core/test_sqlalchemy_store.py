"""The SQLAlchemy write store on a real SQLite file and on a real PostgreSQL server: repositories,
outbox, unit of work; SQLite's pragmas and write lock, PostgreSQL's locks."""

from __future__ import annotations

import sqlite3
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError

from sportapp_core.adapters.sqlalchemy import SqlAlchemyUnitOfWorkFactory, create_store_engine
from sportapp_core.adapters.sqlalchemy import engine as engine_module
from sportapp_core.adapters.sqlalchemy.migrations import WRITE_STORE_SCHEMA, upgrade_schema
from sportapp_core.adapters.sqlalchemy.repositories import PreparedEventFeed
from sportapp_core.adapters.sqlalchemy.tables import users
from sportapp_core.domain import (
    EmailAddress,
    EmailTaken,
    NewUser,
    Password,
    User,
    UserRegistered,
)
from sportapp_core.ports import IdempotencyRecord
from sportapp_core.services import RegisterUser, WriteStoreRegistrations, register_user
from sportapp_core.services.errors import DependencyUnavailable
from sportapp_core.services.feed import read_feed
from tests.fakes import EPOCH, FakeClock, FakeHasher, FakeTimer
from tests.integration.backends import POSTGRESQL, SQLITE, only_on

pytestmark = pytest.mark.integration

KOLKATA = timezone(timedelta(hours=5, minutes=30))


def new_user(address: str) -> NewUser:
    return NewUser(EmailAddress.parse(address), "fake$x")


def add_committed(uow_factory: SqlAlchemyUnitOfWorkFactory, *addresses: str) -> list[User]:
    with uow_factory(for_writing=True) as uow:
        added = [uow.users.add(new_user(address), EPOCH) for address in addresses]
        uow.commit()
    return added


def finishes(future: Future[Any], within_s: float) -> bool:
    """Whether ``future`` is done within ``within_s`` seconds."""
    done, _ = wait([future], timeout=within_s)
    return bool(done)


def register_with_event(uow_factory: SqlAlchemyUnitOfWorkFactory, address: str) -> int:
    with uow_factory(for_writing=True) as uow:
        user = uow.users.add(new_user(address), EPOCH)
        position = uow.outbox.append(
            UserRegistered(user.id, user.email, user.created_at), EPOCH
        )
        uow.commit()
    return position


# --- Users ---


def test_added_user_is_read_back_by_id_with_both_forms_of_its_address(
    uow_factory: SqlAlchemyUnitOfWorkFactory,
) -> None:
    [added] = add_committed(uow_factory, "Ana@Bücher.de")

    with uow_factory() as uow:
        by_id = uow.users.get(added.id)

    assert by_id == added
    assert (added.email.value, added.email.canonical) == ("Ana@bücher.de", "ana@xn--bcher-kva.de")


def test_unknown_user_is_none(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    add_committed(uow_factory, "ana@example.com")

    with uow_factory() as uow:
        assert uow.users.get(999) is None
        assert uow.users.get(2**63) is None  # beyond a 64-bit id: nothing, not OverflowError


def test_users_are_listed_in_id_order_after_the_cursor(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    added = add_committed(uow_factory, *(f"user{index}@example.com" for index in range(5)))

    with uow_factory() as uow:
        first = uow.users.list(after=None, limit=2)
        rest = uow.users.list(after=added[1].id, limit=10)
        none = uow.users.list(after=added[-1].id, limit=10)
        count = uow.users.count()

    assert list(first) == added[:2]
    assert list(rest) == added[2:]
    assert list(none) == []
    assert count == 5


def test_same_canonical_email_is_refused_by_the_database(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    add_committed(uow_factory, "ana@example.com")

    with uow_factory(for_writing=True) as uow, pytest.raises(EmailTaken):
        uow.users.add(new_user("ANA@Example.com"), EPOCH)

    with uow_factory() as uow:
        assert uow.users.count() == 1


def test_transaction_goes_on_after_a_taken_email(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    add_committed(uow_factory, "ana@example.com")

    with uow_factory(for_writing=True) as uow:
        with pytest.raises(EmailTaken):
            uow.users.add(new_user("ana@example.com"), EPOCH)
        uow.users.add(new_user("bea@example.com"), EPOCH)
        uow.commit()

    with uow_factory() as uow:
        assert [user.email.value for user in uow.users.list(after=None, limit=10)] == [
            "ana@example.com",
            "bea@example.com",
        ]


def test_unique_index_holds_for_rows_written_past_the_repository(engine: Engine) -> None:
    row = {"email": "x@example.com", "email_canonical": "x@example.com", "password_hash": "h"}
    with engine.begin() as connection:
        connection.execute(insert(users).values(**row, created_at=EPOCH))

    with pytest.raises(IntegrityError, match="email_canonical"), engine.begin() as connection:
        connection.execute(insert(users).values(**row, created_at=EPOCH))


def test_times_come_back_as_the_same_instant_in_utc(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    created_at = datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=KOLKATA)
    with uow_factory(for_writing=True) as uow:
        user = uow.users.add(new_user("ana@example.com"), created_at)
        uow.outbox.append(UserRegistered(user.id, user.email, created_at), created_at)
        uow.commit()

    with uow_factory() as uow:
        stored = uow.users.get(user.id)
        [event] = uow.events.read_after(0, 10)

    assert stored is not None
    for moment in (stored.created_at, event.recorded_at):
        assert moment == created_at
        assert moment.utcoffset() == timedelta(0)
    assert stored.created_at.isoformat() == "2026-03-28T20:00:15.123456+00:00"


def test_naive_times_are_refused(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    with uow_factory(for_writing=True) as uow, pytest.raises(StatementError, match="naive datetime"):
        uow.users.add(new_user("ana@example.com"), datetime(2026, 1, 1, 12, 0))


# --- Outbox ---


def test_outbox_positions_are_gap_free_and_ordered_across_rollbacks(
    uow_factory: SqlAlchemyUnitOfWorkFactory,
) -> None:
    positions = [register_with_event(uow_factory, "ana@example.com")]
    with uow_factory(for_writing=True) as uow:  # rolled back: its position must not be lost
        uow.outbox.append(UserRegistered(99, EmailAddress.parse("x@example.com"), EPOCH), EPOCH)
    with pytest.raises(EmailTaken):
        register_with_event(uow_factory, "ANA@example.com")
    positions += [register_with_event(uow_factory, f"user{index}@example.com") for index in range(3)]

    with uow_factory() as uow:
        events = uow.events.read_after(0, 100)
        head = uow.events.head()

    assert positions == [1, 2, 3, 4]
    assert [event.position for event in events] == [1, 2, 3, 4]
    assert head == 4
    assert [event.payload["email"] for event in events] == [
        "ana@example.com",
        "user0@example.com",
        "user1@example.com",
        "user2@example.com",
    ]


def test_outbox_is_read_by_position_and_limit(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    for index in range(5):
        register_with_event(uow_factory, f"user{index}@example.com")

    with uow_factory() as uow:
        assert [event.position for event in uow.events.read_after(1, 2)] == [2, 3]
        assert list(uow.events.read_after(5, 10)) == []


def test_empty_outbox_has_head_zero(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        assert (uow.events.head(), list(uow.events.read_after(0, 10))) == (0, [])


def test_event_payload_round_trips(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    event = UserRegistered(1, EmailAddress.parse("José@bücher.de"), EPOCH)
    with uow_factory(for_writing=True) as uow:
        uow.outbox.append(event, EPOCH)
        uow.commit()

    with uow_factory() as uow:
        [stored] = uow.events.read_after(0, 10)

    assert (stored.name, UserRegistered.from_payload(stored.payload)) == ("UserRegistered", event)


def test_feed_reads_the_sql_outbox_a_statement_a_read(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    register_with_event(uow_factory, "ana@example.com")
    register_with_event(uow_factory, "bea@example.com")
    feed = PreparedEventFeed(uow_factory.engine)
    timer = FakeTimer()

    try:
        batch = read_feed(feed, after=0, limit=10, wait_s=1.0, monotonic=timer.monotonic, sleep=timer.sleep)
        rest = read_feed(feed, after=1, limit=1, monotonic=timer.monotonic, sleep=timer.sleep)
        past_the_end = read_feed(feed, after=2, limit=10, monotonic=timer.monotonic, sleep=timer.sleep)
    finally:
        feed.close()  # Python 3.13 warns about connections left open

    assert ([event.position for event in batch.events], batch.head) == ([1, 2], 2)
    first = batch.events[0]
    assert (first.name, first.payload["email"]) == ("UserRegistered", "ana@example.com")
    assert first.recorded_at.tzinfo is not None
    assert ([event.position for event in rest.events], rest.head) == ([2], 2)
    assert (list(past_the_end.events), past_the_end.head) == ([], 2)
    assert timer.sleeps == []


# --- Idempotency keys ---


def test_an_idempotency_record_names_the_user_its_request_registered(
    uow_factory: SqlAlchemyUnitOfWorkFactory,
) -> None:
    [user] = add_committed(uow_factory, "ana@example.com")
    with uow_factory(for_writing=True) as uow:
        uow.idempotency.add(IdempotencyRecord("k-1", "ana@example.com", user.id))
        uow.commit()

    with uow_factory() as uow:
        assert uow.idempotency.get("k-1") == IdempotencyRecord("k-1", "ana@example.com", user.id)
        assert uow.idempotency.get("k-2") is None


def test_a_key_is_recorded_once(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    [user] = add_committed(uow_factory, "ana@example.com")
    with uow_factory(for_writing=True) as uow:
        uow.idempotency.add(IdempotencyRecord("k-1", "ana@example.com", user.id))
        uow.commit()

    with pytest.raises(IntegrityError), uow_factory(for_writing=True) as uow:
        uow.idempotency.add(IdempotencyRecord("k-1", "ana@example.com", user.id))


# --- The unit of work ---


def test_writes_without_commit_are_rolled_back(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    with uow_factory(for_writing=True) as uow:
        user = uow.users.add(new_user("ana@example.com"), EPOCH)
        uow.outbox.append(UserRegistered(user.id, user.email, EPOCH), EPOCH)
        uow.idempotency.add(IdempotencyRecord("k-1", user.email.canonical, user.id))

    with uow_factory() as uow:
        assert (uow.users.count(), uow.events.head(), uow.idempotency.get("k-1")) == (0, 0, None)


def test_writes_of_a_failing_transaction_are_rolled_back(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    def fail_midway() -> None:
        with uow_factory(for_writing=True) as uow:
            uow.users.add(new_user("ana@example.com"), EPOCH)
            raise RuntimeError("crashed before commit")

    with pytest.raises(RuntimeError, match="before commit"):
        fail_midway()

    with uow_factory() as uow:
        assert uow.users.count() == 0


def test_commit_is_durable_for_a_new_engine(store_url: str, uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    [added] = add_committed(uow_factory, "ana@example.com")

    other = create_store_engine(store_url)
    try:
        with SqlAlchemyUnitOfWorkFactory(other)() as uow:
            assert uow.users.get(added.id) == added
    finally:
        other.dispose()


@only_on(SQLITE)
def test_writing_unit_takes_the_write_lock_when_it_begins(
    store_path: Path, uow_factory: SqlAlchemyUnitOfWorkFactory
) -> None:
    other = sqlite3.connect(store_path, timeout=0.05, isolation_level=None)
    try:
        with uow_factory(for_writing=True), pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        with uow_factory():
            other.execute("BEGIN IMMEDIATE")  # a reading unit leaves the write lock free
            other.execute("ROLLBACK")
    finally:
        other.close()


def test_readers_see_the_last_commit_while_a_writer_is_busy(
    uow_factory: SqlAlchemyUnitOfWorkFactory,
) -> None:
    add_committed(uow_factory, "ana@example.com")

    with uow_factory(for_writing=True) as writer:
        writer.users.add(new_user("bea@example.com"), EPOCH)
        with uow_factory() as reader:
            assert reader.users.count() == 1
        writer.commit()

    with uow_factory() as reader:
        assert reader.users.count() == 2


def test_a_later_writer_takes_the_next_position_only_once_the_earlier_one_has_committed(
    uow_factory: SqlAlchemyUnitOfWorkFactory,
) -> None:
    with ThreadPoolExecutor(max_workers=1) as pool:
        with uow_factory(for_writing=True) as first:
            first_user = first.users.add(new_user("ana@example.com"), EPOCH)
            position = first.outbox.append(
                UserRegistered(first_user.id, first_user.email, EPOCH), EPOCH
            )
            later = pool.submit(register_with_event, uow_factory, "bea@example.com")
            # SQLite: at BEGIN IMMEDIATE. PostgreSQL: at the outbox's tail lock, before its position.
            assert not finishes(later, within_s=0.3), "the later writer went past the earlier one"
            first.commit()

        assert later.result(timeout=10) == position + 1


@only_on(POSTGRESQL)
def test_writers_on_postgresql_wait_for_each_other_only_at_the_outbox(
    uow_factory: SqlAlchemyUnitOfWorkFactory,
) -> None:
    def add_and_commit(address: str) -> None:
        with uow_factory(for_writing=True) as uow:
            user = uow.users.add(new_user(address), EPOCH)
            uow.idempotency.add(IdempotencyRecord(f"key-of-{address}", address, user.id))
            uow.commit()

    with ThreadPoolExecutor(max_workers=1) as pool:
        with uow_factory(for_writing=True) as first:
            user = first.users.add(new_user("ana@example.com"), EPOCH)
            first.outbox.append(UserRegistered(user.id, user.email, EPOCH), EPOCH)
            other = pool.submit(add_and_commit, "bea@example.com")
            assert finishes(other, within_s=10), "a writer that appends no event waited for the outbox"
            first.commit()
        other.result()

    with uow_factory() as uow:
        assert uow.users.count() == 2


@only_on(POSTGRESQL)
def test_a_writing_unit_on_postgresql_holds_the_idempotency_key_it_read_until_it_ends(
    uow_factory: SqlAlchemyUnitOfWorkFactory,
) -> None:
    def read_for_writing(key: str) -> IdempotencyRecord | None:
        with uow_factory(for_writing=True) as uow:
            return uow.idempotency.get(key)

    with ThreadPoolExecutor(max_workers=2) as pool:
        with uow_factory(for_writing=True) as first:
            assert first.idempotency.get("k-1") is None
            same_key = pool.submit(read_for_writing, "k-1")
            other_key = pool.submit(read_for_writing, "k-2")
            assert other_key.result(timeout=10) is None
            assert not finishes(same_key, within_s=0.3), "the key was read while another unit held it"
            user = first.users.add(new_user("ana@example.com"), EPOCH)
            recorded = IdempotencyRecord("k-1", "ana@example.com", user.id)
            first.idempotency.add(recorded)
            first.commit()

        assert same_key.result(timeout=10) == recorded


@only_on(SQLITE)
@pytest.mark.parametrize(
    ("pragma", "expected"),
    [("journal_mode", "wal"), ("busy_timeout", 5000), ("synchronous", 1), ("foreign_keys", 1)],
)
def test_every_connection_has_the_sqlite_pragmas_for_several_writers(
    engine: Engine, pragma: str, expected: object
) -> None:
    with engine.connect() as first, engine.connect() as second:
        values = [connection.exec_driver_sql(f"PRAGMA {pragma}").scalar() for connection in (first, second)]

    assert values == [expected, expected]  # synchronous 1 is NORMAL


@only_on(SQLITE)
def test_store_file_is_in_wal_mode_for_any_client(store_path: Path, engine: Engine) -> None:
    plain = sqlite3.connect(store_path)
    try:
        assert plain.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        plain.close()


@pytest.mark.parametrize("for_writing", [False, True], ids=["reading", "writing"])
def test_store_that_cannot_be_opened_is_unavailable(tmp_path: Path, for_writing: bool) -> None:
    folder = tmp_path / "a-folder-not-a-file"
    folder.mkdir()
    engine = create_store_engine(f"sqlite:///{folder}")
    unit = SqlAlchemyUnitOfWorkFactory(engine)(for_writing=for_writing)
    try:
        with pytest.raises(DependencyUnavailable) as caught, unit:
            pytest.fail("the unit of work must not open")
    finally:
        engine.dispose()

    assert caught.value.dependency == "write store"
    assert caught.value.retry_after_s >= 1


@pytest.mark.parametrize("for_writing", [False, True], ids=["reading", "writing"])
def test_postgresql_server_that_does_not_answer_is_unavailable(for_writing: bool) -> None:
    # Port 1 of the loopback: nothing listens there, the connection is refused at once.
    engine = create_store_engine(
        "postgresql+psycopg://postgres@127.0.0.1:1/test", connect_args={"connect_timeout": 2}
    )
    unit = SqlAlchemyUnitOfWorkFactory(engine)(for_writing=for_writing)
    try:
        with pytest.raises(DependencyUnavailable) as caught, unit:
            pytest.fail("the unit of work must not open")
    finally:
        engine.dispose()

    assert caught.value.dependency == "write store"


@only_on(SQLITE)
def test_store_locked_past_the_busy_timeout_is_unavailable(
    monkeypatch: pytest.MonkeyPatch, store_path: Path, store_url: str
) -> None:
    # The real timeout is 5 s; a short one keeps the test quick and exercises the same path.
    monkeypatch.setattr(engine_module, "SQLITE_BUSY_TIMEOUT_MS", 50)
    engine = create_store_engine(store_url)
    upgrade_schema(engine, WRITE_STORE_SCHEMA)
    holder = sqlite3.connect(store_path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(DependencyUnavailable), SqlAlchemyUnitOfWorkFactory(engine)(for_writing=True):
            pytest.fail("the unit of work must not get the write lock")
    finally:
        holder.close()
        engine.dispose()


def test_upgrading_the_schema_again_keeps_the_rows(
    engine: Engine, uow_factory: SqlAlchemyUnitOfWorkFactory
) -> None:
    add_committed(uow_factory, "ana@example.com")

    upgrade_schema(engine, WRITE_STORE_SCHEMA)

    with uow_factory() as uow:
        assert uow.users.count() == 1


def test_store_folder_is_created_when_missing(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "store.db"
    engine = create_store_engine(f"sqlite:///{path}")
    try:
        upgrade_schema(engine, WRITE_STORE_SCHEMA)
    finally:
        engine.dispose()

    assert path.is_file()


# --- The use case on the real store ---


def test_registration_round_trip_on_the_real_store(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    store = WriteStoreRegistrations(uow_factory, FakeClock())
    hasher = FakeHasher()
    command = RegisterUser(
        EmailAddress.parse("Ana@Example.com"), Password("correct-horse-battery"), idempotency_key="k-1"
    )

    first = register_user(command, store=store, hasher=hasher)
    replay = register_user(command, store=store, hasher=hasher)
    with pytest.raises(EmailTaken):
        register_user(
            RegisterUser(EmailAddress.parse("ana@EXAMPLE.com"), Password("another-password")),
            store=store,
            hasher=hasher,
        )

    assert (first.replayed, replay.replayed, replay.user) == (False, True, first.user)
    with uow_factory() as uow:
        assert uow.users.count() == 1
        assert uow.events.head() == 1
        record = uow.idempotency.get("k-1")
    assert record is not None
    assert record.user_id == first.user.id


def test_a_taken_address_under_a_new_key_leaves_the_store_as_it_was(
    uow_factory: SqlAlchemyUnitOfWorkFactory,
) -> None:
    store = WriteStoreRegistrations(uow_factory, FakeClock())
    store.record(new_user("ana@example.com"), "k-1")

    with pytest.raises(EmailTaken):
        store.record(new_user("ANA@example.com"), "k-2")

    with uow_factory() as uow:
        assert (uow.users.count(), uow.events.head()) == (1, 1)
        assert uow.idempotency.get("k-2") is None


def test_users_are_stored_with_a_hash_never_the_password(engine: Engine) -> None:
    store = WriteStoreRegistrations(SqlAlchemyUnitOfWorkFactory(engine), FakeClock())
    command = RegisterUser(EmailAddress.parse("ana@example.com"), Password("correct-horse-battery"))
    register_user(command, store=store, hasher=FakeHasher())

    with engine.connect() as connection:
        rows = connection.execute(select(users)).all()

    assert len(rows) == 1
    assert "correct-horse-battery" not in str(rows)


# The database itself refuses the event row, after the user row and the key row were written in the
# same transaction: what a crash or a full disk between the statements would leave, if anything.
REFUSE_EVENTS = {
    SQLITE: [
        "CREATE TRIGGER refuse_events BEFORE INSERT ON outbox "
        "BEGIN SELECT RAISE(ABORT, 'injected: the event cannot be written'); END",
    ],
    POSTGRESQL: [
        "CREATE FUNCTION refuse_events() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'injected: the event cannot be written'; END $$",
        "CREATE TRIGGER refuse_events BEFORE INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION refuse_events()",
    ],
}


def test_a_registration_whose_event_cannot_be_written_leaves_no_user_and_no_key(
    backend: str, engine: Engine, uow_factory: SqlAlchemyUnitOfWorkFactory
) -> None:
    with engine.begin() as connection:
        for statement in REFUSE_EVENTS[backend]:
            connection.exec_driver_sql(statement)
    store = WriteStoreRegistrations(uow_factory, FakeClock())

    with pytest.raises(DBAPIError, match="injected"):
        store.record(new_user("ana@example.com"), "k-1")

    with uow_factory() as uow:
        assert uow.users.count() == 0
        assert uow.idempotency.get("k-1") is None
        assert uow.events.head() == 0
