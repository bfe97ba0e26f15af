"""Run the JMeter plan (``infra/jmeter/registration.jmx``) headless and return its CSV JTL.

JMeter is optional: the experiment's own generator (``load``) needs nothing but Python. JMeter 5.x is
needed, not Debian's ``jmeter`` package (2.13, which does not start on a current Java); when it is
missing or too old, :class:`JMeterUnavailable` says what to install.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sportapp_stack.processes import stop_groups

MIN_MAJOR_VERSION = 5
VERSION_TIMEOUT_S = 120.0
# Past the planned duration, how long JMeter may take to start (JVM) and to finish its threads.
RUN_MARGIN_S = 180.0
# Variables the plan sets on every registration, saved into the JTL (read back by jtl.read_jtl).
SAVED_VARIABLES = ("correo", "idempotencyKey", "userId", "servedBy")
# Written explicitly so a site's jmeter.properties cannot change the JTL that jtl.read_jtl reads.
SAVE_PROPERTIES: Mapping[str, str] = {
    "jmeter.save.saveservice.output_format": "csv",
    "jmeter.save.saveservice.print_field_names": "true",
    "jmeter.save.saveservice.timestamp_format": "ms",
    "jmeter.save.saveservice.default_delimiter": ",",
    "jmeter.save.saveservice.url": "true",
    "jmeter.save.saveservice.latency": "true",
    "jmeter.save.saveservice.connect_time": "true",
    "jmeter.save.saveservice.idle_time": "true",
    "jmeter.save.saveservice.thread_counts": "true",
    "jmeter.save.saveservice.subresults": "false",
    "sampleresult.timestamp.start": "true",
    # The registration's address, key and answered id (the verification looks each one up in the
    # stores) and the instance that served it: columns of the JTL, after JMeter's own.
    "sample_variables": ",".join(SAVED_VARIABLES),
}
INSTALL_HINT = (
    "install Apache JMeter 5.x (the binary distribution, with a Java 8+ runtime) and put its bin/ "
    "on PATH; Debian's `jmeter` package is version 2.13 and does not work"
)


class JMeterUnavailable(RuntimeError):
    """No usable JMeter 5.x: the message says what is missing."""


class JMeterFailed(RuntimeError):
    """JMeter ran but did not produce a results file (its log's tail is in the message)."""


@dataclass(frozen=True)
class JMeterInstallation:
    """Where ``jmeter`` is and which version it reports."""

    path: Path
    version: str

    @property
    def major(self) -> int:
        """The major version number."""
        return int(self.version.split(".", 1)[0])


def parse_jmeter_version(output: str) -> str | None:
    """The version in the output of ``jmeter --version`` (a banner, then e.g. ``5.6.3``), or ``None``."""
    for line in output.splitlines():
        # The JVM may print its own warnings, with Java's version, before JMeter's banner.
        if re.search(r"java|jdk|jvm|copyright|openjdk", line, re.IGNORECASE):
            continue
        found = re.search(r"(?<![\w.])(\d+\.\d+(?:\.\d+)?)(?![\w.])", line)
        if found:
            return found.group(1)
    return None


def find_jmeter(executable: str = "jmeter") -> JMeterInstallation:
    """Locate ``executable`` on PATH and check that it is JMeter 5.x, or raise JMeterUnavailable."""
    found = shutil.which(executable)
    if found is None:
        raise JMeterUnavailable(f"`{executable}` is not on PATH: {INSTALL_HINT}")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise JMeterUnavailable(f"`{found}` needs Java, and neither `java` nor JAVA_HOME is set")
    try:
        completed = subprocess.run(
            [found, "--version"],
            capture_output=True,
            text=True,
            timeout=VERSION_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise JMeterUnavailable(f"`{found} --version` did not run ({error}): {INSTALL_HINT}") from error
    version = parse_jmeter_version(completed.stdout + "\n" + completed.stderr)
    if version is None:
        raise JMeterUnavailable(
            f"`{found} --version` printed no version (exit {completed.returncode}): {INSTALL_HINT}"
        )
    installation = JMeterInstallation(Path(found), version)
    if installation.major < MIN_MAJOR_VERSION:
        raise JMeterUnavailable(f"`{found}` is JMeter {version}: {INSTALL_HINT}")
    return installation


def jmeter_command(
    installation: JMeterInstallation,
    plan: Path,
    jtl: Path,
    log: Path,
    properties: dict[str, str],
) -> list[str]:
    """The non-GUI command line: plan, CSV results, log, and every property as ``-Jname=value``."""
    command = [str(installation.path), "-n", "-t", str(plan), "-l", str(jtl), "-j", str(log)]
    command += [f"-J{name}={value}" for name, value in {**SAVE_PROPERTIES, **properties}.items()]
    return command


def run_jmeter(
    plan: Path,
    out_dir: Path,
    host: str,
    port: int,
    rate: float,
    duration: float,
    *,
    read_share: float = 0.2,
    timeout_s: float = 10.0,
    executable: str = "jmeter",
) -> Path:
    """Run ``plan`` headless against ``host:port`` at ``rate`` requests/s for ``duration`` s.

    Returns the CSV JTL (``out_dir/results.jtl``); ``out_dir/jmeter.log`` keeps JMeter's log and
    ``out_dir/jmeter.out`` its console output.
    """
    installation = find_jmeter(executable)
    out_dir.mkdir(parents=True, exist_ok=True)
    jtl = out_dir / "results.jtl"
    log = out_dir / "jmeter.log"
    # JMeter appends to an existing results file, which would mix two runs.
    jtl.unlink(missing_ok=True)
    # Enough threads that the timetable holds while every answer takes the full timeout.
    register_threads = _threads(rate * (1.0 - read_share), timeout_s)
    read_threads = _threads(rate * read_share, timeout_s) if read_share > 0 else 0
    properties = {
        "host": host,
        "port": str(port),
        "rate": f"{rate:g}",
        "duration": str(math.ceil(duration)),
        "read_share": f"{read_share:g}",
        "threads": str(register_threads),
        "read_threads": str(read_threads),
        "timeout_ms": str(round(timeout_s * 1000)),
    }
    command = jmeter_command(installation, plan, jtl, log, properties)
    returncode = _run_bounded(command, timeout_s=duration + timeout_s + RUN_MARGIN_S, cwd=out_dir)
    if returncode != 0 or not jtl.exists():
        raise JMeterFailed(
            f"jmeter exited {returncode} without results in {jtl}; log tail:\n{_tail(log)}"
        )
    return jtl


def _threads(rate: float, timeout_s: float) -> int:
    return max(10, min(2000, math.ceil(rate * timeout_s)))


def _run_bounded(command: list[str], *, timeout_s: float, cwd: Path) -> int:
    # The jmeter script starts java as a child; a session of its own lets us stop both on timeout.
    with (cwd / "jmeter.out").open("w") as output:
        process = subprocess.Popen(
            command, cwd=cwd, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            return process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            stop_groups([process], timeout_s=10)
    raise JMeterFailed(f"jmeter did not finish within {timeout_s:.0f} s and was stopped")


def _tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
