"""registro's own metrics: hashing and admission, read when ``/metrics`` is scraped."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from sportapp_core.adapters.web.admission import WaitAdmission


class RegistrationMetrics:
    """A Prometheus collector over the hash slots and the admission gate.

    Their counts are kept where the work is done (under locks they take anyway); this reads
    them at scrape time, so a registration pays nothing for its metrics.
    """

    def __init__(self, admission: WaitAdmission) -> None:
        self._admission = admission

    def register(self, registry: CollectorRegistry) -> None:
        """Report into ``registry``."""
        registry.register(self)

    def collect(self) -> Iterator[Metric]:
        """The current figures."""
        slots = self._admission.slots
        yield CounterMetricFamily(
            "sportapp_password_hashes", "Password hashes and verifications done.", value=slots.jobs
        )
        yield CounterMetricFamily(
            "sportapp_password_hash_cpu_seconds",
            "CPU time the hashing threads spent in them.",
            value=slots.cpu_s,
        )
        yield GaugeMetricFamily(
            "sportapp_password_hash_seconds",
            "How long a hash holds its slot, on recent average (what admission predicts from).",
            value=slots.job_s,
        )
        yield GaugeMetricFamily(
            "sportapp_registrations_admitted",
            "Registrations admitted and not finished.",
            value=self._admission.admitted,
        )
        yield GaugeMetricFamily(
            "sportapp_registrations_admitted_max",
            "Registrations admitted at once, at most (the threads not kept for probes).",
            value=self._admission.max_admitted,
        )
        yield GaugeMetricFamily(
            "sportapp_admission_budget_seconds",
            "The longest predicted wait for a hash slot a registration is admitted with.",
            value=self._admission.budget_s,
        )
        yield CounterMetricFamily(
            "sportapp_registrations_refused",
            "Registrations refused at once (503) for a predicted wait over the budget.",
            value=self._admission.refused,
        )
