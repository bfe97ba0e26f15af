"""consulta's sync worker, in a real gunicorn on 127.0.0.1: after a bodiless request it is free for
the next connection without waiting for the peer to close; after a request whose body it left
unread it still waits, as gunicorn's own sync worker does, so that the answer is not reset."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from sportapp_core.adapters.http.session import ServiceClient
from sportapp_core.adapters.web.gunicorn import PROMPTLY_CLOSING_SYNC
from tests.integration.web import servers
from tests.integration.web.servers import READ_TIMEOUT_S, WHO_REQUEST

# How long gunicorn's graceful close waits for the peer's FIN (gunicorn.util.close_graceful).
GRACEFUL_DRAIN_S = 2.0
UNREAD_BODY = b"x" * 32 * 1024  # within what gunicorn's graceful close drains (64 KiB)


@contextmanager
def answered_and_left_open(port: int, request: bytes) -> Iterator[None]:
    """A connection that sent ``request`` and read the whole answer and the server's end, and that
    keeps its own side open for the block."""
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.settimeout(READ_TIMEOUT_S)
        connection.sendall(request)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
        assert received.startswith(b"HTTP/1.1 200 OK"), received
        assert received.endswith(b"}"), received  # the whole body, not cut short
        yield


def next_request_waited_s(port: int) -> float:
    """How long a request on a new connection waits for the one worker."""
    client = ServiceClient(f"http://127.0.0.1:{port}", pool_size=1)
    try:
        started = time.monotonic()
        assert client.request("GET", "/who", read_timeout_s=READ_TIMEOUT_S).status == 200
        return time.monotonic() - started
    finally:
        client.close()


@pytest.mark.parametrize(
    ("worker_class", "waits_for_the_peer"),
    [(PROMPTLY_CLOSING_SYNC, False), ("sync", True)],
    ids=["promptly-closing", "gunicorn-sync"],
)
def test_after_a_bodiless_request_the_worker_does_not_wait_for_the_peer_to_close(
    worker_class: str, waits_for_the_peer: bool
) -> None:
    # gunicorn's own sync worker stays with the first connection until its peer closes or the
    # drain times out: the test tells the two apart.
    with servers.gunicorn(worker_class) as port, answered_and_left_open(port, WHO_REQUEST):
        waited_s = next_request_waited_s(port)
    assert (waited_s >= GRACEFUL_DRAIN_S / 2) is waits_for_the_peer


def test_after_a_request_whose_body_was_left_unread_the_worker_still_closes_gracefully() -> None:
    # connection_app never reads a body: closing at once would leave it unread in the socket.
    request = (
        b"POST /who HTTP/1.1\r\nHost: test\r\nContent-Length: %d\r\n\r\n" % len(UNREAD_BODY)
        + UNREAD_BODY
    )
    with servers.gunicorn(PROMPTLY_CLOSING_SYNC) as port, answered_and_left_open(port, request):
        waited_s = next_request_waited_s(port)
    assert waited_s >= GRACEFUL_DRAIN_S / 2
