"""The lingering gthread worker, in a real gunicorn on 127.0.0.1, seen from its clients and from
/proc: how often its poller thread wakes, which requests wait, what survives a linger and a stop."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from sportapp_core.adapters.http.session import ServiceClient
from sportapp_core.adapters.web.gunicorn import LINGER_VARIABLE, LINGERING_GTHREAD
from tests.integration.web import servers
from tests.integration.web.servers import READ_TIMEOUT_S, WHO_REQUEST


@contextmanager
def gunicorn(*, threads: int, linger_ms: int) -> Iterator[int]:
    """A gunicorn with the lingering worker; yields its port."""
    with servers.gunicorn(
        LINGERING_GTHREAD, "--threads", str(threads), "--keep-alive", "75", "--graceful-timeout", "10",
        environment={LINGER_VARIABLE: str(linger_ms)},
    ) as port:  # fmt: skip
        yield port


def who(client: ServiceClient) -> dict[str, int]:
    answer = client.request("GET", "/who", read_timeout_s=READ_TIMEOUT_S)
    assert answer.status == 200
    body: dict[str, int] = answer.json()
    return body


def poller_wakeups(worker_pid: int) -> int:
    """Voluntary context switches so far of the worker's main thread, gthread's poller."""
    status = Path(f"/proc/{worker_pid}/task/{worker_pid}/status").read_text()
    [switches] = [line for line in status.splitlines() if line.startswith("voluntary_ctxt_switches")]
    return int(switches.split()[1])


def poller_wakeups_over_paced_requests(*, linger_ms: int, requests: int = 20) -> int:
    with gunicorn(threads=4, linger_ms=linger_ms) as port:
        client = ServiceClient(f"http://127.0.0.1:{port}", pool_size=1)
        try:
            worker_pid = who(client)["pid"]
            before = poller_wakeups(worker_pid)
            ports = set()
            for _ in range(requests):
                time.sleep(0.02)
                ports.add(who(client)["client_port"])
            after = poller_wakeups(worker_pid)
        finally:
            client.close()
    assert len(ports) == 1, "the requests did not all come on one kept-alive connection"
    return after - before


def test_requests_on_a_lingering_connection_do_not_wake_the_poller() -> None:
    # 20 requests 20 ms apart, within a 5 s linger: served by the thread that waits on the
    # connection. The poller wakes only for its own one-second loop, if at all.
    assert poller_wakeups_over_paced_requests(linger_ms=5000) <= 3


def test_without_a_linger_every_request_wakes_the_poller() -> None:
    # The same requests through plain gthread: the poller wakes when the socket is readable, and
    # (mostly once more) to take the connection back from the thread that served it. So the count
    # above can tell the two apart.
    assert poller_wakeups_over_paced_requests(linger_ms=0) >= 20


def test_a_connection_past_its_linger_goes_back_to_the_poller_and_is_served_again() -> None:
    with gunicorn(threads=4, linger_ms=100) as port:
        client = ServiceClient(f"http://127.0.0.1:{port}", pool_size=1)
        try:
            first = who(client)
            time.sleep(0.5)
            second = who(client)
        finally:
            client.close()
    assert second == first  # same worker, same kept-alive connection


def test_lingering_threads_never_take_more_than_half_the_pool() -> None:
    # Two threads and a 20 s linger: the first connection's thread lingers (one of two in use); the
    # second connection's thread must not (it would be two of two), so a third connection is
    # served at once, not after a linger.
    linger_s = 20.0
    with gunicorn(threads=2, linger_ms=int(linger_s * 1000)) as port:
        clients = [ServiceClient(f"http://127.0.0.1:{port}", pool_size=1) for _ in range(3)]
        try:
            who(clients[0])
            who(clients[1])
            started = time.monotonic()
            who(clients[2])
            waited_s = time.monotonic() - started
        finally:
            for client in clients:
                client.close()
    assert waited_s < linger_s / 2


def test_pipelined_requests_are_all_answered() -> None:
    with gunicorn(threads=4, linger_ms=5000) as port, socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(READ_TIMEOUT_S)
        sock.sendall(WHO_REQUEST * 3)
        received = b""
        while received.count(b"HTTP/1.1 200 OK") < 3 or not received.endswith(b"}"):
            chunk = sock.recv(65536)
            assert chunk, f"the server closed after {received.count(b'HTTP/1.1 200 OK')} answers"
            received += chunk
    bodies = [json.loads(part[part.index(b"{"):]) for part in received.split(b"HTTP/1.1 ")[1:]]
    assert len(bodies) == 3
    assert len({body["client_port"] for body in bodies}) == 1


def test_a_peer_that_closes_while_its_thread_lingers_frees_the_thread() -> None:
    # One thread: had the thread stayed with the closed connection, the next one would wait the
    # whole 20 s linger.
    linger_s = 20.0
    with gunicorn(threads=1, linger_ms=int(linger_s * 1000)) as port:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.settimeout(READ_TIMEOUT_S)
            sock.sendall(WHO_REQUEST)
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK")
        client = ServiceClient(f"http://127.0.0.1:{port}", pool_size=1)
        try:
            started = time.monotonic()
            who(client)
            waited_s = time.monotonic() - started
        finally:
            client.close()
    assert waited_s < linger_s / 2


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGQUIT], ids=["graceful", "quick"])
def test_a_worker_told_to_stop_ends_its_lingers_instead_of_waiting_them_out(stop: signal.Signals) -> None:
    linger_s = 20.0
    with gunicorn(threads=4, linger_ms=int(linger_s * 1000)) as port:
        client = ServiceClient(f"http://127.0.0.1:{port}", pool_size=1)
        try:
            worker_pid = who(client)["pid"]
            time.sleep(0.2)  # its thread lingers on this connection by now
            started = time.monotonic()
            os.kill(worker_pid, stop)
            while Path(f"/proc/{worker_pid}").exists() and time.monotonic() - started < linger_s:
                time.sleep(0.05)
            stopped_in_s = time.monotonic() - started
        finally:
            client.close()
    assert stopped_in_s < linger_s / 2
