"""One error model: every error of every route is problem+json, with no stack trace."""

import pytest
from flask import Flask
from flask_restful import Resource

from sportapp_core.adapters.web.observability import HttpMetrics, install_observability
from sportapp_core.adapters.web.probes import install_probes
from sportapp_core.adapters.web.problems import ProblemApi, install_problem_handlers, problem_from_exception
from sportapp_core.adapters.web.requests import load_json
from sportapp_core.domain import (
    DomainError,
    EmailTaken,
    IdempotencyKeyReused,
    InvalidEmail,
    InvalidPassword,
    UserNotFound,
)
from sportapp_core.schemas import RegistrationSchema
from sportapp_core.services.errors import DependencyUnavailable

RAISED = {
    "taken": EmailTaken(),
    "reused": IdempotencyKeyReused(),
    "missing": UserNotFound(7),
    "down": DependencyUnavailable("db", retry_after_s=2),
    "bug": ZeroDivisionError("secret internals"),
}


class Raising(Resource):
    def get(self, what: str) -> None:
        raise RAISED[what]


class Registering(Resource):
    def post(self) -> dict[str, str]:
        body = load_json(RegistrationSchema())
        return {"email": str(body["email"])}


@pytest.fixture
def client():
    app = Flask(__name__)
    app.config.update(TESTING=False, DEBUG=False, MAX_CONTENT_LENGTH=1024)
    install_problem_handlers(app)
    install_observability(app, "test-instance", HttpMetrics())

    def failing_check() -> None:
        raise ConnectionError("db gone")

    install_probes(app, "test-instance", {"db": failing_check})
    api = ProblemApi(app)
    api.add_resource(Raising, "/raise/<what>")
    api.add_resource(Registering, "/register")

    @app.get("/plain-bug")
    def plain_bug() -> str:
        raise RuntimeError("secret internals")

    return app.test_client()


@pytest.mark.parametrize(
    ("what", "status", "code"),
    [
        ("taken", 409, "email-taken"),
        ("reused", 422, "idempotency-key-reused"),
        ("missing", 404, "user-not-found"),
        ("down", 503, "dependency-unavailable"),
    ],
)
def test_domain_errors_map_to_their_status(client, what, status, code) -> None:
    response = client.get(f"/raise/{what}")

    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert body["status"] == status
    assert body["type"].endswith("/" + code)
    assert body["title"]
    assert body["detail"]


def test_unavailable_dependency_says_when_to_retry(client) -> None:
    assert client.get("/raise/down").headers["Retry-After"] == "2"


@pytest.mark.parametrize("path", ["/raise/bug", "/plain-bug"])
def test_unexpected_errors_are_500_without_internals(client, path) -> None:
    response = client.get(path)

    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    assert "secret internals" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)


def test_unknown_route_is_404_problem(client) -> None:
    response = client.get("/nowhere")

    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_wrong_method_is_405_with_allow(client) -> None:
    response = client.delete("/register")

    assert response.status_code == 405
    assert response.mimetype == "application/problem+json"
    assert "POST" in response.headers["Allow"]


def test_malformed_json_is_400(client) -> None:
    response = client.post("/register", data="{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.get_json(force=True)["type"].endswith("/malformed-json")


def test_a_json_array_is_400(client) -> None:
    assert client.post("/register", json=[1, 2]).status_code == 400


def test_not_json_is_415(client) -> None:
    response = client.post("/register", data="correo=a", content_type="application/x-www-form-urlencoded")

    assert response.status_code == 415
    assert response.mimetype == "application/problem+json"


def test_oversized_body_is_413(client) -> None:
    response = client.post("/register", data="x" * 5000, content_type="application/json")

    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"


def test_invalid_fields_are_422_per_field(client) -> None:
    response = client.post("/register", json={"correo": "nope", "clave": "short", "extra": 1})

    assert response.status_code == 422
    errors = response.get_json(force=True)["errors"]
    assert set(errors) == {"correo", "clave", "extra"}


def test_every_response_names_its_instance_and_request(client) -> None:
    response = client.get("/nowhere", headers={"X-Request-Id": "abc-123"})

    assert response.headers["X-Served-By"] == "test-instance"
    assert response.headers["X-Request-Id"] == "abc-123"


def test_a_hostile_request_id_is_replaced(client) -> None:
    response = client.get("/nowhere", headers={"X-Request-Id": "bad id; drop table"})

    assert response.headers["X-Request-Id"] != "bad id; drop table"
    assert len(response.headers["X-Request-Id"]) == 32


def test_ping_echoes_the_nonce(client) -> None:
    assert client.get("/ping?nonce=n-42").get_json()["nonce"] == "n-42"


def test_ping_refuses_a_strange_nonce(client) -> None:
    assert client.get("/ping?nonce=" + "x" * 200).status_code == 400


def test_health_is_503_with_the_failing_check(client) -> None:
    response = client.get("/health")

    assert response.status_code == 503
    body = response.get_json(force=True)
    assert body["checks"]["db"]["status"] == "down"
    assert response.headers["Retry-After"] == "1"


def test_metrics_count_requests(client) -> None:
    client.get("/nowhere")

    assert b"sportapp_http_requests_total" in client.get("/metrics").data


@pytest.mark.parametrize(
    ("error", "wire_field"),
    [(InvalidEmail("not an address"), "correo"), (InvalidPassword("too short"), "clave")],
)
def test_a_domain_error_names_its_field_as_the_public_api_spells_it(
    error: DomainError, wire_field: str
) -> None:
    # The domain says email and password; a client sent correo and clave.
    problem = problem_from_exception(error)

    assert error.field in {"email", "password"}
    assert (problem.status, problem.errors) == (422, {wire_field: [error.detail]})
