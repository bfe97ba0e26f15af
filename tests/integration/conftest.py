"""The stores of the integration tests: a SQLite file in the test's folder, or a fresh schema on the
PostgreSQL server. Tests that take ``store_url`` run once on each; a test pins one with
``backends.only_on``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.integration import postgres, redis_server
from tests.integration.backends import BACKENDS, SQLITE


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The PostgreSQL server's URL. Fails when it does not answer, unless SPORTAPP_SKIP_POSTGRES=1."""
    if postgres.skipped():
        pytest.skip(f"{postgres.SKIP_VARIABLE}=1: PostgreSQL tests skipped")
    url = postgres.server_url()
    reason = postgres.unreachable_reason(url)
    if reason is not None:
        shown = make_url(url).render_as_string(hide_password=True)
        pytest.fail(
            f"PostgreSQL does not answer at {shown} ({reason}). Start it (CI starts it: "
            f"pg_ctlcluster <version> main start), point {postgres.SERVER_URL_VARIABLE} at another "
            f"server, or set {postgres.SKIP_VARIABLE}=1 to skip the PostgreSQL tests.",
            pytrace=False,
        )
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
    if redis_server.skipped():
        pytest.skip(f"{redis_server.SKIP_VARIABLE}=1: Redis tests skipped")
    url = redis_server.server_url()
    reason = redis_server.unreachable_reason(url)
    if reason is not None:
        pytest.fail(
            f"Redis does not answer at {url} ({reason}). Start it (bash scripts/services starts "
            f"it, as CI does), point {redis_server.URL_VARIABLE} at another server, or set "
            f"{redis_server.SKIP_VARIABLE}=1 to skip the Redis tests.",
            pytrace=False,
        )
    return url


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
