"""The images every compose test runs, built once a session; the engine stopped afterwards if this
session started it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.compose.project import IN_A_CONTAINER, run
from tests.conftest import REPO


@pytest.fixture(scope="session")
def images() -> Iterator[None]:
    """Every image built; the engine stopped afterwards if this session started it."""
    already_started = (REPO / "var" / "docker" / "dockerd.pid").exists()
    try:
        run(["bash", "scripts/docker", "engine"], timeout_s=600, env=dict(os.environ))
    except AssertionError as error:
        if not IN_A_CONTAINER:
            raise
        # The newcomer test (scripts/newcomer) runs the tests in a plain container: no engine runs
        # there. Anywhere else, an engine that cannot start fails the test.
        pytest.skip(f"no Docker engine can run inside this container: {str(error)[-300:]}")
    run(["bash", "scripts/docker", "build"], timeout_s=1800, env=dict(os.environ))
    yield
    if not already_started:
        run(["bash", "scripts/docker", "stop"], timeout_s=120, env=dict(os.environ))
