"""The db service's settings, from ``SPORTAPP_*`` environment variables."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DbSettings:
    """Where the write store lives and how this instance names itself."""

    instance: str = "db"
    store_url: str = "sqlite:///var/sportapp.db"
    log_level: str = "INFO"
    max_body_bytes: int = 16 * 1024
