"""The gateway's files for Docker Compose (``infra/compose/nginx/``), from the templates ``up`` uses.

NGINX's official image has no Python to render a template when it starts, so the rendered files
are committed: ``sportapp compose-files`` writes them, and a test fails when they differ from a
fresh render. They use the containers' paths (the same in the gateway's container and in the
monitor's), consulta's service name, and registro's fixed addresses (docker-compose.yml gives the
instances the same ones): a stopped container's name leaves Docker's DNS, and NGINX refuses a
configuration naming a host it cannot resolve, so naming registro's instances would refuse the
switch that takes a dead one out of service.
"""

from __future__ import annotations

from pathlib import Path

from sportapp_ops.nginx import Instance, UpstreamRoute, render_admission, render_upstream
from sportapp_stack.config import StackConfig
from sportapp_stack.openapi import openapi_text
from sportapp_stack.render import render_gateway

# Where the committed files live, relative to the repository's root.
FILES_DIR = Path("infra/compose/nginx")
# FILES_DIR, mounted read-only at the same path in the gateway and the monitor.
CONFIG_DIR = Path("/etc/sportapp/gateway")
# A volume shared by the gateway and the monitor: NGINX's prefix (pid file, temp files) and the
# live registro upstream and admission files, which the gateway seeds from CONFIG_DIR and the monitor
# rewrites.
RUN_DIR = Path("/run/sportapp/gateway")
NGINX_CONFIG = CONFIG_DIR / "nginx.conf"
UPSTREAM_FILE = RUN_DIR / "registro-upstream.conf"
UPSTREAM_SEED = CONFIG_DIR / "registro-upstream.conf"
ADMISSION_FILE = RUN_DIR / "registro-admission.conf"
ADMISSION_SEED = CONFIG_DIR / "registro-admission.conf"
PUBLIC_URL = "http://localhost:8080"
# registro's instances on the compose network (docker-compose.yml: networks.default's subnet and
# each instance's ipv4_address).
REGISTRO_ADDRESSES = {"registro-primary": "172.29.211.13", "registro-backup": "172.29.211.14"}

_HEADER = (
    "# infra/compose/nginx/nginx.conf, for docker compose: written by `sportapp compose-files` "
    "from infra/nginx/nginx.conf.j2.\n"
)


def service_ports(root: Path) -> dict[str, int]:
    """Each part's port, by compose service name: the local stack's default ports."""
    return _defaults(root).ports()


COMPOSE_REGISTRATIONS_IN_FLIGHT = 16


def render_compose_files(root: Path) -> dict[str, str]:
    """Every file of ``infra/compose/nginx/``, by name, rendered from the repository at ``root``."""
    defaults = _defaults(root)
    ports = defaults.ports()
    nginx_conf = render_gateway(
        root,
        # The gateway's container runs NGINX as the monitor's user, so that the monitor may
        # signal its master: no `user` directive, which only a root master may use.
        worker_user=None,
        foreground=True,
        pid_file=RUN_DIR / "nginx.pid",
        error_log="stderr",
        access_log="/dev/stdout",
        temp_dir=RUN_DIR / "temp",
        listen=str(ports["gateway"]),
        consulta_address=f"consulta:{ports['consulta']}",
        upstream_file=UPSTREAM_FILE,
        admission_file=ADMISSION_FILE,
        openapi_file=CONFIG_DIR / "openapi.json",
        registration_rate=defaults.registration_rate,
        registration_burst=defaults.registration_burst,
        # A fixed bound: these files are rendered once, for every machine (they are committed).
        registrations_in_flight=COMPOSE_REGISTRATIONS_IN_FLIGHT,
        client_max_body=defaults.client_max_body,
    )
    route = UpstreamRoute(
        generation=1,
        active=Instance("registro-primary", registro_address("registro-primary", ports)),
        standby=Instance("registro-backup", registro_address("registro-backup", ports)),
        masking=defaults.masking,
    )
    return {
        "nginx.conf": _HEADER + nginx_conf,
        "registro-upstream.conf": render_upstream(defaults.upstream_template, route),
        "registro-admission.conf": render_admission(defaults.admission_template, bounded=True),
        "openapi.json": openapi_text(PUBLIC_URL),
    }


def registro_address(instance: str, ports: dict[str, int]) -> str:
    """``instance``'s fixed ``address:port`` on the compose network."""
    return f"{REGISTRO_ADDRESSES[instance]}:{ports[instance]}"


def write_compose_files(root: Path) -> list[Path]:
    """Write every file of ``infra/compose/nginx/``; return the paths written."""
    folder = root / FILES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in render_compose_files(root).items():
        path = folder / name
        path.write_text(content)
        written.append(path)
    return written


def stale_compose_files(root: Path) -> list[Path]:
    """The files of ``infra/compose/nginx/`` that are missing or differ from a fresh render."""
    folder = root / FILES_DIR
    return [
        folder / name
        for name, content in render_compose_files(root).items()
        if not (folder / name).is_file() or (folder / name).read_text() != content
    ]


def _defaults(root: Path) -> StackConfig:
    # The local stack's defaults (ports, limits, masking); var_dir is never used here.
    return StackConfig(var_dir=RUN_DIR, root=root.resolve(), nginx_bin="nginx")
