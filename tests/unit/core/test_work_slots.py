"""WorkSlots.run: jobs in a slot, on the stage's own threads (one per slot), their callers waiting."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from sportapp_core.adapters.work_slots import WorkSlots


def test_a_job_runs_on_a_thread_of_the_stage_and_its_result_comes_back() -> None:
    slots = WorkSlots(1, job_s=1.0)

    ran_on = slots.run(threading.get_ident)

    assert ran_on != threading.get_ident()
    assert slots.jobs == 1


def test_many_callers_share_as_many_threads_as_slots_and_never_more_jobs_at_once() -> None:
    slots = WorkSlots(2, job_s=1.0)
    lock = threading.Lock()
    inside = most = 0
    threads_seen: set[int] = set()
    # Jobs meet two by two: both slots are in use at once, whatever the machine's pace.
    pairs = threading.Barrier(2, timeout=10)

    def job() -> None:
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
            threads_seen.add(threading.get_ident())
        pairs.wait()
        with lock:
            inside -= 1

    with ThreadPoolExecutor(max_workers=16) as callers:
        list(callers.map(lambda _: slots.run(job), range(80)))

    assert slots.jobs == 80
    assert most == 2
    assert len(threads_seen) == 2  # the same two threads, whichever of 16 callers asked


def test_a_failing_job_raises_in_its_caller_and_frees_its_slot() -> None:
    slots = WorkSlots(1, job_s=1.0)

    def fails() -> None:
        raise RuntimeError("bad job")

    with pytest.raises(RuntimeError, match="bad job"):
        slots.run(fails)
    assert slots.run(lambda: "next") == "next"  # the one slot is free again
    assert slots.jobs == 2


def test_the_cpu_a_job_spends_on_its_thread_is_counted() -> None:
    slots = WorkSlots(1, job_s=1.0)

    def burn() -> None:  # 20 ms of this thread's CPU, however fast the machine
        started = time.thread_time()
        while time.thread_time() - started < 0.02:
            pass

    slots.run(burn)

    assert slots.cpu_s >= 0.02


def test_listeners_hear_of_a_job_in_its_callers_thread_once_its_slot_is_free() -> None:
    slots = WorkSlots(1, job_s=1.0)
    heard: list[tuple[int, bool]] = []
    slots.when_job_done(lambda: heard.append((threading.get_ident(), slots._free.acquire(blocking=False))))

    slots.run(lambda: None)

    assert heard == [(threading.get_ident(), True)]
