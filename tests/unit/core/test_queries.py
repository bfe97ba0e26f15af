"""The read use cases: get a user, list users a page at a time, and can an address register."""

from __future__ import annotations

import pytest

from sportapp_core.domain import EmailAddress, NewUser, User, UserNotFound
from sportapp_core.services import WriteStoreRegistrations, can_register, get_user, list_users
from sportapp_core.services.queries import MAX_PAGE_SIZE
from tests.fakes import FakeClock, FakeEmailRegistry, FakeUnitOfWorkFactory


@pytest.fixture
def uow_factory() -> FakeUnitOfWorkFactory:
    return FakeUnitOfWorkFactory()


@pytest.fixture
def store(uow_factory: FakeUnitOfWorkFactory) -> WriteStoreRegistrations:
    return WriteStoreRegistrations(uow_factory, FakeClock())


def add_users(store: WriteStoreRegistrations, count: int) -> list[User]:
    return [
        store.record(NewUser(EmailAddress.parse(f"user{index}@example.com"), f"fake${index}"), None).user
        for index in range(count)
    ]


def test_get_user_returns_the_stored_user(
    store: WriteStoreRegistrations, uow_factory: FakeUnitOfWorkFactory
) -> None:
    _, second, _ = add_users(store, 3)

    assert get_user(second.id, uow_factory) == second


def test_get_unknown_user_raises_user_not_found(uow_factory: FakeUnitOfWorkFactory) -> None:
    with pytest.raises(UserNotFound) as caught:
        get_user(42, uow_factory)

    assert caught.value.user_id == 42
    assert "42" in caught.value.detail


def test_listing_no_users_gives_an_empty_last_page(uow_factory: FakeUnitOfWorkFactory) -> None:
    page = list_users(uow_factory)

    assert (list(page.users), page.total, page.next_after) == ([], 0, None)


def test_pages_follow_each_other_by_cursor_until_the_last(
    store: WriteStoreRegistrations, uow_factory: FakeUnitOfWorkFactory
) -> None:
    users = add_users(store, 5)

    first = list_users(uow_factory, limit=2)
    second = list_users(uow_factory, after=first.next_after, limit=2)
    last = list_users(uow_factory, after=second.next_after, limit=2)

    assert [list(page.users) for page in (first, second, last)] == [users[0:2], users[2:4], users[4:]]
    assert (first.next_after, second.next_after, last.next_after) == (users[1].id, users[3].id, None)
    assert {page.total for page in (first, second, last)} == {5}


def test_page_that_ends_exactly_at_the_last_user_has_no_next_cursor(
    store: WriteStoreRegistrations, uow_factory: FakeUnitOfWorkFactory
) -> None:
    users = add_users(store, 4)

    page = list_users(uow_factory, limit=4)

    assert list(page.users) == users
    assert page.next_after is None


def test_cursor_past_the_last_user_gives_an_empty_page_with_the_total(
    store: WriteStoreRegistrations, uow_factory: FakeUnitOfWorkFactory
) -> None:
    users = add_users(store, 3)

    page = list_users(uow_factory, after=users[-1].id)

    assert (list(page.users), page.total, page.next_after) == ([], 3, None)


@pytest.mark.parametrize(("asked", "served"), [(0, 1), (-5, 1), (1, 1), (MAX_PAGE_SIZE + 1, MAX_PAGE_SIZE)])
def test_page_size_is_clamped_between_1_and_the_maximum(
    store: WriteStoreRegistrations, uow_factory: FakeUnitOfWorkFactory, asked: int, served: int
) -> None:
    add_users(store, MAX_PAGE_SIZE + 5)

    page = list_users(uow_factory, limit=asked)

    assert len(page.users) == served
    assert page.next_after == page.users[-1].id


def test_free_valid_address_can_register() -> None:
    eligibility = can_register("ana@example.com", FakeEmailRegistry("bea@example.com"))

    assert (eligibility.can_register, eligibility.reason) == (True, None)


def test_taken_address_in_other_case_cannot_register() -> None:
    eligibility = can_register("USER0@Example.com", FakeEmailRegistry("user0@example.com"))

    assert eligibility.can_register is False
    assert eligibility.reason == "This e-mail address is already registered."


@pytest.mark.parametrize("raw", ["not-an-address", "ana@example.local", "", None])
def test_invalid_address_cannot_register_and_says_why(raw: object) -> None:
    eligibility = can_register(raw, FakeEmailRegistry())

    assert eligibility.can_register is False
    assert eligibility.reason
