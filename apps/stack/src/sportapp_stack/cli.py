"""``sportapp``: the local stack (``up``, ``status``, ``down``, ``logs``) and the gateway's files for
Docker Compose (``compose-files``). Other packages add commands of their own through the
``sportapp.commands`` entry points: the lab (``sportapp_lab``) adds ``experiment`` and ``report``."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any, TypeVar

import click

from sportapp_stack.backends import new_run_id, stores_dropped_on_failure, with_backend
from sportapp_stack.compose import stale_compose_files, write_compose_files
from sportapp_stack.config import BACKENDS, ConfigError, StackConfig, find_nginx, find_root
from sportapp_stack.stack import SUPERVISORD_LOG_PART, Stack, StackError

F = TypeVar("F", bound=Callable[..., Any])


def _var_dir_option(command: F) -> F:
    return click.option(
        "--var-dir",
        envvar="SPORTAPP_VAR_DIR",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("var"),
        show_default=True,
        show_envvar=True,
        help="Work folder: rendered configs, sockets, logs, stores.",
    )(command)


def _port_option(part: str, default: int) -> Callable[[F], F]:
    variable = "SPORTAPP_" + part.upper().replace("-", "_") + "_PORT"
    return click.option(
        f"--{part}-port",
        envvar=variable,
        type=click.IntRange(1, 65535),
        default=default,
        show_default=True,
        show_envvar=True,
        help=f"Port of {part} on 127.0.0.1.",
    )


class _WithInstalledCommands(click.Group):
    """The stack's own commands, and those other packages install through the
    ``sportapp.commands`` entry points (the lab's ``experiment`` and ``report``), each imported only
    when it is run or listed: ``sportapp status`` does not pay for the lab's imports (matplotlib)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_installed_commands()})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is None and name in _installed_commands():
            command = _installed_commands()[name].load()
        return command


def _installed_commands() -> dict[str, EntryPoint]:
    # The stack needs none of them; a package installed beside it (the lab) brings its own.
    return {entry.name: entry for entry in entry_points(group="sportapp.commands")}


@click.group(cls=_WithInstalledCommands, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """SportApp's local stack: the NGINX gateway and the services under one supervisord."""


@main.command()
@_var_dir_option
@click.option("--root", envvar="SPORTAPP_ROOT", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=None, help="The repository (default: found from the current folder).")
@_port_option("gateway", 8080)
@_port_option("db", 8101)
@_port_option("consulta", 8102)
@_port_option("registro-primary", 8103)
@_port_option("registro-backup", 8104)
@_port_option("monitor", 8105)
@click.option("--monitor/--no-monitor", envvar="SPORTAPP_MONITOR", default=True, show_default=True,
              show_envvar=True, help="Run the monitor (ping/echo, failover, restarts).")
@click.option("--registration-rate", envvar="SPORTAPP_REGISTRATION_RATE", default="200r/s",
              show_default=True, show_envvar=True,
              help="Registrations per client address (NGINX limit_req rate: 200r/s, 30r/m).")
@click.option("--registration-burst", envvar="SPORTAPP_REGISTRATION_BURST", type=click.IntRange(0),
              default=400, show_default=True, show_envvar=True,
              help="Registrations above the rate let through at once before 429s.")
@click.option("--masking/--no-masking", envvar="SPORTAPP_MASKING", default=True, show_default=True,
              show_envvar=True, help="Let NGINX retry a failed registration on the standby instance.")
@click.option("--fault-injection", envvar="SPORTAPP_FAULT_INJECTION", is_flag=True, show_envvar=True,
              help="Give registro its fault switch (POST /faults/error-mode on each instance).")
@click.option("--seed-crash", envvar="SPORTAPP_SEED_CRASH", is_flag=True, show_envvar=True,
              help="The seed's fault: an invalid e-mail address kills the registro instance.")
@click.option("--store-url", envvar="SPORTAPP_STORE_URL", default="", show_envvar=True,
              help="db's SQLAlchemy URL (default: SQLite in the work folder).")
@click.option("--read-store-url", envvar="SPORTAPP_READ_STORE_URL", default="", show_envvar=True,
              help="consulta's SQLAlchemy URL (default: SQLite in the work folder).")
@click.option("--nginx-bin", envvar="NGINX_BIN", default=find_nginx, show_envvar=True,
              help="The NGINX binary.")
@click.option("--timeout", "start_timeout_s", envvar="SPORTAPP_START_TIMEOUT_S", type=click.FloatRange(1),
              default=60.0, show_default=True, show_envvar=True,
              help="Seconds every part has to become healthy.")
@click.option("--backend", type=click.Choice(BACKENDS), default="sqlite", show_default=True,
              help="The stores: SQLite (files, or the URLs above), or a fresh PostgreSQL database "
                   "of this stack's own on SPORTAPP_POSTGRES_URL's server, with consulta fed "
                   "through Redis Streams (SPORTAPP_REDIS_URL) by a relay process.")
@click.option("--keep", "keep_database", is_flag=True,
              help="With --backend postgres: `down` keeps the database and the stream.")
@click.option("--redis-url", envvar="SPORTAPP_REDIS_URL", default="redis://127.0.0.1:6379/0",
              show_default=True, show_envvar=True, help="The Redis server of --backend postgres.")
@click.option("--fresh", is_flag=True, help="Delete the SQLite stores of the work folder first.")
def up(var_dir: Path, root: Path | None, fresh: bool, **settings: Any) -> None:
    """Start every part and return once all are healthy (or stop them all and fail)."""
    try:
        config = StackConfig(var_dir=var_dir.resolve(), root=(root or find_root()).resolve(), **settings)
        stack = Stack(config)
        if stack.supervisord_running():
            raise StackError(f"a stack already runs from {config.var_dir}: `sportapp down` first")
        config = with_backend(config, new_run_id())
        with stores_dropped_on_failure(config):
            stack = Stack(config)
            stack.start(fresh=fresh)
    except (ConfigError, StackError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"stack up from {config.var_dir}")
    _print_table(stack)
    click.echo(f"\npublic API: {config.gateway_url}  (OpenAPI: {config.gateway_url}/openapi.json)")
    click.echo(f"stop it with: sportapp down --var-dir {config.var_dir}")


@main.command()
@_var_dir_option
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of a table.")
def status(var_dir: Path, as_json: bool) -> None:
    """Each part's state, pid and health. Exits 1 unless every part is healthy."""
    stack = _load(var_dir)
    parts = stack.status()
    if as_json:
        document = {
            "var_dir": str(stack.config.var_dir),
            "gateway_url": stack.config.gateway_url,
            "supervisord": {"running": stack.supervisord_running(), "pid": stack.supervisord_pid()},
            "parts": [part.as_dict() for part in parts],
        }
        click.echo(json.dumps(document, indent=2))
    else:
        if not stack.supervisord_running():
            click.echo(f"supervisord is not running in {stack.config.var_dir}")
        _print_rows(parts)
    sys.exit(0 if all(part.healthy for part in parts) else 1)


@main.command()
@_var_dir_option
@click.option("--timeout", "timeout_s", type=click.FloatRange(1), default=30.0, show_default=True,
              help="Seconds to wait for every process to be gone before killing what is left.")
def down(var_dir: Path, timeout_s: float) -> None:
    """Stop every part through supervisord, then supervisord; wait until no process is left."""
    stack = _load(var_dir)
    running = stack.supervisord_running()
    try:
        leftovers = stack.stop(timeout_s)
    except ConfigError as error:  # the processes are gone; the run's database could not be dropped
        raise click.ClickException(str(error)) from None
    if leftovers:
        click.echo(f"killed {len(leftovers)} process(es) that did not stop in time: {leftovers}", err=True)
    click.echo("stack down" if running else f"no stack was running from {stack.config.var_dir}")


@main.command()
@_var_dir_option
@click.argument("part", required=False)
@click.option("-n", "--lines", type=click.IntRange(1), default=50, show_default=True,
              help="Lines from the end of each log.")
def logs(var_dir: Path, part: str | None, lines: int) -> None:
    """The end of a part's logs (every part's, without PART; `supervisord` for its own)."""
    stack = _load(var_dir)
    parts = [part] if part else [*stack.part_names(), SUPERVISORD_LOG_PART]
    try:
        for name in parts:
            click.echo(stack.tail(name, lines))
    except StackError as error:
        raise click.ClickException(str(error)) from None


@main.command("compose-files")
@click.option("--root", envvar="SPORTAPP_ROOT", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=None, help="The repository (default: found from the current folder).")
@click.option("--check", is_flag=True,
              help="Write nothing; exit 1 if a committed file differs from a fresh render.")
def compose_files(root: Path | None, check: bool) -> None:
    """Render the gateway's files for Docker Compose into infra/compose/nginx/."""
    try:
        root = (root or find_root()).resolve()
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    if check:
        stale = stale_compose_files(root)
        for path in stale:
            click.echo(f"out of date: {path.relative_to(root)}", err=True)
        if stale:
            raise click.ClickException("run `sportapp compose-files` and commit the result")
        click.echo("infra/compose/nginx/ is up to date")
        return
    for path in write_compose_files(root):
        click.echo(f"wrote {path.relative_to(root)}")


def _load(var_dir: Path) -> Stack:
    try:
        return Stack.load(var_dir)
    except (ConfigError, StackError) as error:
        raise click.ClickException(str(error)) from None


def _print_table(stack: Stack) -> None:
    _print_rows(stack.status())


def _print_rows(parts: list[Any]) -> None:
    click.echo(f"{'part':<18}{'state':<10}{'pid':>8}  health")
    for part in parts:
        pid = str(part.pid) if part.pid else "-"
        click.echo(f"{part.name:<18}{part.state:<10}{pid:>8}  {part.health}  {part.health_url}")
