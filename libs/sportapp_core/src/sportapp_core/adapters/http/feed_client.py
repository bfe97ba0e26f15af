"""The db service's event feed seen from consulta: an :class:`EventSource` over ``GET /user-db/events``."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError

from sportapp_core.adapters.http.db_client import DEPENDENCY, UnexpectedResponse
from sportapp_core.adapters.http.session import ServiceClient, ServiceUnreachable
from sportapp_core.db_schemas import EVENTS_PATH, EventPageSchema
from sportapp_core.services.errors import DependencyUnavailable
from sportapp_core.services.feed import FeedBatch
from sportapp_core.services.ports import StoredEvent

# Built once: building a schema costs more than loading one answer with it.
_EVENT_PAGE = EventPageSchema()


class DbServiceFeed:
    """Long-polls the db service's feed.

    Connection failures, timeouts and 5xx answers become :class:`DependencyUnavailable` for the
    projector to back off and retry; reading is side-effect free, so every retry is safe. An
    answer that breaks the contract is :class:`UnexpectedResponse`: a bug, not an outage.
    """

    def __init__(self, client: ServiceClient, *, read_margin_s: float = 5.0) -> None:
        self._client = client
        # The db service holds a long-poll for up to ``wait`` s before it answers; only a read
        # that outlasts the wait by this margin means it is stuck.
        self._read_margin_s = read_margin_s

    def read(self, *, after: int, limit: int, wait_s: float) -> FeedBatch:
        """Up to ``limit`` events after ``after``, waiting up to ``wait_s`` s for one at the db."""
        params: dict[str, Any] = {"after": after, "limit": limit, "wait": wait_s}
        try:
            response = self._client.request(
                "GET", EVENTS_PATH, params=params, read_timeout_s=wait_s + self._read_margin_s
            )
        except ServiceUnreachable as error:
            raise DependencyUnavailable(DEPENDENCY) from error
        if response.status >= 500:
            raise DependencyUnavailable(DEPENDENCY)
        if response.status != 200:
            raise UnexpectedResponse(
                f"db answered {response.status} on its feed: {response.body[:200].decode(errors='replace')}"
            )
        try:
            page = _EVENT_PAGE.load(response.json())
        except (ValueError, ValidationError) as error:
            raise UnexpectedResponse(f"db's feed answered malformed data: {error}") from None
        events = [
            StoredEvent(
                position=event["position"],
                name=event["name"],
                payload=event["payload"],
                recorded_at=event["recorded_at"],
            )
            for event in page["events"]
        ]
        return FeedBatch(events=events, head=page["head"])

    def close(self) -> None:
        """Close the pooled connections."""
        self._client.close()
