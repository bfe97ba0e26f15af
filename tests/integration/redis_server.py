"""The Redis server of the integration tests, and names of their own for each test's streams.

The server is not started here: CI starts it (on a developer's machine it is usually running). When
it does not answer, the tests that need it fail and say so, unless ``SPORTAPP_SKIP_REDIS=1``.
"""

from __future__ import annotations

import os

import redis

URL_VARIABLE = "SPORTAPP_TEST_REDIS_URL"
SKIP_VARIABLE = "SPORTAPP_SKIP_REDIS"
DEFAULT_URL = "redis://127.0.0.1:6379/0"


def server_url() -> str:
    """The server's URL: ``SPORTAPP_TEST_REDIS_URL``, or the local server CI starts."""
    return os.environ.get(URL_VARIABLE, DEFAULT_URL)


def skipped() -> bool:
    """Whether the Redis tests are to be skipped (``SPORTAPP_SKIP_REDIS=1``)."""
    return os.environ.get(SKIP_VARIABLE) == "1"


def unreachable_reason(url: str) -> str | None:
    """Why the server at ``url`` cannot be used, or None when it answers."""
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        return str(error)
    finally:
        client.close()
    return None
