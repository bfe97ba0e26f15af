"""What a running registro instance says of itself on ``/metrics``: how long a hash takes, how
many it has done, and its admission's limits. The lab reads the instance rather than registro's
code, so that the figures are those of the process that served the load."""

from __future__ import annotations

import requests

from sportapp_stack.config import StackConfig


def registro_metrics(config: StackConfig, *, timeout_s: float = 5.0) -> dict[str, float]:
    """registro-primary's samples by name (labels kept in the name, as the exposition writes them)."""
    url = config.url(config.registro_primary_port) + "/metrics"
    response = requests.get(url, timeout=timeout_s)
    response.raise_for_status()
    samples: dict[str, float] = {}
    for line in response.text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        samples[name] = float(value)
    return samples
