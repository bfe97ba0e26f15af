"""The composition root: builds registro's adapters from its settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sportapp_core.adapters.argon2_hasher import Argon2Hasher
from sportapp_core.adapters.http.db_client import DbServiceRegistrations
from sportapp_core.adapters.http.session import ServiceSession
from sportapp_core.adapters.web.admission import AdmissionLimit
from sportapp_core.services.ports import PasswordHasher, RegistrationStore
from sportapp_registro.faults import FaultSwitch, crash_like_the_seed
from sportapp_registro.settings import RegistroSettings


@dataclass(frozen=True)
class Services:
    """What the resources need."""

    instance: str
    store: RegistrationStore
    hasher: PasswordHasher
    faults: FaultSwitch | None
    admission: AdmissionLimit
    # The seed's fault, when switched on: what to do when an invalid address comes in.
    on_invalid_email: Callable[[], None] | None = None


def bootstrap(settings: RegistroSettings) -> tuple[Services, DbServiceRegistrations]:
    """Wire the adapters for ``settings``; also return the db client for the health check."""
    db = DbServiceRegistrations(
        settings.db_service_url,
        ServiceSession(pool_size=settings.max_in_flight),
        read_timeout_s=settings.db_timeout_s,
    )
    hasher = Argon2Hasher(
        settings.argon2_parameters(),
        max_concurrent=settings.hash_concurrency or None,
    )
    faults = FaultSwitch(settings.fault_dir, settings.instance) if settings.fault_injection else None
    services = Services(
        instance=settings.instance,
        store=db,
        hasher=hasher,
        faults=faults,
        admission=AdmissionLimit(settings.max_in_flight),
        on_invalid_email=crash_like_the_seed if settings.seed_crash else None,
    )
    return services, db
