"""The Docker Compose files of infra/compose/, read the way the tests need them: services, what each
runs, which SPORTAPP_* variables its app reads, and the Dockerfile's instructions."""

from __future__ import annotations

import dataclasses
import importlib
import os
import re
import runpy
import shlex
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dockerfile
import pytest
import yaml

from sportapp_core.adapters.settings import settings_from_env

if sys.version_info >= (3, 11):
    import tomllib
else:  # pytest needs tomli on 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
COMPOSE_DIR = REPO / "infra" / "compose"
BASE_FILE = COMPOSE_DIR / "docker-compose.yml"
SCALE_FILE = COMPOSE_DIR / "docker-compose.scale.yml"
COMPOSE_FILES = (BASE_FILE, SCALE_FILE)
DOCKERFILE = COMPOSE_DIR / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"

_GUNICORN_CONF = re.compile(r"^apps/(?P<app>[a-z]+)/gunicorn\.conf\.py$")


def load(path: Path) -> dict[str, Any]:
    """A compose file as YAML says it (anchors and merge keys resolved, no interpolation)."""
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict), f"{path} is not a mapping"
    return document


def services(path: Path) -> dict[str, dict[str, Any]]:
    """The services a compose file defines (or overrides), by name."""
    return dict(load(path)["services"])


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's environment, in either of compose's spellings, as strings."""
    variables = service.get("environment") or {}
    if isinstance(variables, list):
        variables = dict(item.split("=", 1) for item in variables)
    return {name: "" if value is None else str(value) for name, value in variables.items()}


@dataclass(frozen=True)
class AppCommand:
    """What a Python service runs: ``gunicorn -c apps/<app>/gunicorn.conf.py`` (the app is the
    package its ``wsgi_app`` names) or ``python -m <package>``."""

    command: tuple[str, ...]

    @property
    def gunicorn_conf(self) -> Path | None:
        """The gunicorn.conf.py in the repository, if the service runs gunicorn."""
        if self.command[:2] == ("gunicorn", "-c") and len(self.command) == 3:
            return REPO / self.command[2]
        return None

    @property
    def package(self) -> str:
        """The app's package."""
        if self.gunicorn_conf is not None:
            assert _GUNICORN_CONF.match(self.command[2]), f"not an app's gunicorn.conf.py: {self.command}"
            wsgi_app = str(gunicorn_settings(self.gunicorn_conf)[0]["wsgi_app"])
            return wsgi_app.partition(":")[0]
        assert self.command[:2] == ("python", "-m"), self.command
        assert len(self.command) == 3, self.command
        return self.command[2]


def app_command(service: Mapping[str, Any]) -> AppCommand:
    """The command of a service of ours."""
    command = service["command"]
    return AppCommand(tuple(shlex.split(command) if isinstance(command, str) else command))


class _AskedEnviron(dict[str, str]):
    """An empty environment that remembers every name it was asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: set[str] = set()

    def __contains__(self, key: object) -> bool:
        self.asked.add(str(key))
        return False

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.asked.add(key)
        return default

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        raise KeyError(key)


def gunicorn_settings(conf: Path) -> tuple[dict[str, Any], set[str]]:
    """Run an app's gunicorn.conf.py with an empty environment: its settings, and the variables
    it asked for."""
    asked = _AskedEnviron()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "environ", asked)
        settings = runpy.run_path(str(conf))
    return settings, asked.asked


def settings_class(package: str) -> type[Any]:
    """The one settings dataclass of ``<package>.settings``."""
    module = importlib.import_module(f"{package}.settings")
    found = [
        value for value in vars(module).values()
        if isinstance(value, type) and dataclasses.is_dataclass(value)
        and value.__module__ == module.__name__
    ]
    assert len(found) == 1, f"{module.__name__} should define one settings dataclass: {found}"
    return found[0]


def variables_read(app: AppCommand) -> set[str]:
    """Every environment variable the app's process asks for: its settings (through
    ``settings_from_env``) and, under gunicorn, its gunicorn.conf.py."""
    asked = _AskedEnviron()
    settings_from_env(settings_class(app.package), asked)
    read = set(asked.asked)
    if app.gunicorn_conf is not None:
        read |= gunicorn_settings(app.gunicorn_conf)[1]
    return read


PYTHON_TARGETS = frozenset({"runtime", "monitor"})


def app_services() -> Iterator[tuple[Path, str, dict[str, Any], AppCommand]]:
    """(file, name, definition, app) of every service of ours, in both files; an override's
    service runs what the base file says it runs."""
    base = services(BASE_FILE)
    for path in COMPOSE_FILES:
        for name, service in services(path).items():
            definition = base.get(name, service)
            # Built from infra/compose/Dockerfile's Python targets: one of ours (the gateway and
            # the stores are built from it too, but run NGINX, PostgreSQL and Redis).
            if definition.get("build", {}).get("target") in PYTHON_TARGETS:
                yield path, name, service, app_command(definition)


def bind_port(service: Mapping[str, Any]) -> int:
    """The port a service's app listens on inside its container (``SPORTAPP_BIND``)."""
    host, _, port = environment(service)["SPORTAPP_BIND"].rpartition(":")
    assert host == "0.0.0.0", f"binds {host}, not every interface of its container"  # noqa: S104
    return int(port)


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction, as BuildKit's parser reads it."""

    stage: str
    cmd: str
    flags: tuple[str, ...]
    value: tuple[str, ...]


def dockerfile_instructions() -> list[Instruction]:
    """Every instruction of infra/compose/Dockerfile, with the stage it belongs to."""
    stage = ""
    instructions = []
    for command in dockerfile.parse_file(str(DOCKERFILE)):
        if command.cmd == "FROM":
            stage = command.value[2] if len(command.value) == 3 else command.value[0]
        instructions.append(Instruction(stage, command.cmd, command.flags, command.value))
    return instructions


def core_extras() -> list[str]:
    """The extras sportapp-core declares in its pyproject.toml."""
    with (REPO / "libs" / "sportapp_core" / "pyproject.toml").open("rb") as handle:
        project = tomllib.load(handle)["project"]
    return list(project.get("optional-dependencies", {}))


def dockerfile_args() -> dict[str, str]:
    """The Dockerfile's ARG defaults."""
    defaults = {}
    for instruction in dockerfile_instructions():
        if instruction.cmd == "ARG":
            name, _, value = instruction.value[0].partition("=")
            defaults[name] = value.strip('"')
    return defaults
