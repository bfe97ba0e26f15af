"""A real gunicorn serving ``connection_app`` on 127.0.0.1, for the worker tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from sportapp_core.adapters.http.session import ServiceClient, ServiceUnreachable
from sportapp_stack.config import find_root, free_ports

APP = "tests.integration.web.connection_app:app"
START_TIMEOUT_S = 20.0
READ_TIMEOUT_S = 5.0
# One request for connection_app, as bytes for a raw socket.
WHO_REQUEST = b"GET /who HTTP/1.1\r\nHost: test\r\n\r\n"


@contextmanager
def gunicorn(
    worker_class: str, *options: str, environment: Mapping[str, str] | None = None
) -> Iterator[int]:
    """A gunicorn with one ``worker_class`` worker, in a process group of its own; yields its port."""
    [port] = free_ports(1)
    command = [
        sys.executable, "-m", "gunicorn", "--worker-class", worker_class, *options,
        "--bind", f"127.0.0.1:{port}", "--log-level", "warning", APP,
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=find_root(), env={**os.environ, **(environment or {})}, start_new_session=True
    )
    try:
        # Up once its worker answers (the master accepts connections before the worker runs).
        deadline = time.monotonic() + START_TIMEOUT_S
        probe = ServiceClient(f"http://127.0.0.1:{port}", pool_size=1)
        try:
            while True:
                try:
                    if probe.request("GET", "/who", read_timeout_s=1.0).status == 200:
                        break
                except ServiceUnreachable:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not answer on port {port}")
                time.sleep(0.05)
        finally:
            probe.close()
        yield port
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
