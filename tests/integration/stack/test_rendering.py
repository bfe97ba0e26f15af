"""The rendered configuration: NGINX accepts it, and the monitor can take its upstream over."""

from __future__ import annotations

import configparser
import dataclasses
import re
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from sportapp_ops.nginx import Instance, UpstreamRoute, read_route
from sportapp_stack.config import ConfigError
from sportapp_stack.render import render_registro_upstream
from sportapp_stack.stack import Stack, StackError
from tests.conftest import stack_config, work_dir

pytestmark = pytest.mark.integration


@pytest.fixture
def var_dir() -> Iterator[Path]:
    folder = work_dir("sportapp-render-")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("masking", [True, False], ids=["masking", "no-masking"])
def test_the_rendered_gateway_passes_nginx_t(var_dir: Path, masking: bool) -> None:
    stack = Stack(stack_config(var_dir, masking=masking))

    stack.render()

    stack.nginx.test()  # raises with NGINX's own words if it refuses
    upstream = stack.config.upstream_file.read_text()
    assert (" backup max_fails=0;" in upstream) is masking
    assert "max_fails=1" not in upstream, "no instance is ever marked down by NGINX itself"
    # Masking is the standby's presence as a backup server; which requests are resent to it is
    # the registro locations' choice (nginx.conf), the same for both routes.
    assert re.search(r"^\s*proxy_next_upstream\b", upstream, re.MULTILINE) is None
    gateway = stack.config.nginx_config.read_text()
    assert "proxy_next_upstream error timeout http_500 http_502 http_504 non_idempotent;" in gateway
    assert "proxy_next_upstream error timeout;" in gateway


def test_the_monitor_reads_back_the_route_the_stack_wrote(var_dir: Path) -> None:
    stack = Stack(stack_config(var_dir))

    stack.render()

    assert read_route(stack.config.upstream_file) == (1, "registro-primary", "registro-backup", True)


def test_a_switched_upstream_is_accepted_by_nginx(var_dir: Path) -> None:
    stack = Stack(stack_config(var_dir))
    stack.render()
    config = stack.config
    switched = UpstreamRoute(
        generation=2,
        active=Instance("registro-backup", f"127.0.0.1:{config.registro_backup_port}"),
        standby=Instance("registro-primary", f"127.0.0.1:{config.registro_primary_port}"),
        masking=True,
    )

    stack.nginx.replace_config(config.upstream_file, render_registro_upstream(config, switched))

    assert read_route(config.upstream_file) == (2, "registro-backup", "registro-primary", True)
    assert 'default "2";' in config.upstream_file.read_text()


def test_every_rendered_file_is_readable_by_nginx_workers(var_dir: Path) -> None:
    stack = Stack(stack_config(var_dir))

    stack.render()

    for path in stack.config.nginx_dir.glob("*.*"):
        assert path.stat().st_mode & stat.S_IROTH, f"{path} is not world-readable"


def test_supervisord_runs_every_part_in_its_own_killable_group(var_dir: Path) -> None:
    stack = Stack(stack_config(var_dir))

    stack.render()

    parser = configparser.RawConfigParser()
    parser.read(stack.config.supervisord_config)
    programs = [section.removeprefix("program:") for section in parser if section.startswith("program:")]
    assert programs == stack.part_names()
    assert {"db", "consulta", "registro-primary", "registro-backup", "gateway"} <= set(programs)
    for name in programs:
        section = parser[f"program:{name}"]
        assert section["stopasgroup"] == section["killasgroup"] == "true"
        assert section["stdout_logfile"].startswith(str(var_dir))
    # Restarting a registro instance is the monitor's decision, not supervisord's.
    assert parser["program:registro-primary"]["autorestart"] == "false"
    assert 'SPORTAPP_INSTANCE="registro-backup"' in parser["program:registro-backup"]["environment"]
    # The monitor starts once the rest is healthy (`up` starts it), never by itself.
    assert parser["program:monitor"]["autostart"] == "false"
    assert {parser[f"program:{name}"]["autostart"] for name in programs if name != "monitor"} == {"true"}


def test_a_missing_nginx_is_named_in_the_error(var_dir: Path) -> None:
    stack = Stack(dataclasses.replace(stack_config(var_dir), nginx_bin=str(var_dir / "no-nginx")))

    with pytest.raises(StackError, match="NGINX is not installed"):
        stack.render()


def test_two_parts_cannot_share_a_port(var_dir: Path) -> None:
    config = stack_config(var_dir)

    with pytest.raises(ConfigError, match="share a port"):
        dataclasses.replace(config, db_port=config.gateway_port)


def test_a_zero_burst_is_valid_nginx(var_dir: Path) -> None:
    stack = Stack(stack_config(var_dir, registration_rate="1r/m", registration_burst=0))

    stack.render()

    assert "limit_req zone=registrations nodelay;" in stack.config.nginx_config.read_text()


def test_with_redis_streams_the_relay_runs_and_consulta_reads_the_stream(var_dir: Path) -> None:
    config = stack_config(var_dir, event_transport="redis", event_stream="sportapp:run-1:events")
    stack = Stack(config)

    names = [program.name for program in stack.programs]
    relay = stack.program("relay")
    consulta = stack.program("consulta").environment

    assert names.index("db") < names.index("relay") < names.index("consulta")
    assert relay.command[1:] == ("-m", "sportapp_db.relay")
    assert relay.environment["SPORTAPP_STORE_URL"] == config.write_store_url
    assert relay.environment["SPORTAPP_EVENT_STREAM"] == consulta["SPORTAPP_EVENT_STREAM"]
    assert consulta["SPORTAPP_EVENT_TRANSPORT"] == "redis"
    assert "relay" not in [p.name for p in Stack(stack_config(var_dir)).programs]


def test_an_unknown_backend_or_transport_is_refused(var_dir: Path) -> None:
    with pytest.raises(ConfigError, match="backend"):
        stack_config(var_dir, backend="mysql")
    with pytest.raises(ConfigError, match="event transport"):
        stack_config(var_dir, event_transport="kafka")
