"""The consulta service's settings, from ``SPORTAPP_*`` environment variables."""

from __future__ import annotations

from dataclasses import dataclass

from sportapp_core.adapters.settings import SettingsError

EVENT_TRANSPORTS = ("http", "redis")


@dataclass(frozen=True, slots=True)
class ConsultaSettings:
    """Where the read model lives, where the db service's feed is, and whether to project here."""

    instance: str = "consulta"
    read_store_url: str = "sqlite:///var/consulta.db"
    db_service_url: str = "http://127.0.0.1:8101"
    # Whether this instance projects, in whichever of its workers holds its projector seat
    # (sportapp_consulta.projector_seat). Where several instances project (replicas), the
    # compare-and-set on the stored position keeps it safe.
    projector: bool = True
    projection_batch_size: int = 100
    # How long a quiet feed stays silent: db's event stream sends an empty batch this often (it
    # allows 0.1 to 30 s), and one silent for longer by 5 s means db is gone. With Redis, how long
    # a read blocks.
    projection_wait_s: float = 5.0
    # /health answers 503 (ProjectionStuck) when the projection knows of events beyond its
    # position and has applied none for this long: a bug or a gap it cannot cross, not a slow feed.
    projection_stuck_after_s: float = 30.0
    # Where the projector reads events: "http" (db's event stream) or "redis" (a stream that
    # db's relay publishes the outbox to, read through a consumer group shared by every process).
    event_transport: str = "http"
    redis_url: str = "redis://127.0.0.1:6379/0"
    event_stream: str = "sportapp:events"
    consumer_group: str = "consulta"
    # How long an entry stays with a consumer that stopped reading before another one takes it.
    claim_min_idle_ms: int = 10_000
    log_level: str = "INFO"
    max_body_bytes: int = 16 * 1024

    def __post_init__(self) -> None:
        if self.event_transport not in EVENT_TRANSPORTS:
            raise SettingsError(
                f"SPORTAPP_EVENT_TRANSPORT={self.event_transport!r} is not one of {EVENT_TRANSPORTS}"
            )
