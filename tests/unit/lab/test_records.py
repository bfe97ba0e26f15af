"""The raw per-request log survives a CSV round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from sportapp_lab.records import RequestRecord, read_records_csv, write_records_csv


def test_records_survive_a_csv_round_trip_with_empty_cells_and_commas(tmp_path: Path) -> None:
    records = [
        RequestRecord(
            kind="register",
            scheduled_at=1234.567891234,
            sent_at=1234.5679,
            t_unix=1_700_000_000.123456,
            latency_ms=12.345678,
            status=201,
            served_by="registro-primary",
            retries=1,
            email="load-abc-1@sportapp-experiment.dev",
            idempotency_key="0b7f0f52-2f0e-4d39-9a52-3f3f5b0c2a11",
            user_id="42",
            replayed=True,
        ),
        RequestRecord(
            kind="read",
            scheduled_at=1235.0,
            sent_at=1235.0,
            t_unix=1_700_000_000.6,
            latency_ms=10_000.0,
            error="timeout",
        ),
        RequestRecord(
            kind="register",
            scheduled_at=1236.0,
            sent_at=1236.0,
            t_unix=1_700_000_001.6,
            latency_ms=3.0,
            status=422,
            email='bad-address-abc-7, "quoted"',
            invalid_email=True,
        ),
    ]

    path = write_records_csv(records, tmp_path / "out" / "requests.csv")

    assert read_records_csv(path) == records
    assert path.read_text().splitlines()[0].startswith("kind,scheduled_at,sent_at,t_unix,latency_ms,status")


def test_a_file_that_is_not_a_request_log_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n")

    with pytest.raises(ValueError, match="missing columns"):
        read_records_csv(path)


def test_a_422_is_the_right_answer_only_to_a_deliberately_invalid_address() -> None:
    common = {"kind": "register", "scheduled_at": 0.0, "sent_at": 0.0, "t_unix": 0.0, "latency_ms": 1.0}

    assert RequestRecord(**common, status=422, invalid_email=True).ok
    assert not RequestRecord(**common, status=201, invalid_email=True).ok
    assert not RequestRecord(**common, status=422).ok
    assert RequestRecord(**common, status=201).ok
    assert not RequestRecord(**common, error="connection").ok


def test_a_request_completes_its_latency_after_it_was_due() -> None:
    done = RequestRecord(kind="read", scheduled_at=10.0, sent_at=10.1, t_unix=0.0, latency_ms=250.0)

    assert done.completed_at == 10.25
