"""``python -m sportapp_lab.bench.bare_server PORT``: the least a Python process can do to answer
an HTTP request, the baseline of :mod:`sportapp_lab.bench.probe_floor`.

One connection at a time, blocking reads: a request is whatever ends with an empty line (the
benchmark sends no bodies), and every answer is the hello's bytes. Not a server for anything else.
"""

from __future__ import annotations

import signal
import socket
import sys

from sportapp_lab.bench.hello import BODY, HEADERS

ANSWER = (
    b"HTTP/1.1 200 OK\r\n"
    + b"".join(f"{name}: {value}\r\n".encode() for name, value in HEADERS)
    + b"\r\n"
    + BODY
)


def serve(port: int) -> None:
    """Answer every request on ``127.0.0.1:port`` until SIGTERM."""
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(0))
    listener = socket.create_server(("127.0.0.1", port))
    while True:
        connection, _ = listener.accept()
        with connection:
            pending = b""
            while chunk := connection.recv(65536):
                pending += chunk
                while b"\r\n\r\n" in pending:
                    _, pending = pending.split(b"\r\n\r\n", 1)
                    connection.sendall(ANSWER)


if __name__ == "__main__":
    serve(int(sys.argv[1]))
