"""Real db and consulta services under gunicorn, each in its own process group, for the tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import requests

from sportapp_core.db_schemas import record_request
from sportapp_core.domain import EmailAddress, NewUser

REPO = Path(__file__).resolve().parents[3]
GUNICORN = Path(sys.executable).parent / "gunicorn"
START_TIMEOUT_S = 20.0


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def eventually(condition: Callable[[], Any], timeout_s: float, what: str, every_s: float = 0.02) -> Any:
    """Poll ``condition`` until it returns something truthy, failing after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            result = condition()
        except requests.RequestException:
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(every_s)


class Service:
    """One gunicorn instance: started in a new session so that the whole group can be killed."""

    def __init__(self, name: str, app: str, port: int, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._conf = f"apps/{app}/gunicorn.conf.py"
        self._env = {**env, "SPORTAPP_BIND": f"127.0.0.1:{port}"}
        self._log_path = log_dir / f"{name}.log"
        self._log: IO[bytes] | None = None
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Service:
        """Start gunicorn; return without waiting for it to answer."""
        assert self.process is None, f"{self.name} is already running"
        self._log = self._log_path.open("ab")
        self.process = subprocess.Popen(
            [str(GUNICORN), "-c", self._conf],
            cwd=REPO,
            env=self._env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def wait_ready(self, http: requests.Session, timeout_s: float = START_TIMEOUT_S) -> None:
        """Wait until ``/health`` answers 200; fail with the log's tail if the process died."""

        def ready() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited early:\n{self.log_tail()}")
            return http.get(self.url + "/health", timeout=2).status_code == 200

        try:
            eventually(ready, timeout_s, f"{self.name} to be ready", every_s=0.05)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{self.log_tail()}") from None

    def kill(self, sig: int = signal.SIGKILL, timeout_s: float = 15.0) -> None:
        """Signal the whole process group (master and workers) and reap the master."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout_s)
        # Workers orphaned by a killed master are in the same group: make sure none survives.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def stop(self) -> None:
        """Stop gracefully (SIGTERM), then by force if it takes too long."""
        self.kill(signal.SIGTERM)

    def workers(self) -> list[int]:
        """The pids of the master's worker processes, as the kernel lists its children."""
        assert self.process is not None
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
        return [int(pid) for pid in children.split()]

    def log_tail(self, lines: int = 40) -> str:
        """The end of the service's log, for failure messages."""
        if not self._log_path.exists():
            return ""
        return "\n".join(self._log_path.read_text(errors="replace").splitlines()[-lines:])


class Stack:
    """The write side (db) and the read side (consulta) on 127.0.0.1, with their stores in ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.http = requests.Session()
        self.http.trust_env = False  # never through a proxy
        self.write_store = root / "write.db"
        self.read_store = root / "read.db"
        self.db_port = free_port()
        self.db: Service | None = None
        self.consulta: Service | None = None
        self.replicas: list[Service] = []
        self._starts = 0
        self._base_env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("SPORTAPP_") and key != "PROMETHEUS_MULTIPROC_DIR"
        }

    def start_db(self) -> Service:
        """Start db on its fixed port (consulta keeps pointing at it across restarts)."""
        env = {
            **self._base_env,
            "SPORTAPP_STORE_URL": f"sqlite:///{self.write_store}",
            "SPORTAPP_LOG_LEVEL": "WARNING",
        }
        self.db = Service("db", "db", self.db_port, env, self.root).start()
        self.db.wait_ready(self.http)
        return self.db

    def start_consulta(self, workers: int = 2) -> Service:
        """Start consulta with ``workers`` workers (one of them projects); ready means caught up once."""
        self.consulta = self._consulta(workers)
        return self.consulta

    def start_replica(self, workers: int = 2) -> Service:
        """Start another consulta instance on the same read model: its projector races the first's."""
        replica = self._consulta(workers)
        self.replicas.append(replica)
        return replica

    def _consulta(self, workers: int) -> Service:
        self._starts += 1
        # One empty folder per instance start: the live gauges of killed workers must not linger.
        metrics_dir = self.root / f"metrics-{self._starts}"
        metrics_dir.mkdir()
        env = {
            **self._base_env,
            "SPORTAPP_READ_STORE_URL": f"sqlite:///{self.read_store}",
            "SPORTAPP_DB_SERVICE_URL": f"http://127.0.0.1:{self.db_port}",
            "SPORTAPP_WORKERS": str(workers),
            "SPORTAPP_PROJECTION_WAIT_S": "2",
            "SPORTAPP_LOG_LEVEL": "WARNING",
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        }
        consulta = Service(f"consulta-{self._starts}", "consulta", free_port(), env, self.root).start()
        consulta.wait_ready(self.http)
        return consulta

    def close(self) -> None:
        """Kill whatever still runs and close the HTTP session."""
        for service in (*self.replicas, self.consulta, self.db):
            if service is not None:
                service.kill()
        self.http.close()

    def register(self, email: str) -> dict[str, Any]:
        """Record a user through db's internal API (the hash is fake: nobody logs in here)."""
        assert self.db is not None
        new_user = NewUser(EmailAddress.parse(email), "$argon2id$v=19$m=65536,t=3,p=4$ZmFrZQ$ZmFrZQ")
        response = self.http.post(
            self.db.url + "/user-db/users", json=record_request(new_user, None), timeout=10
        )
        assert response.status_code == 201, response.text
        user: dict[str, Any] = response.json()["user"]
        return user

    def consulta_get(self, path: str) -> requests.Response:
        """GET on consulta."""
        assert self.consulta is not None
        return self.http.get(self.consulta.url + path, timeout=5)

    def all_pages(self, base: str, path: str) -> list[dict[str, Any]]:
        """Every user of a keyset-paginated list, following ``next_after``."""
        users: list[dict[str, Any]] = []
        after: int | None = None
        while True:
            params: dict[str, Any] = {"limit": 100}
            if after is not None:
                params["after"] = after
            page = self.http.get(base + path, params=params, timeout=5).json()
            users.extend(page["users"])
            after = page["next_after"]
            if after is None:
                return users

    def read_store_rows(self, query: str) -> list[tuple[Any, ...]]:
        """Rows of the read store, read straight from its SQLite file."""
        with contextlib.closing(sqlite3.connect(self.read_store, timeout=5)) as connection:
            return list(connection.execute(query))
