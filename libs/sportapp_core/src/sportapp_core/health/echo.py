"""Ping/echo bookkeeping for one target, with rise/fall hysteresis."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class TargetState(enum.Enum):
    """What the monitor believes of a target."""

    UNKNOWN = "unknown"
    UP = "up"
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class Transition:
    """A change of state, with the monotonic time it was decided and why."""

    target: str
    previous: TargetState
    current: TargetState
    at: float
    reason: str
    # DOWN because the target never came up within the start grace (not because it died).
    grace_expired: bool = False


class EchoTracker:
    """Counts consecutive echoes and misses of one target.

    A target goes DOWN after ``fall`` consecutive misses and UP after ``rise`` consecutive echoes,
    so that one slow answer under load does not flap it. A new tracker is UNKNOWN until the target
    has once been UP: misses of a target that was never up say it has not started yet, not that
    it died, so they move nothing, until ``start_grace_s`` after ``started_at`` has passed with
    no echo streak at all; then it is DOWN for that reason (``grace_expired`` on the transition).
    """

    def __init__(
        self,
        name: str,
        *,
        rise: int = 3,
        fall: int = 2,
        started_at: float = 0.0,
        start_grace_s: float = float("inf"),
    ) -> None:
        if rise < 1 or fall < 1:
            raise ValueError("rise and fall must be at least 1")
        self.name = name
        self.rise = rise
        self.fall = fall
        self.started_at = started_at
        self.start_grace_s = start_grace_s
        self.ever_up = False
        self.state = TargetState.UNKNOWN
        self.consecutive_echoes = 0
        self.consecutive_misses = 0
        self.last_latency_s: float | None = None
        self.last_miss_reason: str | None = None
        self.first_miss_at: float | None = None

    def echo(self, at: float, latency_s: float) -> Transition | None:
        """Record a correct echo received at ``at``; return the transition it caused, if any."""
        self.consecutive_echoes += 1
        self.consecutive_misses = 0
        self.first_miss_at = None
        self.last_latency_s = latency_s
        if self.state is not TargetState.UP and self.consecutive_echoes >= self.rise:
            self.ever_up = True
            return self._move(TargetState.UP, at, f"{self.consecutive_echoes} consecutive echoes")
        return None

    def miss(self, at: float, reason: str) -> Transition | None:
        """Record a missing or wrong echo; return the transition it caused, if any."""
        self.consecutive_misses += 1
        self.consecutive_echoes = 0
        self.last_miss_reason = reason
        if self.first_miss_at is None:
            self.first_miss_at = at
        if self.state is TargetState.DOWN or self.consecutive_misses < self.fall:
            return None
        if not self.ever_up:
            if at - self.started_at < self.start_grace_s:
                return None  # not started yet, as far as anyone can tell
            return self._move(
                TargetState.DOWN,
                at,
                f"not up {self.start_grace_s:g} s after watching began ({reason})",
                grace_expired=True,
            )
        return self._move(
            TargetState.DOWN, at, f"{self.consecutive_misses} consecutive misses ({reason})"
        )

    def _move(
        self, state: TargetState, at: float, reason: str, *, grace_expired: bool = False
    ) -> Transition:
        transition = Transition(self.name, self.state, state, at, reason, grace_expired)
        self.state = state
        return transition
