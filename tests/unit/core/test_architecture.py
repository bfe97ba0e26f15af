"""The dependency rule, read from the source (parsed, never imported).

Only ``sportapp_core.adapters`` and ``sportapp_core.schemas`` may import web, HTTP, database and
server frameworks; the domain imports nothing of ours outside itself; the core imports no app; and
no app imports another, except the lab, which drives the stack (``ALLOWED_APP_IMPORTS``): the
services talk to each other over HTTP only, and what a tool needs of a service it reads from the
running process or its configuration file, never from its code.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import sportapp_core

CORE_ROOT = Path(sportapp_core.__file__).parent
APPS_DIR = Path(__file__).resolve().parents[3] / "apps"
FRAMEWORKS = frozenset(
    {"flask", "flask_restful", "requests", "sqlalchemy", "werkzeug", "gunicorn", "prometheus_client",
     "redis"}
)
APPS = frozenset(
    {"sportapp_db", "sportapp_registro", "sportapp_consulta", "sportapp_monitor", "sportapp_stack",
     "sportapp_lab"}
)
# The only imports from one app into another: the lab starts, faults and stops stacks.
ALLOWED_APP_IMPORTS = {"sportapp_lab": frozenset({"sportapp_stack"})}


@dataclass(frozen=True)
class Module:
    """A module of the core: its dotted name, whether it is a package, and its source."""

    name: str
    is_package: bool
    source: str

    @property
    def package(self) -> str:
        return self.name if self.is_package else self.name.rpartition(".")[0]


def package_modules(root: Path) -> list[Module]:
    """Every module of the package whose folder is ``root``."""
    modules = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        modules.append(Module(name, is_package, path.read_text(encoding="utf-8")))
    return modules


def core_modules() -> list[Module]:
    return package_modules(CORE_ROOT)


def app_modules() -> list[Module]:
    """Every module of every app under ``apps/*/src``."""
    return [module for root in sorted(APPS_DIR.glob("*/src/sportapp_*")) for module in package_modules(root)]


def imported_names(module: Module) -> Iterator[str]:
    """Every dotted name ``module`` imports, relative imports resolved; ``from x import y`` gives x.y."""
    for node in ast.walk(ast.parse(module.source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = module.package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                yield base if alias.name == "*" else f"{base}.{alias.name}"


def framework_imports(module: Module) -> set[str]:
    """The frameworks ``module`` imports."""
    return {name for name in imported_names(module) if name.split(".")[0] in FRAMEWORKS}


def app_imports(module: Module) -> set[str]:
    """The apps ``module`` imports."""
    return {name for name in imported_names(module) if name.split(".")[0] in APPS}


def foreign_app_imports(module: Module) -> set[str]:
    """What ``module`` (of an app) imports from another app that it is not allowed to."""
    own = module.name.split(".")[0]
    allowed = {own} | ALLOWED_APP_IMPORTS.get(own, frozenset())
    return {name for name in app_imports(module) if name.split(".")[0] not in allowed}


def imports_outside(module: Module, allowed_package: str) -> set[str]:
    """Names of ``sportapp_core`` that ``module`` imports from outside ``allowed_package``."""
    return {
        name
        for name in imported_names(module)
        if name.split(".")[0] == "sportapp_core"
        and name != allowed_package
        and not name.startswith(allowed_package + ".")
    }


def may_use_frameworks(module: Module) -> bool:
    return module.name == "sportapp_core.schemas" or module.name.startswith("sportapp_core.adapters")


def test_the_walk_sees_every_layer_of_the_core() -> None:
    names = {module.name for module in core_modules()}

    assert {
        "sportapp_core",
        "sportapp_core.domain",
        "sportapp_core.domain.email",
        "sportapp_core.services.registration",
        "sportapp_core.schemas",
        "sportapp_core.adapters.sqlalchemy.repositories",
    } <= names


@pytest.mark.parametrize(
    "module", [m for m in core_modules() if not may_use_frameworks(m)], ids=lambda m: m.name
)
def test_only_adapters_and_schemas_import_frameworks(module: Module) -> None:
    assert framework_imports(module) == set()


@pytest.mark.parametrize(
    "module", [m for m in core_modules() if m.name.startswith("sportapp_core.domain")], ids=lambda m: m.name
)
def test_domain_imports_nothing_of_ours_outside_itself(module: Module) -> None:
    assert imports_outside(module, "sportapp_core.domain") == set()


@pytest.mark.parametrize("module", core_modules(), ids=lambda m: m.name)
def test_the_core_imports_no_app(module: Module) -> None:
    assert app_imports(module) == set()


def test_the_walk_sees_every_app() -> None:
    assert {module.name.split(".")[0] for module in app_modules()} == APPS


@pytest.mark.parametrize("module", app_modules(), ids=lambda m: m.name)
def test_no_app_imports_another(module: Module) -> None:
    assert foreign_app_imports(module) == set()


# --- The checks themselves must be able to fail. ---


def synthetic(source: str, name: str = "sportapp_core.services.example", is_package: bool = False) -> Module:
    return Module(name, is_package, source)


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("import flask", {"flask"}),
        ("import sqlalchemy.orm as orm", {"sqlalchemy.orm"}),
        ("from werkzeug.exceptions import NotFound", {"werkzeug.exceptions.NotFound"}),
        ("def f():\n    import requests\n", {"requests"}),
        ("try:\n    import gunicorn\nexcept ImportError:\n    pass\n", {"gunicorn"}),
        ("if TYPE_CHECKING:\n    from prometheus_client import Counter\n", {"prometheus_client.Counter"}),
        ("import flask_restful", {"flask_restful"}),
    ],
)
def test_framework_check_finds_imports_however_they_are_written(source: str, found: set[str]) -> None:
    assert framework_imports(synthetic(source)) == found


@pytest.mark.parametrize(
    "source",
    ["import flasky", "import json, time", "from sportapp_core.domain import User", "x = 'import flask'"],
)
def test_framework_check_ignores_look_alikes(source: str) -> None:
    assert framework_imports(synthetic(source)) == set()


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("from sportapp_core.services import ports", {"sportapp_core.services.ports"}),
        ("from sportapp_core import services", {"sportapp_core.services"}),
        ("import sportapp_core.adapters.clock", {"sportapp_core.adapters.clock"}),
        ("from .. import services", {"sportapp_core.services"}),
        ("from ..services.ports import Clock", {"sportapp_core.services.ports.Clock"}),
        ("from .email import EmailAddress", set()),
        ("from sportapp_core.domain.errors import InvalidEmail", set()),
        ("from sportapp_core import domain", set()),
    ],
)
def test_domain_check_resolves_relative_and_absolute_imports(source: str, found: set[str]) -> None:
    module = synthetic(source, name="sportapp_core.domain.users")

    assert imports_outside(module, "sportapp_core.domain") == found


def test_relative_imports_in_a_package_resolve_from_the_package_itself() -> None:
    module = synthetic("from .errors import InvalidEmail", name="sportapp_core.domain", is_package=True)

    assert set(imported_names(module)) == {"sportapp_core.domain.errors.InvalidEmail"}


def test_app_check_finds_an_app_import() -> None:
    assert app_imports(synthetic("from sportapp_registro.bootstrap import build")) == {
        "sportapp_registro.bootstrap.build"
    }


@pytest.mark.parametrize(
    ("source", "name", "found"),
    [
        ("from sportapp_registro.settings import RegistroSettings", "sportapp_lab.experiment",
         {"sportapp_registro.settings.RegistroSettings"}),
        ("import sportapp_lab.load", "sportapp_stack.cli", {"sportapp_lab.load"}),
        ("from sportapp_db import create_app", "sportapp_monitor.watch", {"sportapp_db.create_app"}),
        ("from sportapp_stack.stack import Stack", "sportapp_lab.experiment", set()),
        ("from sportapp_registro.resources import Register", "sportapp_registro", set()),
    ],
)
def test_app_to_app_check_allows_only_the_lab_on_the_stack(source: str, name: str, found: set[str]) -> None:
    assert foreign_app_imports(synthetic(source, name=name)) == found
