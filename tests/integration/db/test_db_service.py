"""The db service under gunicorn, given its store through ``SPORTAPP_STORE_URL``: a SQLite file or
a PostgreSQL schema, empty when it starts. Run here with several workers (it runs one in the stack):
they all bring the schema up to date at once."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from sportapp_core.adapters.sqlalchemy import create_store_engine
from sportapp_core.adapters.sqlalchemy.migrations import WRITE_STORE_SCHEMA, current_revision, head_revision
from sportapp_core.db_schemas import record_request
from sportapp_core.domain import EmailAddress, NewUser
from tests.integration.consulta.processes import Service, free_port

pytestmark = pytest.mark.integration

WORKERS = 3
HASH = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"


@pytest.fixture
def http() -> Iterator[requests.Session]:
    session = requests.Session()
    session.trust_env = False  # never through a proxy
    yield session
    session.close()


@pytest.fixture
def db(store_url: str, tmp_path: Path, http: requests.Session) -> Iterator[Service]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SPORTAPP_")}
    env |= {
        "SPORTAPP_STORE_URL": store_url,
        "SPORTAPP_WORKERS": str(WORKERS),
        "SPORTAPP_LOG_LEVEL": "WARNING",
    }
    service = Service("db", "db", free_port(), env, tmp_path)
    try:
        service.start().wait_ready(http)
        yield service
    finally:
        service.kill()


def record(http: requests.Session, db: Service, email: str) -> requests.Response:
    return http.post(
        db.url + "/user-db/users",
        json=record_request(NewUser(EmailAddress.parse(email), HASH), None),
        timeout=10,
    )


def test_db_on_a_fresh_store_records_users_and_serves_their_events(
    db: Service, http: requests.Session, store_url: str
) -> None:
    emails = [f"user{index}@example.com" for index in range(20)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda email: record(http, db, email), emails))
    taken = record(http, db, "USER0@example.com")
    feed = http.get(db.url + "/user-db/events", params={"after": 0, "limit": 100}, timeout=10).json()

    assert [response.status_code for response in responses] == [201] * len(emails)
    assert taken.status_code == 409
    assert [event["position"] for event in feed["events"]] == list(range(1, len(emails) + 1))
    assert feed["head"] == len(emails)
    assert sorted(event["payload"]["email"] for event in feed["events"]) == sorted(emails)
    health = http.get(db.url + "/health", timeout=5).json()
    assert health["checks"]["store"]["outbox_head"] == len(emails)
    assert db.process is not None
    # A worker that fails to boot stops gunicorn as a whole.
    assert db.process.poll() is None, f"gunicorn stopped:\n{db.log_tail()}"
    engine = create_store_engine(store_url)
    try:
        with engine.connect() as connection:
            assert current_revision(connection, WRITE_STORE_SCHEMA) == head_revision(WRITE_STORE_SCHEMA)
    finally:
        engine.dispose()
