"""The db service's internal API: flask-restful resources over the write store's use cases."""

from __future__ import annotations

from typing import Any

from flask_restful import Resource

from sportapp_core.adapters.web.requests import load_json, load_query
from sportapp_core.domain import EmailAddress, NewUser
from sportapp_core.schemas import (
    ClaimReleaseQuerySchema,
    ClaimRequestSchema,
    ClaimResponseSchema,
    EmailLookupQuerySchema,
    EventPageSchema,
    EventQuerySchema,
    PageQuerySchema,
    RecordRequestSchema,
    RecordResponseSchema,
    UserPageSchema,
    UserSchema,
)
from sportapp_core.services import get_user, list_users
from sportapp_core.services.feed import read_feed
from sportapp_db.bootstrap import Services


class _ServiceResource(Resource):  # type: ignore[misc]
    def __init__(self, services: Services) -> None:
        self.services = services


class IdempotencyKeyClaim(_ServiceResource):
    """``POST /user-db/idempotency-keys/claim`` reserves a key before hashing;
    ``DELETE ...?key=K&owner=X`` releases an unfinished claim."""

    def post(self) -> dict[str, Any]:
        body = load_json(ClaimRequestSchema())
        claim = self.services.registrations.claim(
            body["key"], EmailAddress.parse(body["email"]), body["owner"]
        )
        return dict(ClaimResponseSchema().dump({"state": claim.state.value, "user": claim.user}))

    def delete(self) -> tuple[str, int]:
        query = load_query(ClaimReleaseQuerySchema())
        self.services.registrations.release(query["key"], query["owner"])
        return "", 204


class UserList(_ServiceResource):
    """``POST /user-db/users`` records a registration; ``GET`` lists users by keyset pages."""

    def post(self) -> tuple[dict[str, Any], int, dict[str, str]]:
        body = load_json(RecordRequestSchema())
        new_user = NewUser(
            email=EmailAddress.parse(body["email"]), password_hash=body["password_hash"]
        )
        user, replayed = self.services.registrations.record(
            new_user, body["idempotency_key"], body["owner"]
        )
        payload = RecordResponseSchema().dump({"user": user, "replayed": replayed})
        return payload, 200 if replayed else 201, {"Location": f"/user-db/users/{user.id}"}

    def get(self) -> dict[str, Any]:
        query = load_query(PageQuerySchema())
        page = list_users(self.services.uow_factory, after=query["after"], limit=query["limit"])
        return dict(UserPageSchema().dump(page))


class User(_ServiceResource):
    """``GET /user-db/users/<id>``."""

    def get(self, user_id: int) -> dict[str, Any]:
        return dict(UserSchema().dump(get_user(user_id, self.services.uow_factory)))


class EmailLookup(_ServiceResource):
    """``GET /user-db/users/lookup?email=X``: is the address taken?"""

    def get(self) -> dict[str, bool]:
        query = load_query(EmailLookupQuerySchema())
        email = EmailAddress.parse(query["email"])
        return {"registered": self.services.registrations.is_registered(email)}


class Events(_ServiceResource):
    """``GET /user-db/events?after=N&limit=M&wait=S``: the outbox as an ordered, resumable feed."""

    def get(self) -> dict[str, Any]:
        query = load_query(EventQuerySchema())
        batch = read_feed(
            self.services.uow_factory,
            after=query["after"],
            limit=query["limit"],
            wait_s=query["wait"],
        )
        return dict(EventPageSchema().dump(batch))
