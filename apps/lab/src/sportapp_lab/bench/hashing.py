"""The bound that password hashing alone sets on registrations: argon2id hashes per second on
every core, with the parameters registro uses, measured in this run."""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor

from sportapp_core.adapters.argon2_hasher import Argon2Hasher, Argon2Parameters
from sportapp_core.domain import Password


def _hash_for(duration_s: float, parameters: Argon2Parameters) -> tuple[int, float]:
    """Hash in a loop for ``duration_s`` in this process; how many hashes, in how long."""
    hasher = Argon2Hasher(parameters)
    password = Password("correct horse battery staple")
    hasher.hash(password)  # warm: the first hash allocates the memory the others reuse
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < duration_s:
        hasher.hash(password)
        count += 1
    return count, time.perf_counter() - started


def hashes_per_second(duration_s: float, parameters: Argon2Parameters, processes: int | None = None) -> float:
    """argon2id hashes per second with one hashing process per core, all at once."""
    processes = processes or os.cpu_count() or 1
    with ProcessPoolExecutor(max_workers=processes) as pool:
        runs = list(pool.map(_hash_for, [duration_s] * processes, [parameters] * processes))
    return sum(count / elapsed for count, elapsed in runs)
