"""A pooled HTTP client for the calls between services: explicit timeouts, no hidden retries,
request ids passed on.

Built on urllib3's connection pool rather than ``requests``: a call between services is on the
path of every registration and every probe, and ``requests`` spends about twice urllib3's CPU on
each (its sessions, hooks and cookie handling serve browsers-like use, not ours).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import urllib3

from sportapp_core.adapters.request_context import current_request_id

REQUEST_ID_HEADER = "X-Request-Id"
_JSON_HEADERS = {"Content-Type": "application/json"}


class ServiceUnreachable(Exception):
    """No answer: the connection was refused or cut, or the answer did not come in time."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ServiceResponse:
    """A status, the headers and the body of one answer."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON (``ValueError`` if it is not)."""
        return json.loads(self.body)


class ServiceClient:
    """Keep-alive connections to one service (``http://host:port``), safe to share between threads.

    Nothing is retried here: whether a call may be repeated is the caller's decision (a
    registration that timed out may have been committed). Every failure to get an answer is
    :class:`ServiceUnreachable`, with a short reason (``connection``, ``timeout``, ...).
    """

    def __init__(self, base_url: str, *, pool_size: int = 8, connect_timeout_s: float = 0.5) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"not an http://host:port URL: {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._connect_timeout_s = connect_timeout_s
        self._pool = urllib3.HTTPConnectionPool(
            parts.hostname,
            parts.port or 80,
            maxsize=pool_size,
            block=False,  # a thread beyond the pool opens a connection of its own, never waits
            retries=False,
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        read_timeout_s: float,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> ServiceResponse:
        """Send one request and read the whole answer within the timeouts."""
        url = path + ("?" + urlencode(params) if params else "")
        sent_headers = dict(headers or {})
        body = None
        if json_body is not None:
            body = json.dumps(json_body, separators=(",", ":")).encode()
            sent_headers.update(_JSON_HEADERS)
        request_id = current_request_id.get()
        if request_id:
            sent_headers.setdefault(REQUEST_ID_HEADER, request_id)
        try:
            response = self._pool.urlopen(
                method,
                url,
                body=body,
                headers=sent_headers,
                timeout=urllib3.Timeout(connect=self._connect_timeout_s, read=read_timeout_s),
                redirect=False,
                preload_content=True,
            )
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise ServiceUnreachable(_reason(error)) from None
        return ServiceResponse(response.status, response.headers, response.data)

    def close(self) -> None:
        """Close the pooled connections."""
        self._pool.close()


def _reason(error: BaseException) -> str:
    # NewConnectionError (refused, unreachable) subclasses urllib3's TimeoutError: test it first.
    if isinstance(
        error,
        urllib3.exceptions.NewConnectionError | urllib3.exceptions.ProtocolError | ConnectionError,
    ):
        return "connection"
    if isinstance(error, urllib3.exceptions.TimeoutError | TimeoutError):
        return "timeout"
    return type(error).__name__
