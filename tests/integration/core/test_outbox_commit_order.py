"""The outbox read as a feed, "after N" page by page, while many writers commit at once.

On PostgreSQL the writers really run at once, each on its own connection; what keeps the feed whole
is the outbox's tail lock (SqlAlchemyOutbox). This test fails without it: concurrent writers then
take the same position (newest + 1) and all but one fail on the primary key; and with positions
from a sequence in its place, given at insert rather than at commit, the reader passes a position
whose event commits late and never sees that event (both tried on this test when it was written).
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from sportapp_core.adapters.sqlalchemy import SqlAlchemyUnitOfWorkFactory
from sportapp_core.adapters.sqlalchemy.repositories import PreparedEventFeed
from sportapp_core.domain import EmailAddress, NewUser, UserRegistered
from sportapp_core.ports import StoredEvent
from sportapp_core.services.feed import read_feed
from tests.fakes import EPOCH

pytestmark = pytest.mark.integration

WRITERS = 8
TRANSACTIONS_PER_WRITER = 25
# Every fifth transaction of a writer appends its event and then rolls back: its position must be
# given again, not left as a hole.
ROLLBACK_EVERY = 5
# How long a transaction may stay open after its append: the window in which, without the lock, a
# later position could commit first.
MAX_HOLD_S = 0.004
PAGE = 7
TIMEOUT_S = 60.0


def write(uow_factory: SqlAlchemyUnitOfWorkFactory, writer: int, start: threading.Barrier) -> list[int]:
    """Register this writer's users one transaction each; return the ids of those committed."""
    hold = random.Random(writer)
    committed = []
    start.wait(TIMEOUT_S)
    for index in range(TRANSACTIONS_PER_WRITER):
        with uow_factory(for_writing=True) as uow:
            email = EmailAddress.parse(f"writer{writer}-{index}@example.com")
            user = uow.users.add(NewUser(email, "fake$x"), EPOCH)
            uow.outbox.append(UserRegistered(user.id, user.email, EPOCH), EPOCH)
            time.sleep(hold.uniform(0, MAX_HOLD_S))
            if index % ROLLBACK_EVERY == ROLLBACK_EVERY - 1:
                continue  # leaves the unit of work without a commit: rolled back
            uow.commit()
        committed.append(user.id)
    return committed


def follow(uow_factory: SqlAlchemyUnitOfWorkFactory, writers_done: threading.Event) -> list[StoredEvent]:
    """Page through the feed as consulta does, resuming after the last position seen, until the
    writers are done and a page read after that comes back empty."""
    seen: list[StoredEvent] = []
    feed = PreparedEventFeed(uow_factory.engine)
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while time.monotonic() < deadline:
            last_round = writers_done.is_set()  # then every commit happened before the read below
            batch = read_feed(feed, after=seen[-1].position if seen else 0, limit=PAGE)
            seen.extend(batch.events)
            if not batch.events:
                if last_round:
                    return seen
                time.sleep(0.001)
    finally:
        feed.close()  # Python 3.13 warns about connections left open
    raise AssertionError(f"the reader did not catch up within {TIMEOUT_S} s")


def test_a_reader_paging_during_concurrent_writes_sees_every_event_once_in_position_order(
    uow_factory: SqlAlchemyUnitOfWorkFactory,
) -> None:
    start = threading.Barrier(WRITERS)
    writers_done = threading.Event()
    with ThreadPoolExecutor(max_workers=WRITERS + 1) as pool:
        reader = pool.submit(follow, uow_factory, writers_done)
        writers = [pool.submit(write, uow_factory, writer, start) for writer in range(WRITERS)]
        try:
            committed = [user_id for writer in writers for user_id in writer.result(TIMEOUT_S)]
        finally:
            writers_done.set()
        seen = reader.result(TIMEOUT_S)

    total = WRITERS * (TRANSACTIONS_PER_WRITER - TRANSACTIONS_PER_WRITER // ROLLBACK_EVERY)
    assert len(committed) == total
    # In the order the reader got them: every position once, none skipped, none out of order.
    assert [event.position for event in seen] == list(range(1, total + 1))
    assert sorted(event.payload["user_id"] for event in seen) == sorted(committed)
    with uow_factory() as uow:
        assert uow.events.head() == total
