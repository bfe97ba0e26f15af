"""register_user over the write store's RegistrationStore, on fakes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, Protocol

import pytest

from sportapp_core.domain import (
    EmailAddress,
    EmailTaken,
    IdempotencyKeyReused,
    InvalidEmail,
    InvalidPassword,
    NewUser,
    Password,
    RegistrationInProgress,
    User,
    UserRegistered,
)
from sportapp_core.services import (
    RegisterUser,
    Registration,
    WriteStoreRegistrations,
    register_user,
)
from sportapp_core.services.errors import DependencyUnavailable
from sportapp_core.services.ports import Claim, ClaimState
from tests.fakes import EPOCH, FakeClock, FakeHasher, FakeUnitOfWorkFactory

PRIMARY = "registro-primary"
BACKUP = "registro-backup"
CLAIM_TTL = timedelta(seconds=10)
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
def store(uow_factory: FakeUnitOfWorkFactory, clock: FakeClock) -> WriteStoreRegistrations:
    return WriteStoreRegistrations(uow_factory, clock, claim_ttl=CLAIM_TTL)


@pytest.fixture
def hasher() -> FakeHasher:
    return FakeHasher()


class Register(Protocol):
    """Registers through register_user with the test's store and hasher."""

    def __call__(
        self,
        email: str = ...,
        password: str = ...,
        key: str | None = ...,
        owner: str = ...,
    ) -> Registration: ...


@pytest.fixture
def register(store: WriteStoreRegistrations, hasher: FakeHasher) -> Register:
    def register(
        email: str = "ana@example.com",
        password: str = PASSWORD,
        key: str | None = None,
        owner: str = PRIMARY,
    ) -> Registration:
        command = RegisterUser(email=email, password=Password(password), idempotency_key=key)
        return register_user(command, store=store, hasher=hasher, owner=owner)

    return register


def test_registration_stores_the_user_with_its_address_normalised(
    register: Register, uow_factory: FakeUnitOfWorkFactory, clock: FakeClock
) -> None:
    registration = register("Ana@Example.COM")

    assert registration.replayed is False
    user = registration.user
    assert (user.email, user.email_canonical, user.created_at) == (
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
        email_canonical=user.email_canonical,
        registered_at=user.created_at,
    )
    assert user.password_hash not in str(event.payload)
    writes = [uow for uow in uow_factory.opened if uow.committed]
    assert len(writes) == 1, "user and event must be committed together, in one transaction"


def test_user_is_not_stored_when_its_event_cannot_be_written(
    register: Register, uow_factory: FakeUnitOfWorkFactory
) -> None:
    uow_factory.append_error = RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        register()

    assert uow_factory.state.users == {}
    assert uow_factory.state.events == []


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


def test_taken_email_is_refused_before_hashing(register: Register, hasher: FakeHasher) -> None:
    register()
    hashed = hasher.hashed

    with pytest.raises(EmailTaken):
        register(key="a-new-key")

    assert hasher.hashed == hashed


def test_store_refuses_a_taken_email_even_without_the_advisory_check(
    store: WriteStoreRegistrations, uow_factory: FakeUnitOfWorkFactory
) -> None:
    # Two requests can both pass is_registered; the store's unique address is what decides.
    first = NewUser(email=EmailAddress.parse("ana@example.com"), password_hash="fake$1")
    second = NewUser(email=EmailAddress.parse("Ana@Example.com"), password_hash="fake$2")
    store.record(first, None, PRIMARY)

    with pytest.raises(EmailTaken):
        store.record(second, None, BACKUP)

    assert [user.password_hash for user in uow_factory.state.users.values()] == ["fake$1"]
    assert len(uow_factory.state.events) == 1


def test_invalid_email_is_refused_before_anything_is_stored(
    register: Register, uow_factory: FakeUnitOfWorkFactory, hasher: FakeHasher
) -> None:
    with pytest.raises(InvalidEmail):
        register("not-an-address", key="k-1")

    assert uow_factory.state.keys == {}
    assert uow_factory.commits == 0
    assert hasher.hashed == 0


@pytest.mark.parametrize("password", ["short", "x" * 129])
def test_password_outside_the_policy_is_refused_before_anything_is_stored(
    register: Register, uow_factory: FakeUnitOfWorkFactory, hasher: FakeHasher, password: str
) -> None:
    with pytest.raises(InvalidPassword) as caught:
        register(password=password, key="k-1")

    assert password not in str(caught.value)
    assert uow_factory.commits == 0
    assert hasher.hashed == 0


def test_replay_of_the_same_key_and_body_answers_the_same_user(
    register: Register, uow_factory: FakeUnitOfWorkFactory, hasher: FakeHasher
) -> None:
    first = register(key="k-1")

    replay = register(key="k-1")

    assert replay == Registration(user=first.user, replayed=True)
    assert len(uow_factory.state.events) == 1
    assert hasher.hashed == 1


def test_replay_may_spell_the_address_in_other_case(register: Register) -> None:
    first = register("ana@example.com", key="k-1")

    assert register("ANA@example.com", key="k-1") == Registration(first.user, replayed=True)


def test_replay_reaching_the_other_instance_answers_the_same_user(register: Register) -> None:
    first = register(key="k-1", owner=PRIMARY)

    assert register(key="k-1", owner=BACKUP) == Registration(first.user, replayed=True)


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


def test_same_key_with_another_email_is_refused_while_the_first_is_in_progress(
    store: WriteStoreRegistrations, register: Register
) -> None:
    store.claim("k-1", EmailAddress.parse("ana@example.com"), PRIMARY)

    with pytest.raises(IdempotencyKeyReused):
        register("bea@example.com", key="k-1", owner=BACKUP)


def test_retry_on_the_same_instance_while_in_progress_is_told_to_wait(
    store: WriteStoreRegistrations, register: Register, uow_factory: FakeUnitOfWorkFactory, hasher: FakeHasher
) -> None:
    assert store.claim("k-1", EmailAddress.parse("ana@example.com"), PRIMARY).state is ClaimState.CLAIMED

    with pytest.raises(RegistrationInProgress):
        register(key="k-1", owner=PRIMARY)

    assert hasher.hashed == 0
    assert uow_factory.state.users == {}
    assert uow_factory.state.keys["k-1"].owner == PRIMARY, "the first attempt keeps its claim"


def test_claim_held_by_another_instance_is_taken_over(
    store: WriteStoreRegistrations, register: Register, uow_factory: FakeUnitOfWorkFactory
) -> None:
    store.claim("k-1", EmailAddress.parse("ana@example.com"), PRIMARY)

    registration = register(key="k-1", owner=BACKUP)

    assert registration.replayed is False
    assert uow_factory.state.keys["k-1"].user_id == registration.user.id
    assert len(uow_factory.state.events) == 1


def test_first_attempt_finishing_after_a_takeover_replays_the_winner(
    store: WriteStoreRegistrations, hasher: FakeHasher, uow_factory: FakeUnitOfWorkFactory
) -> None:
    email = EmailAddress.parse("ana@example.com")
    password_hash = hasher.hash(Password(PASSWORD))
    store.claim("k-1", email, PRIMARY)
    store.claim("k-1", email, BACKUP)
    winner, winner_replayed = store.record(NewUser(email, password_hash), "k-1", BACKUP)

    late, late_replayed = store.record(NewUser(email, password_hash), "k-1", PRIMARY)

    assert (late, late_replayed, winner_replayed) == (winner, True, False)
    assert len(uow_factory.state.events) == 1


def test_late_record_of_another_email_under_a_completed_key_is_refused(
    store: WriteStoreRegistrations, uow_factory: FakeUnitOfWorkFactory
) -> None:
    store.record(NewUser(EmailAddress.parse("ana@example.com"), "fake$1"), "k-1", PRIMARY)

    with pytest.raises(IdempotencyKeyReused):
        store.record(NewUser(EmailAddress.parse("bea@example.com"), "fake$2"), "k-1", BACKUP)

    assert len(uow_factory.state.users) == 1


def test_claim_is_in_progress_until_its_ttl_has_passed(
    store: WriteStoreRegistrations, register: Register, clock: FakeClock
) -> None:
    store.claim("k-1", EmailAddress.parse("ana@example.com"), PRIMARY)

    clock.advance(CLAIM_TTL - timedelta(microseconds=1))
    with pytest.raises(RegistrationInProgress):
        register(key="k-1", owner=PRIMARY)

    clock.advance(timedelta(microseconds=1))
    assert register(key="k-1", owner=PRIMARY).replayed is False


def test_claim_records_when_it_expires(
    store: WriteStoreRegistrations, uow_factory: FakeUnitOfWorkFactory, clock: FakeClock
) -> None:
    clock.advance(5)
    store.claim("k-1", EmailAddress.parse("ana@example.com"), PRIMARY)

    record = uow_factory.state.keys["k-1"]
    assert record.expires_at == EPOCH + timedelta(seconds=5) + CLAIM_TTL
    assert (record.owner, record.user_id, record.email_canonical) == (PRIMARY, None, "ana@example.com")


def test_failed_registration_releases_its_claim_so_a_retry_runs(
    store: WriteStoreRegistrations, uow_factory: FakeUnitOfWorkFactory
) -> None:
    command = RegisterUser("ana@example.com", Password(PASSWORD), idempotency_key="k-1")
    with pytest.raises(RuntimeError, match="worker died"):
        register_user(command, store=store, hasher=HasherThatBreaks(), owner=PRIMARY)

    assert "k-1" not in uow_factory.state.keys
    retry = register_user(command, store=store, hasher=FakeHasher(), owner=PRIMARY)
    assert retry.replayed is False
    assert len(uow_factory.state.events) == 1


def test_registration_of_a_taken_email_releases_its_claim(
    register: Register, uow_factory: FakeUnitOfWorkFactory
) -> None:
    register("ana@example.com", key="k-1")

    with pytest.raises(EmailTaken):
        register("ana@example.com", key="k-2")

    assert set(uow_factory.state.keys) == {"k-1"}


def test_release_only_drops_the_owners_unfinished_claim(
    store: WriteStoreRegistrations, uow_factory: FakeUnitOfWorkFactory
) -> None:
    store.claim("k-1", EmailAddress.parse("ana@example.com"), PRIMARY)

    store.release("k-1", BACKUP)
    assert uow_factory.state.keys["k-1"].owner == PRIMARY

    store.release("k-1", PRIMARY)
    assert "k-1" not in uow_factory.state.keys


def test_release_never_drops_a_completed_key(
    store: WriteStoreRegistrations, register: Register, uow_factory: FakeUnitOfWorkFactory
) -> None:
    first = register(key="k-1", owner=PRIMARY)

    store.release("k-1", PRIMARY)

    assert uow_factory.state.keys["k-1"].user_id == first.user.id
    assert register(key="k-1").replayed is True


class StoreThatLosesReleases(WriteStoreRegistrations):
    """A store that cannot be reached when a failed request tries to release its claim."""

    def release(self, key: str, owner: str) -> None:
        raise DependencyUnavailable("write store")


def test_store_failing_to_release_reports_the_original_error(
    register: Register, uow_factory: FakeUnitOfWorkFactory
) -> None:
    register("ana@example.com")
    flaky = StoreThatLosesReleases(uow_factory, FakeClock())
    command = RegisterUser("ana@example.com", Password(PASSWORD), idempotency_key="k-2")

    with pytest.raises(EmailTaken):
        register_user(command, store=flaky, hasher=FakeHasher(), owner=PRIMARY)

    assert uow_factory.state.keys["k-2"].owner == PRIMARY, "the claim waits for its expiry"


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


class StoreWhereTheFirstAttemptCommitsRightAfterAClaim(WriteStoreRegistrations):
    """The failover race: the first attempt commits between the retry's claim and what follows."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.first_attempt: Callable[[], object] | None = None

    def claim(self, key: str, email: EmailAddress, owner: str) -> Claim:
        claim = super().claim(key, email, owner)
        first_attempt, self.first_attempt = self.first_attempt, None
        if first_attempt is not None:
            first_attempt()
        return claim


def test_retry_on_the_other_instance_replays_a_first_attempt_that_commits_meanwhile(
    uow_factory: FakeUnitOfWorkFactory, clock: FakeClock
) -> None:
    store = StoreWhereTheFirstAttemptCommitsRightAfterAClaim(uow_factory, clock, claim_ttl=CLAIM_TTL)
    command = RegisterUser("ana@example.com", Password(PASSWORD), idempotency_key="k-1")
    email = EmailAddress.parse("ana@example.com")
    hasher = FakeHasher()
    store.claim("k-1", email, PRIMARY)  # the first attempt starts on the primary, then hangs
    first: list[tuple[User, bool]] = []
    password_hash = hasher.hash(Password(PASSWORD))
    store.first_attempt = lambda: first.append(store.record(NewUser(email, password_hash), "k-1", PRIMARY))

    retry = register_user(command, store=store, hasher=hasher, owner=BACKUP)

    [(first_user, first_replayed)] = first
    assert first_replayed is False
    assert retry == Registration(user=first_user, replayed=True)
    assert len(uow_factory.state.events) == 1
