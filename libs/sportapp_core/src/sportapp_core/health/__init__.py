"""The monitor's pure logic: ping/echo with hysteresis, and what to do about it. No I/O here."""

from sportapp_core.health.echo import EchoTracker, TargetState, Transition
from sportapp_core.health.failover import Decision, DecisionKind, FailoverPolicy

__all__ = [
    "Decision",
    "DecisionKind",
    "EchoTracker",
    "FailoverPolicy",
    "TargetState",
    "Transition",
]
