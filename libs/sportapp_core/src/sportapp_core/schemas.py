"""The public API's wire format (marshmallow 4): registro's command and consulta's queries.

The seed's field names stay on the wire (``correo``, ``clave``); in Python they are ``email`` and
``password``, loaded as domain values (:class:`EmailAddress`, :class:`Password`). Unknown fields
are rejected. Validation errors come back per field, in the wire names. The db service's internal
API has its own format (:mod:`sportapp_core.db_schemas`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from sportapp_core.domain import (
    MAX_ID,
    EmailAddress,
    InvalidEmail,
    InvalidPassword,
    Password,
    PasswordPolicy,
)
from sportapp_core.domain.email import MAX_LENGTH as MAX_EMAIL_LENGTH


class EmailField(fields.Field[EmailAddress]):
    """An address, parsed once here into an :class:`EmailAddress`; invalid ones are field errors."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> EmailAddress:
        try:
            return EmailAddress.parse(value)
        except InvalidEmail as error:
            raise ValidationError(error.detail) from None

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else str(value)


class PasswordField(fields.Field[Password]):
    """A write-only field that loads into :class:`Password` once the policy accepts it, so the
    plaintext never travels bare and the policy is applied once, here."""

    def __init__(self, policy: PasswordPolicy = PasswordPolicy(), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.policy = policy

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> Password:
        if not isinstance(value, str):
            raise ValidationError("Not a valid string.")
        password = Password(value)
        try:
            self.policy.check(password)
        except InvalidPassword as error:
            raise ValidationError(error.detail) from None
        return password

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> None:
        raise ValueError("passwords are never serialised")


class RegistrationSchema(Schema):
    """``POST /user-commands/users/register``'s body, loaded as domain values."""

    class Meta:
        unknown = RAISE

    # The metadata only documents what the domain checks (apispec copies it into the OpenAPI schema).
    email = EmailField(
        data_key="correo",
        required=True,
        metadata={"format": "email", "maxLength": MAX_EMAIL_LENGTH},
    )
    password = PasswordField(
        data_key="clave",
        required=True,
        load_only=True,
        metadata={
            "minLength": PasswordPolicy().min_length,
            "maxLength": PasswordPolicy().max_length,
        },
    )


# The domain's field names as the public API spells them (a domain error names its field).
PUBLIC_FIELD_NAMES: Mapping[str, str] = {
    name: field.data_key or name for name, field in RegistrationSchema().fields.items()
}


def public_field_name(domain_name: str) -> str:
    """``email`` -> ``correo``: what a client sent, for the domain's name of it."""
    return PUBLIC_FIELD_NAMES.get(domain_name, domain_name)


class UserSchema(Schema):
    """A user as the public API shows it: never the password nor its hash."""

    id = fields.Integer(required=True)
    email = fields.String(data_key="correo", required=True)
    created_at = fields.AwareDateTime(required=True)


class UserPageSchema(Schema):
    """A page of users, with the cursor for the next page (``null`` on the last one)."""

    users = fields.List(fields.Nested(UserSchema), required=True)
    total = fields.Integer(required=True)
    next_after = fields.Integer(allow_none=True, required=True)


class PageQuerySchema(Schema):
    """Query parameters of list endpoints."""

    class Meta:
        unknown = RAISE

    after = fields.Integer(load_default=None, validate=validate.Range(min=0, max=MAX_ID))
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class EligibilityQuerySchema(Schema):
    """``GET /user-queries/users/check``'s query string."""

    class Meta:
        unknown = RAISE

    email = fields.String(data_key="correo", required=True)


class EligibilitySchema(Schema):
    """Whether an address can register now, and why not."""

    can_register = fields.Boolean(required=True)
    reason = fields.String(allow_none=True)


def validation_messages(error: ValidationError) -> dict[str, list[str]]:
    """marshmallow's messages flattened to ``{wire field: [messages]}``."""
    messages: dict[str, Any] = error.normalized_messages()  # type: ignore[no-untyped-call]
    flat: dict[str, list[str]] = {}
    for name, value in messages.items():
        if isinstance(value, list):
            flat[str(name)] = [str(item) for item in value]
        else:
            flat[str(name)] = [str(value)]
    return flat
