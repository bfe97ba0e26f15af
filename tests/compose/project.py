"""A compose project under test: started under a name of its own, its containers inspected, taken
down with its volumes and checked to leave nothing; and the requests a client sends through the
gateway."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from sportapp_stack.config import free_ports
from tests.conftest import REPO

DOCKER = "/usr/bin/docker"
# Debian's docker-compose (v1) builds nothing here (scripts/docker did) and talks to the engine
# through its API; /usr/bin first, so that it finds Debian's docker client where it needs one.
COMPOSE_ENV = {**os.environ, "PATH": "/usr/bin:" + os.environ.get("PATH", "")}
HEALTHY_WITHIN_S = 240
IN_A_CONTAINER = Path("/.dockerenv").exists() or Path("/run/.containerenv").exists()
PASSWORD = "correct horse battery staple"


def run(command: list[str], *, timeout_s: float = 120, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout_s, check=False, cwd=REPO,
        env=env or COMPOSE_ENV,
    )
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result.stdout


@dataclass
class Project:
    """One compose project: its name, its files and the gateway's published port."""

    name: str
    files: tuple[Path, ...]
    gateway_port: int

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def compose(self, *arguments: str, timeout_s: float = 180) -> str:
        files = [part for path in self.files for part in ("-f", str(path))]
        env = {**COMPOSE_ENV, "SPORTAPP_GATEWAY_PORT": str(self.gateway_port)}
        return run(["docker-compose", "-p", self.name, *files, *arguments], timeout_s=timeout_s, env=env)

    def containers(self, service: str | None = None) -> list[str]:
        return self.compose("ps", "-q", *([service] if service else [])).split()

    def inspect(self, container: str) -> dict[str, Any]:
        return json.loads(run([DOCKER, "inspect", container]))[0]  # type: ignore[no-any-return]

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + HEALTHY_WITHIN_S
        states: dict[str, str] = {}
        while time.monotonic() < deadline:
            states = {}
            for container in self.containers():
                state = self.inspect(container)["State"]
                states[container[:12]] = state.get("Health", {}).get("Status", state["Status"])
            if states and all(status == "healthy" for status in states.values()):
                return
            time.sleep(2)
        logs = self.compose("logs", "--tail", "20")
        raise AssertionError(f"not healthy within {HEALTHY_WITHIN_S} s: {states}\n{logs[-6000:]}")

    def monitor_events(self) -> list[dict[str, Any]]:
        [monitor] = self.containers("monitor")
        text = run([DOCKER, "exec", monitor, "cat", "/var/lib/sportapp/monitor/monitor-events.jsonl"])
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def leftovers(self) -> dict[str, list[str]]:
        """Containers, networks and volumes of this project that still exist."""
        label = f"label=com.docker.compose.project={self.name}"
        return {
            "containers": run([DOCKER, "ps", "-a", "--filter", label, "--format", "{{.Names}}"]).split(),
            "networks": run([DOCKER, "network", "ls", "--filter", label, "--format", "{{.Name}}"]).split(),
            "volumes": run([DOCKER, "volume", "ls", "--filter", label, "--format", "{{.Name}}"]).split(),
        }


@contextlib.contextmanager
def project_up(files: tuple[Path, ...], *up_arguments: str) -> Iterator[Project]:
    """``docker-compose up -d`` under a fresh name; ``down -v`` afterwards, whatever happened, and
    then nothing of it may be left."""
    project = Project(f"sportapp-test-{uuid.uuid4().hex[:8]}", files, free_ports(1)[0])
    try:
        project.compose("up", "-d", "--no-build", *up_arguments, timeout_s=300)
        project.wait_healthy()
        yield project
    finally:
        project.compose("down", "-v", "--remove-orphans", "--timeout", "5", timeout_s=180)
    assert project.leftovers() == {"containers": [], "networks": [], "volumes": []}


def register(url: str, email: str, key: str | None = None) -> requests.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return requests.post(
        f"{url}/user-commands/users/register",
        json={"correo": email, "clave": PASSWORD},
        headers=headers,
        timeout=10,
    )


def read_back(url: str, user_id: int, within_s: float = 30.0) -> requests.Response:
    """``GET /user-queries/users/<id>`` until consulta has projected it (or ``within_s`` passed)."""
    deadline = time.monotonic() + within_s
    while True:
        response = requests.get(f"{url}/user-queries/users/{user_id}", timeout=10)
        if response.status_code != 404 or time.monotonic() > deadline:
            return response
        time.sleep(0.25)
