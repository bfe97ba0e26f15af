"""A pooled ``requests`` session that passes the current request id on to the next service."""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter

from sportapp_core.adapters.request_context import current_request_id

REQUEST_ID_HEADER = "X-Request-Id"


class ServiceSession(requests.Session):
    """A session for one downstream service: a connection pool sized for our threads, no retries
    hidden inside it (the caller decides what is safe to retry), and request-id propagation."""

    def __init__(self, pool_size: int = 16) -> None:
        super().__init__()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        self.mount("http://", adapter)
        self.mount("https://", adapter)
        self.trust_env = False  # never route service-to-service calls through a proxy

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        """Send the request, tagged with the id of the request being served, if any."""
        request_id = current_request_id.get()
        if request_id:
            headers = dict(kwargs.pop("headers", None) or {})
            headers.setdefault(REQUEST_ID_HEADER, request_id)
            kwargs["headers"] = headers
        return super().request(method, url, *args, **kwargs)
