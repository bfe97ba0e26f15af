"""The db service seen from registro: a :class:`RegistrationStore` over its internal HTTP API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

from sportapp_core.adapters.http.session import ServiceSession
from sportapp_core.domain import (
    DomainError,
    EmailAddress,
    EmailTaken,
    IdempotencyKeyReused,
    InvalidEmail,
    NewUser,
    User,
)
from sportapp_core.schemas import ClaimResponseSchema, RecordResponseSchema
from sportapp_core.services.errors import DependencyUnavailable
from sportapp_core.services.ports import Claim, ClaimState

DEPENDENCY = "db"
# The key goes in the body or the query string, never in the path, where "/" and ".." have meaning.
CLAIM_PATH = "/user-db/idempotency-keys/claim"


class UnexpectedResponse(RuntimeError):
    """The db service answered something its contract does not allow: a bug, not an outage."""


class DbServiceRegistrations:
    """Registrations recorded by the db service.

    Nothing here retries: a registration that timed out may still have been committed, and only
    the caller's Idempotency-Key makes a retry safe. Connection failures, timeouts and 5xx answers
    all become :class:`DependencyUnavailable`, which the API answers with 503 and Retry-After.
    """

    def __init__(
        self,
        base_url: str,
        session: requests.Session | None = None,
        *,
        connect_timeout_s: float = 0.5,
        read_timeout_s: float = 6.0,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._session = session or ServiceSession()
        # The read timeout outlasts the store's 5 s busy_timeout, so a slow commit is not cut short.
        self._timeout = (connect_timeout_s, read_timeout_s)

    def is_registered(self, email: EmailAddress) -> bool:
        """Whether ``email`` is taken, according to the write store."""
        response = self._call("GET", "/user-db/users/lookup", params={"email": email.value})
        return bool(response.json()["registered"])

    def claim(self, key: str, email: EmailAddress, owner: str) -> Claim:
        """Reserve ``key`` at the db service."""
        response = self._call(
            "POST", CLAIM_PATH, json={"key": key, "email": email.value, "owner": owner}
        )
        body = ClaimResponseSchema().load(response.json())
        return Claim(ClaimState(body["state"]), _user(body["user"]) if body["user"] else None)

    def release(self, key: str, owner: str) -> None:
        """Drop ``owner``'s unfinished claim on ``key``."""
        self._call("DELETE", CLAIM_PATH, params={"key": key, "owner": owner})

    def record(self, new_user: NewUser, key: str | None, owner: str) -> tuple[User, bool]:
        """Record ``new_user`` and its event at the db service, in one transaction there."""
        response = self._call(
            "POST",
            "/user-db/users",
            json={
                "email": new_user.email.value,
                "password_hash": new_user.password_hash,
                "idempotency_key": key,
                "owner": owner,
            },
        )
        body = RecordResponseSchema().load(response.json())
        return _user(body["user"]), bool(body["replayed"])

    def ping(self) -> dict[str, float]:
        """Health check: the db service echoes a ping (no store access)."""
        response = self._call("GET", "/ping", params={"nonce": "registro-health"}, read_timeout_s=1.0)
        return {"latency_ms": round(response.elapsed.total_seconds() * 1000, 2)}

    def _call(
        self, method: str, path: str, *, read_timeout_s: float | None = None, **kwargs: Any
    ) -> requests.Response:
        timeout = (self._timeout[0], read_timeout_s or self._timeout[1])
        try:
            response = self._session.request(method, self._base_url + path, timeout=timeout, **kwargs)
        except requests.RequestException as error:
            raise DependencyUnavailable(DEPENDENCY) from error
        if response.status_code >= 500:
            raise DependencyUnavailable(DEPENDENCY)
        if response.status_code >= 400:
            raise _domain_error(response)
        return response


_PROBLEMS: dict[str, Callable[[], DomainError]] = {
    EmailTaken.code: EmailTaken,
    IdempotencyKeyReused.code: IdempotencyKeyReused,
}


def _domain_error(response: requests.Response) -> Exception:
    try:
        problem = response.json()
    except ValueError:
        problem = {}
    if not isinstance(problem, dict):
        problem = {}
    code = str(problem.get("type", "")).rsplit("/", 1)[-1]
    detail = str(problem.get("detail", response.text[:200]))
    if code in _PROBLEMS:
        return _PROBLEMS[code]()
    if code == "validation-failed" and "email" in problem.get("errors", {}):
        return InvalidEmail(detail)
    return UnexpectedResponse(f"db answered {response.status_code} {code or ''}: {detail}")


def _user(data: dict[str, Any]) -> User:
    return User(
        id=data["id"],
        email=data["email"],
        email_canonical=data["email_canonical"],
        password_hash=data["password_hash"],
        created_at=data["created_at"],
    )
