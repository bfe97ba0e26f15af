"""The experiment's workload through Apache JMeter: running the plan, reading its results."""
