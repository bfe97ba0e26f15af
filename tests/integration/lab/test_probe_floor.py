"""The probe-floor benchmark's instruments against a real bare server process on 127.0.0.1."""

from __future__ import annotations

import json
import sys

from sportapp_core.adapters.http.session import ServiceClient
from sportapp_lab.bench.hello import BODY
from sportapp_lab.bench.probe_floor import cpu_ms_per_request, group_cpu_ms, server
from sportapp_stack.config import free_ports


def test_the_bare_server_answers_kept_alive_requests_with_the_hello() -> None:
    [port] = free_ports(1)
    with server([sys.executable, "-m", "sportapp_lab.bench.bare_server", str(port)], port):
        client = ServiceClient(f"http://127.0.0.1:{port}", pool_size=1)
        try:
            answers = [client.request("GET", "/hello", read_timeout_s=2.0) for _ in range(3)]
        finally:
            client.close()
    assert [answer.status for answer in answers] == [200, 200, 200]
    assert all(answer.body == BODY for answer in answers)
    assert answers[0].json() == json.loads(BODY)


def test_the_cpu_a_server_spends_on_requests_is_read_and_counted_per_request() -> None:
    [port] = free_ports(1)
    with server([sys.executable, "-m", "sportapp_lab.bench.bare_server", str(port)], port) as group:
        before = group_cpu_ms(group)
        per_request = cpu_ms_per_request(group, port, requests=200, rate=200.0, idle_s=0.2)
        spent = group_cpu_ms(group) - before
    assert spent > 0.0, "answering 200 requests took no CPU at all: the clock is not read"
    # What it spent answering, per request, cannot exceed all it spent over the requests.
    assert 0.0 <= per_request <= spent / 200


def test_back_to_back_requests_are_all_answered_and_counted_per_request() -> None:
    [port] = free_ports(1)
    with server([sys.executable, "-m", "sportapp_lab.bench.bare_server", str(port)], port) as group:
        before = group_cpu_ms(group)
        per_request = cpu_ms_per_request(group, port, requests=300, idle_s=0.2)
        spent = group_cpu_ms(group) - before
    assert spent > 0.0
    assert 0.0 <= per_request <= spent / 300
