"""The db service seen from registro: a :class:`RegistrationStore` over its internal HTTP API."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from marshmallow import ValidationError

from sportapp_core.adapters.http.session import ServiceClient, ServiceResponse, ServiceUnreachable
from sportapp_core.adapters.request_context import current_request_arrived
from sportapp_core.db_schemas import USERS_PATH, RecordResponseSchema, record_request
from sportapp_core.domain import DomainError, EmailTaken, IdempotencyKeyReused, NewUser
from sportapp_core.ports import Recorded
from sportapp_core.services.errors import DependencyUnavailable

DEPENDENCY = "db"

# Built once: building a schema costs more than loading one answer with it.
_RECORD_RESPONSE = RecordResponseSchema()


class UnexpectedResponse(RuntimeError):
    """The db service answered something its contract does not allow: a bug, not an outage."""


class _NoAnswer(Exception):
    """db did not answer a call (unreachable, or 5xx); ``never_sent`` if it cannot have seen it."""

    def __init__(self, never_sent: bool) -> None:
        super().__init__("db did not answer")
        self.never_sent = never_sent


class DbServiceRegistrations:
    """Registrations recorded by the db service: one call per registration.

    While db does not answer (it restarts, say), a registration is sent again, with short growing
    pauses, until ``resend_until_s`` after the request arrived (or after the first try, outside a
    request): long enough to outlast a db restart, short enough that the last try ends within the
    gateway's read timeout. Then it is :class:`DependencyUnavailable`, which the API answers with
    503 and Retry-After. Sending again is safe only when db cannot commit it twice: a registration
    with an Idempotency-Key is sent again after any failure (db replays what it committed under
    the key), one without only when it was never sent (the connection was refused), since one
    that timed out may have been committed and would come back as "address taken".
    """

    FIRST_PAUSE_S = 0.05
    # A refused connection costs nothing, and a db restart under load keeps db away 1.5-2.5 s:
    # every waiting registration is sent again within 0.2 s of db's return, not 0.4.
    MAX_PAUSE_S = 0.2

    def __init__(
        self,
        client: ServiceClient,
        *,
        read_timeout_s: float = 6.0,
        resend_until_s: float = 0.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        # The read timeout outlasts the store's 5 s busy_timeout, so a slow commit is not cut short.
        self._read_timeout_s = read_timeout_s
        self._resend_until_s = resend_until_s
        self._monotonic = monotonic
        self._sleep = sleep

    def record(self, new_user: NewUser, key: str | None) -> Recorded:
        """Record ``new_user`` and its event at the db service, in one transaction there."""
        body = record_request(new_user, key)
        arrived = current_request_arrived.get()
        deadline = (self._monotonic() if arrived is None else arrived) + self._resend_until_s
        pause_s = self.FIRST_PAUSE_S
        while True:
            try:
                response = self._send("POST", USERS_PATH, json_body=body)
                break
            except _NoAnswer as no_answer:
                may_resend = key is not None or no_answer.never_sent
                if not may_resend or self._monotonic() + pause_s >= deadline:
                    raise DependencyUnavailable(DEPENDENCY) from None
            self._sleep(pause_s)
            pause_s = min(pause_s * 2, self.MAX_PAUSE_S)
        try:
            loaded = _RECORD_RESPONSE.load(response.json())
        except (ValueError, ValidationError) as error:
            raise UnexpectedResponse(f"db answered a malformed registration: {error}") from None
        return Recorded(loaded["user"], replayed=bool(loaded["replayed"]))

    def ping(self) -> dict[str, float]:
        """Health check: the db service echoes a ping (no store access)."""
        try:
            self._send("GET", "/ping", params={"nonce": "registro-health"}, read_timeout_s=1.0)
        except _NoAnswer:
            raise DependencyUnavailable(DEPENDENCY) from None
        return {}

    def _send(
        self, method: str, path: str, *, read_timeout_s: float | None = None, **kwargs: Any
    ) -> ServiceResponse:
        try:
            response = self._client.request(
                method, path, read_timeout_s=read_timeout_s or self._read_timeout_s, **kwargs
            )
        except ServiceUnreachable as error:
            raise _NoAnswer(never_sent=error.never_sent) from None
        if response.status >= 500:
            raise _NoAnswer(never_sent=False)
        if response.status >= 400:
            raise _domain_error(response)
        return response


_PROBLEMS: dict[str, Callable[[], DomainError]] = {
    EmailTaken.code: EmailTaken,
    IdempotencyKeyReused.code: IdempotencyKeyReused,
}


def _domain_error(response: ServiceResponse) -> Exception:
    try:
        problem = response.json()
    except ValueError:
        problem = {}
    if not isinstance(problem, dict):
        problem = {}
    code = str(problem.get("type", "")).rsplit("/", 1)[-1]
    if code in _PROBLEMS:
        return _PROBLEMS[code]()
    detail = str(problem.get("detail", response.body[:200].decode(errors="replace")))
    return UnexpectedResponse(f"db answered {response.status} {code or ''}: {detail}")
