"""When the stack counts as redundant again, read from the monitor's /status."""

from __future__ import annotations

from typing import Any

import pytest

from sportapp_stack.redundancy import BACKUP, PRIMARY, is_redundant


def status(
    active: str, *, fail_back: bool, backup_ready: bool = True, switching: bool = False
) -> dict[str, Any]:
    return {
        "active": active,
        "switching": switching,
        "settings": {"fail_back": fail_back},
        "targets": {
            PRIMARY: {"state": "up", "ready": True},
            BACKUP: {"state": "up", "ready": backup_ready},
            "db": {"state": "up", "ready": True},
        },
    }


@pytest.mark.parametrize("active", [PRIMARY, BACKUP])
def test_without_fail_back_either_instance_may_be_active(active: str) -> None:
    assert is_redundant(status(active, fail_back=False))


def test_with_fail_back_only_the_primary_active_is_redundant() -> None:
    assert is_redundant(status(PRIMARY, fail_back=True))
    assert not is_redundant(status(BACKUP, fail_back=True))


def test_a_named_active_instance_overrides_the_policy() -> None:
    assert not is_redundant(status(PRIMARY, fail_back=False), active=BACKUP)
    assert is_redundant(status(BACKUP, fail_back=True), active=BACKUP)


def test_a_standby_not_ready_or_a_switch_under_way_is_not_redundant() -> None:
    assert not is_redundant(status(PRIMARY, fail_back=False, backup_ready=False))
    assert not is_redundant(status(PRIMARY, fail_back=False, switching=True))
