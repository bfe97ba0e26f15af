"""The monitor's default, no fail-back (keepalived's ``nopreempt``), on the real stack: a primary that
died and came back becomes the standby, the backup keeps the registrations, and the next failure goes
the other way. Ordered assertions and zero loss only: nothing here depends on how fast the machine is.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from sportapp_ops.event_log import read_events
from sportapp_stack.redundancy import BACKUP, PRIMARY, wait_redundant
from sportapp_stack.stack import Stack
from tests.conftest import running_stack
from tests.integration.monitor.test_faults import (
    assert_nothing_lost_or_duplicated,
    failures,
    pid_of,
    register_while,
)

pytestmark = [pytest.mark.integration, pytest.mark.stack]

@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """A stack of this module's own, with the monitor's default settings."""
    with running_stack("sportapp-nopreempt-") as started:
        yield started


def test_a_restarted_primary_stays_the_standby_and_takes_over_when_the_backup_dies(stack: Stack) -> None:
    wait_redundant(stack.config, active=PRIMARY)
    started = time.monotonic()

    first = register_while(stack, lambda: os.killpg(pid_of(stack, PRIMARY), signal.SIGKILL))
    after_first = wait_redundant(stack.config, active=BACKUP)
    second = register_while(stack, lambda: os.killpg(pid_of(stack, BACKUP), signal.SIGKILL))
    wait_redundant(stack.config, active=PRIMARY)

    assert after_first["standby"] == PRIMARY
    assert failures(first) == failures(second) == []
    assert_nothing_lost_or_duplicated(stack, first + second)
    events = [e for e in read_events(stack.config.monitor_event_log) if e["t_mono"] >= started]
    switches = [(e["event"], e["to"]) for e in events if e["event"].endswith("_started")]
    assert switches == [("failover_started", BACKUP), ("failover_started", PRIMARY)]
    assert not any(e["event"].startswith("failback") for e in events)
