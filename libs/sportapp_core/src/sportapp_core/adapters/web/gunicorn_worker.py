"""gunicorn workers of SportApp's services: gthread whose thread stays with its kept-alive
connection a moment (registro, db), and sync that closes a bodiless request's connection at once
(consulta).

gthread hands every request on a kept-alive connection across three threads: the poller wakes on
the readable socket and submits the connection to the pool, a pool thread wakes and serves it, and
the pool thread's completion wakes the poller again (through a pipe) to put the connection back
under watch. Between services on one machine most requests are small and arrive every few tens of
milliseconds on the same connection (the monitor's pings every 100 ms, NGINX and the db client
reusing their most recent connection first), and at that pace each wake-up finds a cold process:
measured (``python -m sportapp_lab.bench --only probe-floor``), a hello at 10 a second cost
gunicorn 2.3-2.6x its back-to-back cost. Here the thread that served a request waits on that
connection for the next one, for ``SPORTAPP_KEEPALIVE_LINGER_MS`` at most: a request that comes
meanwhile wakes that one thread only. Past the linger the connection goes back to the poller, as
in gthread.

A lingering thread holds a pool thread, so threads linger only while at most half the pool is in
use (serving or lingering): the other half is always free for requests on other connections, and
a busy instance stops lingering at all. A worker told to stop ends every linger at once, and its
connections stop as gthread stops them.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
from collections.abc import Iterable
from typing import Any

from gunicorn.workers.gthread import ThreadWorker
from gunicorn.workers.sync import SyncWorker

from sportapp_core.adapters.web.gunicorn import keepalive_linger_s


class LingeringThreadWorker(ThreadWorker):  # type: ignore[misc]  # gunicorn has no type hints
    """gthread, whose threads serve a kept-alive connection's next request if it comes soon."""

    def init_process(self) -> None:
        self.linger_s = keepalive_linger_s(os.environ)
        # Threads serving a request or lingering; lingering only while at most half are.
        self._in_use = 0
        self._in_use_lock = threading.Lock()
        self._linger_until_in_use = max(1, self.cfg.threads // 2)
        # Written once when the worker is told to stop, and never read: readable from then on, it
        # ends every linger, present and future.
        self._stopping_read, self._stopping_write = os.pipe()
        self._lingers_ended = False
        super().init_process()

    def handle_exit(self, sig: int, frame: Any) -> None:
        self._end_lingers()
        super().handle_exit(sig, frame)

    def handle_quit(self, sig: int, frame: Any) -> None:
        self._end_lingers()
        super().handle_quit(sig, frame)

    def _end_lingers(self) -> None:
        if not self._lingers_ended:
            self._lingers_ended = True
            os.write(self._stopping_write, b"!")

    def handle(self, conn: Any) -> Any:
        with self._in_use_lock:
            self._in_use += 1
        try:
            keepalive = super().handle(conn)
            while keepalive is True and self.alive and self._next_request_came(conn):
                keepalive = super().handle(conn)
            return keepalive
        finally:
            with self._in_use_lock:
                self._in_use -= 1

    def _next_request_came(self, conn: Any) -> bool:
        """Whether ``conn`` has a request to read within the linger (False: back to the poller)."""
        if conn.parser.unreader.buf.getvalue():
            return True  # read ahead with the last request's body: it is here already
        if self.linger_s <= 0 or self._in_use > self._linger_until_in_use:
            return False
        poller = select.poll()
        poller.register(conn.sock, select.POLLIN)
        poller.register(self._stopping_read, select.POLLIN)
        ready = {fd for fd, _ in poller.poll(self.linger_s * 1000)}
        # Readable also when the peer closed: the next handle() sees the end and closes too.
        return conn.sock.fileno() in ready and self._stopping_read not in ready


class PromptlyClosingSyncWorker(SyncWorker):  # type: ignore[misc]  # gunicorn has no type hints
    """gunicorn's sync worker, which does not wait for the peer to close after a bodiless request.

    The sync worker answers one request a connection, then closes it as RFC 9112 (9.6) asks: it
    sends its FIN, then reads until the peer closes too (for up to 2 s), so that request bytes
    left unread cannot make the kernel answer them with a reset that cuts the response short.
    Behind NGINX that is a wait for the gateway to read the answer and close, on every request,
    during which the worker accepts nothing (``python -m sportapp_lab.bench --only queries``,
    two runs each, alternated: ``GET`` by id 2,656-2,657 requests/s against 2,474-2,533 with
    gunicorn's sync worker, the Flask hello baseline 3,921-3,947 against 3,558-3,841).
    A request without a body, after which nothing more has come, leaves nothing to be reset: the
    worker shuts the connection both ways once the answer is sent, and gunicorn's close, finding
    nothing more to read, closes it at once. Any other request is closed gracefully, as before.
    """

    def handle_request(self, listener: Any, req: Any, client: socket.socket, addr: Any) -> None:
        super().handle_request(listener, req, client, addr)
        if carries_no_body(req.headers) and nothing_more_came(client):
            # A peer gone meanwhile: gunicorn's close finds the end as before.
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)


def carries_no_body(headers: Iterable[tuple[str, str]]) -> bool:
    """Whether a request with these headers (gunicorn's: names upper-cased) has no body."""
    for name, value in headers:
        if name == "TRANSFER-ENCODING" or (name == "CONTENT-LENGTH" and value.strip() != "0"):
            return False
    return True


def nothing_more_came(client: socket.socket) -> bool:
    """Whether the peer has sent nothing past what was read (it may have closed: nothing to reset)."""
    try:
        return client.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return True
    except OSError:
        return False  # a broken connection: gunicorn's close deals with it as before
