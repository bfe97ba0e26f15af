"""What the load sends: its bounds (rate, duration, in-flight cap, timeouts), and the fixed schedule
of requests, decided before the run (:mod:`sportapp_lab.load` sends it)."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field

from sportapp_lab.records import RequestKind

# Not a special-use domain (.test, .local, .example, .invalid): those are refused by strict
# validators, and the experiment must exercise the path a real address takes.
DEFAULT_EMAIL_DOMAIN = "sportapp-experiment.dev"


def _new_run_id() -> str:
    return uuid.uuid4().hex[:8]


@dataclass(frozen=True)
class LoadConfig:
    """What to send, how fast and for how long; every bound of the run is here."""

    base_url: str
    rate: float
    duration_s: float
    read_share: float = 0.2
    invalid_emails: int = 0
    timeout_s: float = 10.0
    drain_timeout_s: float = 12.0
    max_in_flight: int = 2000
    transport_retries: int = 2
    # Reads ask for users acknowledged at least this long ago, so they measure the read side's
    # availability, not its lag (the lag is measured separately).
    read_settle_s: float = 1.0
    run_id: str = field(default_factory=_new_run_id)
    email_domain: str = DEFAULT_EMAIL_DOMAIN
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.rate <= 0 or not math.isfinite(self.rate):
            raise ValueError("rate must be a positive number of requests per second")
        if self.duration_s <= 0:
            raise ValueError("duration_s must be positive")
        if not 0.0 <= self.read_share <= 1.0:
            raise ValueError("read_share must be between 0 and 1")
        if self.invalid_emails < 0 or self.transport_retries < 0:
            raise ValueError("invalid_emails and transport_retries cannot be negative")
        if self.timeout_s <= 0 or self.drain_timeout_s < 0 or self.max_in_flight < 1:
            raise ValueError("timeout_s and max_in_flight must be positive, drain_timeout_s >= 0")

    @property
    def total_requests(self) -> int:
        """How many requests the schedule holds: one every ``1 / rate`` seconds for ``duration_s``."""
        return max(1, math.floor(self.duration_s * self.rate + 1e-9))


@dataclass(frozen=True, slots=True)
class PlannedRequest:
    """One slot of the schedule: its index, its offset from the start, and what it sends."""

    index: int
    offset_s: float
    kind: RequestKind
    invalid_email: bool = False


def plan_requests(config: LoadConfig) -> list[PlannedRequest]:
    """The fixed schedule: evenly spaced arrivals, reads and invalid addresses spread evenly."""
    total = config.total_requests
    # Deliberately invalid addresses sit at the middle of equal slices of the run, so a crash
    # they cause (the seed's fault) happens while the load is steady, not at its edges.
    invalid = {
        min(total - 1, int((k + 0.5) * total / config.invalid_emails))
        for k in range(config.invalid_emails)
    } if config.invalid_emails else set()
    plan = []
    for index in range(total):
        # A read whenever the running count of reads owed crosses an integer: exact share, no RNG.
        is_read = math.floor((index + 1) * config.read_share) > math.floor(index * config.read_share)
        if index in invalid:
            plan.append(PlannedRequest(index, index / config.rate, "register", invalid_email=True))
        else:
            plan.append(PlannedRequest(index, index / config.rate, "read" if is_read else "register"))
    return plan


def registration_email(config: LoadConfig, planned: PlannedRequest) -> str:
    """The ``correo`` of one planned registration: unique per run and per slot."""
    if planned.invalid_email:
        return f"bad-address-{config.run_id}-{planned.index}"
    return f"load-{config.run_id}-{planned.index}@{config.email_domain}"
