"""Where the stack lives and how its parts are wired: the one typed description `up` works from."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"  # every part listens on the loopback only (docs/contracts.md)
STATE_FILE = "stack.json"

_RATE_SHAPE = re.compile(r"^[1-9][0-9]*r/[sm]$")
_SIZE_SHAPE = re.compile(r"^[1-9][0-9]*[kKmM]?$")
# sun_path holds 108 bytes, NUL included: a longer socket path cannot be bound.
_MAX_SOCKET_PATH = 107


class ConfigError(ValueError):
    """A stack setting that cannot work (a port used twice, a malformed rate, ...)."""


BACKENDS = ("sqlite", "postgres")
EVENT_TRANSPORTS = ("http", "redis")

PORT_FIELDS = (
    "gateway_port",
    "db_port",
    "consulta_port",
    "registro_primary_port",
    "registro_backup_port",
    "monitor_port",
)


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports of 127.0.0.1 that nobody listens on right now."""
    with contextlib.ExitStack() as held:
        probes = [held.enter_context(socket.socket()) for _ in range(count)]
        for probe in probes:
            probe.bind((HOST, 0))
        return [int(probe.getsockname()[1]) for probe in probes]


def find_nginx() -> str:
    """The NGINX binary: on PATH, else Debian's /usr/sbin/nginx (not on a user's PATH)."""
    return shutil.which("nginx") or "/usr/sbin/nginx"


def find_root(start: Path | None = None) -> Path:
    """The monorepo's root: the nearest folder at or above ``start`` (default: here) holding the apps.

    Falls back to the checkout this package is installed from (editable installs), so that
    ``sportapp`` works from any folder of the repository and from outside it.
    """
    candidates = [(start or Path.cwd()).resolve(), Path(__file__).resolve()]
    for candidate in candidates:
        for folder in (candidate, *candidate.parents):
            if (folder / "infra" / "nginx" / "nginx.conf.j2").is_file() and (folder / "apps").is_dir():
                return folder
    raise ConfigError("cannot find the SportApp repository (infra/nginx, apps/): use --root")


@dataclass(frozen=True, slots=True)
class StackConfig:
    """Ports, limits and switches of one local stack, and the work folder it runs from."""

    var_dir: Path
    root: Path
    gateway_port: int = 8080
    db_port: int = 8101
    consulta_port: int = 8102
    registro_primary_port: int = 8103
    registro_backup_port: int = 8104
    monitor_port: int = 8105
    # The monitor: ping/echo, failover, restarts. Off only to watch the stack without it.
    monitor: bool = True
    # Registrations per client address: nginx's limit_req rate ("200r/s", "30r/m") and burst.
    # The default leaves room for a load test of ~50 registrations/s from one address.
    registration_rate: str = "200r/s"
    registration_burst: int = 400
    # Registrations in flight to registro at once, from every client together; the gateway refuses
    # more at once (503), far cheaper than registro could. None: sized when the stack renders its
    # files, from a hash timed on this machine (sportapp_stack.render.gateway_in_flight_bound).
    registrations_in_flight: int | None = None
    client_max_body: str = "16k"
    masking: bool = True
    fault_injection: bool = False
    seed_crash: bool = False
    # Empty: a SQLite file in the work folder.
    store_url: str = ""
    read_store_url: str = ""
    # What the stores are on: "sqlite" (files in the work folder, or the URLs above) or
    # "postgres" (a database of the run's own, see sportapp_stack.backends).
    backend: str = "sqlite"
    # How consulta gets the events: "http" (db's feed) or "redis" (a stream fed by the relay).
    event_transport: str = "http"
    redis_url: str = "redis://127.0.0.1:6379/0"
    event_stream: str = "sportapp:events"
    # The PostgreSQL database made for this stack (and the server's URL): `down` drops it
    # unless ``keep_database``.
    run_database: str = ""
    postgres_server_url: str = ""
    keep_database: bool = False
    nginx_bin: str = dataclasses.field(default_factory=find_nginx)
    start_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        if not self.var_dir.is_absolute() or not self.root.is_absolute():
            raise ConfigError("var_dir and root must be absolute paths")
        ports = self.ports()
        for name, port in ports.items():
            if not 1 <= port <= 65535:
                raise ConfigError(f"{name} port {port} is not a TCP port")
        if len(set(ports.values())) != len(ports):
            raise ConfigError(f"two parts cannot share a port: {ports}")
        if not _RATE_SHAPE.match(self.registration_rate):
            raise ConfigError(
                f"registration rate {self.registration_rate!r} is not like '200r/s' or '30r/m'"
            )
        if self.registration_burst < 0:
            raise ConfigError("registration burst cannot be negative")
        if self.registrations_in_flight is not None and self.registrations_in_flight < 1:
            raise ConfigError("at least one registration must be let through at a time")
        if not _SIZE_SHAPE.match(self.client_max_body):
            raise ConfigError(f"body size {self.client_max_body!r} is not like '16k'")
        if self.backend not in BACKENDS:
            raise ConfigError(f"backend {self.backend!r} is not one of {', '.join(BACKENDS)}")
        if self.event_transport not in EVENT_TRANSPORTS:
            raise ConfigError(
                f"event transport {self.event_transport!r} is not one of {', '.join(EVENT_TRANSPORTS)}"
            )
        if len(str(self.socket)) > _MAX_SOCKET_PATH:
            raise ConfigError(f"the work folder's path is too long for a unix socket: {self.socket}")

    def ports(self) -> dict[str, int]:
        """Each part's port, by part name."""
        return {
            "gateway": self.gateway_port,
            "db": self.db_port,
            "consulta": self.consulta_port,
            "registro-primary": self.registro_primary_port,
            "registro-backup": self.registro_backup_port,
            **({"monitor": self.monitor_port} if self.monitor else {}),
        }

    def url(self, port: int) -> str:
        """The base URL of whatever listens on ``port``."""
        return f"http://{HOST}:{port}"

    @property
    def gateway_url(self) -> str:
        """Where clients talk to the public API."""
        return self.url(self.gateway_port)

    @property
    def db_service_url(self) -> str:
        """Where registro and consulta find the db service."""
        return self.url(self.db_port)

    # --- the work folder's layout ----------------------------------------------------------

    @property
    def nginx_dir(self) -> Path:
        """NGINX's prefix: its config, pid, logs, temp files and the OpenAPI document."""
        return self.var_dir / "nginx"

    @property
    def nginx_config(self) -> Path:
        """The main NGINX configuration."""
        return self.nginx_dir / "nginx.conf"

    @property
    def nginx_error_log(self) -> Path:
        """NGINX's error log (also given with -e, so that nothing goes to /var/log/nginx)."""
        return self.nginx_dir / "error.log"

    @property
    def upstream_file(self) -> Path:
        """The registro upstream include, which the monitor rewrites on a switch."""
        return self.nginx_dir / "registro-upstream.conf"

    @property
    def upstream_template(self) -> Path:
        """The template of :attr:`upstream_file` (the monitor renders it too)."""
        return self.root / "infra" / "nginx" / "registro-upstream.conf.j2"

    @property
    def admission_file(self) -> Path:
        """The include that says whether registrations in flight are bounded (the monitor rewrites
        it when db goes away and comes back)."""
        return self.nginx_dir / "registro-admission.conf"

    @property
    def admission_template(self) -> Path:
        """The template of :attr:`admission_file` (the monitor renders it too)."""
        return self.root / "infra" / "nginx" / "registro-admission.conf.j2"

    @property
    def openapi_file(self) -> Path:
        """The OpenAPI document NGINX serves at /openapi.json."""
        return self.nginx_dir / "openapi.json"

    @property
    def logs_dir(self) -> Path:
        """supervisord's log and each program's output."""
        return self.var_dir / "logs"

    @property
    def data_dir(self) -> Path:
        """The SQLite stores, when no store URL is given."""
        return self.var_dir / "data"

    @property
    def faults_dir(self) -> Path:
        """Where registro's fault switch keeps its flag files."""
        return self.var_dir / "faults"

    @property
    def monitor_event_log(self) -> Path:
        """The monitor's append-only event log (JSON lines)."""
        return self.var_dir / "monitor-events.jsonl"

    @property
    def supervisord_config(self) -> Path:
        """supervisord's rendered configuration."""
        return self.var_dir / "supervisord.conf"

    @property
    def socket(self) -> Path:
        """supervisord's XML-RPC unix socket."""
        return self.var_dir / "supervisor.sock"

    @property
    def supervisord_pidfile(self) -> Path:
        """supervisord's pid file."""
        return self.var_dir / "supervisord.pid"

    @property
    def write_store_url(self) -> str:
        """db's SQLAlchemy URL."""
        return self.store_url or f"sqlite:///{self.data_dir / 'sportapp.db'}"

    @property
    def consulta_store_url(self) -> str:
        """consulta's read model SQLAlchemy URL."""
        return self.read_store_url or f"sqlite:///{self.data_dir / 'consulta.db'}"

    # --- saved with the stack, so that status/down/logs know what `up` started ---------------

    def to_json(self) -> str:
        """This configuration as JSON (paths as strings)."""
        values: dict[str, Any] = dataclasses.asdict(self)
        return json.dumps({k: str(v) if isinstance(v, Path) else v for k, v in values.items()}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> StackConfig:
        """The configuration :meth:`to_json` wrote."""
        values = json.loads(text)
        known = {field.name for field in dataclasses.fields(cls)}
        values = {k: v for k, v in values.items() if k in known}
        values["var_dir"] = Path(values["var_dir"])
        values["root"] = Path(values["root"])
        return cls(**values)
