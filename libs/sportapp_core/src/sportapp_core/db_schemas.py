"""The db service's internal API (marshmallow 4): between registro or consulta and db, never public.

The gateway never routes to it (``/user-db`` is closed there). registro parsed the address at the
public edge and sends both its forms, so db does not parse it again: it checks only their shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate

from sportapp_core.domain import MAX_ID, EmailAddress, NewUser, User
from sportapp_core.domain.email import MAX_LENGTH as MAX_EMAIL_LENGTH

USERS_PATH = "/user-db/users"
EVENTS_PATH = "/user-db/events"
EVENT_STREAM_PATH = "/user-db/events/stream"

_ADDRESS = validate.Length(min=3, max=MAX_EMAIL_LENGTH)


class StoredUserSchema(Schema):
    """A user as the db service hands it to registro, hash included (registro verifies replays).

    Dumped from a :class:`User` and loaded into one: the address travels in both its forms, as
    stored, and comes back an :class:`EmailAddress` without being parsed again.
    """

    id = fields.Integer(required=True)
    email = fields.Function(lambda user: user.email.value, deserialize=str, required=True)
    email_canonical = fields.Function(lambda user: user.email.canonical, deserialize=str, required=True)
    password_hash = fields.String(required=True)
    created_at = fields.AwareDateTime(required=True)

    @post_load
    def _user(self, data: Mapping[str, Any], **_kwargs: Any) -> User:
        return User(
            id=data["id"],
            email=EmailAddress(value=data["email"], canonical=data["email_canonical"]),
            password_hash=data["password_hash"],
            created_at=data["created_at"],
        )


class RecordRequestSchema(Schema):
    """Record a registration whose address is parsed and whose password is hashed: a new user."""

    class Meta:
        unknown = RAISE

    email = fields.String(required=True, validate=_ADDRESS)
    email_canonical = fields.String(required=True, validate=_ADDRESS)
    password_hash = fields.String(required=True, validate=validate.Length(min=1, max=255))
    idempotency_key = fields.String(
        allow_none=True, load_default=None, validate=validate.Length(min=1, max=255)
    )

    @post_load
    def _new_user(self, data: Mapping[str, Any], **_kwargs: Any) -> dict[str, Any]:
        if "@" not in data["email"] or "@" not in data["email_canonical"]:
            raise ValidationError("Not an address in normal form.", "email")
        email = EmailAddress(value=data["email"], canonical=data["email_canonical"])
        return {
            "new_user": NewUser(email=email, password_hash=data["password_hash"]),
            "idempotency_key": data["idempotency_key"],
        }


def record_request(new_user: NewUser, key: str | None) -> dict[str, Any]:
    """The body of a record request for ``new_user`` under ``key``."""
    return {
        "email": new_user.email.value,
        "email_canonical": new_user.email.canonical,
        "password_hash": new_user.password_hash,
        "idempotency_key": key,
    }


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
    """``GET /user-db/events``: a page of the feed, after a position, at most ``limit`` events."""

    class Meta:
        unknown = RAISE

    after = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_ID))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class EventStreamQuerySchema(EventQuerySchema):
    """``GET /user-db/events/stream``: the feed followed, with an empty batch every ``heartbeat`` s
    without events (how each side tells a quiet feed from a dead peer)."""

    heartbeat = fields.Float(load_default=5.0, validate=validate.Range(min=0.1, max=30.0))
