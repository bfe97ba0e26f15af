"""The projection's Prometheus metrics: position, head, lag, feed state, races."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from sportapp_core.ports import ProjectionStatus


class ProjectionMetrics:
    """A :class:`~sportapp_core.services.projection.ProjectionObserver` writing Prometheus metrics.

    consulta's workers share their metrics through files (``PROMETHEUS_MULTIPROC_DIR``), and only
    the worker holding the projector seat projects: the gauges keep the largest value among live
    workers ("livemax"), the holder's (a worker waiting for the seat reports 0). Counters and the
    histogram add up over workers, so a holder's count survives it.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.position = Gauge(
            "sportapp_projection_position",
            "Position of the latest event in the read model.",
            registry=registry,
            multiprocess_mode="livemax",
        )
        self.head = Gauge(
            "sportapp_projection_head",
            "Newest position of the db service's feed, as of the last pull.",
            registry=registry,
            multiprocess_mode="livemax",
        )
        self.lag_events = Gauge(
            "sportapp_projection_lag_events",
            "Events recorded by db but not yet in the read model, as of the last pull.",
            registry=registry,
            multiprocess_mode="livemax",
        )
        self.batch_lag = Gauge(
            "sportapp_projection_batch_lag_seconds",
            "Worst time from an event's record to its projection, in the latest batch.",
            registry=registry,
            multiprocess_mode="livemax",
        )
        self.feed_up = Gauge(
            "sportapp_projection_feed_up",
            "1 when the db service's feed answered the last pull, 0 when it did not.",
            registry=registry,
            multiprocess_mode="livemax",
        )
        self.caught_up = Gauge(
            "sportapp_projection_caught_up",
            "1 once the projector has caught up with the feed since it started.",
            registry=registry,
            multiprocess_mode="livemax",
        )
        self.lag = Histogram(
            "sportapp_projection_lag_seconds",
            "Time from an event's record at db to its projection into the read model.",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
            registry=registry,
        )
        self.events = Counter(
            "sportapp_projection_views_added_total",
            "Views added to the read model by the projection.",
            registry=registry,
        )
        self.races = Counter(
            "sportapp_projection_races_lost_total",
            "Batches another projector stored first (rolled back here, never applied twice).",
            registry=registry,
        )

    def status_changed(self, status: ProjectionStatus) -> None:
        """Refresh the gauges from the projector's status."""
        self.position.set(status.position)
        if status.head is not None:
            self.head.set(status.head)
        if status.lag_events is not None:
            self.lag_events.set(status.lag_events)
        if status.lag_ms is not None:
            self.batch_lag.set(status.lag_ms / 1000)
        if status.feed_up is not None:
            self.feed_up.set(1 if status.feed_up else 0)
        self.caught_up.set(1 if status.caught_up else 0)

    def batch_applied(self, applied: int, lags_s: Sequence[float]) -> None:
        """Count the views and record each event's lag."""
        self.events.inc(applied)
        for lag_s in lags_s:
            self.lag.observe(lag_s)

    def race_lost(self) -> None:
        """Count a lost compare-and-set."""
        self.races.inc()
