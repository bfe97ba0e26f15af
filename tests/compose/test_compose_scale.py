"""The scale-out file for real: db and consulta on PostgreSQL, the relay publishing db's outbox to a
Redis stream, two consultas reading it through one consumer group; every acknowledged registration
readable through the gateway, each exactly once. Its own module: registro's fixed addresses allow
one project at a time, and the base file's project is down by the time this one starts."""

from __future__ import annotations

import uuid

import pytest
import requests

from tests.compose.project import project_up, read_back, register
from tests.compose_files import BASE_FILE, SCALE_FILE

pytestmark = pytest.mark.compose


def test_the_scale_out_file_serves_every_registration_once_through_two_consultas(images: None) -> None:
    with project_up((BASE_FILE, SCALE_FILE), "--scale", "consulta=2") as project:
        url = project.gateway_url
        assert len(project.containers("consulta")) == 2
        emails = [f"scale-{index}-{uuid.uuid4().hex[:6]}@sportapp-compose.dev" for index in range(30)]
        ids = {}
        for email in emails:
            response = register(url, email, key=str(uuid.uuid4()))
            assert response.status_code == 201, response.text
            ids[email] = response.json()["id"]

        for email, user_id in ids.items():
            shown = read_back(url, user_id)
            assert shown.status_code == 200, (email, shown.text)
            assert shown.json()["correo"] == email
        listed: list[str] = []
        after = None
        while True:
            params = {"limit": 100, **({"after": after} if after is not None else {})}
            page = requests.get(f"{url}/user-queries/users", params=params, timeout=10).json()
            listed += [user["correo"] for user in page["users"]]
            after = page["next_after"]
            if after is None:
                break
        assert sorted(listed) == sorted(emails), "every registration exactly once, nothing else"
        [relay] = project.containers("relay")
        assert project.inspect(relay)["State"]["Health"]["Status"] == "healthy"
