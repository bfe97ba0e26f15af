"""Ping/echo and readiness probes over HTTP."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Protocol

from sportapp_core.adapters.http.session import ServiceClient, ServiceUnreachable

# Readiness asks the instance's own dependencies: it may take longer than an echo.
READINESS_TIMEOUT_S = 1.0


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One ping's outcome: an echo (with its latency) or a miss (with its reason)."""

    target: str
    sent_at: float
    echoed: bool
    latency_s: float
    reason: str = ""


class EchoProbe:
    """Sends ``GET /ping?nonce=<random>`` and accepts only the same nonce back in time.

    A TCP accept, or a 200 with another body, is not an echo: the process must have read the
    request and answered it. Connections are kept alive between pings, as NGINX keeps them to the
    same instance: a ping costs the instance a request, not a connection.
    """

    def __init__(self, target: str, base_url: str, timeout_s: float) -> None:
        self.target = target
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._client = ServiceClient(self.base_url, pool_size=4, connect_timeout_s=timeout_s)

    def ping(self) -> ProbeResult:
        """Ping once; never raises."""
        nonce = secrets.token_urlsafe(12)
        sent_at = time.monotonic()
        try:
            response = self._client.request(
                "GET", "/ping", params={"nonce": nonce}, read_timeout_s=self.timeout_s
            )
        except ServiceUnreachable as error:
            return self._miss(sent_at, error.reason)
        except Exception as error:  # a probe reports what went wrong; it never ends the loop
            return self._miss(sent_at, type(error).__name__)
        latency = time.monotonic() - sent_at
        if response.status != 200:
            return self._miss(sent_at, f"status {response.status}")
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or body.get("nonce") != nonce:
            return self._miss(sent_at, "wrong echo")
        return ProbeResult(self.target, sent_at, True, latency)

    def ready(self) -> bool:
        """Whether the target's ``/health`` says it and its dependencies are ready; never raises."""
        try:
            response = self._client.request(
                "GET", "/health", read_timeout_s=max(self.timeout_s, READINESS_TIMEOUT_S)
            )
        except Exception:  # unreachable or broken: not ready, whatever the cause
            return False
        return response.status == 200

    def _miss(self, sent_at: float, reason: str) -> ProbeResult:
        return ProbeResult(self.target, sent_at, False, time.monotonic() - sent_at, reason)


class Probe(Protocol):
    """Pings one target (see :class:`~sportapp_monitor.probes.EchoProbe`)."""

    target: str

    def ping(self) -> ProbeResult:
        """One ping/echo; never raises."""
        ...

    def ready(self) -> bool:
        """Whether the target's readiness check passes."""
        ...
