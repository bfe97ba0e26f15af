"""A pooled HTTP client for the calls between services: explicit timeouts, no hidden retries,
request ids passed on; answers read whole, or line by line as they come (a stream).

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


REFUSED = "refused"


class ServiceUnreachable(Exception):
    """No answer: the connection was refused or cut, or the answer did not come in time."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    @property
    def never_sent(self) -> bool:
        """True when no connection was made, so the service cannot have seen the request."""
        return self.reason == REFUSED


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

    def open_stream(
        self,
        path: str,
        *,
        read_timeout_s: float,
        params: Mapping[str, Any] | None = None,
    ) -> ServiceStream:
        """``GET`` an answer that is read as it comes, a line at a time: each read of a line may
        wait up to ``read_timeout_s``."""
        url = path + ("?" + urlencode(params) if params else "")
        try:
            response = self._pool.urlopen(
                "GET",
                url,
                timeout=urllib3.Timeout(connect=self._connect_timeout_s, read=read_timeout_s),
                redirect=False,
                preload_content=False,
            )
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise ServiceUnreachable(_reason(error)) from None
        return ServiceStream(response)

    def close(self) -> None:
        """Close the pooled connections."""
        self._pool.close()


class ServiceStream:
    """An answer being read line by line (NDJSON): its status, then its lines as they come."""

    def __init__(self, response: urllib3.BaseHTTPResponse) -> None:
        self.status = response.status
        self._response = response
        self._lines = iter(response)

    def body(self) -> bytes:
        """The whole rest of the answer: for one that is not a stream (an error's problem)."""
        try:
            return self._response.read()
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise ServiceUnreachable(_reason(error)) from None
        finally:
            self.close()

    def next_line(self) -> bytes | None:
        """The next line; ``None`` when the answer has ended. :class:`ServiceUnreachable` if
        nothing came within the read timeout or the connection was cut."""
        try:
            return next(self._lines)
        except StopIteration:
            return None
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise ServiceUnreachable(_reason(error)) from None

    def close(self) -> None:
        """Stop reading: the connection is closed (a stream cannot be drained to be reused)."""
        self._response.close()
        self._response.release_conn()


def _reason(error: BaseException) -> str:
    # No connection was made: refused, unreachable, or not accepted within the connect timeout.
    # NewConnectionError subclasses ConnectTimeoutError (and urllib3's TimeoutError): test it first.
    if isinstance(error, urllib3.exceptions.ConnectTimeoutError):
        return REFUSED
    if isinstance(error, urllib3.exceptions.ProtocolError | ConnectionError):
        return "connection"
    if isinstance(error, urllib3.exceptions.TimeoutError | TimeoutError):
        return "timeout"
    return type(error).__name__
