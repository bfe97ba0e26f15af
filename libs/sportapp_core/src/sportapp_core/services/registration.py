"""The command side's use case: register a user, idempotently. It runs in registro."""

from __future__ import annotations

from dataclasses import dataclass, field

from sportapp_core.domain import EmailAddress, IdempotencyKeyReused, NewUser, Password, User
from sportapp_core.ports import PasswordHasher, RegistrationStore

MAX_IDEMPOTENCY_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class RegisterUser:
    """The command: an address and a password as the edge accepted them, and an optional key.

    The edge (registro's wire schema) parses the address and applies the password policy once;
    from there on both travel as domain values and nothing parses them again.
    """

    email: EmailAddress
    password: Password = field(repr=False)
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class Registration:
    """The outcome: the stored user, and whether this answer replays an earlier one."""

    user: User
    replayed: bool


def register_user(
    command: RegisterUser, *, store: RegistrationStore, hasher: PasswordHasher
) -> Registration:
    """Hash the password, then record the user with one call to the store; replay a known key.

    The store decides everything else in one transaction, by its own constraints: a taken address
    (:class:`EmailTaken`), a key used for another address (:class:`IdempotencyKeyReused`), a key
    that already produced this user (a replay). Two attempts of one keyed request racing on two
    instances both hash; whichever commits second is answered as the first one's replay.
    """
    new_user = NewUser(email=command.email, password_hash=hasher.hash(command.password))
    recorded = store.record(new_user, command.idempotency_key)
    # Same key, same address: it is the same request only if the password is the same too. The
    # stored hash is the one witness of it we keep (a fast hash of the password would be a leak).
    if recorded.replayed and not hasher.verify(recorded.user.password_hash, command.password):
        raise IdempotencyKeyReused()
    return Registration(user=recorded.user, replayed=recorded.replayed)
