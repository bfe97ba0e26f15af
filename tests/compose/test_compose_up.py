"""Docker Compose, for real: the images built, the base file's containers started, the API through
the gateway, a registro container crashed under load, and nothing left behind (the scale-out file:
test_compose_scale.py).

``scripts/docker build`` installs the engine and tools when they are missing, starts dockerd when no
engine answers, makes the Debian base (pulled, or built with debootstrap where no registry answers)
and builds every image. Each compose project here runs under a name of its own, publishes the
gateway on a free port of 127.0.0.1 only, is taken down with its volumes even when a test fails,
and is checked to leave no container, network or volume. Only the gateway's port is used: every
request goes through NGINX, as a client's would. The engine is stopped at the end if this session
started it.

Marker ``compose``: run by tox's ``compose`` environment (part of the default run, so of
``scripts/test`` and CI), not by the interpreter environments.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sportapp_lab.load import run_load_sync
from sportapp_lab.workload import LoadConfig
from tests.compose.project import Project, project_up, read_back, register
from tests.compose_files import BASE_FILE

pytestmark = pytest.mark.compose


@pytest.fixture(scope="module")
def base(images: None) -> Iterator[Project]:
    with project_up((BASE_FILE,)) as project:
        yield project


def test_the_api_answers_through_the_gateway_only(base: Project) -> None:
    url = base.gateway_url
    email = f"compose-{uuid.uuid4().hex[:8]}@sportapp-compose.dev"

    created = register(url, email)
    duplicate = register(url, email.upper())

    assert created.status_code == 201, created.text
    assert duplicate.status_code == 409, duplicate.text
    assert duplicate.headers["Content-Type"].startswith("application/problem+json")
    user_id = created.json()["id"]
    shown = read_back(url, user_id)
    assert shown.status_code == 200, shown.text
    assert shown.json()["correo"] == email
    assert "clave" not in shown.json()
    assert requests.get(f"{url}/user-db/users", timeout=10).status_code == 404
    assert requests.get(f"{url}/openapi.json", timeout=10).json()["openapi"].startswith("3.")
    # Only the gateway publishes a port.
    published = {
        service: any((base.inspect(container)["NetworkSettings"]["Ports"] or {}).values())
        for service in ("db", "consulta", "registro-primary", "registro-backup", "monitor", "gateway")
        for container in base.containers(service)
    }
    assert published == {
        "db": False, "consulta": False, "registro-primary": False, "registro-backup": False,
        "monitor": False, "gateway": True,
    }


def test_a_crashed_primary_loses_no_request_and_comes_back_as_the_standby(base: Project) -> None:
    [primary] = base.containers("registro-primary")
    restarts_before = base.inspect(primary)["RestartCount"]
    config = LoadConfig(base_url=base.gateway_url, rate=10.0, duration_s=30.0, read_share=0.0)
    outcome: dict[str, Any] = {}
    load = threading.Thread(target=lambda: outcome.update(records=run_load_sync(config)))
    load.start()
    time.sleep(8)
    killed_at = time.time()
    # A crash: the container's main process SIGKILLed from the host. (`docker kill` sends the same
    # signal, but Docker then counts the container as stopped by hand and its restart policy
    # leaves it down; a process that dies by itself is restarted.)
    os.kill(base.inspect(primary)["State"]["Pid"], signal.SIGKILL)
    load.join(timeout=config.duration_s + config.drain_timeout_s + 30)

    records = outcome["records"]
    failed = [(r.status, r.error) for r in records if not r.ok]
    assert len(records) == config.total_requests
    assert failed == [], f"{len(failed)} of {len(records)} registrations failed: {failed[:10]}"
    served_after = {r.served_by for r in records if r.t_unix > killed_at + 3}
    assert served_after == {"registro-backup"}, served_after
    # The monitor's switch went live: NGINX (tested with `nginx -t`, signalled through the shared
    # PID namespace) answered with the new generation.
    events = base.monitor_events()
    kinds = [event["event"] for event in events]
    assert "failover_done" in kinds, kinds[-20:]
    assert "failover_unconfirmed" not in kinds
    # The restart policy brought the container back, and the monitor saw it: up, then ready.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = base.inspect(primary)
        seen = [e for e in base.monitor_events() if e.get("target") == "registro-primary"]
        back = [e["event"] for e in seen if e["event"] in {"down", "up", "ready"}]
        if state["RestartCount"] > restarts_before and back[-2:] == ["up", "ready"]:
            break
        time.sleep(1)
    assert state["State"]["Running"], state["State"]
    assert state["RestartCount"] > restarts_before
    assert "down" in back, back
    assert back[-2:] == ["up", "ready"], back
