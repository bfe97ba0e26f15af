"""Domain exceptions: what can go wrong with a registration, said in the domain's words.

Each error carries a stable ``code`` that the adapters map to a wire status in exactly one place
(the problem+json module of the apps), and, when one field is at fault, that field's name in the
domain's words (``email``, ``password``): the public API's names for them (the seed's ``correo``
and ``clave``) are the wire format's business. Messages never contain a password.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base class of every error the core raises on purpose."""

    code = "domain-error"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class InvalidEmail(DomainError):
    """The address is not an acceptable e-mail address."""

    code = "invalid-email"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, field="email")


class InvalidPassword(DomainError):
    """The password breaks the length policy (too short to be safe, or too long to hash cheaply)."""

    code = "invalid-password"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, field="password")


class EmailTaken(DomainError):
    """Another user already registered this address (compared in normalised form)."""

    code = "email-taken"

    def __init__(self) -> None:
        super().__init__("This e-mail address is already registered.", field="email")


class IdempotencyKeyReused(DomainError):
    """The same Idempotency-Key came back with a different request body."""

    code = "idempotency-key-reused"

    def __init__(self) -> None:
        super().__init__("This Idempotency-Key was already used with a different request.")


class UserNotFound(DomainError):
    """No user has the requested id."""

    code = "user-not-found"

    def __init__(self, user_id: int) -> None:
        super().__init__(f"No user with id {user_id}.")
        self.user_id = user_id
