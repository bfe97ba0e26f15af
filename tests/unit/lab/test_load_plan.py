"""The open-loop schedule is fixed before the run: its arrivals, its mix and its addresses."""

from __future__ import annotations

import pytest

from sportapp_lab.workload import LoadConfig, plan_requests, registration_email

SPECIAL_USE_SUFFIXES = (".test", ".local", ".example", ".invalid", ".localhost", "example.com")


def test_arrivals_are_evenly_spaced_at_the_rate_for_the_duration() -> None:
    plan = plan_requests(LoadConfig("http://127.0.0.1:1", rate=40, duration_s=2.5))

    assert len(plan) == 100
    assert [p.offset_s for p in plan[:3]] == [0.0, 0.025, 0.05]
    assert plan[-1].offset_s == pytest.approx(2.475)


def test_reads_take_exactly_their_share_spread_over_the_run() -> None:
    plan = plan_requests(LoadConfig("http://127.0.0.1:1", rate=10, duration_s=10, read_share=0.2))

    reads = [p.index for p in plan if p.kind == "read"]
    assert len(reads) == 20
    assert reads[:3] == [4, 9, 14]


def test_invalid_addresses_are_spread_over_the_run_and_never_look_valid() -> None:
    config = LoadConfig("http://127.0.0.1:1", rate=10, duration_s=10, invalid_emails=4, run_id="r1")

    invalid = [p for p in plan_requests(config) if p.invalid_email]

    assert [p.index for p in invalid] == [12, 37, 62, 87]
    assert all(p.kind == "register" for p in invalid)
    assert {registration_email(config, p) for p in invalid} == {
        "bad-address-r1-12", "bad-address-r1-37", "bad-address-r1-62", "bad-address-r1-87"
    }


def test_registration_addresses_are_unique_and_on_a_real_looking_domain() -> None:
    config = LoadConfig("http://127.0.0.1:1", rate=50, duration_s=4, read_share=0.0, run_id="abc")

    emails = [registration_email(config, p) for p in plan_requests(config)]

    assert len(set(emails)) == len(emails) == 200
    assert emails[0] == "load-abc-0@sportapp-experiment.dev"
    assert not any(email.endswith(SPECIAL_USE_SUFFIXES) for email in emails)


@pytest.mark.parametrize(
    "changes",
    [{"rate": 0}, {"duration_s": 0}, {"read_share": 1.5}, {"invalid_emails": -1}, {"max_in_flight": 0}],
)
def test_a_config_without_bounds_is_refused(changes: dict[str, float]) -> None:
    values = {"base_url": "http://127.0.0.1:1", "rate": 10.0, "duration_s": 1.0, **changes}

    with pytest.raises(ValueError, match=r"must|cannot"):
        LoadConfig(**values)
