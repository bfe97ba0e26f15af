"""The gateway's own behaviour, seen from a client: routes, limits and errors as problem+json."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest
import requests

from sportapp_stack.stack import Stack
from tests.conftest import free_ports, work_dir
from tests.e2e.conftest import Gateway

pytestmark = [pytest.mark.e2e, pytest.mark.stack]

PROBLEM = "application/problem+json"
START_TIMEOUT_S = 10.0


def _new_registration() -> dict[str, str]:
    return {"correo": f"gw-{uuid.uuid4().hex[:12]}@example.com", "clave": "a long enough secret"}


def _assert_problem(response: requests.Response, status: int) -> dict[str, object]:
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith(PROBLEM)
    body: dict[str, object] = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail"} <= body.keys()
    return body


def test_the_db_service_is_not_reachable_through_the_gateway(gateway: Gateway) -> None:
    for response in (
        gateway.get("/user-db/users"),
        gateway.get("/user-db/events?after=0"),
        gateway.post("/user-db/users", json={"email": "x@example.com"}),
    ):
        _assert_problem(response, 404)
        assert "X-Served-By" not in response.headers  # answered by NGINX, never proxied


def test_an_unknown_path_is_a_problem_json_404(gateway: Gateway) -> None:
    response = gateway.get("/no/such/thing")

    body = _assert_problem(response, 404)
    assert body["type"] == "https://sportapp.dev/problems/not-found"
    assert response.headers["X-Gateway"] == "gateway"


def test_an_oversized_registration_is_refused_with_413_before_registro(gateway: Gateway) -> None:
    body = {"correo": "big@example.com", "clave": "x" * 20_000}

    response = gateway.post("/user-commands/users/register", json=body)

    _assert_problem(response, 413)
    assert "X-Served-By" not in response.headers


# 4.3 and 7 KiB found by schemathesis: such request lines passed NGINX's default 8 KiB buffers and
# met gunicorn's 4 KiB limit, which answers with an HTML page.
@pytest.mark.parametrize("length", [4_300, 7_000, 10_000])
def test_an_overlong_query_string_is_a_problem_json_414(gateway: Gateway, length: int) -> None:
    response = gateway.get("/user-queries/users", params={"after": "1" * length})

    body = _assert_problem(response, 414)
    assert body["type"] == "https://sportapp.dev/problems/uri-too-long"
    assert "X-Served-By" not in response.headers


def test_oversized_request_headers_are_a_problem_json_431(gateway: Gateway) -> None:
    response = gateway.get("/user-queries/users", headers={"X-Padding": "x" * 10_000})

    body = _assert_problem(response, 431)
    assert body["type"] == "https://sportapp.dev/problems/request-header-fields-too-large"
    assert "X-Served-By" not in response.headers


def test_the_openapi_document_is_served(gateway: Gateway) -> None:
    response = gateway.get("/openapi.json")

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert "/user-commands/users/register" in document["paths"]


def test_a_request_id_is_passed_through_or_made(gateway: Gateway) -> None:
    given = gateway.get("/user-queries/users", headers={"X-Request-Id": "e2e-trace-42"})
    made = gateway.get("/user-queries/users")

    assert given.headers["X-Request-Id"] == "e2e-trace-42"
    assert len(made.headers["X-Request-Id"]) >= 16
    assert made.headers["X-Served-By"] == "consulta"


def test_the_registro_route_tells_the_upstream_generation(gateway: Gateway) -> None:
    # The monitor's probe: any answer on the registro route carries the live generation.
    response = gateway.get("/user-commands/users/register")

    assert response.headers["X-Upstream-Generation"] == "1"
    assert response.headers["X-Upstream-Active"] == "registro-primary"
    assert response.headers["X-Served-By"] == "registro-primary"


@pytest.fixture(scope="module")
def strict_gateway(stack: Stack) -> Iterator[Gateway]:
    """A second NGINX in front of the same services, allowing one registration a minute."""
    (port,) = free_ports(1)
    config = dataclasses.replace(
        stack.config,
        var_dir=work_dir("sportapp-strict-"),
        gateway_port=port,
        registration_rate="1r/m",
        registration_burst=0,
    )
    strict = Stack(config)
    client = Gateway(config.gateway_url)
    process: subprocess.Popen[bytes] | None = None
    try:
        strict.render()
        with (config.logs_dir / "gateway.log").open("ab") as log:
            process = subprocess.Popen(
                strict.program("gateway").command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            with contextlib.suppress(requests.ConnectionError):
                if client.get("/openapi.json").status_code == 200:
                    break
            assert process.poll() is None, strict.tail("gateway")
            assert time.monotonic() < deadline, f"strict gateway not up:\n{strict.tail('gateway')}"
            time.sleep(0.05)
        yield client
    finally:
        client.close()
        if process is not None:
            _stop(process)
        shutil.rmtree(config.var_dir, ignore_errors=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    # NGINX's workers share the master's process group: signal the group, not just the master.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def test_registrations_beyond_the_rate_limit_get_a_problem_json_429(strict_gateway: Gateway) -> None:
    first = strict_gateway.post("/user-commands/users/register", json=_new_registration())
    second = strict_gateway.post("/user-commands/users/register", json=_new_registration())

    assert first.status_code == 201
    _assert_problem(second, 429)
    assert second.headers["Retry-After"] == "1"
    assert "X-Served-By" not in second.headers


def test_reads_do_not_count_against_the_registration_limit(strict_gateway: Gateway) -> None:
    statuses = {strict_gateway.get("/user-queries/users?limit=1").status_code for _ in range(5)}
    probes = {strict_gateway.get("/user-commands/users/register").status_code for _ in range(5)}

    assert statuses == {200}
    assert probes == {405}
