"""Whether a part of the stack is healthy: its health URL answers 200, or its heartbeat is fresh."""

from __future__ import annotations

import time
from pathlib import Path

import requests

from sportapp_stack.programs import Program

HEALTH_TIMEOUT_S = 2.0


def health_session() -> requests.Session:
    """An HTTP session for the parts' health URLs."""
    session = requests.Session()
    session.trust_env = False  # the parts are on 127.0.0.1: never through a proxy
    return session


def part_health(http: requests.Session, program: Program) -> tuple[bool, str]:
    """Whether ``program`` is healthy now, and what said so: its health URL, its heartbeat file,
    or (for a part with neither) that it runs."""
    if program.heartbeat_file is not None:
        return heartbeat_fresh(program.heartbeat_file, program.heartbeat_stale_after_s)
    url = program.health_url
    if not url:
        return True, "running (no health URL)"
    try:
        response = http.get(url, timeout=HEALTH_TIMEOUT_S)
    except requests.RequestException as error:
        return False, f"unreachable ({type(error).__name__})"
    return response.status_code == 200, f"HTTP {response.status_code}"


def heartbeat_fresh(path: Path, stale_after_s: float) -> tuple[bool, str]:
    """A part without HTTP is healthy while it touches its heartbeat file (after every round of work
    that succeeded): running but failing, it stops touching it and turns unhealthy."""
    try:
        age_s = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return False, "no heartbeat yet"
    if age_s > stale_after_s:
        return False, f"no heartbeat for {age_s:.0f} s (its log says why)"
    return True, f"heartbeat {age_s:.1f} s ago"
