"""SportApp's lab: it drives a stack started by ``sportapp_stack``, injects faults, measures what
clients saw and says whether the architecture held. Nothing here runs in production.

Modules, in the order an experiment uses them:

- ``cli``: ``sportapp experiment`` and ``sportapp report`` (added to the stack's command line);
- ``experiment``: one run, start to report: capacity, stack, load, faults, verification, files;
- ``capacity``: what this machine sustains through the gateway (a step ramp, cached);
- ``load``: the open-loop load generator (aiohttp) that produces :class:`RequestRecord` s;
- ``jmeter``: the same workload through Apache JMeter 5.x (``run``), read back into records (``jtl``);
- ``faults``: the scenarios and the faults they inject;
- ``records``: the per-request record and its CSV form (the raw log of a run);
- ``verification``: every acknowledged registration looked up in both stores;
- ``analysis``: the report dict and the hypothesis checks, pure functions on records and events;
- ``report``: PNG figures (``plots``) and the Markdown report (``markdown``);
- ``metrics``: what a running registro says of itself;
- ``bench``: the benchmarks (``python -m sportapp_lab.bench``).
"""

from sportapp_lab.records import RequestRecord, read_records_csv, write_records_csv

__all__ = ["RequestRecord", "read_records_csv", "write_records_csv"]
