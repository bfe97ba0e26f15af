"""The db service's internal API: flask-restful resources over the write store's use cases."""

from __future__ import annotations

from typing import Any

from flask_restful import Resource

from sportapp_core.adapters.web.requests import load_json, load_query
from sportapp_core.db_schemas import (
    EventPageSchema,
    EventQuerySchema,
    RecordRequestSchema,
    RecordResponseSchema,
)
from sportapp_core.schemas import PageQuerySchema, UserPageSchema, UserSchema
from sportapp_core.services import get_user, list_users
from sportapp_core.services.feed import read_feed
from sportapp_db.bootstrap import Services

# Built once: building a schema costs more than loading one body with it.
_RECORD_REQUEST = RecordRequestSchema()
_RECORD_RESPONSE = RecordResponseSchema()
_PAGE_QUERY = PageQuerySchema()
_USER_PAGE = UserPageSchema()
_USER = UserSchema()
_EVENT_QUERY = EventQuerySchema()
_EVENT_PAGE = EventPageSchema()


class _ServiceResource(Resource):  # type: ignore[misc]
    def __init__(self, services: Services) -> None:
        self.services = services


class UserList(_ServiceResource):
    """``POST /user-db/users`` records a registration; ``GET`` lists users by keyset pages."""

    def post(self) -> tuple[dict[str, Any], int, dict[str, str]]:
        body = load_json(_RECORD_REQUEST)
        recorded = self.services.registrations.record(body["new_user"], body["idempotency_key"])
        payload = _RECORD_RESPONSE.dump(recorded)
        status = 200 if recorded.replayed else 201
        return payload, status, {"Location": f"/user-db/users/{recorded.user.id}"}

    def get(self) -> dict[str, Any]:
        query = load_query(_PAGE_QUERY)
        page = list_users(self.services.uow_factory, after=query["after"], limit=query["limit"])
        return dict(_USER_PAGE.dump(page))


class User(_ServiceResource):
    """``GET /user-db/users/<id>``."""

    def get(self, user_id: int) -> dict[str, Any]:
        return dict(_USER.dump(get_user(user_id, self.services.uow_factory)))


class Events(_ServiceResource):
    """``GET /user-db/events?after=N&limit=M&wait=S``: the outbox as an ordered, resumable feed."""

    def get(self) -> dict[str, Any]:
        query = load_query(_EVENT_QUERY)
        batch = read_feed(
            self.services.uow_factory,
            after=query["after"],
            limit=query["limit"],
            wait_s=query["wait"],
            signal=self.services.new_events,
        )
        return dict(_EVENT_PAGE.dump(batch))
