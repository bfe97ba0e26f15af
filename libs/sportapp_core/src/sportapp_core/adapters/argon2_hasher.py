"""Password hashing with argon2id (argon2-cffi)."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import argon2

from sportapp_core.domain import Password


@dataclass(frozen=True, slots=True)
class Argon2Parameters:
    """argon2id cost parameters; the defaults are OWASP's minimum (19 MiB, 2 passes, 1 lane)."""

    memory_kib: int = 19 * 1024
    time_cost: int = 2
    parallelism: int = 1


class Argon2Hasher:
    """argon2id hashing, with a bound on how many hashes run at once in this process.

    argon2-cffi releases the GIL while it hashes, so the bound (default: one per core) is what
    keeps a burst of registrations from starving the threads that answer pings and reads.
    """

    def __init__(
        self, parameters: Argon2Parameters = Argon2Parameters(), max_concurrent: int | None = None
    ) -> None:
        self.parameters = parameters
        self._hasher = argon2.PasswordHasher(
            time_cost=parameters.time_cost,
            memory_cost=parameters.memory_kib,
            parallelism=parameters.parallelism,
            type=argon2.Type.ID,
        )
        self._slots = threading.BoundedSemaphore(max_concurrent or os.cpu_count() or 1)

    def hash(self, password: Password) -> str:
        """Hash ``password`` with a fresh salt."""
        with self._slots:
            return self._hasher.hash(password.reveal())

    def verify(self, password_hash: str, password: Password) -> bool:
        """Whether ``password`` matches ``password_hash``."""
        with self._slots:
            try:
                return self._hasher.verify(password_hash, password.reveal())
            except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
                return False

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether ``password_hash`` was made with other parameters than the current ones."""
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except argon2.exceptions.InvalidHashError:
            return True
