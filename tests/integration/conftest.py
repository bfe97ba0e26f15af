"""The stores of the integration tests: a SQLite file in the test's folder, or a fresh schema on the
PostgreSQL server. Tests that take ``store_url`` run once on each; a test pins one with
``backends.only_on``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy.engine import make_url

from tests.integration import postgres, redis_server
from tests.integration.backends import BACKENDS, SQLITE


def answering_server(name: str, server: ModuleType, shown_url: str, how_to_start: str) -> str:
    """``server``'s URL (a module of this folder: postgres, redis_server), or skip or fail the test.

    Skipped when the server's skip variable is 1; failed, saying what to do, when it does not answer.
    """
    if server.skipped():
        pytest.skip(f"{server.SKIP_VARIABLE}=1: {name} tests skipped")
    url = str(server.server_url())
    reason = server.unreachable_reason(url)
    if reason is not None:
        pytest.fail(
            f"{name} does not answer at {shown_url or url} ({reason}). Start it ({how_to_start}), "
            f"point {server.URL_VARIABLE} at another server, or set {server.SKIP_VARIABLE}=1 to "
            f"skip the {name} tests.",
            pytrace=False,
        )
    return url


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The PostgreSQL server's URL. Fails when it does not answer, unless SPORTAPP_SKIP_POSTGRES=1."""
    shown = make_url(postgres.server_url()).render_as_string(hide_password=True)
    url = answering_server("PostgreSQL", postgres, shown, "CI starts it: pg_ctlcluster <version> main start")
    postgres.drop_stale_schemas(url)
    return url


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A URL of a fresh schema of its own on the server, dropped after the test."""
    with postgres.fresh_schema(postgres_server) as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis server's URL. Fails when it does not answer, unless SPORTAPP_SKIP_REDIS=1."""
    return answering_server("Redis", redis_server, "", "bash scripts/services starts it, as CI does")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database the store is on."""
    return str(request.param)


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """Where the SQLite store's file goes (on SQLite)."""
    return tmp_path / "store" / "sportapp.db"


@pytest.fixture
def store_url(backend: str, store_path: Path, request: pytest.FixtureRequest) -> str:
    """The URL of an empty store on ``backend``."""
    if backend == SQLITE:
        return f"sqlite:///{store_path}"
    return str(request.getfixturevalue("postgres_url"))
