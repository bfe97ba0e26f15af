"""Passive redundancy: given what the monitor sees, which instance should the gateway route to."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sportapp_core.health.echo import TargetState


class DecisionKind(enum.Enum):
    """What the monitor should do now."""

    STAY = "stay"
    SWITCH = "switch"


@dataclass(frozen=True, slots=True)
class Decision:
    """The decision and the reason the status page shows for it."""

    kind: DecisionKind
    route_to: str
    reason: str
    # A switch back to a primary that is fit again, away from a backup that is fit too (as
    # opposed to a failover, away from an instance that is down).
    failback: bool = False


@dataclass(frozen=True, slots=True)
class FailoverPolicy:
    """Routes to the primary when it is fit, else to the backup when that is fit.

    ``fail_back``: once the primary is UP and ready again, route back to it; otherwise keep
    routing to the backup (which becomes the de-facto primary) until it fails in turn.
    """

    primary: str
    backup: str
    fail_back: bool = True

    def decide(
        self,
        active: str,
        states: dict[str, TargetState],
        ready: dict[str, bool],
        dependency_up: bool,
    ) -> Decision:
        """Decide where registrations should go, from echo states, readiness and db's state.

        Liveness is the echo; readiness (``/health``) also says whether the instance's dependency
        answers. Both instances share db, so while db is down readiness says nothing about an
        instance, and a dead active instance is still worth replacing by a live standby; but no
        instance is *re*introduced (fail-back) before it is ready.
        """
        standby = self.backup if active == self.primary else self.primary
        active_state = states.get(active, TargetState.UNKNOWN)
        standby_live = states.get(standby) is TargetState.UP
        standby_ready = standby_live and ready.get(standby, False)
        if active_state is TargetState.DOWN:
            if standby_ready or (standby_live and not dependency_up):
                return Decision(DecisionKind.SWITCH, standby, f"{active} is down, {standby} is up")
            return Decision(DecisionKind.STAY, active, f"{active} is down and {standby} is not ready")
        if self.fail_back and active == self.backup and standby_ready:
            return Decision(
                DecisionKind.SWITCH, self.primary, f"{self.primary} is back: failing back", failback=True
            )
        if not dependency_up:
            return Decision(
                DecisionKind.STAY,
                active,
                "db is down: both instances share it, switching would not help",
            )
        return Decision(DecisionKind.STAY, active, f"{active} is up")
