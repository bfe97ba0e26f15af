"""The monitor's Prometheus metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class MonitorMetrics:
    """Echo latencies, target states, failovers, reloads and restarts."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.echo_latency = Histogram(
            "sportapp_monitor_echo_latency_seconds",
            "Time from ping to echo, per target.",
            ["target"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5),
            registry=self.registry,
        )
        self.misses = Counter(
            "sportapp_monitor_misses_total", "Pings without a correct echo.", ["target", "reason"],
            registry=self.registry,
        )
        self.target_up = Gauge(
            "sportapp_monitor_target_up", "1 up, 0 down, -1 unknown.", ["target"],
            registry=self.registry,
        )
        self.active = Gauge(
            "sportapp_monitor_active", "1 for the instance the gateway routes to.", ["target"],
            registry=self.registry,
        )
        self.failovers = Counter(
            "sportapp_monitor_failovers_total", "Switches of the gateway's registro upstream.",
            ["kind"], registry=self.registry,
        )
        self.reloads = Counter(
            "sportapp_monitor_reloads_total", "NGINX reloads signalled.", registry=self.registry
        )
        self.restarts = Counter(
            "sportapp_monitor_restarts_total", "Restarts issued, per target.", ["target"],
            registry=self.registry,
        )
