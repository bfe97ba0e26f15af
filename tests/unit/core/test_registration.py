"""register_user over the write store's RegistrationStore, on fakes."""

from __future__ import annotations

from typing import Protocol

import pytest

from sportapp_core.domain import (
    EmailAddress,
    EmailTaken,
    IdempotencyKeyReused,
    NewUser,
    Password,
    UserRegistered,
)
from sportapp_core.ports import Recorded
from sportapp_core.services import (
    RegisterUser,
    Registration,
    WriteStoreRegistrations,
    register_user,
)
from sportapp_core.services.errors import DependencyUnavailable
from tests.fakes import FakeClock, FakeHasher, FakeUnitOfWorkFactory

PASSWORD = "correct-horse-battery"


class HasherThatBreaks(FakeHasher):
    """A hasher whose hashing fails, as a worker killed mid-hash would."""

    def hash(self, password: Password) -> str:
        super().hash(password)
        raise RuntimeError("the hashing worker died")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def uow_factory() -> FakeUnitOfWorkFactory:
    return FakeUnitOfWorkFactory()


@pytest.fixture
def commits_told() -> list[None]:
    return []


@pytest.fixture
def store(
    uow_factory: FakeUnitOfWorkFactory, clock: FakeClock, commits_told: list[None]
) -> WriteStoreRegistrations:
    return WriteStoreRegistrations(uow_factory, clock, on_commit=lambda: commits_told.append(None))


@pytest.fixture
def hasher() -> FakeHasher:
    return FakeHasher()


class Register(Protocol):
    """Registers through register_user with the test's store and hasher."""

    def __call__(self, email: str = ..., password: str = ..., key: str | None = ...) -> Registration: ...


@pytest.fixture
def register(store: WriteStoreRegistrations, hasher: FakeHasher) -> Register:
    def register(
        email: str = "ana@example.com", password: str = PASSWORD, key: str | None = None
    ) -> Registration:
        command = RegisterUser(EmailAddress.parse(email), Password(password), idempotency_key=key)
        return register_user(command, store=store, hasher=hasher)

    return register


def new_user(address: str, password_hash: str = "fake$1") -> NewUser:  # noqa: S107
    return NewUser(EmailAddress.parse(address), password_hash)


def test_registration_stores_the_user_with_its_address_normalised(
    register: Register, uow_factory: FakeUnitOfWorkFactory, clock: FakeClock
) -> None:
    registration = register("Ana@Example.COM")

    assert registration.replayed is False
    user = registration.user
    assert (user.email.value, user.email.canonical, user.created_at) == (
        "Ana@example.com",
        "ana@example.com",
        clock.now(),
    )
    assert uow_factory.state.users == {user.id: user}


def test_registration_stores_a_hash_never_the_password(
    register: Register, uow_factory: FakeUnitOfWorkFactory, hasher: FakeHasher
) -> None:
    user = register().user

    assert PASSWORD not in user.password_hash
    assert hasher.verify(user.password_hash, Password(PASSWORD))
    assert PASSWORD not in repr(uow_factory.state)


def test_a_registration_is_one_transaction_of_the_store(
    register: Register, uow_factory: FakeUnitOfWorkFactory
) -> None:
    register(key="k-1")

    assert len(uow_factory.opened) == 1, "one call to the store, one unit of work"
    assert [uow.committed for uow in uow_factory.opened] == [True]


def test_registration_publishes_one_user_registered_event_in_the_same_commit(
    register: Register, uow_factory: FakeUnitOfWorkFactory
) -> None:
    user = register().user

    [event] = uow_factory.state.events
    assert event.position == 1
    assert event.name == "UserRegistered"
    assert UserRegistered.from_payload(event.payload) == UserRegistered(
        user_id=user.id,
        email=user.email,
        registered_at=user.created_at,
    )
    assert user.password_hash not in str(event.payload)
    writes = [uow for uow in uow_factory.opened if uow.committed]
    assert len(writes) == 1, "user and event must be committed together, in one transaction"


def test_a_new_user_is_told_to_the_feed_once_it_is_committed(
    register: Register, commits_told: list[None]
) -> None:
    register(key="k-1")
    register(key="k-1")  # a replay commits nothing
    with pytest.raises(EmailTaken):
        register(key="k-2")

    assert len(commits_told) == 1


def test_user_is_not_stored_when_its_event_cannot_be_written(
    register: Register, uow_factory: FakeUnitOfWorkFactory
) -> None:
    uow_factory.append_error = RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        register(key="k-1")

    assert uow_factory.state.users == {}
    assert uow_factory.state.events == []
    assert uow_factory.state.keys == {}


def test_same_email_in_other_case_is_taken(register: Register, uow_factory: FakeUnitOfWorkFactory) -> None:
    register("ana@example.com")

    with pytest.raises(EmailTaken):
        register("ANA@EXAMPLE.COM", password="another-password")

    assert len(uow_factory.state.users) == 1
    assert len(uow_factory.state.events) == 1


def test_same_email_with_punycode_domain_is_taken(register: Register) -> None:
    register("ana@bücher.de")

    with pytest.raises(EmailTaken):
        register("ana@xn--bcher-kva.de")


def test_a_taken_email_under_a_new_key_leaves_no_record_of_the_key(
    register: Register, uow_factory: FakeUnitOfWorkFactory
) -> None:
    register("ana@example.com", key="k-1")

    with pytest.raises(EmailTaken):
        register("ana@example.com", key="k-2")

    assert set(uow_factory.state.keys) == {"k-1"}
    with pytest.raises(EmailTaken):
        register("ana@example.com", key="k-2")  # the same answer again, not a replay


def test_store_refuses_a_taken_email_by_its_unique_address(
    store: WriteStoreRegistrations, uow_factory: FakeUnitOfWorkFactory
) -> None:
    store.record(new_user("ana@example.com", "fake$1"), None)

    with pytest.raises(EmailTaken):
        store.record(new_user("Ana@Example.com", "fake$2"), None)

    assert [user.password_hash for user in uow_factory.state.users.values()] == ["fake$1"]
    assert len(uow_factory.state.events) == 1


def test_replay_of_the_same_key_and_body_answers_the_same_user(
    register: Register, uow_factory: FakeUnitOfWorkFactory, hasher: FakeHasher
) -> None:
    first = register(key="k-1")

    replay = register(key="k-1")

    assert replay == Registration(user=first.user, replayed=True)
    assert len(uow_factory.state.events) == 1
    # The replay is known only at the store, after its hash; the stored hash then verifies it.
    assert (hasher.hashed, hasher.verified) == (2, 1)


def test_replay_may_spell_the_address_in_other_case(register: Register) -> None:
    first = register("ana@example.com", key="k-1")

    assert register("ANA@example.com", key="k-1") == Registration(first.user, replayed=True)


def test_same_key_with_another_email_is_refused(
    register: Register, uow_factory: FakeUnitOfWorkFactory
) -> None:
    register("ana@example.com", key="k-1")

    with pytest.raises(IdempotencyKeyReused):
        register("bea@example.com", key="k-1")

    assert len(uow_factory.state.users) == 1
    assert len(uow_factory.state.events) == 1


def test_same_key_and_email_with_another_password_is_refused(
    register: Register, uow_factory: FakeUnitOfWorkFactory
) -> None:
    register(key="k-1")

    with pytest.raises(IdempotencyKeyReused):
        register(key="k-1", password="another-password")

    assert len(uow_factory.state.events) == 1


def test_two_attempts_of_one_keyed_request_store_it_once_and_the_second_replays_the_first(
    store: WriteStoreRegistrations, hasher: FakeHasher, uow_factory: FakeUnitOfWorkFactory
) -> None:
    # The failover race: the first attempt on the primary and its retry on the standby both
    # hashed; the store's transactions on one key follow one another.
    email = EmailAddress.parse("ana@example.com")
    first = store.record(NewUser(email, hasher.hash(Password(PASSWORD))), "k-1")

    second = store.record(NewUser(email, hasher.hash(Password(PASSWORD))), "k-1")

    assert first.replayed is False
    assert second == Recorded(first.user, replayed=True)
    assert len(uow_factory.state.users) == 1
    assert len(uow_factory.state.events) == 1


def test_late_record_of_another_email_under_a_completed_key_is_refused(
    store: WriteStoreRegistrations, uow_factory: FakeUnitOfWorkFactory
) -> None:
    store.record(new_user("ana@example.com", "fake$1"), "k-1")

    with pytest.raises(IdempotencyKeyReused):
        store.record(new_user("bea@example.com", "fake$2"), "k-1")

    assert len(uow_factory.state.users) == 1


def test_a_registration_that_failed_before_the_store_leaves_nothing_and_its_retry_runs(
    store: WriteStoreRegistrations, uow_factory: FakeUnitOfWorkFactory
) -> None:
    command = RegisterUser(EmailAddress.parse("ana@example.com"), Password(PASSWORD), "k-1")
    with pytest.raises(RuntimeError, match="worker died"):
        register_user(command, store=store, hasher=HasherThatBreaks())

    assert uow_factory.state.keys == {}
    retry = register_user(command, store=store, hasher=FakeHasher())
    assert retry.replayed is False
    assert len(uow_factory.state.events) == 1


def test_unavailable_store_is_reported_as_such(
    register: Register, uow_factory: FakeUnitOfWorkFactory
) -> None:
    uow_factory.unavailable = DependencyUnavailable("write store")

    with pytest.raises(DependencyUnavailable) as caught:
        register(key="k-1")

    assert caught.value.retry_after_s >= 1


def test_registrations_get_increasing_ids_and_event_positions(
    register: Register, uow_factory: FakeUnitOfWorkFactory
) -> None:
    users = [register(f"user{index}@example.com").user for index in range(5)]

    assert [user.id for user in users] == [1, 2, 3, 4, 5]
    assert [event.position for event in uow_factory.state.events] == [1, 2, 3, 4, 5]
    assert [event.payload["user_id"] for event in uow_factory.state.events] == [1, 2, 3, 4, 5]
