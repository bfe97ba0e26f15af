"""The monitor's settings, from ``SPORTAPP_*`` environment variables."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MonitorSettings:
    """What to watch, how often, how to switch the gateway and whom to ask for restarts."""

    instance: str = "monitor"
    bind: str = "127.0.0.1:8105"
    log_level: str = "INFO"
    primary: str = "registro-primary"
    primary_address: str = "127.0.0.1:8103"
    backup: str = "registro-backup"
    backup_address: str = "127.0.0.1:8104"
    db_service_url: str = "http://127.0.0.1:8101"
    gateway_url: str = "http://127.0.0.1:8080"
    # Ping/echo: a ping every interval, an echo must come back within the timeout; DOWN after
    # `fall` consecutive misses, UP after `rise` consecutive echoes. A hang of the instance that
    # takes the registrations is detected between timeout + (fall - 1) * interval and one interval
    # more after it began: 350..450 ms here.
    interval_ms: int = 100
    timeout_ms: int = 250
    # The standby is pinged less often: its state decides where to switch, not when, and every
    # echo costs the instance that answers it. So is db, unless admission_file is set: then db is
    # pinged every interval_ms, like the active instance, since the gateway lets registrations
    # wait for it only once db is seen away.
    watch_interval_ms: int = 500
    # How often each live instance's readiness (/health) is asked: it gates a switch and a
    # reintroduction, not detection.
    readiness_interval_ms: int = 1000
    # A target that has never answered is starting, not dead: it is declared DOWN (and restarted)
    # only if it is still not up this long after the monitor began to watch it.
    start_grace_s: float = 30.0
    rise: int = 3
    fall: int = 2
    # Off: once the primary is back it stays the standby, as keepalived's `nopreempt` does (a
    # switch back costs a reload and moves the traffic onto an instance just restarted, for no
    # gain in availability). On: the primary takes the registrations again once it is ready.
    fail_back: bool = False
    # Gateway masking: the standby is a `backup` server of the same upstream, and NGINX retries
    # a request the active instance could not take on it.
    masking: bool = True
    upstream_template: str = "infra/nginx/registro-upstream.conf.j2"
    upstream_file: str = "var/nginx/registro-upstream.conf"
    # The gateway's bound on registrations in flight, lifted while db is away (see
    # sportapp_monitor.admission); an empty file name leaves the bound alone.
    admission_template: str = "infra/nginx/registro-admission.conf.j2"
    admission_file: str = ""
    # Lifted only while db refuses connections (it restarts), and for this long at most: past
    # registro's resend window (2.4 s) with room, after which newcomers are better refused cheaply.
    admission_lift_max_s: float = 5.0
    nginx_bin: str = "nginx"
    nginx_prefix: str = "var/nginx"
    nginx_config: str = "var/nginx/nginx.conf"
    confirm_timeout_s: float = 5.0
    # Restarts through supervisord's API; empty when something else restarts instances (compose).
    supervisor_socket: str = "var/supervisor.sock"
    # The first restart is immediate; each further one waits twice as long (up to the maximum),
    # until the instance has stayed up for `stable_after_s`. An instance that does not come up
    # within `restart_grace_s` of its restart is restarted again.
    restart_backoff_s: float = 0.5
    restart_backoff_max_s: float = 30.0
    restart_grace_s: float = 5.0
    stable_after_s: float = 10.0
    event_log: str = "var/monitor-events.jsonl"
