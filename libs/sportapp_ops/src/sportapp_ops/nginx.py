"""NGINX as the monitor and the stack drive it: render the registro upstream, test, reload."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import jinja2

_HEADER = re.compile(
    r"^# sportapp-upstream generation=(?P<generation>\d+) active=(?P<active>\S+) "
    r"standby=(?P<standby>\S+) masking=(?P<masking>on|off)$",
    re.MULTILINE,
)
_ADMISSION_HEADER = re.compile(r"^# sportapp-admission bounded=(yes|no)$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Instance:
    """A registro instance as NGINX sees it."""

    name: str
    address: str  # host:port


@dataclass(frozen=True, slots=True)
class UpstreamRoute:
    """Which registro instance gets registrations, which stands by, and in which generation."""

    generation: int
    active: Instance
    standby: Instance
    masking: bool

    def header(self) -> str:
        """The first line of the rendered file: how the monitor learns the route after a restart."""
        return (
            f"# sportapp-upstream generation={self.generation} active={self.active.name} "
            f"standby={self.standby.name} masking={'on' if self.masking else 'off'}"
        )


class NginxConfigError(RuntimeError):
    """``nginx -t`` refused a configuration."""


def _render(template: Path, **values: object) -> str:
    """The Jinja2 ``template`` rendered with ``values`` (every variable it uses must be given)."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template.parent)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701 -- NGINX configuration, not HTML
    )
    return environment.get_template(template.name).render(**values)


def render_upstream(template: Path, route: UpstreamRoute) -> str:
    """The registro upstream include for ``route``, from the Jinja2 ``template``."""
    return f"{route.header()}\n{_render(template, route=route)}"


def render_admission(template: Path, *, bounded: bool) -> str:
    """The admission include (whether registrations in flight are bounded), from ``template``."""
    return _render(template, bounded=bounded)


def read_admission(admission_file: Path) -> bool | None:
    """Whether a rendered admission file bounds registrations in flight; None if there is none."""
    try:
        found = _ADMISSION_HEADER.search(admission_file.read_text())
    except FileNotFoundError:
        return None
    return None if found is None else found.group(1) == "yes"


def read_route(upstream_file: Path) -> tuple[int, str, str, bool] | None:
    """(generation, active name, standby name, masking) from a rendered file, if it has them."""
    try:
        match = _HEADER.search(upstream_file.read_text())
    except OSError:
        return None
    if match is None:
        return None
    return (
        int(match["generation"]),
        match["active"],
        match["standby"],
        match["masking"] == "on",
    )


def write_atomically(path: Path, content: str) -> None:
    """Replace ``path`` by ``content`` so that a reader sees the old file or the new one, whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)  # NGINX's workers may run as another user
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class Nginx:
    """One NGINX master, known by its prefix folder and main configuration file."""

    def __init__(self, binary: str, prefix: Path, config: Path) -> None:
        self.binary = binary
        self.prefix = prefix
        self.config = config

    def test(self) -> None:
        """Run ``nginx -t``; raise :class:`NginxConfigError` with NGINX's words if it fails."""
        result = subprocess.run(
            [self.binary, "-t", "-q", "-p", str(self.prefix), "-c", str(self.config),
             "-e", str(self.prefix / "error.log")],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if result.returncode != 0:
            raise NginxConfigError(result.stderr.strip() or f"nginx -t exited {result.returncode}")

    def master_pid(self) -> int:
        """The master's pid, from its pid file."""
        return int((self.prefix / "nginx.pid").read_text().strip())

    def reload(self) -> None:
        """Ask the master to reload (SIGHUP). It returns at once: new workers start afterwards."""
        os.kill(self.master_pid(), signal.SIGHUP)

    def replace_config(self, path: Path, content: str) -> None:
        """Install ``content`` at ``path`` only if NGINX accepts it; otherwise keep the old file.

        The new file must be in place for ``nginx -t`` to read it through the main config; the
        running master is not told until :meth:`reload`, so a refused file is never live.
        """
        previous = path.read_text() if path.exists() else None
        write_atomically(path, content)
        try:
            self.test()
        except (NginxConfigError, subprocess.TimeoutExpired):
            if previous is None:
                path.unlink(missing_ok=True)
            else:
                write_atomically(path, previous)
            raise
