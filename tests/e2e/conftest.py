"""What the end-to-end tests share: an HTTP client of the gateway of the session's stack."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from sportapp_stack.stack import Stack


class Gateway:
    """An HTTP client of one gateway: every request goes to its base URL, never through a proxy."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()
        self.http.trust_env = False

    def get(self, path: str, **kwargs: object) -> requests.Response:
        """GET ``path`` on the gateway."""
        return self.http.get(self.base_url + path, timeout=10, **kwargs)  # type: ignore[arg-type]

    def post(self, path: str, **kwargs: object) -> requests.Response:
        """POST to ``path`` on the gateway."""
        return self.http.post(self.base_url + path, timeout=10, **kwargs)  # type: ignore[arg-type]

    def close(self) -> None:
        """Close the pooled connections."""
        self.http.close()


@pytest.fixture(scope="session")
def gateway(stack: Stack) -> Iterator[Gateway]:
    """The public API, as a client sees it."""
    client = Gateway(stack.config.gateway_url)
    yield client
    client.close()
