"""Admission control by predicted wait: a request the service cannot answer in time is refused now."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable
from typing import Any

from sportapp_core.adapters.web.observability import EXPECTED_IN_BULK
from sportapp_core.adapters.web.problems import problem_from_exception, problem_response
from sportapp_core.adapters.work_slots import WorkSlots
from sportapp_core.services.errors import Overloaded

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class WaitAdmission:
    """Admits a request only if the wait it is predicted to have for ``slots`` fits ``budget_s``.

    Every admitted request will hold one of ``slots`` (registro: a password hash); with ``n``
    admitted requests before it that have not had their slot yet, a newcomer waits until
    ``n - slots + 1`` of them have finished, at the rate the slots have been finishing jobs lately
    (:meth:`WorkSlots.predicted_wait_s`). Requests past their slot (registro: hashed, waiting for
    db, which may be restarting) hold a thread but delay no newcomer, so they are not counted
    ahead: a db restart fills registro with requests waiting for it, and counting those would
    refuse new ones for a queue that is not there. Nothing is admitted that would wait longer
    than the budget, which stays well inside the gateway's read timeout: a busy instance answers
    late by at most the budget and refuses the rest at once, so the gateway never times a live
    instance out (and never re-sends a registration to the standby for being slow).
    ``max_admitted`` bounds every admitted request, past its slot or not, and keeps threads free
    for pings and health checks.

    One request is one thread from admission to :meth:`finished` (gunicorn's threads): which
    request a finished job belonged to is known from the thread it ran in.
    """

    def __init__(self, slots: WorkSlots, *, budget_s: float, max_admitted: int) -> None:
        if budget_s < 0 or max_admitted < 1:
            raise ValueError("the budget cannot be negative, and one request at least is admitted")
        self.slots = slots
        self.budget_s = budget_s
        self.max_admitted = max_admitted
        self._admitted = 0
        # Of the admitted requests, those whose job in the slots is done.
        self._past_slots = 0
        self.refused = 0
        self._lock = threading.Lock()
        self._request = threading.local()
        slots.when_job_done(self._job_done)

    @property
    def admitted(self) -> int:
        """How many admitted requests are not finished yet."""
        return self._admitted

    @property
    def waiting_for_slots(self) -> int:
        """How many admitted requests have not had their job in the slots yet."""
        return self._admitted - self._past_slots

    def try_admit(self) -> float | None:
        """Admit one request (None), or refuse it: how long until a retry could be admitted."""
        with self._lock:
            wait_s = self.slots.predicted_wait_s(self.waiting_for_slots)
            if wait_s <= self.budget_s and self._admitted < self.max_admitted:
                self._admitted += 1
                self._request.admitted, self._request.past_slots = True, False
                return None
            self.refused += 1
        # By the time the queue has drained that much, there is room again.
        return max(wait_s - self.budget_s, self.slots.interval_s)

    def finished(self) -> None:
        """An admitted request is done (called in its thread)."""
        with self._lock:
            self._admitted -= 1
            if getattr(self._request, "past_slots", False):
                self._past_slots -= 1
        self._request.admitted, self._request.past_slots = False, False

    def _job_done(self) -> None:
        # Only an admitted request's first job moves it past the slots (the hasher's warm-up hash
        # at start runs in no request).
        request = self._request
        if getattr(request, "admitted", False) and not request.past_slots:
            request.past_slots = True
            with self._lock:
                self._past_slots += 1


class AdmissionGate:
    """WSGI middleware: ``method path`` requests pass :class:`WaitAdmission` before the app.

    A refusal is the one error model's 503 (problem+json, ``Retry-After``), answered here in
    microseconds, before the framework parses anything: under a flood most requests are
    refusals, and each one costs CPU the admitted ones need.
    """

    def __init__(self, app: WsgiApp, admission: WaitAdmission, *, method: str, path: str) -> None:
        self._app = app
        self._admission = admission
        self._method = method
        self._path = path

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != self._path or environ.get("REQUEST_METHOD") != self._method:
            return self._app(environ, start_response)
        retry_after_s = self._admission.try_admit()
        if retry_after_s is not None:
            # Under a flood most requests are refused: counted by the admission, not logged one by one.
            environ[EXPECTED_IN_BULK] = True
            refusal = problem_response(
                problem_from_exception(Overloaded(retry_after_s=max(1, math.ceil(retry_after_s))))
            )
            return refusal(environ, start_response)
        try:
            # The app's answer is whole when it returns (no streaming): the slot frees here.
            return self._app(environ, start_response)
        finally:
            self._admission.finished()
