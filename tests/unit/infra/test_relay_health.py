"""The relay has no HTTP: the stack reads its health from the heartbeat file it touches after every
round that worked, so a relay that runs but cannot read the store or write the stream is unhealthy."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import requests

from sportapp_stack.config import StackConfig
from sportapp_stack.health import part_health
from sportapp_stack.programs import Program, programs
from tests.conftest import REPO


def relay_program(var_dir: Path) -> Program:
    config = StackConfig(var_dir=var_dir, root=REPO, nginx_bin="nginx", event_transport="redis")
    return next(program for program in programs(config) if program.name == "relay")


def test_the_relay_is_told_to_touch_the_file_the_stack_reads(tmp_path: Path) -> None:
    relay = relay_program(tmp_path)

    assert relay.heartbeat_file is not None
    assert relay.environment["SPORTAPP_HEARTBEAT_FILE"] == str(relay.heartbeat_file)
    assert relay.heartbeat_file.parent == tmp_path


def test_a_relay_is_healthy_only_while_its_heartbeat_is_fresh(tmp_path: Path) -> None:
    relay = dataclasses.replace(relay_program(tmp_path), heartbeat_stale_after_s=10.0)
    assert relay.heartbeat_file is not None
    with requests.Session() as http:
        never = part_health(http, relay)
        relay.heartbeat_file.touch()
        fresh = part_health(http, relay)
        stale_at = time.time() - 30
        os.utime(relay.heartbeat_file, (stale_at, stale_at))
        stale = part_health(http, relay)

    assert never == (False, "no heartbeat yet")
    assert fresh[0] is True
    assert stale[0] is False
    assert "no heartbeat for 30 s" in stale[1]
