"""registro's composition root, as its gunicorn worker builds it."""

from __future__ import annotations

import pytest

from sportapp_core.adapters.argon2_hasher import ENVIRONMENT_PREFIX
from sportapp_core.domain import Password
from sportapp_registro.bootstrap import bootstrap
from sportapp_registro.settings import RegistroSettings


def test_registro_hashes_with_argon2id_at_owasps_minimum_cost_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("MEMORY_KIB", "TIME_COST", "PARALLELISM"):
        monkeypatch.delenv(ENVIRONMENT_PREFIX + name, raising=False)

    services, _ = bootstrap(RegistroSettings())
    stored = services.hasher.hash(Password("correct horse battery"))

    # Pinned here by value, not through the parameters' defaults: 19 MiB, 2 passes, 1 lane.
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert services.hasher.verify(stored, Password("correct horse battery"))


def test_the_environment_changes_registros_argon2id_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENVIRONMENT_PREFIX + "MEMORY_KIB", "8192")
    monkeypatch.setenv(ENVIRONMENT_PREFIX + "TIME_COST", "3")
    monkeypatch.setenv(ENVIRONMENT_PREFIX + "PARALLELISM", "1")

    services, _ = bootstrap(RegistroSettings())
    stored = services.hasher.hash(Password("correct horse battery"))

    assert stored.startswith("$argon2id$v=19$m=8192,t=3,p=1$")
