"""What must never be left behind: a plaintext password anywhere, or a refused registration."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from sportapp_core.adapters.sqlalchemy.tables import idempotency_keys, outbox, users
from sportapp_stack.stack import Stack
from tests.e2e.conftest import Gateway

pytestmark = [pytest.mark.e2e, pytest.mark.stack]

REGISTER = "/user-commands/users/register"
SECRET = "a long enough secret"


def test_a_password_is_nowhere_in_plaintext_in_stores_or_logs(stack: Stack, gateway: Gateway) -> None:
    password = f"plaintext-canary-{uuid.uuid4().hex}"
    email = f"canary-{uuid.uuid4().hex[:8]}@example.com"

    created = gateway.post(REGISTER, json={"correo": email, "clave": password})
    replayed = gateway.post(REGISTER, json={"correo": email, "clave": password})
    invalid = gateway.post(REGISTER, json={"correo": "not-an-address", "clave": password})
    assert (created.status_code, replayed.status_code, invalid.status_code) == (201, 409, 422)
    time.sleep(1.5)  # NGINX flushes its access log every second; consulta projects the user

    canary = password.encode()
    searched: list[Path] = []
    for path in stack.config.var_dir.rglob("*"):
        if path.is_file() and not path.is_socket():
            searched.append(path)
            assert canary not in path.read_bytes(), f"plaintext password found in {path}"
    names = {path.name for path in searched}
    assert {"sportapp.db", "consulta.db", "registro-primary.log", "access.log"} <= names
    assert password not in created.text + replayed.text + invalid.text


def test_a_registration_refused_while_db_is_down_is_not_written_once_db_is_back(
    stack: Stack, gateway: Gateway
) -> None:
    # A 503 must be final: registro re-sends a registration db did not answer only until it answers
    # the client, never after, so the key stays free for the client's own retry. (That one
    # transaction never leaves half a registration is checked where a write can fail halfway:
    # tests/integration/core/test_sqlalchemy_store.py, the store refusing the event row.)
    email = f"outage-{uuid.uuid4().hex[:8]}@example.com"
    key = uuid.uuid4().hex
    stack.supervisor.stop("db")
    try:
        refused = gateway.post(
            REGISTER, json={"correo": email, "clave": SECRET}, headers={"Idempotency-Key": key}
        )
    finally:
        stack.supervisor.start("db")
        stack.wait_healthy(timeout_s=30)

    assert refused.status_code == 503
    engine = create_engine(stack.config.write_store_url)
    try:
        with engine.connect() as connection:
            stored_users = connection.execute(
                select(func.count()).select_from(users).where(users.c.email_canonical == email)
            ).scalar_one()
            events = connection.execute(
                select(func.count()).select_from(outbox).where(outbox.c.payload.contains(email))
            ).scalar_one()
            claims = connection.execute(
                select(func.count()).select_from(idempotency_keys).where(idempotency_keys.c.key == key)
            ).scalar_one()
    finally:
        engine.dispose()
    assert (stored_users, events, claims) == (0, 0, 0)

    retried = gateway.post(
        REGISTER, json={"correo": email, "clave": SECRET}, headers={"Idempotency-Key": key}
    )
    assert retried.status_code == 201
