"""The capacity ramp and its cache, with a fake stack whose answers depend only on the rate."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from sportapp_lab.capacity import (
    P99_LIMIT_MS,
    Capacity,
    CapacityCache,
    best_step,
    describe_step,
    machine,
    measure_capacity,
    step_figures,
)
from sportapp_lab.records import RequestRecord


def _step(rate: float, served: float, p99: float | None, ok: float = 1.0) -> dict[str, float | None]:
    return {"rate": rate, "served_per_s": served, "p99_ms": p99, "ok_share": ok}


def test_the_best_step_is_the_most_served_before_latency_passes_the_limit() -> None:
    steps = [
        _step(25, 25, 80),
        _step(30, 29.5, 120),
        _step(35, 28, 400),
        _step(40, 39, P99_LIMIT_MS + 1),  # more served, but too slow: it ends the search
        _step(45, 44, 90),
    ]

    assert best_step(steps) == steps[1]


def test_a_step_that_sheds_requests_does_not_count() -> None:
    steps = [_step(25, 25, 80), _step(30, 27, 100, ok=0.9), _step(35, 35, 100)]

    assert best_step(steps) == steps[0]


def test_no_step_within_the_limit_gives_no_figure() -> None:
    assert best_step([_step(25, 25, None)]) is None


def records(count: int, ok: int, latency_ms: float) -> list[RequestRecord]:
    return [
        RequestRecord(
            kind="register", scheduled_at=float(i), sent_at=float(i), t_unix=float(i),
            latency_ms=latency_ms, status=201 if i < ok else 503,
        )
        for i in range(count)
    ]


def test_a_step_counts_what_was_offered_and_what_was_served() -> None:
    figures = step_figures(records(30, 27, 50.0), duration_s=3.0)

    assert (figures["offered_per_s"], figures["served_per_s"], figures["ok_share"]) == (10.0, 9.0, 0.9)
    assert figures["p99_ms"] == 50.0


def queued(rate: float, kept_up_with: float, duration_s: float) -> list[RequestRecord]:
    """A step offered at ``rate`` to one server that answers ``kept_up_with`` a second, first come
    first served: each answer comes one service time after the later of its arrival and the answer
    before it, and its latency counts from its arrival (the schedule)."""
    service_s, answered_at, step = 1.0 / kept_up_with, 0.0, []
    for i in range(round(rate * duration_s)):
        arrival = i / rate
        answered_at = max(arrival, answered_at) + service_s
        step.append(RequestRecord(
            kind="register", scheduled_at=arrival, sent_at=arrival, t_unix=arrival,
            latency_ms=(answered_at - arrival) * 1000.0, status=201,
        ))
    return step


def test_a_step_the_stack_keeps_up_with_is_served_at_the_rate_offered() -> None:
    figures = step_figures(queued(rate=40.0, kept_up_with=50.0, duration_s=10.0), duration_s=10.0)

    assert figures["backlog_ms"] == 0.0
    assert figures["served_per_s"] == 40.0


def test_a_step_that_outruns_the_stack_is_served_at_the_rate_it_kept_up_with() -> None:
    # 6% more than it keeps up with, for 10 s: every answer within a second, all of them 201.
    step = queued(rate=53.0, kept_up_with=50.0, duration_s=10.0)
    figures = step_figures(step, duration_s=10.0)

    assert figures["ok_share"] == 1.0
    assert figures["p99_ms"] is not None
    assert figures["p99_ms"] < 1000
    assert figures["backlog_ms"] is not None
    assert 450 < figures["backlog_ms"] < 600
    assert figures["served_per_s"] == pytest.approx(50.0, rel=0.01)


def test_waits_that_shrink_through_a_step_add_nothing_to_it() -> None:
    # A backlog left from before the step, draining: the step took no longer than its length.
    step = [
        RequestRecord(
            kind="register", scheduled_at=i / 20, sent_at=i / 20, t_unix=i / 20,
            latency_ms=max(30.0, 500.0 - 5 * i), status=201,
        )
        for i in range(200)
    ]

    assert step_figures(step, duration_s=10.0)["served_per_s"] == 20.0


def test_too_few_answers_to_compare_the_ends_of_a_step_build_no_backlog() -> None:
    few = [
        RequestRecord(
            kind="register", scheduled_at=float(i), sent_at=float(i), t_unix=float(i),
            latency_ms=100.0 * i, status=201,
        )
        for i in range(9)
    ]

    assert step_figures(few, duration_s=9.0)["backlog_ms"] == 0.0


def test_a_capacity_step_is_shown_in_whole_milliseconds() -> None:
    step = {"rate": 89.41, "served_per_s": 79.64, "ok_share": 1.0, "p99_ms": 414.3665923329536,
            "backlog_ms": 365.04}

    assert describe_step(step) == (
        "89.41/s offered: 79.64/s served, ok 1.0, p99 414 ms, backlog built 365 ms"
    )


def test_a_capacity_step_with_nothing_answered_has_no_p99() -> None:
    step = {"rate": 20.0, "served_per_s": 0.0, "ok_share": 0.0, "p99_ms": None, "backlog_ms": 0.0}

    assert "p99 - ms" in describe_step(step)


class FakeStack:
    """Serves every registration up to ``capacity`` per second within 100 ms, refuses the rest."""

    def __init__(self, capacity: float) -> None:
        self.capacity = capacity
        self.rates: list[float] = []

    def __call__(self, rate: float, duration_s: float) -> Sequence[RequestRecord]:
        self.rates.append(rate)
        offered = round(rate * duration_s)
        served = min(offered, round(self.capacity * duration_s))
        return records(offered, served, 100.0)


def test_the_ramp_rises_until_a_step_is_not_served_and_keeps_the_best() -> None:
    stack = FakeStack(capacity=50.0)

    capacity = measure_capacity("http://gateway", start_rate=20.0, factor=1.25, step_s=4.0, run_step=stack)

    assert stack.rates == pytest.approx([20.0, 25.0, 31.25, 39.0625, 48.828125, 61.03515625])
    assert capacity.per_s == pytest.approx(48.75)  # 195 of 244 served in 4 s
    assert capacity.method == "measured"
    assert len(capacity.steps) == 6


def test_refinements_look_between_the_best_served_rate_and_the_first_not_served() -> None:
    stack = FakeStack(capacity=53.0)

    capacity = measure_capacity(
        "http://gateway", start_rate=20.0, factor=1.25, step_s=4.0, refinements=2, run_step=stack
    )

    # Between the rates as the steps record them (to a hundredth).
    between = math.sqrt(48.83 * 61.04)  # not served: 212 of 218
    assert stack.rates[5:] == pytest.approx([61.03515625, between, math.sqrt(48.83 * round(between, 2))])
    assert capacity.per_s == pytest.approx(51.75)  # 207 of 207 served in 4 s, above the ramp's 48.75
    assert [step.get("refinement", False) for step in capacity.steps] == [False] * 6 + [True, True]


def test_a_served_refinement_moves_the_lower_side_up() -> None:
    stack = FakeStack(capacity=58.0)

    capacity = measure_capacity(
        "http://gateway", start_rate=20.0, factor=1.25, step_s=4.0, refinements=2, run_step=stack
    )

    first = math.sqrt(48.83 * 61.04)  # served: 218 of 218
    assert stack.rates[6:] == pytest.approx([first, math.sqrt(round(first, 2) * 61.04)])
    assert capacity.per_s == pytest.approx(57.75)  # 231 of 231: the second one served too


def test_what_is_measured_after_each_step_is_kept_with_that_step() -> None:
    stack = FakeStack(capacity=53.0)
    baselines = iter(range(100, 200))

    capacity = measure_capacity(
        "http://gateway", start_rate=20.0, factor=1.25, step_s=4.0, refinements=2, run_step=stack,
        after_step=lambda: {"baseline": next(baselines)},
    )

    assert [step["baseline"] for step in capacity.steps] == list(range(100, 108))
    # The capacity came from the second refinement (the eighth step), so does its baseline.
    knee = capacity.setting_step()
    assert knee is not None
    assert (knee["served_per_s"], knee["baseline"]) == (capacity.per_s, 107)


def test_a_cached_capacity_has_no_step_that_set_it() -> None:
    assert measured(timedelta(minutes=1)).setting_step() is None


def test_a_machine_slower_than_guessed_starts_again_at_half_the_rate() -> None:
    stack = FakeStack(capacity=12.0)

    capacity = measure_capacity("http://gateway", start_rate=40.0, factor=2.0, step_s=5.0, run_step=stack)

    assert stack.rates[:3] == [40.0, 20.0, 10.0]
    assert capacity.per_s == pytest.approx(10.0)
    assert [step["rate"] for step in capacity.steps] == [10.0, 20.0], "the steps of the last start"


def test_a_stack_that_serves_nothing_has_no_capacity() -> None:
    with pytest.raises(RuntimeError, match="no step was served"):
        measure_capacity("http://gateway", start_rate=4.0, run_step=FakeStack(capacity=0.0))


def measured(age: timedelta, basis: dict[str, object] | None = None) -> Capacity:
    return Capacity(
        per_s=42.0,
        measured_at=(datetime.now(timezone.utc) - age).isoformat(),
        machine=machine(),
        method="measured",
        basis=dict(basis or {"argon2": "x"}),
    )


def test_a_saved_capacity_comes_back_as_cached_with_its_age(tmp_path: Path) -> None:
    cache = CapacityCache(tmp_path / "capacity.json")
    cache.save(measured(timedelta(minutes=30)))

    cached = cache.load({"argon2": "x"})

    assert cached is not None
    assert (cached.per_s, cached.method) == (42.0, "cached")
    assert cached.age_s() == pytest.approx(1800, abs=60)


@pytest.mark.parametrize(
    ("age", "basis"),
    [
        (timedelta(hours=7), None),  # too old
        (timedelta(minutes=1), {"argon2": "other parameters"}),
        (timedelta(minutes=-5), None),  # from the future: a clock that moved
    ],
    ids=["too-old", "other-basis", "from-the-future"],
)
def test_a_capacity_of_another_time_or_basis_is_not_reused(
    tmp_path: Path, age: timedelta, basis: dict[str, str] | None
) -> None:
    # Made when the test runs, not when it is collected: minutes can pass in between.
    saved = measured(age, basis)
    cache = CapacityCache(tmp_path / "capacity.json")
    cache.save(saved)

    assert cache.load({"argon2": "x"}) is None


def test_a_capacity_of_another_machine_is_not_reused(tmp_path: Path) -> None:
    cache = CapacityCache(tmp_path / "capacity.json")
    cache.save(measured(timedelta(minutes=1)))
    data = json.loads(cache.path.read_text())
    data["machine"]["cpus"] = 128
    cache.path.write_text(json.dumps(data))

    assert cache.load({"argon2": "x"}) is None


@pytest.mark.parametrize("content", [None, "", "{not json", '{"per_s": 1}'])
def test_a_missing_or_broken_cache_is_no_capacity(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "capacity.json"
    if content is not None:
        path.write_text(content)

    assert CapacityCache(path).load({"argon2": "x"}) is None
