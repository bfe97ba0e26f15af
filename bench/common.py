"""What every benchmark shares: a figure and its baseline, a stack of its own, summaries."""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import requests

from sportapp_core.adapters.web.settings import settings_from_env
from sportapp_registro.settings import RegistroSettings
from sportapp_stack.config import PORT_FIELDS, StackConfig, find_root, free_ports
from sportapp_stack.experiment.analysis import percentile
from sportapp_stack.experiment.records import RequestRecord
from sportapp_stack.stack import Stack

PRIMARY, BACKUP = "registro-primary", "registro-backup"


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

    @property
    def ratio(self) -> float | None:
        """``value / baseline``, when both were measured."""
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


def load_figures(records: Sequence[RequestRecord], duration_s: float) -> dict[str, float | None]:
    """Offered and served rates, share answered correctly, and latency p50/p99 of a load run."""
    ok = [r for r in records if r.ok]
    latencies = [r.latency_ms for r in ok]
    return {
        "offered_per_s": round(len(records) / duration_s, 2),
        "served_per_s": round(len(ok) / duration_s, 2),
        "ok_share": round(len(ok) / len(records), 4) if records else None,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
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


def monitor_status(stack: Stack) -> dict[str, Any]:
    """The monitor's ``/status``."""
    url = stack.config.url(stack.config.monitor_port) + "/status"
    return dict(requests.get(url, timeout=2).json())


def wait_nominal(stack: Stack, timeout_s: float = 60.0) -> None:
    """Until the primary is active and both registro instances are up and ready."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException, ValueError, KeyError):
            status = monitor_status(stack)
            targets = status["targets"]
            if (
                status["active"] == PRIMARY
                and not status["switching"]
                and all(targets[n]["state"] == "up" and targets[n]["ready"] for n in (PRIMARY, BACKUP))
            ):
                return
        time.sleep(0.2)
    raise RuntimeError("the stack did not return to nominal")


def registro_settings() -> RegistroSettings:
    """registro's settings as the stack's instances will read them: from this environment."""
    return settings_from_env(RegistroSettings, os.environ)

