"""Use cases that only read: get a user, list users, and the "can this address register?" check."""

from __future__ import annotations

from dataclasses import dataclass

from sportapp_core.domain import EmailAddress, InvalidEmail, User, UserNotFound
from sportapp_core.ports import EmailRegistry, Page, UnitOfWorkFactory

MAX_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class Eligibility:
    """Whether an address may register now, and why not."""

    can_register: bool
    reason: str | None = None


def get_user(user_id: int, uow_factory: UnitOfWorkFactory) -> User:
    """The user with ``user_id``; raise :class:`UserNotFound` if there is none."""
    with uow_factory() as uow:
        user = uow.users.get(user_id)
    if user is None:
        raise UserNotFound(user_id)
    return user


def list_users(uow_factory: UnitOfWorkFactory, *, after: int | None = None, limit: int = 20) -> Page:
    """A page of users in id order after the cursor ``after``."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    with uow_factory() as uow:
        users = list(uow.users.list(after=after, limit=limit + 1))
        total = uow.users.count()
    has_more = len(users) > limit
    users = users[:limit]
    return Page(users=users, total=total, next_after=users[-1].id if has_more else None)


def can_register(raw_email: object, registry: EmailRegistry) -> Eligibility:
    """Whether ``raw_email`` is a valid address that nobody has registered yet."""
    try:
        email = EmailAddress.parse(raw_email)
    except InvalidEmail as error:
        return Eligibility(can_register=False, reason=error.detail)
    if registry.is_registered(email):
        return Eligibility(can_register=False, reason="This e-mail address is already registered.")
    return Eligibility(can_register=True)
