"""The experiment's engine: open-loop load, JMeter plans and results, analysis, figures and report.

Modules, in the order a run uses them:

- ``load``: the open-loop load generator (aiohttp) that produces :class:`RequestRecord` s;
- ``runner`` and ``jtl``: the same workload through Apache JMeter 5.x, read back into records;
- ``records``: the per-request record and its CSV form (the raw log of a run);
- ``analysis``: the report dict and the hypothesis checks, pure functions on records and events;
- ``plots`` and ``report_md``: PNG figures and the Markdown report.
"""

from sportapp_stack.experiment.records import RequestRecord, read_records_csv, write_records_csv

__all__ = ["RequestRecord", "read_records_csv", "write_records_csv"]
