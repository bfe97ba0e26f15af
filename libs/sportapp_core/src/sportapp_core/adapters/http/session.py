"""A pooled HTTP client for the calls between services: explicit timeouts, no hidden retries,
request ids passed on; answers read whole, or line by line as they come (a stream).

Its connections are :class:`~sportapp_core.adapters.http.connection.Http1Connection`: a call
between services is on the path of every registration and every probe, and neither ``requests``
nor urllib3 is cheap enough there (see that module).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from sportapp_core.adapters.http.connection import Http1Connection
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
    :class:`ServiceUnreachable`, with a short reason (``refused``, ``connection``, ``timeout``).
    Up to ``pool_size`` idle connections are kept; a thread that finds none idle opens one of its
    own and never waits for another's.
    """

    def __init__(self, base_url: str, *, pool_size: int = 8, connect_timeout_s: float = 0.5) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"not an http://host:port URL: {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._host = parts.hostname
        self._port = parts.port or 80
        self._host_header = parts.netloc
        self._pool_size = pool_size
        self._connect_timeout_s = connect_timeout_s
        self._idle: list[Http1Connection] = []
        self._lock = threading.Lock()

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
        body = None
        sent_headers = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body, separators=(",", ":")).encode()
            sent_headers.update(_JSON_HEADERS)
        sent = self._request(method, path, params, sent_headers, body)
        connection = self._connection()
        try:
            connection.send(sent, timeout_s=read_timeout_s)
            status, answer_headers = connection.read_head()
            answer = connection.read_body()
        except OSError as error:
            connection.close()
            raise ServiceUnreachable(_reason(error)) from None
        self._release(connection)
        return ServiceResponse(status, answer_headers, answer)

    def open_stream(
        self,
        path: str,
        *,
        read_timeout_s: float,
        params: Mapping[str, Any] | None = None,
    ) -> ServiceStream:
        """``GET`` an answer that is read as it comes, a line at a time: each read of a line may
        wait up to ``read_timeout_s``."""
        sent = self._request("GET", path, params, {}, None)
        connection = self._connection()
        try:
            connection.send(sent, timeout_s=read_timeout_s)
            status, _ = connection.read_head()
        except OSError as error:
            connection.close()
            raise ServiceUnreachable(_reason(error)) from None
        return ServiceStream(status, connection)

    def close(self) -> None:
        """Close the idle connections."""
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def _request(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        headers: dict[str, str],
        body: bytes | None,
    ) -> bytes:
        target = path + ("?" + urlencode(params) if params else "")
        request_id = current_request_id.get()
        if request_id:
            headers.setdefault(REQUEST_ID_HEADER, request_id)
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self._host_header}"]
        lines.extend(f"{name}: {value}" for name, value in headers.items())
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        if any("\n" in line or "\r" in line for line in lines):
            raise ValueError("a request line or header holds a line break")
        encoded = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return encoded + body if body is not None else encoded

    def _connection(self) -> Http1Connection:
        """An idle connection that is still open, or a new one (:class:`ServiceUnreachable`
        ``refused`` if none can be made: the service cannot have seen the request)."""
        while True:
            with self._lock:
                connection = self._idle.pop() if self._idle else None
            if connection is None:
                break
            if connection.still_open():
                return connection
            connection.close()
        try:
            return Http1Connection.open(self._host, self._port, timeout_s=self._connect_timeout_s)
        except OSError:
            raise ServiceUnreachable(REFUSED) from None

    def _release(self, connection: Http1Connection) -> None:
        if connection.reusable:
            with self._lock:
                if len(self._idle) < self._pool_size:
                    self._idle.append(connection)
                    return
        connection.close()


class ServiceStream:
    """An answer being read line by line (NDJSON): its status, then its lines as they come."""

    def __init__(self, status: int, connection: Http1Connection) -> None:
        self.status = status
        self._connection = connection
        self._parts = connection.body_parts()
        self._buffer = b""

    def body(self) -> bytes:
        """The whole rest of the answer: for one that is not a stream (an error's problem)."""
        try:
            return self._buffer + b"".join(self._parts)
        except OSError as error:
            raise ServiceUnreachable(_reason(error)) from None
        finally:
            self.close()

    def next_line(self) -> bytes | None:
        """The next line; ``None`` when the answer has ended. :class:`ServiceUnreachable` if
        nothing came within the read timeout or the connection was cut."""
        try:
            while b"\n" not in self._buffer:
                part = next(self._parts, None)
                if part is None:
                    line, self._buffer = self._buffer, b""
                    return line or None
                self._buffer += part
        except OSError as error:
            raise ServiceUnreachable(_reason(error)) from None
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line + b"\n"

    def close(self) -> None:
        """Stop reading: the connection is closed (a stream cannot be drained to be reused)."""
        self._connection.close()


def _reason(error: OSError) -> str:
    if isinstance(error, TimeoutError):
        return "timeout"
    return "connection"
