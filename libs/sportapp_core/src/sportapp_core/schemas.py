"""The wire format, shared by the apps (marshmallow 4).

The seed's field names stay on the wire (``correo``, ``clave``); in Python they are ``email`` and
``password``. Unknown fields are rejected. Validation errors come back per field, in the wire names.
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


class PasswordField(fields.Field[Password]):
    """A write-only field that loads into :class:`Password`, so the plaintext never travels bare."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> Password:
        if not isinstance(value, str):
            raise ValidationError("Not a valid string.")
        return Password(value)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> None:
        raise ValueError("passwords are never serialised")


def _valid_email(value: str) -> None:
    try:
        EmailAddress.parse(value)
    except InvalidEmail as error:
        raise ValidationError(error.detail) from None


def _valid_password(value: Password) -> None:
    try:
        PasswordPolicy().check(value)
    except InvalidPassword as error:
        raise ValidationError(error.detail) from None


class RegistrationSchema(Schema):
    """``POST /user-commands/users/register``'s body."""

    class Meta:
        unknown = RAISE

    # The metadata only documents what the domain checks (apispec copies it into the OpenAPI schema).
    email = fields.String(
        data_key="correo",
        required=True,
        validate=_valid_email,
        metadata={"format": "email", "maxLength": MAX_EMAIL_LENGTH},
    )
    password = PasswordField(
        data_key="clave",
        required=True,
        load_only=True,
        validate=_valid_password,
        metadata={
            "minLength": PasswordPolicy().min_length,
            "maxLength": PasswordPolicy().max_length,
        },
    )


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


# --- The db service's internal API (between registro/consulta and db; never behind the gateway) ---


class StoredUserSchema(Schema):
    """A user as the db service hands it to registro, hash included (registro verifies replays)."""

    id = fields.Integer(required=True)
    email = fields.String(required=True)
    email_canonical = fields.String(required=True)
    password_hash = fields.String(required=True)
    created_at = fields.AwareDateTime(required=True)


class ClaimRequestSchema(Schema):
    """Claim an Idempotency-Key for an address, on behalf of an instance.

    The key travels in the body, never in the path: it is the client's opaque text, and a ``/`` or a
    ``..`` in it would change which route a URL names.
    """

    class Meta:
        unknown = RAISE

    key = fields.String(required=True, validate=validate.Length(min=1, max=255))
    email = fields.String(required=True, validate=_valid_email)
    owner = fields.String(required=True, validate=validate.Length(min=1, max=128))


class ClaimReleaseQuerySchema(Schema):
    """Release an unfinished claim: which key, and on behalf of which instance."""

    class Meta:
        unknown = RAISE

    key = fields.String(required=True, validate=validate.Length(min=1, max=255))
    owner = fields.String(required=True, validate=validate.Length(min=1, max=128))


class ClaimResponseSchema(Schema):
    """What became of a claimed key."""

    state = fields.String(required=True)
    user = fields.Nested(StoredUserSchema, allow_none=True, load_default=None)


class RecordRequestSchema(Schema):
    """Record a registration whose password is already hashed."""

    class Meta:
        unknown = RAISE

    email = fields.String(required=True, validate=_valid_email)
    password_hash = fields.String(required=True, validate=validate.Length(min=1, max=255))
    idempotency_key = fields.String(
        allow_none=True, load_default=None, validate=validate.Length(min=1, max=255)
    )
    owner = fields.String(required=True, validate=validate.Length(min=1, max=128))


class RecordResponseSchema(Schema):
    """A recorded registration, and whether it replays an earlier one."""

    user = fields.Nested(StoredUserSchema, required=True)
    replayed = fields.Boolean(required=True)


class EventSchema(Schema):
    """An outbox event on the feed."""

    position = fields.Integer(required=True)
    name = fields.String(required=True)
    payload = fields.Dict(required=True)
    recorded_at = fields.AwareDateTime(required=True)


class EventPageSchema(Schema):
    """A batch of the feed and the newest position at the time of reading."""

    events = fields.List(fields.Nested(EventSchema), required=True)
    head = fields.Integer(required=True)


class EventQuerySchema(Schema):
    """``GET /user-db/events``: after a position, at most ``limit``, waiting up to ``wait`` s."""

    class Meta:
        unknown = RAISE

    after = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_ID))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    wait = fields.Float(load_default=0.0, validate=validate.Range(min=0.0, max=10.0))


class EmailLookupQuerySchema(Schema):
    """``GET /user-db/users/lookup?email=...``."""

    class Meta:
        unknown = RAISE

    email = fields.String(required=True, validate=_valid_email)
