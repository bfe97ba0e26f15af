"""The composition root: builds the write store's adapters and hands them to the use cases."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text

from sportapp_core.adapters.clock import SystemClock
from sportapp_core.adapters.sqlalchemy import SqlAlchemyUnitOfWorkFactory, create_store_engine
from sportapp_core.adapters.sqlalchemy.migrations import WRITE_STORE_SCHEMA, upgrade_schema
from sportapp_core.adapters.sqlalchemy.repositories import PreparedEventFeed
from sportapp_core.ports import Clock
from sportapp_core.services import WriteStoreRegistrations
from sportapp_core.services.feed import NewEvents
from sportapp_db.settings import DbSettings


@dataclass(frozen=True)
class DbComponents:
    """What db's composition root wired for this process: the write store, the registrations use case
    over it, the event feed and what wakes its followers, for the resources and probes."""

    uow_factory: SqlAlchemyUnitOfWorkFactory
    registrations: WriteStoreRegistrations
    clock: Clock
    # The outbox read by position, a statement a read (what the event stream reads per batch).
    event_feed: PreparedEventFeed
    # Wakes the feed's followers when a registration of this process commits.
    new_events: NewEvents
    event_stream_lasts_s: float
    event_stream_gather_s: float

    def check_store(self) -> dict[str, int]:
        """Health check: the store answers, and how far its outbox goes."""
        with self.uow_factory.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        with self.uow_factory() as uow:
            return {"outbox_head": uow.events.head()}

    def close(self) -> None:
        """Close every connection (a worker exits without it; tests and tools call it)."""
        self.event_feed.close()
        self.uow_factory.engine.dispose()


def bootstrap(settings: DbSettings, clock: Clock | None = None) -> DbComponents:
    """Wire the adapters for ``settings``. Runs in the worker, after gunicorn forks.

    The store's schema is brought to its newest revision first: every worker does it, under a lock
    in the store, and all but the first find nothing to do.
    """
    engine = create_store_engine(settings.store_url)
    upgrade_schema(engine, WRITE_STORE_SCHEMA)
    uow_factory = SqlAlchemyUnitOfWorkFactory(engine)
    clock = clock or SystemClock()
    new_events = NewEvents()
    return DbComponents(
        uow_factory=uow_factory,
        registrations=WriteStoreRegistrations(uow_factory, clock, on_commit=new_events.notify),
        clock=clock,
        event_feed=PreparedEventFeed(engine),
        new_events=new_events,
        event_stream_lasts_s=settings.event_stream_lasts_s,
        event_stream_gather_s=settings.event_stream_gather_s,
    )
