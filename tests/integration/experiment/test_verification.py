"""The store verification on real SQLite stores: what it can vouch for, and what it cannot."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from sportapp_core.adapters.sqlalchemy import create_store_engine
from sportapp_core.adapters.sqlalchemy.migrations import READ_STORE_SCHEMA, WRITE_STORE_SCHEMA, upgrade_schema
from sportapp_stack.experiment.records import RequestRecord
from sportapp_stack.experiment.verification import verify_registrations

pytestmark = pytest.mark.integration


def empty_store(path: Path, schema: object) -> str:
    url = f"sqlite:///{path}"
    engine: Engine = create_store_engine(url)
    try:
        upgrade_schema(engine, schema)  # type: ignore[arg-type]
    finally:
        engine.dispose()
    return url


def acknowledged(email: str | None) -> RequestRecord:
    return RequestRecord(
        kind="register", scheduled_at=1.0, sent_at=1.0, t_unix=1.0, latency_ms=20.0, status=201, email=email
    )


def test_an_acknowledged_registration_without_an_address_is_counted_not_assumed_stored(
    tmp_path: Path,
) -> None:
    # As a JTL without the saved variables reads: 201s, no address, no key, no user id.
    write = empty_store(tmp_path / "write.db", WRITE_STORE_SCHEMA)
    read = empty_store(tmp_path / "read.db", READ_STORE_SCHEMA)

    verification = verify_registrations(
        [acknowledged(None), acknowledged(None), acknowledged("ana@example.com")],
        store_url=write,
        read_store_url=read,
        catch_up_timeout_s=0.0,
    )

    assert verification.acknowledged_unverifiable == 2
    assert verification.acknowledged == 1
    assert verification.lost == 1, "the one with an address is looked up, and is not there"
