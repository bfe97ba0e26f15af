"""Several processes registering on one store at once (a SQLite file, a PostgreSQL schema), as
gunicorn workers and instances do."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy.engine import Engine

from sportapp_core.adapters.sqlalchemy import SqlAlchemyUnitOfWorkFactory
from tests.integration.core import workers
from tests.integration.core.together import run_together

pytestmark = pytest.mark.integration


def integrity_check(engine: Engine) -> str:
    """SQLite's own check of the file ("ok"); PostgreSQL's files are not ours to check."""
    if engine.dialect.name != "sqlite":
        return "ok"
    with engine.connect() as connection:
        return str(connection.exec_driver_sql("PRAGMA integrity_check").scalar())


def test_one_of_six_processes_recording_the_same_email_wins(
    store_url: str, uow_factory: SqlAlchemyUnitOfWorkFactory, engine: Engine
) -> None:
    spellings = ["ana@example.com", "ANA@example.com", "Ana@Example.com"] * 2

    outcomes = run_together(
        workers.record_same_email,
        [(store_url, spelling, f"worker-{index}") for index, spelling in enumerate(spellings)],
    )

    assert Counter(outcome for _worker, outcome, _detail in outcomes) == {"registered": 1, "email-taken": 5}
    [winner_id] = [detail for _worker, outcome, detail in outcomes if outcome == "registered"]
    with uow_factory() as uow:
        [user] = uow.users.list(after=None, limit=10)
        events = uow.events.read_after(0, 10)
    assert user.id == winner_id
    assert user.email.canonical == "ana@example.com"
    assert [(event.position, event.payload["user_id"]) for event in events] == [(1, winner_id)]
    assert integrity_check(engine) == "ok"


def test_same_request_on_six_instances_at_once_registers_once_and_replays_everywhere(
    store_url: str, uow_factory: SqlAlchemyUnitOfWorkFactory, engine: Engine
) -> None:
    outcomes = run_together(
        workers.register_same_request,
        [(store_url, "ana@example.com", "key-1", f"instance-{index}") for index in range(6)],
    )

    assert Counter(outcome for _worker, outcome, _detail in outcomes) == {"registered": 1, "replayed": 5}
    assert len({detail for _worker, _outcome, detail in outcomes}) == 1, "everyone answers the same user"
    with uow_factory() as uow:
        assert uow.users.count() == 1
        assert uow.events.head() == 1
    assert integrity_check(engine) == "ok"


def test_many_emails_from_several_processes_are_all_stored_with_gap_free_positions(
    store_url: str, uow_factory: SqlAlchemyUnitOfWorkFactory, engine: Engine
) -> None:
    process_count, per_process = 4, 10
    batches = [
        [f"user-{worker}-{index}@example.com" for index in range(per_process)]
        for worker in range(process_count)
    ]

    outcomes = run_together(
        workers.register_emails,
        [(store_url, emails, f"worker-{index}") for index, emails in enumerate(batches)],
    )

    total = process_count * per_process
    assert Counter(outcome for _worker, outcome, _detail in outcomes) == {"registered": total}
    with uow_factory() as uow:
        users = uow.users.list(after=None, limit=total + 1)
        events = uow.events.read_after(0, total + 1)
        head = uow.events.head()
    assert sorted(user.email.value for user in users) == sorted(email for batch in batches for email in batch)
    assert [event.position for event in events] == list(range(1, total + 1))
    assert head == total
    event_user_ids = [event.payload["user_id"] for event in events]
    if engine.dialect.name == "sqlite":
        # Each whole transaction holds the write lock: commit order is id order too.
        assert event_user_ids == [user.id for user in users]
    else:
        # PostgreSQL gives user ids at insert; only the outbox's tail is taken in turn.
        assert sorted(event_user_ids) == [user.id for user in users]
    assert integrity_check(engine) == "ok"
