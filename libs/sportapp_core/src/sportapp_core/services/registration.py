"""The command side's use case: register a user, idempotently."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from sportapp_core.domain import (
    EmailAddress,
    EmailTaken,
    IdempotencyKeyReused,
    NewUser,
    Password,
    PasswordPolicy,
    RegistrationInProgress,
    User,
    UserRegistered,
)
from sportapp_core.services.ports import (
    Claim,
    ClaimState,
    Clock,
    IdempotencyRecord,
    PasswordHasher,
    RegistrationStore,
    UnitOfWorkFactory,
)

logger = logging.getLogger(__name__)

MAX_IDEMPOTENCY_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class RegisterUser:
    """The command: who wants to register, with which password, under which Idempotency-Key."""

    email: str
    password: Password = field(repr=False)
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class Registration:
    """The outcome: the stored user, and whether this answer replays an earlier one."""

    user: User
    replayed: bool


def register_user(
    command: RegisterUser,
    *,
    store: RegistrationStore,
    hasher: PasswordHasher,
    owner: str,
    policy: PasswordPolicy = PasswordPolicy(),
) -> Registration:
    """Validate, check, hash and record a registration; replay it if its key was seen before.

    ``owner`` names the instance doing the work, so that a retry reaching the same instance while
    the first attempt is still running is told so (409) instead of hashing twice.
    """
    email = EmailAddress.parse(command.email)
    policy.check(command.password)
    key = command.idempotency_key
    if key is not None:
        claim = store.claim(key, email, owner)
        if claim.state is ClaimState.MISMATCH:
            raise IdempotencyKeyReused()
        if claim.state is ClaimState.IN_PROGRESS:
            raise RegistrationInProgress()
        if claim.state is ClaimState.COMPLETED:
            assert claim.user is not None
            return _replay(claim.user, command.password, hasher)
    try:
        # Advisory: spares the costly hash for a taken address. The store's unique index decides.
        if store.is_registered(email):
            if key is not None:
                # Taken perhaps by this key's first attempt, committed on another instance since
                # our claim (failover): then this request is its replay, not a conflict.
                late = store.claim(key, email, owner)
                if late.state is ClaimState.COMPLETED:
                    assert late.user is not None
                    return _replay(late.user, command.password, hasher)
            raise EmailTaken()
        new_user = NewUser(email=email, password_hash=hasher.hash(command.password))
        user, replayed = store.record(new_user, key, owner)
    except BaseException:
        if key is not None:
            _release_quietly(store, key, owner)
        raise
    if replayed:
        return _replay(user, command.password, hasher)
    return Registration(user=user, replayed=False)


def _replay(user: User, password: Password, hasher: PasswordHasher) -> Registration:
    # Same key, same address: it is the same request only if the password is the same too. The
    # stored hash is the one witness of it we keep (a fast hash of the password would be a leak).
    if not hasher.verify(user.password_hash, password):
        raise IdempotencyKeyReused()
    return Registration(user=user, replayed=True)


def _release_quietly(store: RegistrationStore, key: str, owner: str) -> None:
    # The request failed; its own error is the one to report. An unreleased claim only delays a
    # retry on this instance until it expires.
    with contextlib.suppress(Exception):
        store.release(key, owner)


class WriteStoreRegistrations:
    """The :class:`RegistrationStore` of the service that owns the write store, over a unit of work.

    Idempotency claims: a claim held by *another* instance is taken over rather than refused,
    because a retry only reaches another instance when the gateway or the client gave up on the
    first one (failover). That is safe: :meth:`record` re-checks the key in the same transaction
    that inserts the user, so whichever attempt commits second replays the first one's user.
    """

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        claim_ttl: timedelta = timedelta(seconds=10),
    ) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._claim_ttl = claim_ttl

    def is_registered(self, email: EmailAddress) -> bool:
        """Whether ``email`` is taken."""
        with self._uow_factory() as uow:
            return uow.users.get_by_email(email) is not None

    def claim(self, key: str, email: EmailAddress, owner: str) -> Claim:
        """Reserve ``key`` for ``owner``, or say what became of it."""
        with self._uow_factory(for_writing=True) as uow:
            now = self._clock.now()
            record = uow.idempotency.get(key)
            if record is not None:
                if record.email_canonical != email.canonical:
                    return Claim(ClaimState.MISMATCH)
                if record.user_id is not None:
                    return Claim(ClaimState.COMPLETED, uow.users.get(record.user_id))
                if record.owner == owner and record.expires_at > now:
                    return Claim(ClaimState.IN_PROGRESS)
            uow.idempotency.put(
                IdempotencyRecord(
                    key=key,
                    email_canonical=email.canonical,
                    owner=owner,
                    expires_at=now + self._claim_ttl,
                    user_id=None,
                )
            )
            uow.commit()
            return Claim(ClaimState.CLAIMED)

    def release(self, key: str, owner: str) -> None:
        """Forget ``owner``'s unfinished claim on ``key``."""
        with self._uow_factory(for_writing=True) as uow:
            uow.idempotency.delete(key, owner)
            uow.commit()

    def record(self, new_user: NewUser, key: str | None, owner: str) -> tuple[User, bool]:
        """Insert the user, its ``UserRegistered`` event and the key's result in one transaction."""
        with self._uow_factory(for_writing=True) as uow:
            now = self._clock.now()
            if key is not None:
                record = uow.idempotency.get(key)
                if record is not None and record.user_id is not None:
                    if record.email_canonical != new_user.email.canonical:
                        raise IdempotencyKeyReused()
                    stored = uow.users.get(record.user_id)
                    assert stored is not None, "an idempotency record points at a missing user"
                    return stored, True
            user = uow.users.add(new_user, created_at=now)
            uow.outbox.append(
                UserRegistered(
                    user_id=user.id,
                    email=user.email,
                    email_canonical=user.email_canonical,
                    registered_at=user.created_at,
                ),
                recorded_at=now,
            )
            if key is not None:
                uow.idempotency.put(
                    IdempotencyRecord(
                        key=key,
                        email_canonical=user.email_canonical,
                        owner=owner,
                        expires_at=now,
                        user_id=user.id,
                    )
                )
            uow.commit()
            logger.info("user registered", extra={"user_id": user.id})
            return user, False
