"""The fakes keep the ports' promises, so that tests on them say something about the real adapters."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sportapp_core.domain import EmailAddress, EmailTaken, NewUser, Password, UserRegistered
from sportapp_core.ports import IdempotencyRecord
from sportapp_core.services.errors import DependencyUnavailable
from tests.fakes import EPOCH, FakeClock, FakeHasher, FakeTimer, FakeUnitOfWorkFactory


def new_user(address: str = "ana@example.com") -> NewUser:
    return NewUser(EmailAddress.parse(address), "fake$x")


def test_uncommitted_writes_are_discarded() -> None:
    factory = FakeUnitOfWorkFactory()
    with factory(for_writing=True) as uow:
        user = uow.users.add(new_user(), EPOCH)
        uow.outbox.append(UserRegistered(user.id, user.email, EPOCH), EPOCH)
        uow.idempotency.add(IdempotencyRecord("k-1", user.email.canonical, user.id))
        assert uow.users.count() == 1, "a transaction sees its own writes"

    with factory() as uow:
        assert (uow.users.count(), uow.events.head(), uow.idempotency.get("k-1")) == (0, 0, None)


def test_writes_after_the_last_commit_are_discarded() -> None:
    factory = FakeUnitOfWorkFactory()
    with factory(for_writing=True) as uow:
        uow.users.add(new_user("ana@example.com"), EPOCH)
        uow.commit()
        uow.users.add(new_user("bea@example.com"), EPOCH)
        with pytest.raises(EmailTaken):
            uow.users.add(new_user("ANA@example.com"), EPOCH)

    with factory() as uow:
        assert [user.email.value for user in uow.users.list(after=None, limit=10)] == ["ana@example.com"]


def test_committed_writes_are_seen_by_the_next_transaction() -> None:
    factory = FakeUnitOfWorkFactory()
    with factory(for_writing=True) as uow:
        user = uow.users.add(new_user(), EPOCH)
        uow.commit()

    with factory() as uow:
        assert uow.users.get(user.id) == user


def test_rolled_back_ids_and_positions_are_reused_so_none_is_skipped() -> None:
    factory = FakeUnitOfWorkFactory()
    with factory(for_writing=True) as uow:
        uow.users.add(new_user("ana@example.com"), EPOCH)
    with factory(for_writing=True) as uow:
        user = uow.users.add(new_user("bea@example.com"), EPOCH)
        position = uow.outbox.append(UserRegistered(user.id, user.email, EPOCH), EPOCH)
        uow.commit()

    assert (user.id, position) == (1, 1)


def test_an_idempotency_key_is_recorded_once() -> None:
    factory = FakeUnitOfWorkFactory()
    with factory(for_writing=True) as uow:
        uow.idempotency.add(IdempotencyRecord("k-1", "a@example.com", 1))
        assert uow.idempotency.get("k-1") == IdempotencyRecord("k-1", "a@example.com", 1)
        with pytest.raises(AssertionError, match="already recorded"):
            uow.idempotency.add(IdempotencyRecord("k-1", "b@example.com", 2))


def test_unavailable_store_fails_on_entry() -> None:
    factory = FakeUnitOfWorkFactory()
    factory.unavailable = DependencyUnavailable("write store")

    with pytest.raises(DependencyUnavailable), factory(for_writing=True):
        pytest.fail("the unit of work must not open")

    assert not factory.write_lock.locked()


def fail_in_a_writing_unit(factory: FakeUnitOfWorkFactory) -> None:
    with factory(for_writing=True):
        assert factory.write_lock.locked()
        raise RuntimeError("boom")


def test_writing_units_release_the_write_lock_on_exit() -> None:
    factory = FakeUnitOfWorkFactory()
    with factory(for_writing=True):
        assert factory.write_lock.locked()
    assert not factory.write_lock.locked()

    with pytest.raises(RuntimeError, match="boom"):
        fail_in_a_writing_unit(factory)

    assert not factory.write_lock.locked()


def test_fake_hasher_is_deterministic_and_never_stores_the_plaintext() -> None:
    hasher = FakeHasher()
    password_hash = hasher.hash(Password("correct-horse-battery"))

    assert password_hash == hasher.hash(Password("correct-horse-battery"))
    assert "correct-horse-battery" not in password_hash
    assert hasher.verify(password_hash, Password("correct-horse-battery"))
    assert not hasher.verify(password_hash, Password("wrong-horse-battery"))
    assert (hasher.needs_rehash(password_hash), hasher.needs_rehash("$argon2id$...")) == (False, True)


def test_fake_clock_is_aware_and_moves_only_when_told() -> None:
    clock = FakeClock()
    assert clock.now() == clock.now() == EPOCH
    assert clock.now().tzinfo is not None

    clock.advance(timedelta(minutes=1))
    clock.advance(1.5)

    assert clock.now() == EPOCH + timedelta(seconds=61.5)


def test_fake_timer_runs_actions_when_their_time_comes() -> None:
    timer = FakeTimer(start=0.0)
    ran: list[float] = []
    timer.at(1.0, lambda: ran.append(timer.monotonic()))

    timer.sleep(0.6)
    assert ran == []
    timer.sleep(0.6)
    timer.sleep(0.6)

    assert ran == [pytest.approx(1.2)]
    assert timer.slept == pytest.approx(1.8)
