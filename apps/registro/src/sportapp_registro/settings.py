"""The registro service's settings, from ``SPORTAPP_*`` environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from sportapp_core.adapters.settings import settings_from_env
from sportapp_core.adapters.web.gunicorn import service_settings

# Threads kept free of registrations, for /ping, /health and /metrics.
PROBE_THREADS = 8


@dataclass(frozen=True, slots=True)
class RegistroSettings:
    """Who this instance is, where the db service is, how to hash, which faults it may inject.

    The argon2id parameters are read by the core (``Argon2Parameters.from_env``), so that what
    sizes and measures registro reads them as registro does.
    """

    instance: str = "registro"
    db_service_url: str = "http://127.0.0.1:8101"
    db_timeout_s: float = 6.0
    # A registration db did not answer (it restarts, say) is sent again until this long after it
    # arrived: a db restart is masked, and the last try still ends inside the gateway's 3 s read
    # timeout (db refuses a connection at once while it is down).
    db_resend_until_ms: int = 2400
    log_level: str = "INFO"
    max_body_bytes: int = 16 * 1024
    # Hashes at once; 0 means one per core.
    hash_concurrency: int = 0
    # A registration is admitted only if its predicted wait for a hash slot is within this budget;
    # the others are refused at once with 503 + Retry-After. Inside the gateway's 3 s read timeout
    # with room to spare, so that a busy instance is never timed out (and its registrations never
    # re-sent to the standby). Behind the gateway, which lets fewer registrations in at once than
    # this budget admits (sportapp_stack.render), it is the last word, not the usual one: a refusal
    # costs registro a request of its own, the gateway a fraction of that.
    admission_budget_ms: int = 1500
    # gunicorn's threads (the one worker's). Registrations admitted at once stay PROBE_THREADS
    # below it, so that pings and health checks never queue behind them. Enough for a db restart:
    # registrations hashed and waiting for db (1.5-2.5 s of arrivals at half load) hold a thread
    # each, while the admission counts only those still waiting for a hash.
    threads: int = 128
    # Off unless asked for: the experiment's fault switch (answer 500 to everything) ...
    fault_injection: bool = False
    fault_dir: str = "var/faults"
    # ... and the seed's original fault: an invalid e-mail address brings the instance down.
    seed_crash: bool = False

    @property
    def max_admitted(self) -> int:
        """Registrations admitted at once, at most: the threads not kept for probes."""
        return max(1, self.threads - PROBE_THREADS)


def gunicorn_settings() -> dict[str, Any]:
    """registro's gunicorn settings (``apps/registro/gunicorn.conf.py``), from the environment.

    One threaded worker (gthread whose threads linger on their kept-alive connections,
    ``sportapp_core.adapters.web.gunicorn_worker``): a registration spends most of its time
    hashing in C with the GIL released, so threads wait for hash slots for free, and the one
    process sees every admitted registration when it predicts a newcomer's wait. More threads
    than registrations admitted at once: the spare ones answer /ping and /health however busy the
    instance is.
    """
    threads = settings_from_env(RegistroSettings, os.environ).threads
    return service_settings(
        "sportapp_registro:create_app()", default_port=8103, default_threads=threads
    )
