"""Ping/echo and readiness probes over HTTP."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import requests

from sportapp_core.adapters.http.session import ServiceSession


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
    request and answered it.
    """

    def __init__(self, target: str, base_url: str, timeout_s: float) -> None:
        self.target = target
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._session = ServiceSession(pool_size=4)

    def ping(self) -> ProbeResult:
        """Ping once; never raises."""
        nonce = secrets.token_urlsafe(12)
        sent_at = time.monotonic()
        try:
            response = self._session.get(
                f"{self.base_url}/ping", params={"nonce": nonce}, timeout=self.timeout_s
            )
        except requests.Timeout:
            return self._miss(sent_at, "timeout")
        except requests.ConnectionError:
            return self._miss(sent_at, "connection")
        except requests.RequestException as error:
            return self._miss(sent_at, type(error).__name__)
        latency = time.monotonic() - sent_at
        if response.status_code != 200:
            return self._miss(sent_at, f"status {response.status_code}")
        try:
            echoed = response.json().get("nonce")
        except ValueError:
            echoed = None
        if echoed != nonce:
            return self._miss(sent_at, "wrong echo")
        return ProbeResult(self.target, sent_at, True, latency)

    def ready(self) -> bool:
        """Whether the target's ``/health`` says it and its dependencies are ready."""
        try:
            response = self._session.get(f"{self.base_url}/health", timeout=max(self.timeout_s, 1.0))
        except requests.RequestException:
            return False
        return response.status_code == 200

    def _miss(self, sent_at: float, reason: str) -> ProbeResult:
        return ProbeResult(self.target, sent_at, False, time.monotonic() - sent_at, reason)
