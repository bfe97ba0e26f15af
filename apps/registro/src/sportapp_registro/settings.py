"""The registro service's settings, from ``SPORTAPP_*`` environment variables."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sportapp_core.adapters.argon2_hasher import Argon2Parameters
from sportapp_core.adapters.web.gunicorn import service_settings


@dataclass(frozen=True, slots=True)
class RegistroSettings:
    """Who this instance is, where the db service is, how to hash, which faults it may inject."""

    instance: str = "registro"
    db_service_url: str = "http://127.0.0.1:8101"
    db_timeout_s: float = 6.0
    log_level: str = "INFO"
    max_body_bytes: int = 16 * 1024
    argon2_memory_kib: int = 19 * 1024
    argon2_time_cost: int = 2
    argon2_parallelism: int = 1
    # Hashes at once per process; 0 means one per core.
    hash_concurrency: int = 0
    # Registrations a process works on at once; more are refused with 503 + Retry-After. Keep it
    # below gunicorn's threads (SPORTAPP_THREADS, 32) so that pings never queue behind them. Not
    # much above what the cores can hash at once either: at 1.5x the hashing bound, 24 let the
    # admitted ones wait past NGINX's 3 s read timeout (502s from the gateway), 12 do not.
    max_in_flight: int = 12
    # Off unless asked for: the experiment's fault switch (answer 500 to everything) ...
    fault_injection: bool = False
    fault_dir: str = "var/faults"
    # ... and the seed's original fault: an invalid e-mail address brings the instance down.
    seed_crash: bool = False

    def argon2_parameters(self) -> Argon2Parameters:
        """The argon2id cost parameters this instance hashes with."""
        return Argon2Parameters(
            memory_kib=self.argon2_memory_kib,
            time_cost=self.argon2_time_cost,
            parallelism=self.argon2_parallelism,
        )


def gunicorn_settings() -> dict[str, Any]:
    """registro's gunicorn settings (``apps/registro/gunicorn.conf.py``), from the environment.

    More threads than registrations admitted at once (``max_in_flight``, 12): the spare ones
    answer /ping and /health however busy the instance is.
    """
    return service_settings("sportapp_registro:create_app()", default_port=8103, default_threads=32)
