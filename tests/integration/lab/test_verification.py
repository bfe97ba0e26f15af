"""The store verification on real SQLite stores: what it can vouch for, and what it cannot."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import insert
from sqlalchemy.engine import Engine

from sportapp_core.adapters.sqlalchemy import create_store_engine
from sportapp_core.adapters.sqlalchemy.migrations import READ_STORE_SCHEMA, WRITE_STORE_SCHEMA, upgrade_schema
from sportapp_core.adapters.sqlalchemy.read_model import user_views
from sportapp_core.adapters.sqlalchemy.tables import users
from sportapp_lab.jmeter.jtl import read_jtl
from sportapp_lab.records import RequestRecord
from sportapp_lab.verification import verify_registrations
from tests.unit.lab.test_jtl import HEADER_WITH_VARIABLES, ROWS_WITH_VARIABLES

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


def store_user(write_url: str, read_url: str, user_id: int, email: str) -> None:
    """One user, in the write store and projected into the read model, as a run would leave it."""
    now = datetime.now(timezone.utc)
    for url, table, row in (
        (write_url, users, {"password_hash": "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"}),
        (read_url, user_views, {"projected_at": now}),
    ):
        engine = create_store_engine(url)
        try:
            with engine.begin() as connection:
                values = {"id": user_id, "email": email, "email_canonical": email, "created_at": now}
                connection.execute(insert(table).values(**values, **row))
        finally:
            engine.dispose()


def test_registrations_read_from_a_jmeter_jtl_are_looked_up_in_the_stores(tmp_path: Path) -> None:
    # Three registrations acknowledged in the JTL: the plan's first row (201, id 17), and two copies
    # of it with other addresses and keys. The stores hold the first under id 17, the third under
    # another id than its 201 named; the second is nowhere.
    lost = ROWS_WITH_VARIABLES[0].replace("load-0b5c@", "load-lost@").replace("key-1", "key-8")
    other_id = ROWS_WITH_VARIABLES[0].replace("load-0b5c@", "load-moved@").replace("key-1", "key-9")
    jtl = tmp_path / "results.jtl"
    jtl.write_text("\n".join([HEADER_WITH_VARIABLES, *ROWS_WITH_VARIABLES, lost, other_id]) + "\n")
    write = empty_store(tmp_path / "write.db", WRITE_STORE_SCHEMA)
    read = empty_store(tmp_path / "read.db", READ_STORE_SCHEMA)
    store_user(write, read, 17, "load-0b5c@sportapp-experiment.dev")
    store_user(write, read, 18, "load-moved@sportapp-experiment.dev")

    verification = verify_registrations(
        read_jtl(jtl, mono_minus_unix=0.0), store_url=write, read_store_url=read, catch_up_timeout_s=0.0
    )

    assert verification.acknowledged == 3
    assert verification.acknowledged_unverifiable == 0
    assert verification.lost == 1
    assert verification.lost_examples == ["load-lost@sportapp-experiment.dev"]
    assert verification.acknowledged_id_mismatch == 1
    assert verification.duplicated == 0
