"""The composition root: builds consulta's read model, its projector and their adapters."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry
from sqlalchemy import text
from sqlalchemy.engine import Engine

from sportapp_consulta.metrics import ProjectionMetrics
from sportapp_consulta.projector_seat import ProjectorSeat
from sportapp_consulta.settings import ConsultaSettings
from sportapp_core.adapters.clock import SystemClock
from sportapp_core.adapters.http.feed_client import DbServiceFeed
from sportapp_core.adapters.http.session import ServiceClient
from sportapp_core.adapters.redis_streams import RedisStreamSource, connect
from sportapp_core.adapters.sqlalchemy import create_store_engine
from sportapp_core.adapters.sqlalchemy.migrations import READ_STORE_SCHEMA, upgrade_schema
from sportapp_core.adapters.sqlalchemy.read_model import SqlAlchemyReadModel, read_store_errors
from sportapp_core.adapters.sqlalchemy.views import ReadModelViews
from sportapp_core.adapters.worker_seat import WorkerSeat, shared_seat
from sportapp_core.ports import Clock, EventSource, ProjectionStatus
from sportapp_core.services.projection import (
    USERS_PROJECTION,
    ObserverGroup,
    ProjectionSettings,
    Projector,
    projection_report,
)


@dataclass(frozen=True)
class ConsultaComponents:
    """What the resources and the probes need; ``projector`` and ``seat`` are None when this
    instance runs no projector (another one feeds the read model).

    Every worker of an instance has a projector, and the one that holds the instance's ``seat``
    runs it (:mod:`sportapp_consulta.projector_seat`). ``metrics_registry`` holds the projection's
    metrics; the app adds its HTTP metrics to it.
    """

    engine: Engine
    read_model: SqlAlchemyReadModel
    views: ReadModelViews
    projector: Projector | None
    seat: ProjectorSeat | None
    metrics_registry: CollectorRegistry
    clock: Clock
    # A projection that knows of newer events and has not moved for this long is reported stuck.
    stuck_after_s: float

    def check_read_store(self) -> None:
        """Health check: the read model answers."""
        with read_store_errors(), self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def check_projection(self) -> Mapping[str, object]:
        """Health check: how far the instance's projection got (whichever worker projects);
        fails until it has caught up once."""
        status = None
        if self.seat is not None:
            # Nothing published yet: the instance's projector has not finished a round.
            status = self.seat.latest() or ProjectionStatus()
        return projection_report(
            self.read_model.position(USERS_PROJECTION),
            status,
            now=self.clock.now(),
            stuck_after_s=self.stuck_after_s,
        )

    def close(self) -> None:
        """Close every connection, and the seat unless gunicorn's master shared it (a worker exits
        without it; tests and tools call it)."""
        self.views.close()
        self.engine.dispose()
        if self.seat is not None:
            self.seat.close()


def event_source(settings: ConsultaSettings) -> EventSource:
    """The projector's source of events, by ``settings.event_transport``."""
    if settings.event_transport == "redis":
        # One consumer per projecting process (the seat holder of each instance): replicas share
        # the group, and the read model's position decides what is applied (see
        # sportapp_core.adapters.redis_streams). A holder's successor is a new consumer, which
        # takes over its entries once they are claim_min_idle_ms idle.
        client = connect(settings.redis_url, read_timeout_s=settings.projection_wait_s + 5)
        return RedisStreamSource(
            client,
            stream=settings.event_stream,
            group=settings.consumer_group,
            consumer=f"{settings.instance}-{socket.gethostname()}-{os.getpid()}",
            claim_min_idle_ms=settings.claim_min_idle_ms,
        )
    return DbServiceFeed(ServiceClient(settings.db_service_url, pool_size=1))


def bootstrap(
    settings: ConsultaSettings, *, source: EventSource | None = None, clock: Clock | None = None
) -> ConsultaComponents:
    """Wire the adapters for ``settings``; tests pass a fake feed and clock. Runs in the worker,
    after gunicorn forks."""
    registry = CollectorRegistry()
    engine = create_store_engine(settings.read_store_url)
    # Every worker upgrades the read model's schema; a lock in the store makes them take turns.
    with read_store_errors():
        upgrade_schema(engine, READ_STORE_SCHEMA)
    read_model = SqlAlchemyReadModel(engine)
    clock = clock or SystemClock()
    projector = seat = None
    if settings.projector:
        inherited = shared_seat()
        seat = ProjectorSeat(inherited or WorkerSeat.create(), owned=inherited is None)
        projector = Projector(
            read_model,
            source or event_source(settings),
            clock,
            settings=ProjectionSettings(
                batch_size=settings.projection_batch_size, wait_s=settings.projection_wait_s
            ),
            # The metrics count what this worker's projector did; the seat shares its status.
            observer=ObserverGroup(ProjectionMetrics(registry), seat),
        )
    return ConsultaComponents(
        engine=engine,
        read_model=read_model,
        views=ReadModelViews(engine),
        projector=projector,
        seat=seat,
        metrics_registry=registry,
        clock=clock,
        stuck_after_s=settings.projection_stuck_after_s,
    )
