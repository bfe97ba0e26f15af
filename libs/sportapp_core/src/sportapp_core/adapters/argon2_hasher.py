"""Password hashing with argon2id (argon2-cffi)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import argon2

from sportapp_core.adapters.work_slots import WorkSlots
from sportapp_core.domain import Password

ENVIRONMENT_PREFIX = "SPORTAPP_ARGON2_"


@dataclass(frozen=True, slots=True)
class Argon2Parameters:
    """argon2id cost parameters; the defaults are OWASP's minimum (19 MiB, 2 passes, 1 lane)."""

    memory_kib: int = 19 * 1024
    time_cost: int = 2
    parallelism: int = 1

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Argon2Parameters:
        """The parameters ``SPORTAPP_ARGON2_MEMORY_KIB``, ``_TIME_COST`` and ``_PARALLELISM`` set
        (the defaults for those unset): registro hashes with these, and what sizes or measures it
        (the stack, the experiment, the benchmarks) reads them the same way, from here."""
        values = {}
        for name in ("memory_kib", "time_cost", "parallelism"):
            variable = ENVIRONMENT_PREFIX + name.upper()
            if variable in environ:
                try:
                    values[name] = int(environ[variable])
                except ValueError:
                    raise ValueError(f"{variable}={environ[variable]!r} is not an integer") from None
        return cls(**values)


class Argon2Hasher:
    """argon2id hashing, in ``slots``: a bound on how many hashes run at once in this process.

    argon2-cffi releases the GIL while it hashes, so the bound (default: one per core) is what
    keeps a burst of registrations from starving the threads that answer pings and reads. The
    hashes run on the slots' own threads, one per slot, which keep argon2's memory from one hash
    to the next (:class:`~sportapp_core.adapters.work_slots.WorkSlots`). The slots also time each
    hash, which is what registro's admission predicts waits from; the first hash (made here, at
    start) seeds that timing.
    """

    def __init__(
        self, parameters: Argon2Parameters = Argon2Parameters(), slots: WorkSlots | None = None
    ) -> None:
        self.parameters = parameters
        self._hasher = argon2.PasswordHasher(
            time_cost=parameters.time_cost,
            memory_cost=parameters.memory_kib,
            parallelism=parameters.parallelism,
            type=argon2.Type.ID,
        )
        self.slots = slots or WorkSlots(os.cpu_count() or 1, job_s=1.0)
        self.slots.run(lambda: self._hasher.hash("a first hash, to measure one"))

    def hash(self, password: Password) -> str:
        """Hash ``password`` with a fresh salt."""
        return self.slots.run(lambda: self._hasher.hash(password.reveal()))

    def verify(self, password_hash: str, password: Password) -> bool:
        """Whether ``password`` matches ``password_hash``."""

        def matches() -> bool:
            try:
                return self._hasher.verify(password_hash, password.reveal())
            except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
                return False

        return self.slots.run(matches)

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether ``password_hash`` was made with other parameters than the current ones."""
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except argon2.exceptions.InvalidHashError:
            return True
