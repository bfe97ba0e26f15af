"""The composition root: builds registro's adapters from its settings."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from sportapp_core.adapters.argon2_hasher import Argon2Hasher, Argon2Parameters
from sportapp_core.adapters.http.db_client import DbServiceRegistrations
from sportapp_core.adapters.http.session import ServiceClient
from sportapp_core.adapters.web.admission import WaitAdmission
from sportapp_core.adapters.work_slots import WorkSlots
from sportapp_core.ports import PasswordHasher, RegistrationStore
from sportapp_registro.faults import FaultSwitch, crash_like_the_seed
from sportapp_registro.settings import RegistroSettings

# Replaced at once by the hasher's own first hash, made when it is built.
FIRST_GUESS_HASH_S = 0.05


@dataclass(frozen=True)
class RegistroComponents:
    """What registro's composition root wired for this process: the store (db, over HTTP), the hasher,
    the admission gate and the fault switches its resources use."""

    instance: str
    store: RegistrationStore
    hasher: PasswordHasher
    faults: FaultSwitch | None
    admission: WaitAdmission
    # The seed's fault, when switched on: what to do when an invalid address comes in.
    on_invalid_email: Callable[[], None] | None = None


def bootstrap(settings: RegistroSettings) -> tuple[RegistroComponents, DbServiceRegistrations]:
    """Wire the adapters for ``settings``; also return the db client for the health check."""
    db = DbServiceRegistrations(
        ServiceClient(settings.db_service_url, pool_size=settings.max_admitted),
        read_timeout_s=settings.db_timeout_s,
        resend_until_s=settings.db_resend_until_ms / 1000,
    )
    slots = WorkSlots(settings.hash_concurrency or os.cpu_count() or 1, job_s=FIRST_GUESS_HASH_S)
    hasher = Argon2Hasher(Argon2Parameters.from_env(os.environ), slots)
    faults = FaultSwitch(settings.fault_dir, settings.instance) if settings.fault_injection else None
    services = RegistroComponents(
        instance=settings.instance,
        store=db,
        hasher=hasher,
        faults=faults,
        admission=WaitAdmission(
            slots, budget_s=settings.admission_budget_ms / 1000, max_admitted=settings.max_admitted
        ),
        on_invalid_email=crash_like_the_seed if settings.seed_crash else None,
    )
    return services, db
