"""What the Flask services share: settings from the environment, the one error model, probes,
request ids, JSON logs and Prometheus metrics."""
