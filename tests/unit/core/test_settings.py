"""settings_from_env: SPORTAPP_* variables into a typed settings dataclass."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from sportapp_core.adapters.settings import SettingsError, settings_from_env


@dataclass(frozen=True)
class ExampleSettings:
    """Every kind of field the apps' settings use."""

    instance: str = "test"
    workers: int = 2
    wait_s: float = 1.5
    fault_injection: bool = False
    retry_after_s: int | None = None
    store_url: str | None = "sqlite:///var/sportapp.db"


@dataclass(frozen=True)
class SettingsWithAList:
    """A field type the environment cannot spell."""

    peers: list[str]


def test_defaults_hold_when_the_environment_says_nothing() -> None:
    assert settings_from_env(ExampleSettings, {}) == ExampleSettings()


def test_each_field_comes_from_its_sportapp_variable() -> None:
    settings = settings_from_env(
        ExampleSettings,
        {
            "SPORTAPP_INSTANCE": "registro-primary",
            "SPORTAPP_WORKERS": "4",
            "SPORTAPP_WAIT_S": "0.25",
            "SPORTAPP_FAULT_INJECTION": "true",
            "SPORTAPP_RETRY_AFTER_S": "3",
        },
    )

    assert settings == ExampleSettings(
        instance="registro-primary", workers=4, wait_s=0.25, fault_injection=True, retry_after_s=3
    )


def test_variables_without_the_prefix_or_of_other_fields_are_ignored() -> None:
    settings = settings_from_env(ExampleSettings, {"WORKERS": "9", "SPORTAPP_UNKNOWN": "x"})

    assert settings == ExampleSettings()


@pytest.mark.parametrize("raw", ["1", "true", "True", "YES", "on", " on "])
def test_truthy_words_turn_a_flag_on(raw: str) -> None:
    assert settings_from_env(ExampleSettings, {"SPORTAPP_FAULT_INJECTION": raw}).fault_injection is True


@pytest.mark.parametrize("raw", ["0", "false", "FALSE", "no", "off", ""])
def test_falsy_words_and_empty_turn_a_flag_off(raw: str) -> None:
    environ = {"SPORTAPP_FAULT_INJECTION": raw}

    assert settings_from_env(ExampleSettings, environ, {}).fault_injection is False


@pytest.mark.parametrize("raw", ["maybe", "2", "enabled"])
def test_other_words_for_a_flag_are_an_error_naming_the_variable(raw: str) -> None:
    with pytest.raises(SettingsError, match="SPORTAPP_FAULT_INJECTION") as caught:
        settings_from_env(ExampleSettings, {"SPORTAPP_FAULT_INJECTION": raw})

    assert "bool" in str(caught.value)


@pytest.mark.parametrize("raw", ["four", "4.5", ""])
def test_a_number_that_does_not_parse_is_an_error_naming_the_variable(raw: str) -> None:
    with pytest.raises(SettingsError, match=r"SPORTAPP_WORKERS=.* is not a valid int"):
        settings_from_env(ExampleSettings, {"SPORTAPP_WORKERS": raw})


def test_a_float_that_does_not_parse_is_an_error() -> None:
    with pytest.raises(SettingsError, match="SPORTAPP_WAIT_S"):
        settings_from_env(ExampleSettings, {"SPORTAPP_WAIT_S": "soon"})


def test_settings_errors_are_value_errors() -> None:
    assert issubclass(SettingsError, ValueError)


def test_empty_optional_setting_is_none() -> None:
    settings = settings_from_env(ExampleSettings, {"SPORTAPP_STORE_URL": "", "SPORTAPP_RETRY_AFTER_S": ""})

    assert (settings.store_url, settings.retry_after_s) == (None, None)


def test_optional_number_is_still_checked() -> None:
    with pytest.raises(SettingsError, match="SPORTAPP_RETRY_AFTER_S"):
        settings_from_env(ExampleSettings, {"SPORTAPP_RETRY_AFTER_S": "soon"})


def test_overrides_win_over_the_environment_and_are_taken_as_given() -> None:
    settings = settings_from_env(
        ExampleSettings, {"SPORTAPP_WORKERS": "4", "SPORTAPP_INSTANCE": "from-env"}, {"workers": 1}
    )

    assert (settings.workers, settings.instance) == (1, "from-env")


def test_something_other_than_a_dataclass_is_refused() -> None:
    with pytest.raises(TypeError, match="not a dataclass"):
        settings_from_env(dict, {})


def test_a_field_type_the_environment_cannot_spell_is_refused() -> None:
    with pytest.raises(TypeError, match="SPORTAPP_PEERS"):
        settings_from_env(SettingsWithAList, {"SPORTAPP_PEERS": "a,b"})
