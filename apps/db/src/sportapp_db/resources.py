"""The db service's internal API: flask-restful resources over the write store's use cases."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

from flask import Response
from flask_restful import Resource

from sportapp_core.adapters.web.requests import load_json, load_query
from sportapp_core.db_schemas import (
    EventPageSchema,
    EventQuerySchema,
    EventStreamQuerySchema,
    RecordRequestSchema,
    RecordResponseSchema,
)
from sportapp_core.ports import FeedBatch
from sportapp_core.schemas import PageQuerySchema, UserPageSchema, UserSchema
from sportapp_core.services import get_user, list_users
from sportapp_core.services.errors import DependencyUnavailable
from sportapp_core.services.feed import follow_feed, read_feed
from sportapp_db.bootstrap import DbComponents

# Built once: building a schema costs more than loading one body with it.
_RECORD_REQUEST = RecordRequestSchema()
_RECORD_RESPONSE = RecordResponseSchema()
_PAGE_QUERY = PageQuerySchema()
_USER_PAGE = UserPageSchema()
_USER = UserSchema()
_EVENT_QUERY = EventQuerySchema()
_EVENT_STREAM_QUERY = EventStreamQuerySchema()
_EVENT_PAGE = EventPageSchema()


class _ServiceResource(Resource):  # type: ignore[misc]
    def __init__(self, services: DbComponents) -> None:
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


logger = logging.getLogger(__name__)


class Events(_ServiceResource):
    """``GET /user-db/events?after=N&limit=M``: a page of the outbox as an ordered, resumable feed."""

    def get(self) -> dict[str, Any]:
        query = load_query(_EVENT_QUERY)
        batch = read_feed(self.services.event_feed, after=query["after"], limit=query["limit"])
        return dict(_EVENT_PAGE.dump(batch))


class EventStream(_ServiceResource):
    """``GET /user-db/events/stream?after=N&limit=M&heartbeat=S``: the feed followed, one batch
    a line (NDJSON, the page's shape) as events commit, an empty one every ``heartbeat`` s
    without any.

    The first batch is read before the answer starts, so a failing store is a 503 like anywhere
    else. A store that fails later ends the stream: its status is sent already, and the reader
    learns of the failure when it opens the stream again.
    """

    def get(self) -> Response:
        query = load_query(_EVENT_STREAM_QUERY)
        batches = follow_feed(
            self.services.event_feed,
            after=query["after"],
            limit=query["limit"],
            heartbeat_s=query["heartbeat"],
            lasts_s=self.services.event_stream_lasts_s,
            gather_s=self.services.event_stream_gather_s,
            signal=self.services.new_events,
        )
        first = next(batches)
        return Response(_lines(first, batches), mimetype="application/x-ndjson")


def _lines(first: FeedBatch, rest: Iterator[FeedBatch]) -> Iterator[bytes]:
    yield _line(first)
    try:
        for batch in rest:
            yield _line(batch)
    except DependencyUnavailable as error:
        logger.warning("event stream ended: %s unavailable", error.dependency)


def _line(batch: FeedBatch) -> bytes:
    return json.dumps(_EVENT_PAGE.dump(batch), separators=(",", ":")).encode() + b"\n"
