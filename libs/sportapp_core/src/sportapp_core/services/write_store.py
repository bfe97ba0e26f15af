"""The write side of a registration, where the store is: one transaction decides it. It runs in db."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sportapp_core.domain import IdempotencyKeyReused, NewUser, UserRegistered
from sportapp_core.ports import Clock, IdempotencyRecord, Recorded, UnitOfWorkFactory

logger = logging.getLogger(__name__)


class WriteStoreRegistrations:
    """The :class:`~sportapp_core.ports.RegistrationStore` of the service that owns the store.

    A registration is one writing transaction: the key's record is read first (a key that already
    produced a user is a replay, or a reuse for another address), then the user goes in (the
    store's unique index refuses a taken address), its ``UserRegistered`` event into the outbox,
    and the key's record beside them. Writing transactions on one key follow one another (SQLite's
    write lock, a per-key lock on PostgreSQL), so two attempts of one request never both insert.
    ``on_commit`` is told after each new user commits (the feed wakes its waiting readers).
    """

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._on_commit = on_commit

    def record(self, new_user: NewUser, key: str | None) -> Recorded:
        """Insert the user, its event and the key's record in one transaction; or replay the key."""
        with self._uow_factory(for_writing=True) as uow:
            if key is not None:
                known = uow.idempotency.get(key)
                if known is not None:
                    if known.email_canonical != new_user.email.canonical:
                        raise IdempotencyKeyReused()
                    stored = uow.users.get(known.user_id)
                    assert stored is not None, "an idempotency record points at a missing user"
                    return Recorded(stored, replayed=True)
            now = self._clock.now()
            user = uow.users.add(new_user, created_at=now)
            uow.outbox.append(
                UserRegistered(
                    user_id=user.id,
                    email=user.email,
                    registered_at=user.created_at,
                ),
                recorded_at=now,
            )
            if key is not None:
                uow.idempotency.add(IdempotencyRecord(key, user.email.canonical, user.id))
            uow.commit()
        if self._on_commit is not None:
            self._on_commit()
        logger.debug("user registered", extra={"user_id": user.id})
        return Recorded(user, replayed=False)
