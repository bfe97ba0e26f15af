"""The client for calls between services, against a real TCP server on 127.0.0.1 that answers as
each test scripts it: framing, keep-alive, streams, and every way of getting no answer."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from sportapp_core.adapters.http.session import REFUSED, ServiceClient, ServiceUnreachable
from sportapp_core.adapters.request_context import current_request_id

pytestmark = pytest.mark.integration

Handler = Callable[[socket.socket, "ScriptedServer"], None]


class ScriptedServer:
    """Accepts connections and hands each to ``handler`` in a thread of its own."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.requests: list[bytes] = []
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def read_request(self, conn: socket.socket) -> bytes | None:
        """One request (head, and a body by its Content-Length); None once the client closed."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(body) < length:
            body += conn.recv(65536)
        self.requests.append(head + b"\r\n\r\n" + body)
        return head + b"\r\n\r\n" + body

    def close(self) -> None:
        self.listener.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            self.handler(conn, self)


def answer(status: str, body: bytes, *headers: str) -> bytes:
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def echo_forever(conn: socket.socket, server: ScriptedServer) -> None:
    """Keep-alive: answer every request on the connection with what was asked."""
    while (request := server.read_request(conn)) is not None:
        conn.sendall(answer("200 OK", json.dumps({"request": request.decode()}).encode(), "X-Generation: 7"))


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def start(handler: Handler) -> ScriptedServer:
        server = ScriptedServer(handler)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def test_keeps_one_connection_alive_for_calls_one_after_another(
    serve: Callable[[Handler], ScriptedServer],
) -> None:
    server = serve(echo_forever)
    client = ServiceClient(server.url)

    answers = [client.request("GET", "/ping", params={"nonce": n}, read_timeout_s=2) for n in "abc"]

    assert [a.status for a in answers] == [200, 200, 200]
    assert server.connections == 1
    assert "GET /ping?nonce=c HTTP/1.1" in answers[2].json()["request"]
    client.close()


def test_sends_json_with_its_length_and_passes_the_request_id_on(
    serve: Callable[[Handler], ScriptedServer],
) -> None:
    server = serve(echo_forever)
    client = ServiceClient(server.url)
    token = current_request_id.set("req-42")
    try:
        response = client.request("POST", "/users", json_body={"correo": "ana@example.com"}, read_timeout_s=2)
    finally:
        current_request_id.reset(token)

    seen = response.json()["request"]
    assert seen.endswith('\r\n\r\n{"correo":"ana@example.com"}')
    assert "Content-Length: 28\r\n" in seen
    assert "Content-Type: application/json\r\n" in seen
    assert "X-Request-Id: req-42\r\n" in seen
    # Header names are matched whatever their case.
    assert response.headers["x-generation"] == "7"
    assert response.headers.get("X-GENERATION") == "7"
    client.close()


def test_a_connection_the_service_closed_while_idle_is_not_used_again(
    serve: Callable[[Handler], ScriptedServer],
) -> None:
    def one_answer_then_close(conn: socket.socket, server: ScriptedServer) -> None:
        server.read_request(conn)
        conn.sendall(answer("200 OK", b"{}"))
        time.sleep(0.05)  # the answer reaches the client before the close does

    server = serve(one_answer_then_close)
    client = ServiceClient(server.url)

    client.request("GET", "/a", read_timeout_s=2)
    time.sleep(0.2)  # the close reaches the client's idle connection
    second = client.request("GET", "/b", read_timeout_s=2)

    assert second.status == 200
    assert server.connections == 2
    client.close()


def test_an_answer_that_says_connection_close_is_not_kept(serve: Callable[[Handler], ScriptedServer]) -> None:
    def close_after_answer(conn: socket.socket, server: ScriptedServer) -> None:
        server.read_request(conn)
        conn.sendall(answer("503 Service Unavailable", b'{"title": "busy"}', "Connection: close"))

    server = serve(close_after_answer)
    client = ServiceClient(server.url)

    first = client.request("GET", "/a", read_timeout_s=2)
    second = client.request("GET", "/b", read_timeout_s=2)

    assert (first.status, second.status) == (503, 503)
    assert first.json() == {"title": "busy"}
    assert server.connections == 2
    client.close()


def test_a_refused_connection_is_never_sent() -> None:
    with socket.create_server(("127.0.0.1", 0)) as placeholder:
        port = placeholder.getsockname()[1]
    client = ServiceClient(f"http://127.0.0.1:{port}")

    with pytest.raises(ServiceUnreachable) as raised:
        client.request("POST", "/users", json_body={}, read_timeout_s=1)

    assert raised.value.reason == REFUSED
    assert raised.value.never_sent


def test_no_answer_within_the_read_timeout_is_a_timeout_that_may_have_been_seen(
    serve: Callable[[Handler], ScriptedServer],
) -> None:
    release = threading.Event()

    def read_and_hang(conn: socket.socket, server: ScriptedServer) -> None:
        server.read_request(conn)
        release.wait(5)

    server = serve(read_and_hang)
    client = ServiceClient(server.url)
    started = time.monotonic()
    try:
        with pytest.raises(ServiceUnreachable) as raised:
            client.request("POST", "/users", json_body={}, read_timeout_s=0.3)
    finally:
        release.set()

    assert raised.value.reason == "timeout"
    assert not raised.value.never_sent
    assert time.monotonic() - started < 3  # bounded by the timeout, not by the server
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(b"", id="closed-before-answering"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"par", id="cut-in-the-body"),
        pytest.param(b"SSH-2.0-OpenSSH_9.2\r\n\r\n", id="not-http"),
    ],
)
def test_an_answer_cut_short_or_malformed_is_a_lost_connection(
    serve: Callable[[Handler], ScriptedServer], reply: bytes
) -> None:
    def reply_and_close(conn: socket.socket, server: ScriptedServer) -> None:
        server.read_request(conn)
        conn.sendall(reply)

    server = serve(reply_and_close)
    client = ServiceClient(server.url)

    with pytest.raises(ServiceUnreachable) as raised:
        client.request("GET", "/a", read_timeout_s=2)

    assert raised.value.reason == "connection"
    assert not raised.value.never_sent


def test_a_header_with_a_line_break_is_refused_before_anything_is_sent(
    serve: Callable[[Handler], ScriptedServer],
) -> None:
    server = serve(echo_forever)
    client = ServiceClient(server.url)

    with pytest.raises(ValueError, match="line break"):
        client.request("GET", "/a", headers={"X-Note": "a\r\nX-Admin: yes"}, read_timeout_s=1)

    assert server.requests == []
    client.close()


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def test_a_stream_gives_its_lines_as_they_come_then_none(serve: Callable[[Handler], ScriptedServer]) -> None:
    sent_second = threading.Event()
    go_on = threading.Event()

    def ndjson_stream(conn: socket.socket, server: ScriptedServer) -> None:
        server.read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        # One line in two chunks, then a chunk with two lines.
        conn.sendall(chunk(b'{"n": 1') + chunk(b"}\n"))
        go_on.wait(5)
        conn.sendall(chunk(b'{"n": 2}\n{"n": 3}\n'))
        sent_second.set()
        conn.sendall(b"0\r\n\r\n")

    server = serve(ndjson_stream)
    client = ServiceClient(server.url)
    stream = client.open_stream("/events/stream", params={"after": 0}, read_timeout_s=2)

    first = stream.next_line()
    assert not sent_second.is_set()  # read before the rest of the answer was even written
    go_on.set()
    rest = [stream.next_line(), stream.next_line(), stream.next_line()]
    stream.close()

    assert stream.status == 200
    assert first == b'{"n": 1}\n'
    assert rest == [b'{"n": 2}\n', b'{"n": 3}\n', None]
    assert server.requests[0].startswith(b"GET /events/stream?after=0 HTTP/1.1\r\n")


def test_a_stream_with_nothing_within_its_read_timeout_is_a_timeout(
    serve: Callable[[Handler], ScriptedServer],
) -> None:
    release = threading.Event()

    def head_then_silence(conn: socket.socket, server: ScriptedServer) -> None:
        server.read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        release.wait(5)

    server = serve(head_then_silence)
    client = ServiceClient(server.url)
    stream = client.open_stream("/events/stream", read_timeout_s=0.3)
    try:
        with pytest.raises(ServiceUnreachable) as raised:
            stream.next_line()
    finally:
        release.set()
        stream.close()

    assert raised.value.reason == "timeout"


def test_a_stream_refused_with_a_problem_gives_its_body(serve: Callable[[Handler], ScriptedServer]) -> None:
    def refuse(conn: socket.socket, server: ScriptedServer) -> None:
        server.read_request(conn)
        conn.sendall(answer("422 Unprocessable Entity", b'{"detail": "after must be >= 0"}'))

    server = serve(refuse)
    client = ServiceClient(server.url)
    stream = client.open_stream("/events/stream", params={"after": -1}, read_timeout_s=2)

    assert stream.status == 422
    assert json.loads(stream.body()) == {"detail": "after must be >= 0"}
