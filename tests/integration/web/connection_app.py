"""A WSGI app that says who served a request: the worker process and the client's port."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from typing import Any


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Answer with the worker's pid and the port the request came from."""
    body = json.dumps({"pid": os.getpid(), "client_port": int(environ["REMOTE_PORT"])}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
