"""Processes let loose on one store at the same instant, as a service's workers are when it starts."""

from __future__ import annotations

import contextlib
import multiprocessing
import queue
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.integration.core.workers import Outcome

SPAWN = multiprocessing.get_context("spawn")
RUN_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 5.0


def run_together(target: Callable[..., None], argument_lists: list[tuple[Any, ...]]) -> list[Outcome]:
    """Start one spawned process per argument list, let them go at once, and gather their outcomes.

    Every process is stopped before this returns, whatever happens.
    """
    barrier = SPAWN.Barrier(len(argument_lists))
    results: Any = SPAWN.Queue()
    processes = [
        SPAWN.Process(target=target, args=(*arguments, barrier, results), name=f"worker-{index}", daemon=True)
        for index, arguments in enumerate(argument_lists)
    ]
    outcomes: list[Outcome] = []
    try:
        for process in processes:
            process.start()
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while any(process.is_alive() for process in processes):
            if time.monotonic() > deadline:
                pytest.fail(f"the workers did not finish within {RUN_TIMEOUT_S} s")
            with contextlib.suppress(queue.Empty):
                outcomes.append(results.get(timeout=0.1))
        with contextlib.suppress(queue.Empty):
            while True:
                outcomes.append(results.get(timeout=0.5))
        assert [process.exitcode for process in processes] == [0] * len(processes)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join(STOP_TIMEOUT_S)
            if process.is_alive():
                process.kill()
                process.join(STOP_TIMEOUT_S)
            if process.exitcode is not None:
                process.close()
        results.close()
        results.join_thread()
    return outcomes
