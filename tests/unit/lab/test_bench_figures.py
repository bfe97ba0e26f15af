"""The benchmarks' arithmetic: wrk's summary, the rate steps, percentiles and ratios."""

from __future__ import annotations

import math
from typing import Any

import pytest

from sportapp_core.adapters.argon2_hasher import Argon2Parameters
from sportapp_lab.analysis import percentile
from sportapp_lab.bench import registration
from sportapp_lab.bench.__main__ import table
from sportapp_lab.bench.common import Figure, summary
from sportapp_lab.bench.wrk import parse, rotating_paths_script
from sportapp_lab.capacity import Capacity

WRK_OUTPUT = """\
Running 4s test @ http://127.0.0.1:8080
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.31ms    1.02ms  18.42ms   89.17%
    Req/Sec     7.01k   412.43     7.60k    80.00%
  Latency Distribution
     50%  850.00us
     75%    2.55ms
     90%    3.20ms
     99%    1.02s
  27892 requests in 4.00s, 5.05MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 3
Requests/sec:   6969.27
Transfer/sec:      1.26MB
"""


def test_wrk_summary_is_read_with_its_units() -> None:
    result = parse(WRK_OUTPUT)

    assert result.requests == 27892
    assert result.requests_per_s == 6969.27
    assert result.p50_ms == 0.85
    assert result.p99_ms == 1020.0
    assert result.non_2xx == 3
    assert result.socket_errors == 3


def test_a_wrk_run_without_errors_counts_none() -> None:
    clean = "\n".join(
        line for line in WRK_OUTPUT.splitlines() if "Socket errors" not in line and "Non-2xx" not in line
    )

    result = parse(clean)

    assert (result.non_2xx, result.socket_errors) == (0, 0)


def test_output_that_is_not_a_wrk_summary_is_refused() -> None:
    with pytest.raises(ValueError, match="not a wrk summary"):
        parse("unable to connect to 127.0.0.1:1 Connection refused")


def test_the_wrk_script_quotes_every_path() -> None:
    script = rotating_paths_script(['/a?x="1"', "/b"])

    assert '"/a?x=\\"1\\""' in script
    assert '"/b"' in script
    assert "request = function()" in script


def test_percentile_is_a_measured_value() -> None:
    values = [float(v) for v in range(1, 101)]

    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([3.0], 99) == 3.0
    assert percentile([], 50) is None


def test_summary_counts_trials_that_measured_nothing() -> None:
    assert summary([100.0, 300.0, None, 200.0]) == {"median": 200.0, "p95": 300.0, "max": 300.0, "missing": 1}
    assert summary([None]) == {"median": None, "p95": None, "max": None, "missing": 1}


def test_a_figure_reads_as_a_ratio_to_its_baseline() -> None:
    figure = Figure("x", "x", value=42.5, unit="req/s", baseline=50.0)

    assert figure.ratio is not None
    assert math.isclose(figure.ratio, 0.85)
    assert figure.as_dict()["ratio"] == 0.85
    assert Figure("y", "y", value=None, unit="ms", baseline=10.0).ratio is None
    assert Figure("z", "z", value=1.0, unit="ms").ratio is None


def test_the_table_shows_value_baseline_ratio_and_verdict() -> None:
    figures = [
        Figure("a", "throughput", value=40.0, unit="req/s", baseline=50.0, target=">= 0.85", met=False),
        Figure("b", "cold start", value=3.2, unit="s", target="reported"),
    ]

    lines = table(figures).splitlines()

    assert lines[0].split() == ["figure", "value", "baseline", "ratio", "target", "met"]
    assert lines[2].split() == ["throughput", "40.0", "req/s", "50.0", "0.80", ">=", "0.85", "NO"]
    assert lines[3].split() == ["cold", "start", "3.2", "s", "-", "-", "reported", "-"]


def test_each_registration_step_is_read_against_the_bound_measured_on_either_side_of_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    measured = iter([90.0, 80.04, 85.0])
    monkeypatch.setattr(registration, "hashes_per_second", lambda _duration_s, _parameters: next(measured))
    monkeypatch.setattr(registration, "CORES", 2)
    # registro's totals (hashes, CPU seconds of hashing) at the start, then after each step.
    totals = iter([(0, 0.0), (100, 2.5), (100, 2.5), (300, 6.5)])
    around = registration.BoundAroundSteps(100.0, Argon2Parameters(), lambda: next(totals))

    assert [around(), around(), around()] == [
        {"hashes_per_s_before": 100.0, "hashes_per_s_after": 90.0,
         "hash_ms_in_registro": 25.0, "hashes_per_s_at_that_cost": 80.0},
        {"hashes_per_s_before": 90.0, "hashes_per_s_after": 80.0,
         "hash_ms_in_registro": None, "hashes_per_s_at_that_cost": None},
        {"hashes_per_s_before": 80.0, "hashes_per_s_after": 85.0,
         "hash_ms_in_registro": 20.0, "hashes_per_s_at_that_cost": 100.0},
    ]


def _ramp(*steps: dict[str, Any]) -> Capacity:
    served = [step for step in steps if step["ok_share"] == 1.0]
    return Capacity(
        per_s=max(step["served_per_s"] for step in served),
        measured_at="2026-12-05T00:00:00+00:00", machine={}, method="measured", steps=list(steps),
    )


def _step(rate: float, served: float, ok: float, before: float, after: float) -> dict[str, Any]:
    return {"rate": rate, "served_per_s": served, "ok_share": ok, "p99_ms": 80.0 if ok == 1.0 else 1500.0,
            "hashes_per_s_before": before, "hashes_per_s_after": after,
            "hash_ms_in_registro": 20.0, "hashes_per_s_at_that_cost": 100.0}


def test_a_knee_is_read_against_the_bound_on_either_side_of_the_step_that_set_it() -> None:
    ramp = _ramp(
        _step(60.0, 60.0, 1.0, before=120.0, after=110.0),
        _step(80.0, 79.9, 1.0, before=110.0, after=90.0),  # the knee: bound (110 + 90) / 2
        _step(88.0, 80.5, 0.91, before=90.0, after=70.0),  # served more, but not answered enough
    )

    found = registration.knee(ramp)

    assert (found["per_s"], found["bound"], found["ratio"]) == (79.9, 100.0, 0.799)
    assert found["steps"] == ramp.steps


def test_the_figure_is_the_round_whose_ratio_is_the_median() -> None:
    knees = [{"ratio": 0.74, "per_s": 77.0}, {"ratio": 0.80, "per_s": 84.0}, {"ratio": 0.77, "per_s": 79.0}]

    assert registration.median_knee(knees)["per_s"] == 79.0
    assert registration.median_knee(knees[:1])["per_s"] == 77.0
    # An even count takes the lower middle one: the figure never rounds a run up.
    assert registration.median_knee(knees[:2])["per_s"] == 77.0
