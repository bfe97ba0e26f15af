"""Cold start: from ``sportapp up`` (a fresh stack, nothing running) to every part healthy."""

from __future__ import annotations

import shutil
import statistics
import time

from sportapp_lab.bench.common import Figure, new_stack


def measure(*, runs: int = 5) -> list[Figure]:
    """Median time to all-healthy over ``runs`` starts, each from an empty work folder."""
    seconds = []
    for _ in range(runs):
        stack = new_stack()
        try:
            begun = time.monotonic()
            stack.start(fresh=True)  # returns once every part answers its health check
            seconds.append(time.monotonic() - begun)
        finally:
            stack.stop()
            shutil.rmtree(stack.config.var_dir, ignore_errors=True)
    return [Figure(
        key="cold_start_median",
        title=f"sportapp up to all-healthy, median of {runs}",
        value=round(statistics.median(seconds), 2),
        unit="s",
        target="reported",
        parameters={"runs_s": [round(s, 2) for s in seconds]},
    )]
