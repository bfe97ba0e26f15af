"""The db service's feed client over a fake session: parsing, timeouts, outages."""

from __future__ import annotations

import io
import json
from datetime import datetime, timezone
from typing import Any

import pytest
import requests

from sportapp_core.adapters.http.db_client import UnexpectedResponse
from sportapp_core.adapters.http.feed_client import DbServiceFeed
from sportapp_core.services.errors import DependencyUnavailable

PAGE = {
    "events": [
        {
            "position": 7,
            "name": "UserRegistered",
            "payload": {"user_id": 3, "email": "ana@example.com"},
            "recorded_at": "2025-01-01T00:00:00+00:00",
        }
    ],
    "head": 9,
}


class FakeSession(requests.Session):
    """Answers every request with a canned response, or raises a canned error; records the calls."""

    def __init__(self, status: int = 200, body: object = PAGE, error: Exception | None = None) -> None:
        super().__init__()
        self.calls: list[dict[str, Any]] = []
        self._status = status
        self._body = body
        self._error = error

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        self.calls.append({"method": method, "url": url, **kwargs})
        if self._error is not None:
            raise self._error
        response = requests.Response()
        response.status_code = self._status
        raw = self._body if isinstance(self._body, str) else json.dumps(self._body)
        response.raw = io.BytesIO(raw.encode())
        return response


def test_a_page_becomes_stored_events_and_the_head() -> None:
    batch = DbServiceFeed("http://db.test/", FakeSession()).read(after=6, limit=50, wait_s=2.0)

    assert batch.head == 9
    [event] = batch.events
    assert (event.position, event.name, event.payload["user_id"]) == (7, "UserRegistered", 3)
    assert event.recorded_at == datetime(2025, 1, 1, tzinfo=timezone.utc)


def test_asks_for_the_position_and_outwaits_the_long_poll() -> None:
    session = FakeSession()

    DbServiceFeed("http://db.test", session, connect_timeout_s=0.5).read(after=6, limit=50, wait_s=2.0)

    [call] = session.calls
    assert call["url"] == "http://db.test/user-db/events"
    assert call["params"] == {"after": 6, "limit": 50, "wait": 2.0}
    connect_s, read_s = call["timeout"]
    assert connect_s == 0.5
    assert read_s > 2.0


@pytest.mark.parametrize(
    "session",
    [
        FakeSession(error=requests.ConnectionError("refused")),
        FakeSession(error=requests.ReadTimeout("slow")),
        FakeSession(status=503, body={"status": 503}),
        FakeSession(status=500, body="boom"),
    ],
    ids=["refused", "timeout", "503", "500"],
)
def test_outages_are_the_db_being_unavailable(session: FakeSession) -> None:
    with pytest.raises(DependencyUnavailable) as raised:
        DbServiceFeed("http://db.test", session).read(after=0, limit=1, wait_s=0.0)

    assert raised.value.dependency == "db"


@pytest.mark.parametrize(
    "session",
    [
        FakeSession(status=422, body={"errors": {"after": ["Must be >= 0."]}}),
        FakeSession(body="not json"),
        FakeSession(body={"events": [{"position": "x"}], "head": 1}),
    ],
    ids=["422", "not-json", "bad-event"],
)
def test_answers_outside_the_contract_are_bugs_not_outages(session: FakeSession) -> None:
    with pytest.raises(UnexpectedResponse):
        DbServiceFeed("http://db.test", session).read(after=0, limit=1, wait_s=0.0)
