"""Where registrations should go, given what the monitor sees."""

from sportapp_core.health import DecisionKind, FailoverPolicy, TargetState

UP, DOWN, UNKNOWN = TargetState.UP, TargetState.DOWN, TargetState.UNKNOWN
POLICY = FailoverPolicy("registro-primary", "registro-backup")


def _decide(active, primary, backup, *, ready=(True, True), db_up=True, policy=POLICY):
    states = {"registro-primary": primary, "registro-backup": backup}
    readiness = {"registro-primary": ready[0], "registro-backup": ready[1]}
    return policy.decide(active, states, readiness, dependency_up=db_up)


def test_fails_over_when_the_active_is_down_and_the_standby_is_up_and_ready() -> None:
    decision = _decide("registro-primary", DOWN, UP)

    assert decision.kind is DecisionKind.SWITCH
    assert decision.route_to == "registro-backup"


def test_stays_when_the_standby_is_not_ready() -> None:
    decision = _decide("registro-primary", DOWN, UP, ready=(False, False))

    assert decision.kind is DecisionKind.STAY
    assert "not ready" in decision.reason


def test_stays_when_both_are_down() -> None:
    assert _decide("registro-primary", DOWN, DOWN).kind is DecisionKind.STAY


def test_does_not_switch_when_only_the_shared_db_is_down() -> None:
    # Both instances echo but neither is ready: db is down, switching would not help.
    decision = _decide("registro-primary", UP, UP, ready=(False, False), db_up=False)

    assert decision.kind is DecisionKind.STAY
    assert "db is down" in decision.reason


def test_a_dead_active_is_still_replaced_by_a_live_standby_while_db_is_down() -> None:
    decision = _decide("registro-primary", DOWN, UP, ready=(False, False), db_up=False)

    assert decision.kind is DecisionKind.SWITCH
    assert decision.route_to == "registro-backup"


def test_fails_back_once_the_primary_is_up_and_ready() -> None:
    decision = _decide("registro-backup", UP, UP)

    assert (decision.kind, decision.route_to, decision.failback) == (
        DecisionKind.SWITCH, "registro-primary", True
    )


def test_does_not_fail_back_to_a_primary_that_is_not_ready() -> None:
    decision = _decide("registro-backup", UP, UP, ready=(False, True))

    assert decision.kind is DecisionKind.STAY


def test_without_fail_back_the_backup_keeps_the_traffic() -> None:
    policy = FailoverPolicy("registro-primary", "registro-backup", fail_back=False)

    decision = _decide("registro-backup", UP, UP, policy=policy)

    assert decision.kind is DecisionKind.STAY
    assert decision.route_to == "registro-backup"


def test_without_fail_back_the_old_primary_takes_over_when_the_backup_dies() -> None:
    policy = FailoverPolicy("registro-primary", "registro-backup", fail_back=False)

    decision = _decide("registro-backup", UP, DOWN, policy=policy)

    assert decision.kind is DecisionKind.SWITCH
    assert decision.route_to == "registro-primary"
    assert decision.failback is False, "away from a dead backup: a failover, toward the primary"


def test_an_unknown_active_is_left_alone() -> None:
    assert _decide("registro-primary", UNKNOWN, UP).kind is DecisionKind.STAY
