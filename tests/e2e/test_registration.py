"""Registering and reading users back, end to end through the gateway, also with parts down."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from sportapp_stack.stack import Stack
from tests.e2e.conftest import Gateway

pytestmark = [pytest.mark.e2e, pytest.mark.stack]

REGISTER = "/user-commands/users/register"
PROBLEM = "application/problem+json"
PASSWORD = "a long enough secret"
RECOVERY_TIMEOUT_S = 30.0


def _email(tag: str = "user") -> str:
    return f"{tag}-{uuid.uuid4().hex[:12]}@example.com"


def _register(gateway: Gateway, email: str, key: str | None = None, **body: str) -> requests.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return gateway.post(REGISTER, json={"correo": email, "clave": PASSWORD, **body}, headers=headers)


def _eventually(check: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out after {timeout_s} s waiting for {what}"
        time.sleep(0.02)


@pytest.fixture
def stopped(stack: Stack) -> Iterator[Callable[[str], None]]:
    """Stop a part for one test; start it again afterwards and wait until the stack is healthy."""
    names: list[str] = []

    def stop(name: str) -> None:
        names.append(name)
        stack.supervisor.stop(name)

    yield stop
    for name in names:
        stack.supervisor.start(name)
    stack.wait_healthy(timeout_s=RECOVERY_TIMEOUT_S)


def test_a_registration_answers_201_with_the_user_and_its_location(gateway: Gateway) -> None:
    email = _email()

    response = _register(gateway, email)

    assert response.status_code == 201
    user = response.json()
    assert set(user) == {"id", "correo", "created_at"}
    assert user["correo"] == email
    assert response.headers["Location"] == f"/user-queries/users/{user['id']}"
    assert response.headers["X-Served-By"] == "registro-primary"


def test_an_address_registers_only_once(gateway: Gateway) -> None:
    email = _email()
    assert _register(gateway, email).status_code == 201

    again = _register(gateway, email)

    assert again.status_code == 409
    assert again.headers["Content-Type"].startswith(PROBLEM)


def test_invalid_fields_answer_422_per_field(gateway: Gateway) -> None:
    response = gateway.post(REGISTER, json={"correo": "not-an-address", "clave": "short"})

    assert response.status_code == 422
    assert response.headers["Content-Type"].startswith(PROBLEM)
    assert {"correo", "clave"} <= set(response.json()["errors"])


def test_a_replayed_idempotency_key_answers_the_same_registration(gateway: Gateway) -> None:
    email, key = _email(), uuid.uuid4().hex

    first = _register(gateway, email, key)
    replay = _register(gateway, email, key)

    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert replay.headers["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize("key", ["a/b", "..", "x?y#z", "50% off"])
def test_an_idempotency_key_with_url_characters_replays(gateway: Gateway, key: str) -> None:
    email = _email()

    first = _register(gateway, email, key)
    replay = _register(gateway, email, key)

    assert first.status_code == replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"


def test_an_idempotency_key_reused_for_another_body_is_422(gateway: Gateway) -> None:
    key = uuid.uuid4().hex
    assert _register(gateway, _email(), key).status_code == 201

    reused = _register(gateway, _email(), key)

    assert reused.status_code == 422


def test_a_registration_can_be_read_back_within_a_second(gateway: Gateway) -> None:
    created = _register(gateway, _email()).json()
    started = time.monotonic()

    read = _eventually(
        lambda: (r := gateway.get(f"/user-queries/users/{created['id']}")).status_code == 200 and r,
        1.0,
        "consulta to show the new user",
    )

    assert time.monotonic() - started < 1.0
    assert read.json() == created


def test_the_user_list_pages_through_every_user_once(gateway: Gateway) -> None:
    ids = [_register(gateway, _email("page")).json()["id"] for _ in range(5)]
    _eventually(
        lambda: gateway.get(f"/user-queries/users/{ids[-1]}").status_code == 200, 5.0, "the last user"
    )

    seen: list[int] = []
    after: int | None = None
    while True:
        params: dict[str, int] = {"limit": 2} if after is None else {"limit": 2, "after": after}
        page = gateway.get("/user-queries/users", params=params).json()
        assert len(page["users"]) <= 2
        seen += [user["id"] for user in page["users"]]
        after = page["next_after"]
        if after is None:
            break

    assert seen == sorted(set(seen))
    assert set(ids) <= set(seen)


def test_the_eligibility_check_knows_a_registered_address(gateway: Gateway) -> None:
    email = _email()
    user_id = _register(gateway, email).json()["id"]
    _eventually(lambda: gateway.get(f"/user-queries/users/{user_id}").status_code == 200, 5.0, "the user")

    taken = gateway.get("/user-queries/users/check", params={"correo": email}).json()
    free = gateway.get("/user-queries/users/check", params={"correo": _email()}).json()

    assert taken["can_register"] is False
    assert free["can_register"] is True


def test_registration_still_works_while_consulta_is_down(
    gateway: Gateway, stopped: Callable[[str], None]
) -> None:
    stopped("consulta")

    response = _register(gateway, _email())
    read = gateway.get(f"/user-queries/users/{response.json()['id']}")

    assert response.status_code == 201
    assert read.status_code == 502
    assert read.headers["Content-Type"].startswith(PROBLEM)


def test_registration_answers_503_with_retry_after_while_db_is_down(
    gateway: Gateway, stopped: Callable[[str], None]
) -> None:
    stopped("db")

    response = _register(gateway, _email())

    assert response.status_code == 503
    assert response.headers["Content-Type"].startswith(PROBLEM)
    assert int(response.headers["Retry-After"]) >= 1


def test_a_registration_made_while_consulta_was_down_is_read_after_it_returns(
    stack: Stack, gateway: Gateway
) -> None:
    stack.supervisor.stop("consulta")
    try:
        created = _register(gateway, _email()).json()
    finally:
        stack.supervisor.start("consulta")
        stack.wait_healthy(timeout_s=RECOVERY_TIMEOUT_S)

    read = _eventually(
        lambda: (r := gateway.get(f"/user-queries/users/{created['id']}")).status_code == 200 and r,
        5.0,
        "consulta to catch up",
    )
    assert read.json() == created
