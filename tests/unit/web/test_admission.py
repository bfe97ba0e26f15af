"""Admission by predicted wait: refuse at once what would wait past the budget, on a fake clock."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from sportapp_core.adapters.web.admission import AdmissionGate, WaitAdmission
from sportapp_core.adapters.work_slots import WorkSlots


class FakeClock:
    """perf_counter for WorkSlots, moved by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def slots_of(count: int, job_s: float, clock: FakeClock | None = None) -> WorkSlots:
    return WorkSlots(count, job_s=job_s, clock=clock or FakeClock())


def test_a_newcomer_waits_until_all_but_one_slot_of_the_jobs_ahead_have_finished() -> None:
    slots = slots_of(2, job_s=0.1)  # at best, one finishes every 0.05 s

    assert [slots.predicted_wait_s(ahead) for ahead in range(6)] == pytest.approx(
        [0.0, 0.0, 0.05, 0.1, 0.15, 0.2]
    )


def test_how_often_jobs_finish_is_measured_while_others_wait() -> None:
    clock = FakeClock()
    slots = WorkSlots(1, job_s=0.1, smoothing=1.0, clock=clock)
    gates = [threading.Event() for _ in range(3)]
    entered: list[int] = []

    def job(number: int) -> None:
        with slots.held():
            entered.append(number)
            gates[number].wait(10)

    def until(condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 10
        while not condition():
            assert time.monotonic() < deadline
            time.sleep(0.001)

    threads = [threading.Thread(target=job, args=(number,)) for number in range(3)]
    threads[0].start()
    until(lambda: entered == [0])
    for thread in threads[1:]:
        thread.start()
    until(lambda: slots._waiting == 2)
    clock.now += 0.1
    gates[0].set()  # finishes with two waiting: the slot is saturated
    until(lambda: len(entered) == 2)
    clock.now += 0.3  # the machine is busy elsewhere: the next finishes only 0.3 s later
    gates[entered[1]].set()
    until(lambda: len(entered) == 3)
    gates[entered[2]].set()
    for thread in threads:
        thread.join(timeout=10)

    assert slots.interval_s == pytest.approx(0.3)
    assert slots.predicted_wait_s(3) == pytest.approx(0.9)


def test_an_idle_time_between_jobs_is_no_sample_of_how_often_they_finish() -> None:
    clock = FakeClock()
    slots = WorkSlots(2, job_s=0.1, smoothing=1.0, clock=clock)

    for _ in range(3):
        with slots.held():
            clock.now += 0.1
        clock.now += 60.0  # nothing waits: the slots stand idle

    assert slots.interval_s == pytest.approx(0.05)


def test_admits_while_the_predicted_wait_fits_the_budget_then_refuses() -> None:
    admission = WaitAdmission(slots_of(2, job_s=0.1), budget_s=0.25, max_admitted=100)

    answers = [admission.try_admit() for _ in range(8)]

    # Ahead of the 7th: 6 admitted, 5 to finish one every 0.05 s: 0.25 s, within the budget;
    # ahead of the 8th: 0.3 s.
    assert answers[:7] == [None] * 7
    assert answers[7] == pytest.approx(0.05)
    assert admission.admitted == 7
    assert admission.refused == 1


def test_a_finished_request_makes_room_again() -> None:
    admission = WaitAdmission(slots_of(1, job_s=0.1), budget_s=0.0, max_admitted=100)

    assert admission.try_admit() is None
    assert admission.try_admit() is not None
    admission.finished()

    assert admission.try_admit() is None


def test_slower_jobs_admit_fewer_requests_for_the_same_budget() -> None:
    fast = WaitAdmission(slots_of(2, job_s=0.025), budget_s=0.5, max_admitted=1000)
    slow = WaitAdmission(slots_of(2, job_s=0.05), budget_s=0.5, max_admitted=1000)

    def admitted(admission: WaitAdmission) -> int:
        while admission.try_admit() is None:
            pass
        return admission.admitted

    assert (admitted(fast), admitted(slow)) == (42, 22)  # ahead 41 * 0.0125 s, 21 * 0.025 s


def test_never_more_than_max_admitted_however_short_the_jobs() -> None:
    admission = WaitAdmission(slots_of(2, job_s=0.0001), budget_s=0.5, max_admitted=3)

    assert [admission.try_admit() is None for _ in range(4)] == [True, True, True, False]


def test_the_slots_bound_how_many_jobs_run_at_once() -> None:
    slots = WorkSlots(2, job_s=0.01)
    running, most = 0, 0
    lock = threading.Lock()
    gate = threading.Barrier(5)

    def job() -> None:
        nonlocal running, most
        gate.wait()
        with slots.held():
            with lock:
                running += 1
                most = max(most, running)
            threading.Event().wait(0.02)
            with lock:
                running -= 1

    threads = [threading.Thread(target=job) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert most == 2
    assert slots.jobs == 5


@pytest.mark.parametrize(("slots", "job_s"), [(0, 0.1), (1, 0.0), (1, -1.0)])
def test_slots_and_job_length_must_be_positive(slots: int, job_s: float) -> None:
    with pytest.raises(ValueError, match=r"positive|at least one"):
        WorkSlots(slots, job_s=job_s)


class App:
    """A WSGI app that records whether it was reached."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.calls += 1
        start_response("201 Created", [("Content-Type", "application/json")])
        return [b"{}"]


def call(app: Any, method: str = "POST", path: str = "/register") -> tuple[str, dict[str, str], bytes]:
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        seen["status"], seen["headers"] = status, dict(headers)

    body = b"".join(app({"REQUEST_METHOD": method, "PATH_INFO": path}, start_response))
    return seen["status"], seen["headers"], body


def test_the_gate_refuses_with_the_error_models_503_and_retry_after_before_the_app() -> None:
    inner = App()
    admission = WaitAdmission(slots_of(1, job_s=1.6), budget_s=0.0, max_admitted=10)
    gate = AdmissionGate(inner, admission, method="POST", path="/register")
    assert admission.try_admit() is None  # one ahead: a newcomer would wait 1.6 s

    status, headers, body = call(gate)

    assert status.startswith("503")
    assert headers["Content-Type"] == "application/problem+json"
    assert headers["Retry-After"] == "2"
    assert b"/overloaded" in body
    assert inner.calls == 0


def test_the_gate_lets_other_routes_and_methods_through_uncounted() -> None:
    inner = App()
    admission = WaitAdmission(slots_of(1, job_s=1.0), budget_s=0.0, max_admitted=1)
    admission.try_admit()
    gate = AdmissionGate(inner, admission, method="POST", path="/register")

    assert call(gate, method="GET")[0].startswith("201")
    assert call(gate, path="/ping")[0].startswith("201")
    assert admission.admitted == 1


def test_the_gate_gives_the_place_back_even_when_the_app_fails() -> None:
    def failing(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        raise RuntimeError("boom")

    admission = WaitAdmission(slots_of(1, job_s=0.1), budget_s=0.0, max_admitted=10)
    gate = AdmissionGate(failing, admission, method="POST", path="/register")

    with pytest.raises(RuntimeError, match="boom"):
        call(gate)

    assert admission.admitted == 0


def test_requests_past_their_slot_delay_no_newcomer_but_still_count_against_max_admitted() -> None:
    # As during a db restart: requests hashed and waiting for db hold threads, not hash slots.
    slots = slots_of(1, job_s=0.1)
    admission = WaitAdmission(slots, budget_s=0.0, max_admitted=3)
    waiting_for_db = threading.Event()
    db_back = threading.Event()

    def registration() -> None:
        assert admission.try_admit() is None
        with slots.held():  # its hash
            pass
        waiting_for_db.set()
        db_back.wait(5)
        admission.finished()

    first = threading.Thread(target=registration)
    first.start()
    assert waiting_for_db.wait(5)

    # Counted ahead, the first would make a newcomer wait 0.1 s, past the budget of 0.
    assert admission.waiting_for_slots == 0
    assert admission.try_admit() is None
    assert admission.try_admit() is not None  # that one has not hashed: the next would wait
    assert admission.admitted == 2
    db_back.set()
    first.join(5)
    assert (admission.admitted, admission.waiting_for_slots) == (1, 1)


def test_max_admitted_bounds_requests_past_their_slot_too() -> None:
    slots = slots_of(4, job_s=0.1)
    admission = WaitAdmission(slots, budget_s=10.0, max_admitted=2)
    done = threading.Barrier(3)
    release = threading.Event()

    def hashed_and_held() -> None:
        assert admission.try_admit() is None
        with slots.held():
            pass
        done.wait(5)
        release.wait(5)
        admission.finished()

    threads = [threading.Thread(target=hashed_and_held) for _ in range(2)]
    for thread in threads:
        thread.start()
    done.wait(5)

    assert admission.waiting_for_slots == 0
    assert admission.try_admit() is not None
    release.set()
    for thread in threads:
        thread.join(5)
    assert admission.admitted == 0
