"""Drive a URL with wrk (Debian's ``wrk``) and read its summary."""

from __future__ import annotations

import json
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
    return parse(_wrk(base_url, rotating_paths_script(paths), duration_s=duration_s, connections=connections))


# Each connection sends a new registration (its own address and Idempotency-Key), waits for the
# answer, then pauses a random 0.5-1.5 s: about one registration per connection per second, with
# arrivals spread over time rather than in step. Counts the answers by status (wrk's Lua keeps no
# timing per request: the gateway's access log has it).
REGISTRATION_FLOOD = r"""
local run = "run"
local count = 0
local threads = {}
statuses = {}
setup = function(thread)
  threads[#threads + 1] = thread
end
init = function(args)
  run = args[1] or run
  math.randomseed(os.time())
end
request = function()
  count = count + 1
  local key = run .. "-" .. count
  local body = '{"correo":"flood-' .. key .. '@sportapp-bench.dev","clave":"correct horse battery"}'
  return wrk.format("POST", "/user-commands/users/register",
    {["Content-Type"] = "application/json", ["Idempotency-Key"] = key}, body)
end
delay = function()
  return math.random(500, 1500)
end
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
done = function(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      total[status] = (total[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(total) do
    parts[#parts + 1] = string.format('"%d": %d', status, n)
  end
  io.write("STATUSES {" .. table.concat(parts, ", ") .. "}\n")
end
"""

_STATUSES = re.compile(r"^STATUSES (\{.*\})$", re.MULTILINE)


@dataclass(frozen=True)
class FloodResult:
    """What a registration flood got back: wrk's summary and the answers by status."""

    summary: WrkResult
    statuses: dict[str, int]


def flood_registrations(base_url: str, *, connections: int, duration_s: int, run_id: str) -> FloodResult:
    """About ``connections`` new registrations a second for ``duration_s`` (see REGISTRATION_FLOOD)."""
    output = _wrk(
        base_url, REGISTRATION_FLOOD, duration_s=duration_s, connections=connections, args=[run_id]
    )
    found = _STATUSES.search(output)
    if found is None:
        raise ValueError(f"wrk did not report the answers' statuses:\n{output}")
    return FloodResult(summary=parse(output), statuses=dict(json.loads(found.group(1))))


def _wrk(
    base_url: str, script: str, *, duration_s: int, connections: int, args: list[str] | None = None
) -> str:
    binary = shutil.which("wrk")
    if binary is None:
        raise WrkUnavailable("wrk is not on PATH: apt-get install -y wrk")
    with tempfile.TemporaryDirectory(prefix="sportapp-wrk-") as folder:
        path = Path(folder) / "script.lua"
        path.write_text(script)
        command = [binary, "-t1", f"-c{connections}", f"-d{duration_s}s", "--latency", "-s", str(path),
                   base_url]  # fmt: skip
        if args:
            command += ["--", *args]
        finished = subprocess.run(
            command, capture_output=True, text=True, timeout=duration_s + 60, check=True
        )
    return finished.stdout
