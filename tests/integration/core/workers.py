"""What each spawned process does in the concurrency tests (a module of its own: cheap to import).

Every worker builds its own engine after it starts, as a gunicorn worker does after the fork, waits
at the barrier so that all of them write at once, and reports one outcome per registration.
"""

from __future__ import annotations

from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

from sportapp_core.adapters.clock import SystemClock
from sportapp_core.adapters.sqlalchemy import SqlAlchemyUnitOfWorkFactory, create_store_engine
from sportapp_core.adapters.sqlalchemy.migrations import SCHEMAS, upgrade_schema
from sportapp_core.domain import DomainError, EmailAddress, EmailTaken, NewUser, Password
from sportapp_core.services import RegisterUser, WriteStoreRegistrations, register_user
from tests.fakes import FakeHasher

BARRIER_TIMEOUT_S = 30.0

# (worker, outcome, detail): outcome is "registered" (detail: user id), "email-taken", "upgraded"
# or "error".
Outcome = tuple[str, str, object]


def record_same_email(
    store_url: str, email: str, worker: str, barrier: Barrier, results: Queue[Outcome]
) -> None:
    """Record ``email`` straight through the store: its unique index decides who wins."""
    engine = create_store_engine(store_url)
    try:
        store = WriteStoreRegistrations(SqlAlchemyUnitOfWorkFactory(engine), SystemClock())
        new_user = NewUser(EmailAddress.parse(email), FakeHasher().hash(Password(f"password-of-{worker}")))
        barrier.wait(BARRIER_TIMEOUT_S)
        try:
            recorded = store.record(new_user, None)
        except EmailTaken:
            results.put((worker, "email-taken", None))
        else:
            results.put((worker, "registered", recorded.user.id))
    except Exception as error:  # reported, so that the test fails with the reason
        results.put((worker, "error", repr(error)))
    finally:
        engine.dispose()


def register_emails(
    store_url: str, emails: list[str], worker: str, barrier: Barrier, results: Queue[Outcome]
) -> None:
    """Register each of ``emails`` through the use case, one after the other."""
    engine = create_store_engine(store_url)
    try:
        store = WriteStoreRegistrations(SqlAlchemyUnitOfWorkFactory(engine), SystemClock())
        hasher = FakeHasher()
        barrier.wait(BARRIER_TIMEOUT_S)
        for email in emails:
            command = RegisterUser(EmailAddress.parse(email), Password(f"password-of-{email}"))
            try:
                registration = register_user(command, store=store, hasher=hasher)
            except EmailTaken:
                results.put((worker, "email-taken", email))
            else:
                results.put((worker, "registered", registration.user.id))
    except Exception as error:
        results.put((worker, "error", repr(error)))
    finally:
        engine.dispose()


def register_same_request(
    store_url: str, email: str, key: str, worker: str, barrier: Barrier, results: Queue[Outcome]
) -> None:
    """Send the same registration under the same Idempotency-Key, as ``worker`` (an instance)."""
    engine = create_store_engine(store_url)
    try:
        store = WriteStoreRegistrations(SqlAlchemyUnitOfWorkFactory(engine), SystemClock())
        command = RegisterUser(EmailAddress.parse(email), Password("the-same-password"), idempotency_key=key)
        barrier.wait(BARRIER_TIMEOUT_S)
        try:
            registration = register_user(command, store=store, hasher=FakeHasher())
        except DomainError as error:
            results.put((worker, error.code, None))
        else:
            outcome = "replayed" if registration.replayed else "registered"
            results.put((worker, outcome, registration.user.id))
    except Exception as error:
        results.put((worker, "error", repr(error)))
    finally:
        engine.dispose()


def upgrade_store(
    store_url: str, schema: str, worker: str, barrier: Barrier, results: Queue[Outcome]
) -> None:
    """Upgrade the store's ``schema`` (a StoreSchema's name), as each worker of a service does at start."""
    engine = create_store_engine(store_url)
    try:
        [store_schema] = [candidate for candidate in SCHEMAS if candidate.name == schema]
        barrier.wait(BARRIER_TIMEOUT_S)
        upgrade_schema(engine, store_schema)
        results.put((worker, "upgraded", None))
    except Exception as error:
        results.put((worker, "error", repr(error)))
    finally:
        engine.dispose()
