"""infra/compose/: what can be checked without a Docker engine, read from the files themselves.

The compose files must start the gateway, db, consulta, both registro instances and the monitor,
each configured by variables its app really reads, and let the monitor reload the gateway's NGINX
through a shared volume and PID namespace instead of the Docker socket.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import re
import shlex
import shutil
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from click.testing import CliRunner

from sportapp_core.adapters.settings import settings_from_env
from sportapp_monitor.settings import MonitorSettings
from sportapp_ops.nginx import Instance, UpstreamRoute, render_upstream
from sportapp_stack import compose
from sportapp_stack.cli import main
from sportapp_stack.config import StackConfig
from sportapp_stack.programs import programs
from tests.compose_files import (
    BASE_FILE,
    COMPOSE_FILES,
    DOCKERIGNORE,
    PYTHON_TARGETS,
    REPO,
    SCALE_FILE,
    app_services,
    bind_port,
    core_extras,
    dockerfile_args,
    dockerfile_instructions,
    environment,
    load,
    services,
    settings_class,
    variables_read,
)

PARTS = {"gateway", "db", "consulta", "registro-primary", "registro-backup", "monitor"}
# Variables set in compose that the apps do not read yet: the adapters are being written. When an
# app starts reading one, the test below fails: take it off this list.
NOT_READ_YET: dict[tuple[str, str], set[str]] = {}
# Read by prometheus_client and the core's observability, not by a settings dataclass.
OTHER_VARIABLES = {"PROMETHEUS_MULTIPROC_DIR"}
APP_SERVICES = [
    pytest.param(path, name, service, app, id=f"{path.name}:{name}")
    for path, name, service, app in app_services()
]
WORKDIR = PurePosixPath("/opt/sportapp")
NGINX_FILES = REPO / compose.FILES_DIR


def _gateway() -> dict[str, Any]:
    return services(BASE_FILE)["gateway"]


def _monitor_settings() -> MonitorSettings:
    return settings_from_env(MonitorSettings, environment(services(BASE_FILE)["monitor"]))


def _gateway_nginx_command() -> list[str]:
    """The `nginx ...` command the gateway's entrypoint ends with."""
    script = _gateway()["entrypoint"][-1]
    return shlex.split(script.rpartition("exec ")[2])


def _option(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def _upstream_servers(text: str) -> list[tuple[str, int]]:
    return [(host, int(port)) for host, port in re.findall(r"^\s*server\s+([\w.-]+):(\d+)", text, re.M)]


def _fixed_address(service: dict[str, Any]) -> str:
    return str(service["networks"]["default"]["ipv4_address"])


def _volume_mounts(service: dict[str, Any]) -> dict[str, str]:
    """Target folder -> source (a named volume, or a path relative to the compose file)."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        mounts[target] = source
    return mounts


def test_both_files_define_services_and_the_base_one_runs_every_part() -> None:
    for path in COMPOSE_FILES:
        assert services(path), f"{path.name} defines no service"
    assert set(services(BASE_FILE)) == PARTS
    assert {"postgres", "redis", "db", "consulta"} <= set(services(SCALE_FILE))


def test_only_the_gateway_publishes_a_port() -> None:
    for path in COMPOSE_FILES:
        for name, service in services(path).items():
            if name == "gateway":
                # On the loopback interface only, port 8080 unless SPORTAPP_GATEWAY_PORT says.
                assert service["ports"] == ["127.0.0.1:${SPORTAPP_GATEWAY_PORT:-8080}:8080"]
            else:
                assert "ports" not in service, f"{path.name}:{name} publishes {service['ports']}"
            assert service.get("network_mode") != "host"


def test_every_service_has_a_healthcheck_on_the_local_stacks_health_url() -> None:
    local = {
        program.name: program.health_url.split("/", 3)[3]
        for program in programs(StackConfig(var_dir=Path("/nonexistent"), root=REPO, nginx_bin="nginx"))
    }
    ports = compose.service_ports(REPO)
    for path in COMPOSE_FILES:
        for name, service in services(path).items():
            definition = services(BASE_FILE).get(name, service)
            test = " ".join(definition["healthcheck"]["test"])
            if name in local:
                assert f"http://127.0.0.1:{ports[name]}/{local[name]}" in test, (name, test)
    assert "pg_isready" in services(SCALE_FILE)["postgres"]["healthcheck"]["test"]
    assert "ping" in services(SCALE_FILE)["redis"]["healthcheck"]["test"]


def test_the_python_healthchecks_use_the_image_s_own_python() -> None:
    for name, service in services(BASE_FILE).items():
        if service["build"]["target"] in PYTHON_TARGETS:
            assert service["healthcheck"]["test"][:3] == ["CMD", "python", "-c"], name
    # The gateway's image installs curl beside NGINX (the Dockerfile's gateway target).
    assert _gateway()["healthcheck"]["test"][:2] == ["CMD", "curl"]
    assert "curl" in " ".join(
        i.value[0] for i in dockerfile_instructions() if i.cmd == "RUN" and i.stage == "gateway"
    )


@pytest.mark.parametrize(("path", "name", "service", "app"), APP_SERVICES)
def test_every_sportapp_variable_is_one_the_app_reads(
    path: Path, name: str, service: dict[str, Any], app: Any
) -> None:
    variables = environment(service)
    read = variables_read(app)
    pending = NOT_READ_YET.get((path.name, name), set())
    unknown = {v for v in variables if v.startswith("SPORTAPP_")} - read - pending
    assert not unknown, f"{path.name}:{name} sets variables {app.package} never reads: {sorted(unknown)}"
    others = {v for v in variables if not v.startswith("SPORTAPP_")} - OTHER_VARIABLES
    assert not others, f"{path.name}:{name} sets {sorted(others)}"


@pytest.mark.parametrize(("path", "name", "service", "app"), APP_SERVICES)
def test_every_value_is_one_the_app_accepts(
    path: Path, name: str, service: dict[str, Any], app: Any
) -> None:
    # The settings parse (a bool is a bool, a number a number); unread variables are ignored.
    settings_from_env(settings_class(app.package), environment(service))


def test_the_variables_not_read_yet_are_still_not_read() -> None:
    apps = {(path.name, name): app for path, name, _service, app in app_services()}
    for key, variables in NOT_READ_YET.items():
        now_read = variables & variables_read(apps[key])
        assert not now_read, f"{key}: {sorted(now_read)} are read now: take them off NOT_READ_YET"


@pytest.mark.parametrize(("path", "name", "service", "app"), APP_SERVICES)
def test_every_command_exists_in_the_repository_and_the_image(
    path: Path, name: str, service: dict[str, Any], app: Any
) -> None:
    # A service only the scale-out file defines (the relay) is its own definition.
    definition = services(BASE_FILE).get(name, service)
    if app.gunicorn_conf is None:
        assert importlib.util.find_spec(f"{app.package}.__main__") is not None, app.package
        return
    assert app.gunicorn_conf.is_file(), f"{path.name}:{name} runs {app.gunicorn_conf}: no such file"
    # gunicorn loads the app its gunicorn.conf.py names.
    assert importlib.util.find_spec(app.package) is not None, app.package
    copied = {
        WORKDIR / instruction.value[-1]
        for instruction in dockerfile_instructions()
        if instruction.cmd == "COPY" and instruction.stage == "runtime"
    }
    relative = app.gunicorn_conf.relative_to(REPO).as_posix()
    assert WORKDIR / relative in copied, f"the image has no {relative}"
    assert definition["command"][2] == relative


def test_the_gateway_s_upstream_servers_are_services_listening_on_those_ports() -> None:
    base = services(BASE_FILE)
    listening = {
        name: bind_port(service) for name, service in base.items()
        if service["build"]["target"] in PYTHON_TARGETS
    }
    # registro's instances by their fixed addresses, consulta by name.
    by_address = {_fixed_address(base[name]): name for name in ("registro-primary", "registro-backup")}
    servers = _upstream_servers((NGINX_FILES / "nginx.conf").read_text())
    servers += _upstream_servers((NGINX_FILES / "registro-upstream.conf").read_text())
    servers = [(by_address.get(host, host), port) for host, port in servers]
    assert {host for host, _ in servers} == {"consulta", "registro-primary", "registro-backup"}
    for host, port in servers:
        assert listening.get(host) == port, f"upstream {host}:{port}; {host} listens on {listening.get(host)}"
    assert re.search(r"^\s*listen 8080;", (NGINX_FILES / "nginx.conf").read_text(), re.M)


def test_the_committed_gateway_files_are_a_fresh_render_of_the_templates() -> None:
    stale = compose.stale_compose_files(REPO)
    assert not stale, f"out of date: {stale}; run `sportapp compose-files`"


def test_the_compose_files_command_checks_and_writes_the_gateway_files(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["compose-files", "--check", "--root", str(REPO)]).exit_code == 0
    root = tmp_path / "repo"
    shutil.copytree(REPO / "infra" / "nginx", root / "infra" / "nginx")
    (root / "apps").mkdir()

    stale = runner.invoke(main, ["compose-files", "--check", "--root", str(root)])
    written = runner.invoke(main, ["compose-files", "--root", str(root)])

    assert stale.exit_code == 1
    assert "out of date: infra/compose/nginx/nginx.conf" in stale.output
    assert written.exit_code == 0
    for name in ("nginx.conf", "registro-upstream.conf", "openapi.json"):
        assert (root / compose.FILES_DIR / name).read_text() == (NGINX_FILES / name).read_text()


def test_the_monitor_and_the_gateway_see_the_same_nginx_files() -> None:
    settings = _monitor_settings()
    monitor = services(BASE_FILE)["monitor"]
    nginx = _gateway_nginx_command()
    assert nginx[0] == "nginx"
    assert _option(nginx, "-p") == settings.nginx_prefix == str(compose.RUN_DIR)
    assert _option(nginx, "-c") == settings.nginx_config == str(compose.NGINX_CONFIG)
    for mounts in (_volume_mounts(_gateway()), _volume_mounts(monitor)):
        assert mounts[str(compose.CONFIG_DIR)] == "./nginx"
        assert mounts[str(compose.RUN_DIR)] == "gateway-run"
    nginx_conf = (NGINX_FILES / "nginx.conf").read_text()
    # The adapter reads the master's pid from <prefix>/nginx.pid.
    assert f"pid {settings.nginx_prefix}/nginx.pid;" in nginx_conf
    assert f"include {settings.upstream_file};" in nginx_conf
    assert settings.upstream_file == str(compose.UPSTREAM_FILE)
    entrypoint = _gateway()["entrypoint"][-1]
    assert f"cp {compose.UPSTREAM_SEED} {compose.UPSTREAM_FILE}" in entrypoint
    # The admission file, the same way: seeded by the gateway, rewritten by the monitor.
    assert f"include {settings.admission_file};" in nginx_conf
    assert settings.admission_file == str(compose.ADMISSION_FILE)
    assert f"cp {compose.ADMISSION_SEED} {compose.ADMISSION_FILE}" in entrypoint
    assert (NGINX_FILES / "registro-admission.conf").read_text().count("bounded=yes") == 1


def test_the_monitor_can_signal_the_gateway_s_nginx_without_the_docker_socket() -> None:
    monitor = services(BASE_FILE)["monitor"]
    assert monitor["pid"] == "service:gateway"
    uid = dockerfile_args()["SPORTAPP_UID"]
    # A signal to another user's process needs CAP_KILL: both run as the image's user.
    assert _gateway()["user"] == f"{uid}:{uid}"
    run_volume = load(BASE_FILE)["volumes"]["gateway-run"]
    assert f"uid={uid}" in run_volume["driver_opts"]["o"]
    assert monitor["build"]["target"] == "monitor"
    assert _monitor_settings().nginx_bin == "/usr/sbin/nginx"
    assert _monitor_settings().supervisor_socket == ""


def test_no_service_mounts_the_docker_socket() -> None:
    for path in COMPOSE_FILES:
        assert "docker.sock" not in path.read_text()
        for name, service in services(path).items():
            for volume in service.get("volumes", []):
                assert not str(volume).startswith("/var/run"), (name, volume)
            assert not service.get("privileged"), name


def test_the_monitor_renders_the_upstream_the_gateway_was_seeded_with() -> None:
    settings = _monitor_settings()
    template = WORKDIR / "infra/nginx/registro-upstream.conf.j2"
    assert settings.upstream_template == str(template)
    route = UpstreamRoute(
        generation=1,
        active=Instance(settings.primary, settings.primary_address),
        standby=Instance(settings.backup, settings.backup_address),
        masking=settings.masking,
    )
    rendered = render_upstream(REPO / template.relative_to(WORKDIR), route)
    assert rendered == (NGINX_FILES / "registro-upstream.conf").read_text()
    copied = [i.value for i in dockerfile_instructions() if i.cmd == "COPY" and i.stage == "monitor"]
    assert ("infra/nginx/registro-upstream.conf.j2", "infra/nginx/registro-upstream.conf.j2") in copied


def test_registro_s_fixed_addresses_are_one_in_the_compose_file_the_gateway_and_the_monitor() -> None:
    # A stopped container's name leaves Docker's DNS, and NGINX refuses a configuration naming a
    # host it cannot resolve: registro's instances are reached by fixed addresses, the same
    # everywhere, inside the compose network's subnet.
    base = services(BASE_FILE)
    [subnet] = [entry["subnet"] for entry in load(BASE_FILE)["networks"]["default"]["ipam"]["config"]]
    for name in ("registro-primary", "registro-backup"):
        address = _fixed_address(base[name])
        assert address == compose.REGISTRO_ADDRESSES[name]
        assert ipaddress.ip_address(address) in ipaddress.ip_network(subnet)
    upstream = (NGINX_FILES / "registro-upstream.conf").read_text()
    assert "registro-primary:" not in upstream.replace("# registro-primary", "")
    assert f"server {compose.REGISTRO_ADDRESSES['registro-primary']}:8103 " in upstream


def test_the_monitor_probes_the_services_by_their_compose_names() -> None:
    settings = _monitor_settings()
    ports = compose.service_ports(REPO)
    base = services(BASE_FILE)
    for name, address in (("registro-primary", settings.primary_address),
                          ("registro-backup", settings.backup_address)):
        assert address == f"{_fixed_address(base[name])}:{ports[name]}"
    assert settings.db_service_url == f"http://db:{ports['db']}"
    assert settings.gateway_url == f"http://gateway:{ports['gateway']}"
    assert settings.bind == f"0.0.0.0:{ports['monitor']}"


def test_services_wait_for_their_dependencies_to_be_healthy() -> None:
    for path in COMPOSE_FILES:
        for name, service in services(path).items():
            for dependency, condition in service.get("depends_on", {}).items():
                assert condition == {"condition": "service_healthy"}, (path.name, name, dependency)
    gateway_waits_for = set(_gateway()["depends_on"])
    assert gateway_waits_for == {"consulta", "registro-primary", "registro-backup"}


def test_compose_restarts_what_dies_and_nothing_runs_in_debug_mode() -> None:
    for name, service in services(BASE_FILE).items():
        assert service["restart"] in {"unless-stopped", "on-failure", "always"}, name
        variables = environment(service)
        assert not any("DEBUG" in variable for variable in variables), name
        assert variables.get("SPORTAPP_LOG_LEVEL", "INFO") != "DEBUG", name
        command = " ".join(service.get("command", []))
        assert "--reload" not in command, name
        assert "debug" not in command.lower(), name


def test_the_stores_are_on_named_volumes() -> None:
    base = services(BASE_FILE)
    named = set(load(BASE_FILE)["volumes"])
    for name, variable in (("db", "SPORTAPP_STORE_URL"), ("consulta", "SPORTAPP_READ_STORE_URL")):
        url = environment(base[name])[variable]
        assert url.startswith("sqlite:////"), url
        folder = str(PurePosixPath(url.removeprefix("sqlite:///")).parent)
        assert _volume_mounts(base[name])[folder] in named, (name, folder)
        # The image creates the folder for its user, so a new volume is that user's too.
        created = " ".join(i.value[0] for i in dockerfile_instructions() if i.cmd == "RUN")
        assert folder in created


def test_the_scale_out_file_puts_the_stores_on_postgresql_and_runs_two_consultas() -> None:
    scale = services(SCALE_FILE)
    assert scale["postgres"]["build"]["target"] == "postgres"
    assert _volume_mounts(scale["postgres"])["/var/lib/postgresql/data"] in load(SCALE_FILE)["volumes"]
    assert scale["redis"]["build"]["target"] == "redis"
    assert environment(scale["db"])["SPORTAPP_STORE_URL"].startswith("postgresql+psycopg://")
    assert environment(scale["consulta"])["SPORTAPP_EVENT_TRANSPORT"] == "redis"
    assert environment(scale["consulta"])["SPORTAPP_REDIS_URL"] == "redis://redis:6379/0"
    assert scale["consulta"]["deploy"]["replicas"] == 2
    assert scale["db"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    # One image for both files: the PostgreSQL driver and the Redis client are extras of
    # sportapp-core the runtime image always installs.
    extras = set(dockerfile_args()["CORE_EXTRAS"].split(","))
    assert extras == {"web", "postgres", "redis"}
    assert extras <= set(core_extras()), f"undeclared extras: {sorted(extras - set(core_extras()))}"


def test_the_dockerfile_copies_only_what_exists_and_is_not_ignored() -> None:
    ignored = [
        line.strip() for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    sources = [
        source
        for instruction in dockerfile_instructions()
        if instruction.cmd == "COPY" and not any(f.startswith("--from") for f in instruction.flags)
        for source in instruction.value[:-1]
    ]
    assert sources
    for source in sources:
        assert (REPO / source).exists(), f"COPY {source}: no such file in the repository"
        parts = PurePosixPath(source).parts
        for pattern in ignored:
            bare = pattern.removeprefix("**/")
            assert not any(PurePosixPath(part).match(bare) for part in parts), (source, pattern)
            assert not PurePosixPath(source).match(pattern), (source, pattern)


def test_the_image_is_one_slim_multi_stage_build_run_by_an_unprivileged_user() -> None:
    instructions = dockerfile_instructions()
    arguments = dockerfile_args()
    stages = [i.value for i in instructions if i.cmd == "FROM"]
    # Every image from one official Debian tag (which scripts/docker builds with debootstrap
    # where no registry answers).
    assert stages[0] == ("${DEBIAN_IMAGE}", "AS", "debian")
    assert arguments["DEBIAN_IMAGE"] == "debian:bookworm-slim"
    assert {value[0] for value in stages[1:]} <= {"debian", "python", "runtime"}
    assert ("python", "AS", "builder") in stages
    assert ("python", "AS", "runtime") in stages
    assert ("runtime", "AS", "monitor") in stages
    users = {i.stage: i.value[0] for i in instructions if i.cmd == "USER"}
    # The monitor stage installs NGINX as root, then drops back to the service user.
    assert users == {
        "runtime": "${SPORTAPP_UID}:${SPORTAPP_UID}",
        "monitor": "${SPORTAPP_UID}:${SPORTAPP_UID}",
        "gateway": "${SPORTAPP_UID}:${SPORTAPP_UID}",
        "postgres": "postgres",
        "redis": "redis",
    }
    assert int(arguments["SPORTAPP_UID"]) >= 1000
    # A CA the offline path trusts reaches the builder as a build secret only, never an image.
    secret_runs = [i for i in instructions if any("--mount=type=secret" in f for f in i.flags)]
    assert {i.stage for i in secret_runs} == {"builder"}
    assert not any("ca-certificates/" in " ".join(i.value) for i in instructions if i.cmd in {"COPY", "ADD"})
    runtime_runs = " ".join(i.value[0] for i in instructions if i.cmd == "RUN" and i.stage == "runtime")
    assert not re.search(r"\b(gcc|build-essential|apt-get)\b", runtime_runs)
    # The wheels are installed from the builder, never copied into a layer.
    assert any("--mount=type=bind,from=builder" in f for i in instructions for f in i.flags)
    targets = {s["build"]["target"] for s in services(BASE_FILE).values() if "build" in s}
    assert targets <= {value[2] for value in stages if len(value) == 3}
    for service in services(BASE_FILE).values():
        if "build" in service:
            assert service["build"]["context"] == "../.."
            assert service["build"]["dockerfile"] == "infra/compose/Dockerfile"


def test_the_gateway_runs_the_nginx_the_monitor_tests_its_configuration_with() -> None:
    # Debian's NGINX package in both images, from the same base and the same mirror.
    assert _gateway()["build"]["target"] == "gateway"
    for stage in ("gateway", "monitor"):
        runs = " ".join(i.value[0] for i in dockerfile_instructions() if i.cmd == "RUN" and i.stage == stage)
        assert re.search(r"apt-get install [^&]*\bnginx\b", runs), stage
