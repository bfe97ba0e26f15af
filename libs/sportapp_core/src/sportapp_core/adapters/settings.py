"""Typed settings read once from ``SPORTAPP_*`` environment variables."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")

PREFIX = "SPORTAPP_"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class SettingsError(ValueError):
    """An environment variable holds a value its setting cannot take."""


def settings_from_env(
    cls: type[T], environ: Mapping[str, str], overrides: Mapping[str, Any] | None = None
) -> T:
    """Build the settings dataclass ``cls``: field ``x`` comes from ``SPORTAPP_X``.

    ``overrides`` (an app factory's ``config`` argument, in tests) win over the environment.
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        variable = PREFIX + field.name.upper()
        if overrides is not None and field.name in overrides:
            values[field.name] = overrides[field.name]
        elif variable in environ:
            values[field.name] = _convert(variable, environ[variable], hints[field.name])
    return cls(**values)


def _convert(variable: str, raw: str, kind: Any) -> Any:
    origin = typing.get_origin(kind)
    if origin is typing.Union or type(kind).__name__ == "UnionType":
        arguments = [a for a in typing.get_args(kind) if a is not type(None)]
        if raw == "":
            return None
        kind = arguments[0]
    try:
        if kind is bool:
            lowered = raw.strip().lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
            raise ValueError(raw)
        if kind in (int, float, str):
            return kind(raw)
    except ValueError:
        raise SettingsError(f"{variable}={raw!r} is not a valid {kind.__name__}") from None
    raise TypeError(f"unsupported setting type {kind!r} for {variable}")
