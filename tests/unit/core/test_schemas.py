"""The wire format: correo/clave on the wire, per-field errors, and the password never going out."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from marshmallow import ValidationError

from sportapp_core.db_schemas import (
    EventQuerySchema,
    EventStreamQuerySchema,
    RecordRequestSchema,
    StoredUserSchema,
    record_request,
)
from sportapp_core.domain import MAX_ID, EmailAddress, NewUser, Password, User
from sportapp_core.schemas import (
    PageQuerySchema,
    RegistrationSchema,
    UserPageSchema,
    UserSchema,
    validation_messages,
)
from tests.fakes import EPOCH

SECRET = "correct-horse-battery"


def messages_of(schema: Any, data: object) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        schema.load(data)
    return validation_messages(caught.value)


def user(user_id: int = 7) -> User:
    return User(
        id=user_id,
        email=EmailAddress.parse("Ana@example.com"),
        password_hash="fake$0123",
        created_at=EPOCH,
    )


def test_registration_body_loads_correo_and_clave_into_domain_values() -> None:
    loaded = RegistrationSchema().load({"correo": "Ana@Example.com", "clave": SECRET})

    assert loaded == {"email": EmailAddress.parse("Ana@Example.com"), "password": Password(SECRET)}
    assert loaded["email"].canonical == "ana@example.com"
    assert isinstance(loaded["password"], Password)


def test_registration_body_parses_the_address_once(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[object] = []
    original = EmailAddress.parse.__func__  # type: ignore[attr-defined]

    def counting(cls: type[EmailAddress], raw: object) -> EmailAddress:
        parsed.append(raw)
        return original(cls, raw)  # type: ignore[no-any-return]

    monkeypatch.setattr(EmailAddress, "parse", classmethod(counting))
    RegistrationSchema().load({"correo": "ana@example.com", "clave": SECRET})

    assert parsed == ["ana@example.com"]


def test_registration_body_with_python_names_is_refused() -> None:
    messages = messages_of(RegistrationSchema(), {"email": "ana@example.com", "password": SECRET})

    assert messages == {
        "correo": ["Missing data for required field."],
        "clave": ["Missing data for required field."],
        "email": ["Unknown field."],
        "password": ["Unknown field."],
    }


def test_unknown_fields_are_refused() -> None:
    messages = messages_of(
        RegistrationSchema(), {"correo": "ana@example.com", "clave": SECRET, "is_admin": True}
    )

    assert messages == {"is_admin": ["Unknown field."]}


def test_each_invalid_field_gets_its_own_message() -> None:
    messages = messages_of(RegistrationSchema(), {"correo": "ana", "clave": "short"})

    assert set(messages) == {"correo", "clave"}
    assert messages["correo"] == ["An email address must have an @-sign."]
    assert messages["clave"] == ["The password must have at least 8 characters."]


@pytest.mark.parametrize("address", ["ana@example.local", "a;b@example.com", "a" * 65 + "@example.com"])
def test_addresses_the_domain_refuses_are_refused_on_the_wire(address: str) -> None:
    assert set(messages_of(RegistrationSchema(), {"correo": address, "clave": SECRET})) == {"correo"}


def test_too_long_password_is_refused() -> None:
    messages = messages_of(RegistrationSchema(), {"correo": "ana@example.com", "clave": "x" * 129})

    assert messages == {"clave": ["The password must have at most 128 characters."]}


def test_a_password_with_a_lone_surrogate_is_refused_on_the_wire() -> None:
    body = json.loads('{"correo": "ana@example.com", "clave": "long enough \\ud800 secret"}')

    assert list(messages_of(RegistrationSchema(), body)) == ["clave"]


@pytest.mark.parametrize("clave", [12345678, None, ["a", "list"], {"an": "object"}])
def test_password_that_is_not_a_string_is_refused(clave: object) -> None:
    messages = messages_of(RegistrationSchema(), {"correo": "ana@example.com", "clave": clave})

    assert list(messages) == ["clave"]


def test_validation_errors_never_repeat_the_password() -> None:
    for secret in ("short", "z" * 129):
        with pytest.raises(ValidationError) as caught:
            RegistrationSchema().load({"correo": "ana", "clave": secret})

        assert secret not in str(caught.value)
        assert secret not in str(validation_messages(caught.value))


def test_password_is_never_dumped() -> None:
    dumped = RegistrationSchema().dump(
        {"email": EmailAddress.parse("ana@example.com"), "password": Password(SECRET)}
    )

    assert dumped == {"correo": "ana@example.com"}


def test_public_user_has_id_correo_and_created_at_only() -> None:
    dumped = UserSchema().dump(user())

    assert dumped == {"id": 7, "correo": "Ana@example.com", "created_at": "2026-01-01T12:00:00+00:00"}


def test_public_user_time_is_given_in_its_zone() -> None:
    madrid = timezone(timedelta(hours=1))
    dumped = UserSchema().dump({"id": 1, "email": "a@example.com", "created_at": EPOCH.astimezone(madrid)})

    assert datetime.fromisoformat(dumped["created_at"]) == EPOCH


def test_user_page_has_users_total_and_next_cursor() -> None:
    dumped = UserPageSchema().dump({"users": [user(1), user(2)], "total": 5, "next_after": 2})

    assert [entry["id"] for entry in dumped["users"]] == [1, 2]
    assert (dumped["total"], dumped["next_after"]) == (5, 2)
    assert "password_hash" not in str(dumped)


def test_last_user_page_has_a_null_cursor() -> None:
    assert UserPageSchema().dump({"users": [], "total": 0, "next_after": None})["next_after"] is None


def test_stored_user_round_trips_with_its_hash_for_the_internal_api() -> None:
    stored = StoredUserSchema().dump(user())

    assert (stored["email"], stored["email_canonical"]) == ("Ana@example.com", "ana@example.com")
    assert StoredUserSchema().load(stored) == user()


def test_stored_user_refuses_a_naive_time() -> None:
    stored = StoredUserSchema().dump(user())
    stored["created_at"] = "2026-01-01T12:00:00"

    assert list(messages_of(StoredUserSchema(), stored)) == ["created_at"]


def test_a_record_request_carries_the_address_in_both_forms_and_loads_without_parsing_it() -> None:
    new_user = NewUser(EmailAddress.parse("Ana@Bücher.de"), "fake$1")

    loaded = RecordRequestSchema().load(record_request(new_user, "k-1"))

    assert loaded == {"new_user": new_user, "idempotency_key": "k-1"}


@pytest.mark.parametrize("field", ["email", "email_canonical"])
def test_a_record_request_without_an_address_in_a_form_is_refused(field: str) -> None:
    body = record_request(NewUser(EmailAddress.parse("ana@example.com"), "fake$1"), None)
    body[field] = "not an address"

    assert list(messages_of(RecordRequestSchema(), body)) == ["email"]


def test_page_query_defaults_to_the_first_page_of_20() -> None:
    assert PageQuerySchema().load({}) == {"after": None, "limit": 20}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"after": "-1"}, "after"),
        ({"after": str(MAX_ID + 1)}, "after"),
        ({"page": "2"}, "page"),
    ],
)
def test_page_query_refuses_values_out_of_range_and_unknown_parameters(
    query: dict[str, str], field: str
) -> None:
    assert list(messages_of(PageQuerySchema(), query)) == [field]


def test_a_cursor_is_at_most_the_largest_id_a_store_holds() -> None:
    assert PageQuerySchema().load({"after": str(MAX_ID)})["after"] == MAX_ID
    assert list(messages_of(EventQuerySchema(), {"after": str(MAX_ID + 1)})) == ["after"]


def test_event_stream_query_bounds_the_heartbeat_and_a_page_has_none() -> None:
    assert EventStreamQuerySchema().load({"heartbeat": "30"})["heartbeat"] == 30.0
    assert list(messages_of(EventStreamQuerySchema(), {"heartbeat": "0"})) == ["heartbeat"]
    assert list(messages_of(EventStreamQuerySchema(), {"heartbeat": "31"})) == ["heartbeat"]
    assert list(messages_of(EventQuerySchema(), {"wait": "1"})) == ["wait"], "no long-poll any more"


def test_validation_messages_flatten_non_list_messages() -> None:
    error = ValidationError({"correo": "Bad.", "clave": ["Too short.", "Too common."]})

    assert validation_messages(error) == {"correo": ["Bad."], "clave": ["Too short.", "Too common."]}
