"""Injected faults for the experiment. Both are off unless the instance is started with them.

The error switch is a file, not process memory, because gunicorn runs several workers and all of
them must fail together; its endpoint is served on the instance's own port only, never routed by
the gateway.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sportapp_core.adapters.web.problems import Problem, problem_response

logger = logging.getLogger(__name__)


FAULT_PATH = "/faults/error-mode"
StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class FaultSwitch:
    """Makes this instance answer 500 to every request while the switch is on."""

    def __init__(self, fault_dir: str, instance: str) -> None:
        self._flag = Path(fault_dir) / f"{instance}.error-mode"

    def wrap(self, app: WsgiApp) -> WsgiApp:
        """WSGI middleware around the whole instance, its ping/echo included: while the switch is
        on, every request but the switch's own is answered 500 (as a broken instance would)."""

        def failing(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
            if self.on and environ.get("PATH_INFO") != FAULT_PATH:
                problem = Problem(
                    500, "Injected fault: this instance fails every request.", code="injected-fault"
                )
                return problem_response(problem)(environ, start_response)
            return app(environ, start_response)

        return failing

    @property
    def on(self) -> bool:
        """Whether the instance should fail every request now."""
        return self._flag.exists()

    def turn(self, on: bool) -> None:
        """Turn the switch on or off, for every worker of this instance."""
        if on:
            self._flag.parent.mkdir(parents=True, exist_ok=True)
            self._flag.touch()
        else:
            self._flag.unlink(missing_ok=True)
        logger.warning("fault switch turned %s", "on" if on else "off")


def crash_like_the_seed() -> None:
    """The seed's fault: an invalid address took the whole service down (SIGINT to itself).

    Under gunicorn the service is the arbiter, so the signal goes to the parent process; run
    directly (no gunicorn), it goes to this process.
    """
    logger.critical("seed crash: invalid e-mail address received, bringing the instance down")
    parent = os.getppid()
    target = parent if _is_gunicorn(parent) else os.getpid()
    os.kill(target, signal.SIGINT)


def _is_gunicorn(pid: int) -> bool:
    try:
        return "gunicorn" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
