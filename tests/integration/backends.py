"""The databases a store can be on, and how a test pins one (see tests/integration/conftest.py)."""

from __future__ import annotations

import pytest

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
BACKENDS = [SQLITE, POSTGRESQL]


def only_on(backend: str) -> pytest.MarkDecorator:
    """Run the test on ``backend`` alone (it checks something only that database has)."""
    return pytest.mark.parametrize("backend", [backend])
