"""Users and their passwords."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sportapp_core.domain.email import EmailAddress
from sportapp_core.domain.errors import InvalidPassword

# Ids and feed positions are signed 64-bit integers in every store (SQLite INTEGER, PostgreSQL
# BIGINT): a larger number names nothing, and a driver refuses to even bind it.
MAX_ID = 2**63 - 1


class Password:
    """A plaintext password that refuses to show itself in reprs, logs and tracebacks."""

    __slots__ = ("_secret",)

    def __init__(self, secret: str) -> None:
        self._secret = secret

    def reveal(self) -> str:
        """The plaintext, for the hasher only."""
        return self._secret

    def __len__(self) -> int:
        return len(self._secret)

    def __repr__(self) -> str:
        return "Password('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Password) and other._secret == self._secret

    def __hash__(self) -> int:
        return hash(self._secret)

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("Passwords are not picklable.")


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """Length rules (NIST SP 800-63B): long enough to resist guessing, short enough to hash cheaply.

    A password is any Unicode text: every character counts, and only what UTF-8 cannot encode is refused.
    """

    min_length: int = 8
    max_length: int = 128

    def check(self, password: Password) -> None:
        """Raise :class:`InvalidPassword` if ``password`` breaks the policy."""
        try:
            password.reveal().encode("utf-8")
        except UnicodeEncodeError:
            # JSON can carry a lone surrogate ("\ud800"), which no hasher can turn into bytes.
            raise InvalidPassword("The password must be Unicode text without lone surrogates.") from None
        if len(password) < self.min_length:
            raise InvalidPassword(f"The password must have at least {self.min_length} characters.")
        if len(password) > self.max_length:
            raise InvalidPassword(f"The password must have at most {self.max_length} characters.")


@dataclass(frozen=True, slots=True)
class NewUser:
    """A user about to be stored: validated, password already hashed."""

    email: EmailAddress
    password_hash: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class User:
    """A registered user."""

    id: int
    email: EmailAddress
    password_hash: str = field(repr=False)
    created_at: datetime
