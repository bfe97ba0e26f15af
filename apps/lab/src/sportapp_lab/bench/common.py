"""What every benchmark shares: a figure and its baseline, a stack of its own, summaries."""

from __future__ import annotations

import contextlib
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import requests

from sportapp_lab.analysis import percentile
from sportapp_stack.config import PORT_FIELDS, StackConfig, find_root, free_ports
from sportapp_stack.stack import Stack


@dataclass
class Figure:
    """One measured figure, the baseline it is read against, and the target it is held to."""

    key: str
    title: str
    value: float | None
    unit: str
    target: str = ""
    met: bool | None = None
    baseline: float | None = None
    baseline_title: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    # Where value and baseline were measured in pairs (each run beside its own baseline run), the
    # median of the pairs' ratios: steadier on a shared machine than the ratio of two medians.
    paired_ratio: float | None = None

    @property
    def ratio(self) -> float | None:
        """The paired ratio if there is one, else ``value / baseline``, when both were measured."""
        if self.paired_ratio is not None:
            return self.paired_ratio
        if self.value is None or not self.baseline:
            return None
        return self.value / self.baseline

    def as_dict(self) -> dict[str, Any]:
        """For the results file."""
        return {**asdict(self), "ratio": None if self.ratio is None else round(self.ratio, 3)}


def summary(values: Sequence[float | None]) -> dict[str, float | int | None]:
    """Median, p95 and max of the measured values, and how many trials measured nothing."""
    measured = [v for v in values if v is not None]
    if not measured:
        return {"median": None, "p95": None, "max": None, "missing": len(values)}
    return {
        "median": round(statistics.median(measured), 1),
        "p95": round(percentile(measured, 95) or 0.0, 1),
        "max": round(max(measured), 1),
        "missing": len(values) - len(measured),
    }


@contextlib.contextmanager
def bench_stack(**overrides: Any) -> Iterator[Stack]:
    """A fresh local stack on free ports in a folder of its own; stopped and removed afterwards."""
    stack = new_stack(**overrides)
    try:
        stack.start(fresh=True)
        yield stack
    finally:
        stack.stop()
        shutil.rmtree(stack.config.var_dir, ignore_errors=True)


def new_stack(**overrides: Any) -> Stack:
    """A stack (not started) on free ports, in a new folder of its own under the system's temp."""
    var_dir = Path(tempfile.mkdtemp(prefix="sportapp-bench-"))
    var_dir.chmod(0o755)  # NGINX's workers run unprivileged and read the rendered files
    ports: dict[str, Any] = dict(zip(PORT_FIELDS, free_ports(len(PORT_FIELDS)), strict=True))
    return Stack(StackConfig(var_dir=var_dir, root=find_root(), **ports, **overrides))


def wait_answering(url: str, timeout_s: float = 20.0) -> None:
    """Return once ``GET url`` answers 200; RuntimeError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer in {timeout_s} s")
