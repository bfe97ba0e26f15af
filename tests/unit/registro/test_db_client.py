"""registro's db client: when a registration is sent again to a db that did not answer, and when not."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest

from sportapp_core.adapters.http.db_client import DbServiceRegistrations
from sportapp_core.adapters.http.session import REFUSED, ServiceResponse, ServiceUnreachable
from sportapp_core.adapters.request_context import current_request_arrived
from sportapp_core.domain import EmailAddress, EmailTaken, NewUser
from sportapp_core.services.errors import DependencyUnavailable

HASH = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"
NEW_USER = NewUser(EmailAddress.parse("ana@example.com"), HASH)


def recorded(replayed: bool = False) -> ServiceResponse:
    body = {
        "user": {
            "id": 7,
            "email": "ana@example.com",
            "email_canonical": "ana@example.com",
            "password_hash": HASH,
            "created_at": datetime(2026, 1, 1, tzinfo=timezone.utc).isoformat(),
        },
        "replayed": replayed,
    }
    return ServiceResponse(201, {}, json.dumps(body).encode())


def problem(status: int, code: str) -> ServiceResponse:
    body = {"type": f"https://sportapp.dev/problems/{code}", "status": status, "detail": code}
    return ServiceResponse(status, {}, json.dumps(body).encode())


class FakeTime:
    """A clock that moves only when the client sleeps (or a call takes time)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.pauses: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


class ScriptedClient:
    """Answers each call with the next entry of its script: a response, or an exception to raise."""

    def __init__(
        self, time: FakeTime, script: list[ServiceResponse | Exception], call_s: float = 0.0
    ) -> None:
        self.time = time
        self.script = script
        self.call_s = call_s
        self.calls: list[dict[str, Any]] = []

    def request(self, method: str, path: str, **kwargs: Any) -> ServiceResponse:
        self.calls.append({"method": method, "path": path, **kwargs})
        self.time.now += self.call_s
        answer = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


def client_for(
    time: FakeTime, script: list[ServiceResponse | Exception], **kwargs: Any
) -> tuple[DbServiceRegistrations, ScriptedClient]:
    scripted = ScriptedClient(time, script, **kwargs)
    registrations = DbServiceRegistrations(
        scripted,  # type: ignore[arg-type]
        resend_until_s=2.4,
        monotonic=time.monotonic,
        sleep=time.sleep,
    )
    return registrations, scripted


@pytest.fixture(autouse=True)
def no_request() -> Iterator[None]:
    # Outside a request the window starts at the first try; a test sets the arrival itself.
    token = current_request_arrived.set(None)
    yield
    current_request_arrived.reset(token)


@pytest.mark.parametrize(
    "failure",
    [
        ServiceUnreachable(REFUSED),
        ServiceUnreachable("connection"),
        ServiceUnreachable("timeout"),
        problem(503, "unavailable"),
        problem(500, "internal-server-error"),
    ],
    ids=["refused", "cut", "timeout", "503", "500"],
)
def test_a_keyed_registration_is_sent_again_after_any_failure_until_db_answers(
    time: FakeTime, failure: ServiceResponse | Exception
) -> None:
    registrations, scripted = client_for(time, [failure, failure, recorded()])

    outcome = registrations.record(NEW_USER, "key-1")

    assert outcome.user.id == 7
    assert len(scripted.calls) == 3
    assert {json.dumps(call["json_body"], sort_keys=True) for call in scripted.calls} == {
        json.dumps(scripted.calls[0]["json_body"], sort_keys=True)
    }, "every try sends the same body, under the same key"
    assert time.pauses == [0.05, 0.1]


def test_a_keyless_registration_is_sent_again_only_when_it_was_never_sent(time: FakeTime) -> None:
    registrations, scripted = client_for(time, [ServiceUnreachable(REFUSED), recorded()])

    assert registrations.record(NEW_USER, None).user.id == 7
    assert len(scripted.calls) == 2


@pytest.mark.parametrize(
    "failure",
    [ServiceUnreachable("connection"), ServiceUnreachable("timeout"), problem(503, "unavailable")],
    ids=["cut", "timeout", "503"],
)
def test_a_keyless_registration_db_may_have_seen_is_not_sent_again(
    time: FakeTime, failure: ServiceResponse | Exception
) -> None:
    registrations, scripted = client_for(time, [failure, recorded()])

    with pytest.raises(DependencyUnavailable):
        registrations.record(NEW_USER, None)
    assert len(scripted.calls) == 1


def test_pauses_double_to_a_cap_and_stop_at_the_deadline(time: FakeTime) -> None:
    registrations, scripted = client_for(time, [ServiceUnreachable(REFUSED)])

    with pytest.raises(DependencyUnavailable):
        registrations.record(NEW_USER, "key-1")

    assert time.pauses == [0.05, 0.1] + [0.2] * 11
    assert time.now - 100.0 <= 2.4, "no try starts after the deadline"
    assert len(scripted.calls) == len(time.pauses) + 1


def test_the_deadline_counts_from_the_request_s_arrival(time: FakeTime) -> None:
    # The request waited 2.38 s for a hash slot: 0.02 s is left, less than the first pause.
    current_request_arrived.set(time.now - 2.38)
    registrations, scripted = client_for(time, [ServiceUnreachable(REFUSED), recorded()])

    with pytest.raises(DependencyUnavailable):
        registrations.record(NEW_USER, "key-1")
    assert len(scripted.calls) == 1


def test_slow_tries_count_against_the_deadline(time: FakeTime) -> None:
    registrations, scripted = client_for(time, [ServiceUnreachable("timeout")], call_s=1.0)

    with pytest.raises(DependencyUnavailable):
        registrations.record(NEW_USER, "key-1")
    # Tries start at 0, 1.05 and 2.15 s; the next would start at 3.35 s, past the 2.4 s deadline.
    assert len(scripted.calls) == 3


def test_a_refusal_of_the_registration_itself_is_not_sent_again(time: FakeTime) -> None:
    registrations, scripted = client_for(time, [problem(409, "email-taken"), recorded()])

    with pytest.raises(EmailTaken):
        registrations.record(NEW_USER, "key-1")
    assert len(scripted.calls) == 1
