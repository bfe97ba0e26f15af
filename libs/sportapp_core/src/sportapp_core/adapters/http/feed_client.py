"""The db service's event feed seen from consulta: an :class:`EventSource` over ``GET /user-db/events``."""

from __future__ import annotations

from typing import Any

import requests
from marshmallow import ValidationError

from sportapp_core.adapters.http.db_client import DEPENDENCY, UnexpectedResponse
from sportapp_core.adapters.http.session import ServiceSession
from sportapp_core.schemas import EventPageSchema
from sportapp_core.services.errors import DependencyUnavailable
from sportapp_core.services.feed import FeedBatch
from sportapp_core.services.ports import StoredEvent

FEED_PATH = "/user-db/events"


class DbServiceFeed:
    """Long-polls the db service's feed.

    Connection failures, timeouts and 5xx answers become :class:`DependencyUnavailable` for the
    projector to back off and retry; reading is side-effect free, so every retry is safe. An
    answer that breaks the contract is :class:`UnexpectedResponse`: a bug, not an outage.
    """

    def __init__(
        self,
        base_url: str,
        session: requests.Session | None = None,
        *,
        connect_timeout_s: float = 0.5,
        read_margin_s: float = 5.0,
    ) -> None:
        self._url = base_url.rstrip("/") + FEED_PATH
        self._session = session or ServiceSession(pool_size=2)
        self._connect_timeout_s = connect_timeout_s
        # The db service holds a long-poll for up to ``wait`` s before it answers; only a read
        # that outlasts the wait by this margin means it is stuck.
        self._read_margin_s = read_margin_s

    def read(self, *, after: int, limit: int, wait_s: float) -> FeedBatch:
        """Up to ``limit`` events after ``after``, waiting up to ``wait_s`` s for one at the db."""
        timeout = (self._connect_timeout_s, wait_s + self._read_margin_s)
        params: dict[str, Any] = {"after": after, "limit": limit, "wait": wait_s}
        try:
            response = self._session.get(self._url, params=params, timeout=timeout)
        except requests.RequestException as error:
            raise DependencyUnavailable(DEPENDENCY) from error
        with response:
            if response.status_code >= 500:
                raise DependencyUnavailable(DEPENDENCY)
            if response.status_code != 200:
                raise UnexpectedResponse(
                    f"db answered {response.status_code} on its feed: {response.text[:200]}"
                )
            try:
                page = EventPageSchema().load(response.json())
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
        self._session.close()
