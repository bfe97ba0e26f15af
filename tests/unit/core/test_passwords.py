"""Passwords: the length policy, and the plaintext never showing up where it could leak."""

from __future__ import annotations

import copy
import logging
import pickle
import traceback

import pytest

from sportapp_core.domain import InvalidPassword, NewUser, Password, PasswordPolicy, User
from sportapp_core.domain.email import EmailAddress
from sportapp_core.services import RegisterUser
from tests.fakes import EPOCH

SECRET = "correct-horse-battery"


@pytest.mark.parametrize("length", [8, 9, 64, 127, 128])
def test_passwords_of_8_to_128_characters_are_accepted(length: int) -> None:
    PasswordPolicy().check(Password("x" * length))


@pytest.mark.parametrize("length", [0, 1, 7])
def test_passwords_shorter_than_8_characters_are_rejected(length: int) -> None:
    with pytest.raises(InvalidPassword, match="at least 8") as caught:
        PasswordPolicy().check(Password("x" * length))

    assert caught.value.field == "password"


@pytest.mark.parametrize("length", [129, 10_000])
def test_passwords_longer_than_128_characters_are_rejected(length: int) -> None:
    with pytest.raises(InvalidPassword, match="at most 128"):
        PasswordPolicy().check(Password("x" * length))


def test_length_counts_characters_not_bytes() -> None:
    PasswordPolicy().check(Password("ñ" * 128))  # 256 bytes in UTF-8
    with pytest.raises(InvalidPassword):
        PasswordPolicy().check(Password("ñ" * 7))  # 14 bytes


def test_a_lone_surrogate_is_not_a_password() -> None:
    # JSON may carry a lone surrogate ("\ud800"), which no hasher can encode: refused, not a crash.
    with pytest.raises(InvalidPassword, match="lone surrogates") as caught:
        PasswordPolicy().check(Password("long enough \ud800 secret"))

    assert caught.value.field == "password"


def test_policy_limits_can_be_changed() -> None:
    policy = PasswordPolicy(min_length=12, max_length=16)

    policy.check(Password("x" * 12))
    with pytest.raises(InvalidPassword, match="at least 12"):
        policy.check(Password("x" * 11))
    with pytest.raises(InvalidPassword, match="at most 16"):
        policy.check(Password("x" * 17))


def test_password_hides_itself_in_repr_and_str() -> None:
    password = Password(SECRET)

    assert SECRET not in repr(password)
    assert SECRET not in str(password)
    assert SECRET not in f"{password}"
    assert SECRET not in repr([password, {"clave": password}])


def test_password_reveals_itself_only_when_asked() -> None:
    assert Password(SECRET).reveal() == SECRET


def test_passwords_compare_by_value() -> None:
    assert Password(SECRET) == Password(SECRET)
    assert Password(SECRET) != Password(SECRET + "!")
    assert Password(SECRET) != SECRET
    assert len({Password(SECRET), Password(SECRET)}) == 1


def test_policy_errors_never_contain_the_password() -> None:
    for secret in ("short", "y" * 129):
        with pytest.raises(InvalidPassword) as caught:
            PasswordPolicy().check(Password(secret))

        rendered = "".join(traceback.format_exception(caught.value))
        assert secret not in rendered
        assert secret not in caught.value.detail


def test_passwords_cannot_be_pickled_or_copied_out_of_the_process() -> None:
    with pytest.raises(TypeError, match="not picklable") as caught:
        pickle.dumps(Password(SECRET))
    assert SECRET not in str(caught.value)

    with pytest.raises(TypeError):
        copy.copy(Password(SECRET))


def test_a_password_logged_by_mistake_is_masked(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        logging.getLogger("sportapp.test").info("got %s and %r", Password(SECRET), Password(SECRET))

    assert caplog.messages
    assert SECRET not in caplog.text


def test_a_registration_command_hides_its_password() -> None:
    command = RegisterUser(email="ana@example.com", password=Password(SECRET), idempotency_key="k-1")

    assert SECRET not in repr(command)
    assert "ana@example.com" in repr(command)


def test_users_never_show_their_password_hash() -> None:
    password_hash = "fake$0123456789abcdef"
    user = User(
        id=1,
        email=EmailAddress.parse("ana@example.com"),
        password_hash=password_hash,
        created_at=EPOCH,
    )
    new_user = NewUser(email=EmailAddress.parse("ana@example.com"), password_hash=password_hash)

    assert password_hash not in repr(user)
    assert password_hash not in repr(new_user)
