"""Ping/echo hysteresis: one slow answer must not flap a target."""

import pytest

from sportapp_core.health import EchoTracker, TargetState


def test_a_new_target_is_unknown_until_it_rises_or_falls() -> None:
    tracker = EchoTracker("registro-primary", rise=3, fall=2)

    assert tracker.state is TargetState.UNKNOWN
    assert tracker.echo(0.0, 0.001) is None
    assert tracker.echo(0.2, 0.001) is None
    transition = tracker.echo(0.4, 0.001)

    assert transition is not None
    assert (transition.previous, transition.current) == (TargetState.UNKNOWN, TargetState.UP)
    assert tracker.state is TargetState.UP


def test_goes_down_after_fall_consecutive_misses() -> None:
    tracker = _up_tracker(fall=2)

    assert tracker.miss(1.0, "timeout") is None
    transition = tracker.miss(1.2, "timeout")

    assert transition is not None
    assert transition.current is TargetState.DOWN
    assert "timeout" in transition.reason
    assert tracker.first_miss_at == 1.0


def test_one_miss_between_echoes_does_not_flap() -> None:
    tracker = _up_tracker(fall=2)

    for at in range(10):
        assert tracker.miss(at + 0.0, "timeout") is None
        assert tracker.echo(at + 0.5, 0.3) is None

    assert tracker.state is TargetState.UP


def test_comes_back_up_only_after_rise_consecutive_echoes() -> None:
    tracker = _up_tracker(rise=3, fall=1)
    tracker.miss(1.0, "connection")
    assert tracker.state is TargetState.DOWN

    tracker.echo(1.2, 0.001)
    tracker.echo(1.4, 0.001)
    tracker.miss(1.6, "connection")  # the streak starts again
    tracker.echo(1.8, 0.001)
    tracker.echo(2.0, 0.001)
    assert tracker.state is TargetState.DOWN
    transition = tracker.echo(2.2, 0.001)

    assert transition is not None
    assert transition.current is TargetState.UP


def test_rise_and_fall_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        EchoTracker("x", rise=0)


def _up_tracker(rise: int = 3, fall: int = 2) -> EchoTracker:
    tracker = EchoTracker("registro-primary", rise=rise, fall=fall)
    for i in range(rise):
        tracker.echo(i * 0.1, 0.001)
    assert tracker.state is TargetState.UP
    return tracker
