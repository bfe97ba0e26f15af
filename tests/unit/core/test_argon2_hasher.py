"""argon2id hashing, with small parameters so that the tests stay fast."""

from __future__ import annotations

import threading
import time

import pytest

from sportapp_core.adapters.argon2_hasher import Argon2Hasher, Argon2Parameters
from sportapp_core.adapters.work_slots import WorkSlots
from sportapp_core.domain import Password

SECRET = "correct-horse-battery"
FAST = Argon2Parameters(memory_kib=1024, time_cost=1, parallelism=1)


@pytest.fixture(scope="module")
def hasher() -> Argon2Hasher:
    return Argon2Hasher(FAST)


def test_hash_is_argon2id_with_the_configured_parameters(hasher: Argon2Hasher) -> None:
    password_hash = hasher.hash(Password(SECRET))

    assert password_hash.startswith("$argon2id$")
    assert "m=1024,t=1,p=1" in password_hash
    assert SECRET not in password_hash


def test_hash_is_salted(hasher: Argon2Hasher) -> None:
    assert hasher.hash(Password(SECRET)) != hasher.hash(Password(SECRET))


def test_right_password_verifies(hasher: Argon2Hasher) -> None:
    assert hasher.verify(hasher.hash(Password(SECRET)), Password(SECRET)) is True


def test_wrong_password_does_not_verify(hasher: Argon2Hasher) -> None:
    assert hasher.verify(hasher.hash(Password(SECRET)), Password(SECRET + "!")) is False


@pytest.mark.parametrize("garbage", ["", "not-a-hash", "fake$abc", "$argon2id$v=19$m=1024,t=1,p=1$broken"])
def test_garbage_hash_does_not_verify(hasher: Argon2Hasher, garbage: str) -> None:
    assert hasher.verify(garbage, Password(SECRET)) is False


def test_hash_made_with_the_current_parameters_needs_no_rehash(hasher: Argon2Hasher) -> None:
    assert hasher.needs_rehash(hasher.hash(Password(SECRET))) is False


@pytest.mark.parametrize(
    "stronger",
    [
        Argon2Parameters(memory_kib=2048, time_cost=1, parallelism=1),
        Argon2Parameters(memory_kib=1024, time_cost=2, parallelism=1),
        Argon2Parameters(memory_kib=1024, time_cost=1, parallelism=2),
    ],
)
def test_hash_made_with_other_parameters_needs_a_rehash(
    hasher: Argon2Hasher, stronger: Argon2Parameters
) -> None:
    old_hash = hasher.hash(Password(SECRET))
    upgraded = Argon2Hasher(stronger)

    assert upgraded.needs_rehash(old_hash) is True
    assert upgraded.verify(old_hash, Password(SECRET)) is True, "old hashes still log in"
    assert upgraded.needs_rehash(upgraded.hash(Password(SECRET))) is False


def test_unreadable_hash_needs_a_rehash(hasher: Argon2Hasher) -> None:
    assert hasher.needs_rehash("fake$abc") is True


def test_default_parameters_are_owasps_minimum() -> None:
    assert Argon2Parameters() == Argon2Parameters(memory_kib=19 * 1024, time_cost=2, parallelism=1)


class SlowPassword(Password):
    """A password that counts how many hashes read it at once (the hasher reads it inside its bound)."""

    def __init__(self, secret: str, gauge: ConcurrencyGauge) -> None:
        super().__init__(secret)
        self.gauge = gauge

    def reveal(self) -> str:
        with self.gauge:
            time.sleep(0.05)  # long enough for the other threads to try to enter
            return super().reveal()


class ConcurrencyGauge:
    """How many threads are inside it now, and the most there ever were."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.inside = 0
        self.most = 0

    def __enter__(self) -> None:
        with self._lock:
            self.inside += 1
            self.most = max(self.most, self.inside)

    def __exit__(self, *_exc: object) -> None:
        with self._lock:
            self.inside -= 1


@pytest.mark.parametrize("bound", [1, 2])
def test_at_most_as_many_hashes_as_slots_run_at_once(bound: int) -> None:
    hasher = Argon2Hasher(FAST, WorkSlots(bound, job_s=0.01))
    gauge = ConcurrencyGauge()
    hashes: list[str] = []
    threads = [
        threading.Thread(target=lambda: hashes.append(hasher.hash(SlowPassword(SECRET, gauge))))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert not any(thread.is_alive() for thread in threads)
    assert len(hashes) == 4
    assert gauge.most == bound


def test_the_hasher_times_its_hashes_in_its_slots_from_a_first_hash_at_start() -> None:
    slots = WorkSlots(1, job_s=60.0)

    hasher = Argon2Hasher(FAST, slots)
    assert slots.jobs == 1, "a first hash at start"
    assert 0 < slots.job_s < 60.0, "the first hash's length replaces the guess"
    hasher.verify(hasher.hash(Password(SECRET)), Password(SECRET))

    assert slots.jobs == 3
    assert slots.cpu_s > 0
