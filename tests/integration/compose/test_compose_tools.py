"""infra/compose/ checked by real tools, without a Docker engine (there is none on these machines):
Docker Compose resolves the files, and NGINX accepts the gateway's configuration.

Docker Compose: Debian's ``docker-compose`` 1.29 (``apt-get install -y --no-install-recommends
docker-compose``; without --no-install-recommends apt also brings the docker.io engine) and/or a
``docker`` CLI with the compose plugin (v2). A test that needs one skips, saying so, when it is
missing. NGINX: Debian's, as scripts/setup installs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from sportapp_core.adapters.settings import settings_from_env
from sportapp_monitor.settings import MonitorSettings
from sportapp_ops.nginx import Instance, UpstreamRoute, render_admission, render_upstream
from sportapp_stack import compose
from sportapp_stack.config import find_nginx
from tests.compose_files import BASE_FILE, COMPOSE_DIR, REPO, SCALE_FILE, environment, services

pytestmark = pytest.mark.integration

INSTALL_HINT = "apt-get install -y --no-install-recommends docker-compose (Debian's 1.29)"
PROJECTS = {
    "base": (BASE_FILE,),
    "scale-out": (BASE_FILE, SCALE_FILE),
}


def _works(command: list[str]) -> bool:
    try:
        result = subprocess.run([*command, "version"], capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def _compose_command(tool: str) -> list[str]:
    if tool == "docker compose":
        command, hint = ["docker", "compose"], f"the docker CLI's compose plugin; or {INSTALL_HINT}"
    else:
        command, hint = ["docker-compose"], INSTALL_HINT
    if shutil.which(command[0]) is None or not _works(command):
        pytest.skip(f"`{tool}` is not installed here: {hint}")
    return command


def _resolve(command: list[str], files: tuple[Path, ...]) -> dict[str, object]:
    arguments = [part for path in files for part in ("-f", str(path))]
    result = subprocess.run(
        [*command, *arguments, "config"],
        capture_output=True, text=True, timeout=60, check=False, cwd=COMPOSE_DIR,
        # The example password's default applies, whatever this machine's environment holds.
        env={k: v for k, v in os.environ.items() if k != "POSTGRES_PASSWORD"},
    )
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    assert isinstance(resolved, dict), f"no configuration printed: {result.stderr}"
    return resolved


@pytest.mark.parametrize("tool", ["docker-compose", "docker compose"])
@pytest.mark.parametrize("project", PROJECTS)
def test_docker_compose_resolves_the_files(tool: str, project: str) -> None:
    resolved = _resolve(_compose_command(tool), PROJECTS[project])

    resolved_services = resolved["services"]
    assert isinstance(resolved_services, dict)
    expected = set(services(BASE_FILE)) | (set(services(SCALE_FILE)) if project == "scale-out" else set())
    assert set(resolved_services) == expected
    assert resolved_services["monitor"]["pid"] == "service:gateway"
    build = resolved_services["db"]["build"]
    assert Path(build["context"]) == REPO
    if project == "scale-out":
        # The override adds to the base file's services: the build and the command stay.
        assert build["target"] == "runtime"
        assert build["dockerfile"] == "infra/compose/Dockerfile"
        assert resolved_services["db"]["command"] == ["gunicorn", "-c", "apps/db/gunicorn.conf.py"]
        assert resolved_services["consulta"]["deploy"]["replicas"] == 2


@pytest.mark.parametrize("tool", ["docker-compose", "docker compose"])
def test_docker_compose_refuses_a_broken_file(tool: str, tmp_path: Path) -> None:
    command = _compose_command(tool)
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(BASE_FILE.read_text().replace('pid: "service:gateway"', 'pid: "service:nowhere"'))

    result = subprocess.run(
        [*command, "-f", str(broken), "config"],
        capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path,
    )

    assert result.returncode != 0 or not result.stdout.strip()
    assert "nowhere" in result.stderr


# --- the gateway's configuration, under NGINX ---------------------------------------------------


def _nginx() -> str:
    binary = find_nginx()
    if not Path(binary).exists():
        pytest.skip(f"NGINX is not installed at {binary} (see scripts/setup)")
    return binary


def _unshare_prefix() -> list[str]:
    """unshare's arguments for a private mount namespace (a user namespace too, unless root)."""
    prefix = ["unshare", "--mount", "--propagation", "private"]
    if os.geteuid() != 0:
        prefix.insert(1, "--map-root-user")
    if shutil.which("unshare") is None:
        pytest.skip("no unshare (util-linux) here")
    probe = subprocess.run([*prefix, "true"], capture_output=True, text=True, timeout=10, check=False)
    if probe.returncode != 0:
        pytest.skip(f"cannot make a private mount namespace here: {probe.stderr.strip()}")
    return prefix


@pytest.fixture
def gateway_files(tmp_path: Path) -> tuple[Path, Path]:
    """The committed gateway files at paths of this machine: (config folder, run folder), the run
    folder seeded as the gateway's entrypoint seeds it."""
    config_dir, run_dir = tmp_path / "config", tmp_path / "run"
    shutil.copytree(REPO / compose.FILES_DIR, config_dir)
    (run_dir / "temp").mkdir(parents=True)
    nginx_conf = config_dir / "nginx.conf"
    nginx_conf.write_text(
        nginx_conf.read_text()
        .replace(str(compose.CONFIG_DIR), str(config_dir))
        .replace(str(compose.RUN_DIR), str(run_dir))
    )
    for seeded in ("registro-upstream.conf", "registro-admission.conf"):
        shutil.copy(config_dir / seeded, run_dir / seeded)
    return config_dir, run_dir


def _nginx_t(
    config_dir: Path, run_dir: Path, *, down: frozenset[str] = frozenset()
) -> subprocess.CompletedProcess[str]:
    """``nginx -t`` as the monitor runs it, with the compose service names resolving to 127.0.0.1
    through a private /etc/hosts (NGINX resolves upstream names while it reads its config), but
    for those ``down``: as Docker's DNS forgets a stopped container's name."""
    hosts = run_dir.parent / "hosts"
    names = " ".join(sorted(set(services(BASE_FILE)) - down))
    hosts.write_text(f"127.0.0.1 localhost {names}\n")
    script = 'mount --bind "$1" /etc/hosts && exec "$2" -t -q -p "$3" -c "$4" -e "$3/error.log"'
    return subprocess.run(
        [*_unshare_prefix(), "sh", "-c", script, "sh", str(hosts), _nginx(), str(run_dir),
         str(config_dir / "nginx.conf")],
        capture_output=True, text=True, timeout=30, check=False,
    )


def test_nginx_accepts_the_compose_gateway_configuration(gateway_files: tuple[Path, Path]) -> None:
    result = _nginx_t(*gateway_files)

    assert result.returncode == 0, result.stderr


def test_nginx_refuses_an_upstream_name_that_does_not_resolve(gateway_files: tuple[Path, Path]) -> None:
    config_dir, run_dir = gateway_files
    upstream = run_dir / "registro-upstream.conf"
    backup = f"{compose.REGISTRO_ADDRESSES['registro-backup']}:8104"
    upstream.write_text(upstream.read_text().replace(backup, "registro-nowhere:8104"))

    result = _nginx_t(config_dir, run_dir)

    assert result.returncode != 0
    assert "registro-nowhere" in result.stderr


@pytest.mark.parametrize("masking", [True, False], ids=["masking", "no-masking"])
def test_nginx_accepts_the_upstream_the_monitor_writes_on_a_failover_while_the_primary_is_down(
    gateway_files: tuple[Path, Path], masking: bool
) -> None:
    # The dead primary's container is stopped: its name resolves no more. The route names both
    # instances by their fixed addresses, so the switch is never refused for it.
    config_dir, run_dir = gateway_files
    settings = settings_from_env(MonitorSettings, environment(services(BASE_FILE)["monitor"]))
    template = REPO / Path(settings.upstream_template).relative_to("/opt/sportapp")
    failover = UpstreamRoute(
        generation=2,
        active=Instance(settings.backup, settings.backup_address),
        standby=Instance(settings.primary, settings.primary_address),
        masking=masking,
    )
    (run_dir / "registro-upstream.conf").write_text(render_upstream(template, failover))

    result = _nginx_t(config_dir, run_dir, down=frozenset({"registro-primary"}))

    assert result.returncode == 0, result.stderr


def test_nginx_accepts_the_admission_the_monitor_writes_while_db_is_away(
    gateway_files: tuple[Path, Path],
) -> None:
    config_dir, run_dir = gateway_files
    settings = settings_from_env(MonitorSettings, environment(services(BASE_FILE)["monitor"]))
    template = REPO / Path(settings.admission_template).relative_to("/opt/sportapp")
    (run_dir / "registro-admission.conf").write_text(render_admission(template, bounded=False))

    result = _nginx_t(config_dir, run_dir)

    assert result.returncode == 0, result.stderr
