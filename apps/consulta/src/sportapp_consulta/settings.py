"""The consulta service's settings, from ``SPORTAPP_*`` environment variables."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ConsultaSettings:
    """Where the read model lives, where the db service's feed is, and whether to project here."""

    instance: str = "consulta"
    read_store_url: str = "sqlite:///var/consulta.db"
    db_service_url: str = "http://127.0.0.1:8101"
    # Every worker projects; the compare-and-set on the stored position makes that safe.
    projector: bool = True
    projection_batch_size: int = 100
    # How long the db service holds a pull open when there is nothing new (it allows up to 10 s).
    projection_wait_s: float = 5.0
    log_level: str = "INFO"
    max_body_bytes: int = 16 * 1024
