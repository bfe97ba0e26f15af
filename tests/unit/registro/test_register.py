"""registro's API with Flask's test client, over the real use case and in-memory fakes."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from sportapp_core.adapters.web.admission import WaitAdmission
from sportapp_core.adapters.work_slots import WorkSlots
from sportapp_core.services import WriteStoreRegistrations
from sportapp_core.services.errors import DependencyUnavailable
from sportapp_registro import create_app
from sportapp_registro.bootstrap import RegistroComponents
from sportapp_registro.faults import FaultSwitch
from tests.fakes import FakeClock, FakeHasher, FakeUnitOfWorkFactory

URL = "/user-commands/users/register"
PASSWORD = "correct horse battery"


class Harness:
    def __init__(self, tmp_path: Path, *, faults: bool = False) -> None:
        self.uow_factory = FakeUnitOfWorkFactory()
        self.invalid_emails_seen = 0
        # Hashes "take" 1 s on one slot: one registration in flight, and the next would wait.
        self.admission = WaitAdmission(WorkSlots(1, job_s=1.0), budget_s=0.5, max_admitted=8)
        services = RegistroComponents(
            instance="registro-primary",
            store=WriteStoreRegistrations(self.uow_factory, FakeClock()),
            hasher=FakeHasher(),
            faults=FaultSwitch(str(tmp_path / "faults"), "registro-primary") if faults else None,
            admission=self.admission,
            on_invalid_email=self._seen_invalid,
        )
        app = create_app({"instance": "registro-primary"}, services=services, health_checks={})
        self.client: FlaskClient = app.test_client()

    def _seen_invalid(self) -> None:
        self.invalid_emails_seen += 1

    def register(self, correo: str, clave: str = PASSWORD, key: str | None = None):
        headers = {"Idempotency-Key": key} if key else {}
        return self.client.post(URL, json={"correo": correo, "clave": clave}, headers=headers)


@pytest.fixture
def registro(tmp_path: Path) -> Harness:
    return Harness(tmp_path)


def test_registration_answers_201_with_the_user_and_where_to_read_it(registro: Harness) -> None:
    response = registro.register("Ana@Example.COM")

    assert response.status_code == 201
    body = response.get_json()
    assert body["correo"] == "Ana@example.com"
    assert set(body) == {"id", "correo", "created_at"}
    assert response.headers["Location"] == f"/user-queries/users/{body['id']}"
    assert response.headers["X-Served-By"] == "registro-primary"


def test_the_registration_and_its_event_are_stored_together(registro: Harness) -> None:
    registro.register("ana@example.com")

    state = registro.uow_factory.state
    assert len(state.users) == 1
    assert [event.name for event in state.events] == ["UserRegistered"]


def test_neither_password_nor_hash_is_ever_returned(registro: Harness) -> None:
    response = registro.register("ana@example.com")

    text = response.get_data(as_text=True)
    assert PASSWORD not in text
    assert "fake$" not in text


def test_same_email_in_other_case_is_taken(registro: Harness) -> None:
    registro.register("ana@example.com")

    response = registro.register("ANA@EXAMPLE.COM")

    assert response.status_code == 409
    assert response.get_json(force=True)["type"].endswith("/email-taken")
    assert len(registro.uow_factory.state.events) == 1


def test_invalid_fields_are_reported_per_field(registro: Harness) -> None:
    response = registro.client.post(URL, json={"correo": "ana@", "clave": "short"})

    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert set(response.get_json(force=True)["errors"]) == {"correo", "clave"}
    assert registro.uow_factory.state.users == {}


def test_missing_fields_are_422(registro: Harness) -> None:
    response = registro.client.post(URL, json={})

    assert response.status_code == 422
    assert set(response.get_json(force=True)["errors"]) == {"correo", "clave"}


def test_a_replay_with_the_same_key_answers_the_first_result(registro: Harness) -> None:
    first = registro.register("ana@example.com", key="key-1")
    again = registro.register("ana@example.com", key="key-1")

    assert again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(registro.uow_factory.state.events) == 1


def test_the_same_key_with_another_body_is_422(registro: Harness) -> None:
    registro.register("ana@example.com", key="key-1")

    other_email = registro.register("bea@example.com", key="key-1")
    other_password = registro.register("ana@example.com", clave="another password", key="key-1")

    assert other_email.status_code == 422
    assert other_password.status_code == 422
    assert other_email.get_json(force=True)["type"].endswith("/idempotency-key-reused")


def test_an_overlong_idempotency_key_is_400(registro: Harness) -> None:
    assert registro.register("ana@example.com", key="k" * 300).status_code == 400


def test_a_store_that_does_not_answer_is_503_with_retry_after(registro: Harness) -> None:
    registro.uow_factory.unavailable = DependencyUnavailable("write store")

    response = registro.register("ana@example.com", key="key-1")

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"


def test_a_registration_that_would_wait_past_the_budget_is_refused_with_retry_after(
    registro: Harness,
) -> None:
    assert registro.admission.try_admit() is None  # one in flight: the next would wait 1 s
    refused = registro.register("ana@example.com")
    ping = registro.client.get("/ping?nonce=still-here")
    registro.admission.finished()

    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "1"
    assert refused.get_json(force=True)["type"].endswith("/overloaded")
    assert refused.headers["X-Served-By"] == "registro-primary"
    assert ping.status_code == 200
    assert registro.register("ana@example.com").status_code == 201
    assert registro.admission.admitted == 0


def test_the_seed_fault_hook_sees_invalid_addresses_only(registro: Harness) -> None:
    registro.register("ana@example.com")
    registro.register("not-an-address")

    assert registro.invalid_emails_seen == 1


def test_the_password_is_never_logged(registro: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    registro.register("ana@example.com")
    registro.register("ana@example.com")
    registro.client.post(URL, json={"correo": "x", "clave": PASSWORD, "extra": PASSWORD})

    assert PASSWORD not in caplog.text


def test_the_fault_switch_does_not_exist_unless_enabled(registro: Harness) -> None:
    assert registro.client.put("/faults/error-mode", json={"enabled": True}).status_code == 404


def test_the_fault_switch_fails_every_request_while_on(tmp_path: Path) -> None:
    registro = Harness(tmp_path, faults=True)

    assert registro.client.put("/faults/error-mode", json={"enabled": True}).status_code == 200
    assert registro.register("ana@example.com").status_code == 500
    assert registro.client.get("/ping?nonce=n").status_code == 500
    assert registro.client.put("/faults/error-mode", json={"enabled": False}).status_code == 200
    assert registro.register("ana@example.com").status_code == 201


def test_the_fault_switch_takes_a_boolean(tmp_path: Path) -> None:
    registro = Harness(tmp_path, faults=True)

    assert registro.client.put("/faults/error-mode", json={"enabled": "yes"}).status_code == 422
