"""The db service seen from registro: a :class:`RegistrationStore` over its internal HTTP API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marshmallow import ValidationError

from sportapp_core.adapters.http.session import ServiceClient, ServiceResponse, ServiceUnreachable
from sportapp_core.db_schemas import USERS_PATH, RecordResponseSchema, record_request
from sportapp_core.domain import DomainError, EmailTaken, IdempotencyKeyReused, NewUser, User
from sportapp_core.services.errors import DependencyUnavailable
from sportapp_core.services.ports import Recorded

DEPENDENCY = "db"

# Built once: building a schema costs more than loading one answer with it.
_RECORD_RESPONSE = RecordResponseSchema()


class UnexpectedResponse(RuntimeError):
    """The db service answered something its contract does not allow: a bug, not an outage."""


class DbServiceRegistrations:
    """Registrations recorded by the db service: one call per registration.

    Nothing here retries: a registration that timed out may still have been committed, and only
    the caller's Idempotency-Key makes a retry safe. Connection failures, timeouts and 5xx answers
    all become :class:`DependencyUnavailable`, which the API answers with 503 and Retry-After.
    """

    def __init__(self, client: ServiceClient, *, read_timeout_s: float = 6.0) -> None:
        self._client = client
        # The read timeout outlasts the store's 5 s busy_timeout, so a slow commit is not cut short.
        self._read_timeout_s = read_timeout_s

    def record(self, new_user: NewUser, key: str | None) -> Recorded:
        """Record ``new_user`` and its event at the db service, in one transaction there."""
        response = self._call("POST", USERS_PATH, json_body=record_request(new_user, key))
        try:
            body = _RECORD_RESPONSE.load(response.json())
        except (ValueError, ValidationError) as error:
            raise UnexpectedResponse(f"db answered a malformed registration: {error}") from None
        return Recorded(_user(body["user"]), replayed=bool(body["replayed"]))

    def ping(self) -> dict[str, float]:
        """Health check: the db service echoes a ping (no store access)."""
        self._call("GET", "/ping", params={"nonce": "registro-health"}, read_timeout_s=1.0)
        return {}

    def _call(
        self, method: str, path: str, *, read_timeout_s: float | None = None, **kwargs: Any
    ) -> ServiceResponse:
        try:
            response = self._client.request(
                method, path, read_timeout_s=read_timeout_s or self._read_timeout_s, **kwargs
            )
        except ServiceUnreachable as error:
            raise DependencyUnavailable(DEPENDENCY) from error
        if response.status >= 500:
            raise DependencyUnavailable(DEPENDENCY)
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


def _user(data: dict[str, Any]) -> User:
    return User(
        id=data["id"],
        email=data["email"],
        email_canonical=data["email_canonical"],
        password_hash=data["password_hash"],
        created_at=data["created_at"],
    )
