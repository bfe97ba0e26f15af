"""Drive a URL with wrk (Debian's ``wrk``) and read its summary."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_PERCENTILE = re.compile(r"^\s*(50|75|90|99)%\s+([\d.]+)(us|ms|s|m)\s*$", re.MULTILINE)
_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_TOTAL = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m)", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


class WrkUnavailable(RuntimeError):
    """wrk is not installed."""


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run reports."""

    requests: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int


def parse(output: str) -> WrkResult:
    """Read wrk's summary (run with ``--latency``)."""
    rate, total = _RATE.search(output), _TOTAL.search(output)
    if rate is None or total is None:
        raise ValueError(f"not a wrk summary:\n{output}")
    percentiles = {int(p): float(v) * _UNITS_MS[unit] for p, v, unit in _PERCENTILE.findall(output)}
    non_2xx = _NON_2XX.search(output)
    errors = _ERRORS.search(output)
    return WrkResult(
        requests=int(total.group(1)),
        requests_per_s=float(rate.group(1)),
        p50_ms=round(percentiles[50], 3),
        p99_ms=round(percentiles[99], 3),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )


def rotating_paths_script(paths: list[str]) -> str:
    """A wrk Lua script that sends GET to one of ``paths`` at random, request after request."""
    quoted = ",\n  ".join('"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"' for path in paths)
    return (
        "local paths = {\n  " + quoted + "\n}\n"
        "math.randomseed(42)\n"
        "request = function()\n"
        '  return wrk.format("GET", paths[math.random(#paths)])\n'
        "end\n"
    )


def run_wrk(base_url: str, paths: list[str], *, duration_s: int, connections: int) -> WrkResult:
    """``wrk`` with one thread and ``connections`` keep-alive connections, for ``duration_s``."""
    binary = shutil.which("wrk")
    if binary is None:
        raise WrkUnavailable("wrk is not on PATH: apt-get install -y wrk")
    with tempfile.TemporaryDirectory(prefix="sportapp-wrk-") as folder:
        script = Path(folder) / "paths.lua"
        script.write_text(rotating_paths_script(paths))
        finished = subprocess.run(
            [binary, "-t1", f"-c{connections}", f"-d{duration_s}s", "--latency", "-s", str(script), base_url],
            capture_output=True,
            text=True,
            timeout=duration_s + 30,
            check=True,
        )
    return parse(finished.stdout)
