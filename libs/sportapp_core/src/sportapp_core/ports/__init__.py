"""Ports: what the use cases need from the outside world, as protocols the adapters implement, and
the values that cross them. One home, by side:

- ``write_side``: password hashing, the write store's unit of work (users, outbox, Idempotency-Keys),
  and the :class:`RegistrationStore` a registration is recorded in;
- ``events``: the outbox read as a feed, the signal that wakes its readers, the relay's publisher;
- ``read_side``: consulta's read model and its projection, and the :class:`EmailRegistry`;
- ``runtime``: the clock and the stop signal of long-running loops.

Layering: ``domain`` <- ``ports`` <- ``services`` <- ``adapters``.
"""

from sportapp_core.ports.events import EventPublisher, EventSignal, EventSource, FeedBatch
from sportapp_core.ports.read_side import (
    EmailRegistry,
    ProjectionObserver,
    ProjectionStatus,
    ProjectionTransaction,
    ReadModel,
    StoredPosition,
)
from sportapp_core.ports.runtime import Clock, Stopper
from sportapp_core.ports.write_side import (
    EventFeed,
    IdempotencyKeys,
    IdempotencyRecord,
    Outbox,
    Page,
    PasswordHasher,
    Recorded,
    RegistrationStore,
    StoredEvent,
    UnitOfWork,
    UnitOfWorkFactory,
    UserRepository,
)

__all__ = [
    "Clock",
    "EmailRegistry",
    "EventFeed",
    "EventPublisher",
    "EventSignal",
    "EventSource",
    "FeedBatch",
    "IdempotencyKeys",
    "IdempotencyRecord",
    "Outbox",
    "Page",
    "PasswordHasher",
    "ProjectionObserver",
    "ProjectionStatus",
    "ProjectionTransaction",
    "ReadModel",
    "Recorded",
    "RegistrationStore",
    "Stopper",
    "StoredEvent",
    "StoredPosition",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "UserRepository",
]
