"""The outbox relay: publish the write store's events, in position order, to an event transport.

The relay keeps no state of its own. Where it got to is whatever the transport holds last, so a
relay that restarts (or a second one started by mistake) carries on from there: every event is
published at least once and in order, and a transport that refuses what it already holds (Redis
Streams with entry ids derived from positions) turns "at least once" into "exactly once".
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sportapp_core.ports import EventFeed, EventPublisher, Stopper
from sportapp_core.services.feed import read_feed
from sportapp_core.services.projection import Backoff

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RelaySettings:
    """How many events a round publishes at most, how long it waits for one, back-off on errors."""

    batch_size: int = 500
    wait_s: float = 1.0
    backoff: Backoff = field(default_factory=Backoff)


class Relay:
    """Copies the outbox to an :class:`EventPublisher`, resuming from what the publisher holds."""

    def __init__(
        self,
        feed: EventFeed,
        publisher: EventPublisher,
        settings: RelaySettings = RelaySettings(),
    ) -> None:
        self._feed = feed
        self._publisher = publisher
        self._settings = settings
        # None: not known, ask the publisher (at start, and after any failure, since a failed
        # publish may have appended part of its batch).
        self._published: int | None = None

    @property
    def published(self) -> int | None:
        """The newest position known to be published, or None until the next round asks."""
        return self._published

    def run_once(self) -> int:
        """One round: read the outbox after the newest published position, publish; events read."""
        try:
            if self._published is None:
                self._published = self._publisher.last_position()
            batch = read_feed(
                self._feed,
                after=self._published,
                limit=self._settings.batch_size,
                wait_s=self._settings.wait_s,
            )
            if batch.events:
                self._published = self._publisher.publish(batch.events)
        except BaseException:
            self._published = None
            raise
        return len(batch.events)

    def run(self, stopped: Stopper, heartbeat: Callable[[], None] | None = None) -> None:
        """Run rounds until ``stopped``; after a failure, back off and retry, never give up.

        ``heartbeat`` is called after every round that worked (a liveness probe watches it).
        """
        delay_s = self._settings.backoff.initial_s
        failures = 0
        while not stopped.is_set():
            try:
                self.run_once()
            except Exception as error:  # the store or the transport is down, or a bug: retry
                failures += 1
                # Every failed round is logged (the back-off bounds how often): a relay that keeps
                # failing must keep saying so. The first carries the traceback.
                if failures == 1:
                    logger.exception("relay round failed", extra={"retry_s": delay_s})
                else:
                    logger.warning(
                        "relay round failed again: %s", error,
                        extra={"retry_s": delay_s, "consecutive_failures": failures},
                    )
                stopped.wait(delay_s)
                delay_s = self._settings.backoff.after(delay_s)
                continue
            if heartbeat is not None:
                heartbeat()
            if failures:
                logger.info(
                    "relay resumed", extra={"position": self._published, "after_failures": failures}
                )
            failures = 0
            delay_s = self._settings.backoff.initial_s
