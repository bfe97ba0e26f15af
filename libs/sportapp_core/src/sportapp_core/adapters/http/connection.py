"""One keep-alive HTTP/1.1 connection to a service: a request out, its answer in, parsed and framed
by httptools (llhttp, Node.js's parser).

Why not urllib3 (over ``http.client``): every call between services goes through here, a
registration's call to db and each of the monitor's ten pings a second, and ``http.client`` parses
each answer's headers with the ``email`` package. Measured once here (2,000 calls to db's ``/ping``
each, same run): 0.23-0.30 ms of CPU a call through urllib3, 0.07 ms through ``ServiceClient`` on
this connection. What is ours is only the socket: opening it, timeouts, and knowing when it can be
used again.
"""

from __future__ import annotations

import select
import socket
from collections.abc import Iterator, Mapping

import httptools

RECV_BYTES = 65536


class ConnectionClosed(ConnectionError):
    """The service closed the connection before its answer was whole."""


class MalformedAnswer(ConnectionError):
    """What came back is not an HTTP/1.x answer."""


class Headers(Mapping[str, str]):
    """An answer's headers, by case-insensitive name (the last one wins for a repeated name)."""

    __slots__ = ("_values",)

    def __init__(self, values: dict[str, str] | None = None) -> None:
        self._values = values if values is not None else {}

    def __getitem__(self, name: str) -> str:
        return self._values[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Headers({self._values!r})"


class _Answer:
    """What httptools' callbacks have told of the answer so far."""

    __slots__ = ("complete", "head_done", "headers", "parts")

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.parts: list[bytes] = []
        self.head_done = False
        self.complete = False

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.head_done = True

    def on_body(self, body: bytes) -> None:
        self.parts.append(body)

    def on_message_complete(self) -> None:
        self.complete = True


class Http1Connection:
    """A TCP connection that carries one request and its answer at a time.

    Use: :meth:`send`, :meth:`read_head`, then :meth:`read_body` or :meth:`body_parts`; after a
    whole answer, :attr:`reusable` says whether the next request may follow on it. Timeouts are
    per socket operation, as urllib3's read timeout is; a timed-out or failed connection is closed.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._answer = _Answer()
        self._parser = httptools.HttpResponseParser(self._answer)
        self._keep_alive = False
        # No Content-Length and not chunked: the body ends when the service closes.
        self._ends_at_close = False

    @classmethod
    def open(cls, host: str, port: int, *, timeout_s: float) -> Http1Connection:
        """Connect within ``timeout_s`` (``OSError`` if refused, unresolvable, or not in time)."""
        sock = socket.create_connection((host, port), timeout=timeout_s)
        # A request is written whole at once; Nagle would hold its answer's successor back.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(sock)

    def still_open(self) -> bool:
        """Whether an idle connection can carry a request: nothing readable on it, since an idle
        connection reads as readable only when the service closed it (or sent what was not asked)."""
        poller = select.poll()
        poller.register(self._sock, select.POLLIN)
        try:
            return not poller.poll(0)
        except OSError:
            return False

    def send(self, request: bytes, *, timeout_s: float) -> None:
        """Write one whole request (head and body)."""
        self._answer = _Answer()
        self._parser = httptools.HttpResponseParser(self._answer)
        self._keep_alive = False
        self._ends_at_close = False
        self._sock.settimeout(timeout_s)
        self._sock.sendall(request)

    def read_head(self) -> tuple[int, Headers]:
        """The answer's status and headers; each read may wait the timeout given to :meth:`send`."""
        while not self._answer.head_done:
            if not self._receive():
                raise ConnectionClosed("the service closed the connection before answering")
        headers = self._answer.headers
        version = self._parser.get_http_version()
        self._keep_alive = version == "1.1" and headers.get("connection", "").lower() != "close"
        self._ends_at_close = (
            "content-length" not in headers and "transfer-encoding" not in headers
            and not self._answer.complete
        )
        return self._parser.get_status_code(), Headers(headers)

    def body_parts(self) -> Iterator[bytes]:
        """The body as it comes (chunked bodies come decoded), until the answer is whole."""
        answer = self._answer
        while True:
            if answer.parts:
                parts, answer.parts = answer.parts, []
                yield from parts
            if answer.complete:
                return
            if not self._receive():
                if self._ends_at_close:
                    answer.complete = True
                    continue
                raise ConnectionClosed("the service closed the connection in the middle of an answer")

    def read_body(self) -> bytes:
        """The whole body."""
        return b"".join(self.body_parts())

    @property
    def reusable(self) -> bool:
        """Whether the answer was read whole and the service keeps the connection open."""
        return self._answer.complete and self._keep_alive and not self._ends_at_close

    def close(self) -> None:
        """Close the socket (idempotent)."""
        self._sock.close()

    def _receive(self) -> bool:
        """Read what has come and parse it; False once the service has closed the connection."""
        data = self._sock.recv(RECV_BYTES)
        if not data:
            return False
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            raise MalformedAnswer("the service switched protocols") from None
        except httptools.HttpParserError as error:
            raise MalformedAnswer(f"not an HTTP/1.x answer: {error}") from None
        return True
