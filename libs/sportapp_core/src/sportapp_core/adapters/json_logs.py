"""JSON log lines on stdout for every SportApp process (services, monitor, relay), each stamped with
the process's instance name and the id of the request being served, if any."""

from __future__ import annotations

import atexit
import copy
import logging
import queue
import sys
from logging.handlers import QueueHandler, QueueListener

from pythonjsonlogger.json import JsonFormatter

from sportapp_core.adapters.request_context import current_request_id


class _RequestIdFilter(logging.Filter):
    """Stamps every record with the request id of the request being served, if any."""

    def __init__(self, instance: str) -> None:
        super().__init__()
        self._instance = instance

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get()
        record.instance = self._instance
        return True


class _HandOffHandler(QueueHandler):
    """Puts records on a queue as they are, for a background thread to format and write.

    The queue is in-process, so records need not be pickled: the message is merged with its
    arguments here (they may change after the call), and the exception stays whole for the JSON
    formatter to render.
    """

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        record = copy.copy(record)
        record.msg, record.args = record.getMessage(), None
        return record


_listener: QueueListener | None = None


def configure_logging(instance: str, level: str = "INFO") -> None:
    """JSON lines on stdout, each with the instance name and the current request id.

    A request thread only stamps a record and queues it; one background thread per process
    formats and writes. Under load, threads would otherwise queue for the handler's lock while
    one of them writes to a pipe that the process manager drains at its own pace. What is still
    queued when the process is killed with SIGKILL is lost; on a normal exit it is written.
    """
    global _listener
    output = logging.StreamHandler(sys.stdout)
    output.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    handler = _HandOffHandler(records)
    handler.addFilter(_RequestIdFilter(instance))  # in the request's thread: it reads its context
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "sportapp_json", False):
            root.removeHandler(existing)
    if _listener is not None:
        _listener.stop()  # writes what the previous handler queued, then ends its thread
    _listener = QueueListener(records, output)
    _listener.start()
    handler.sportapp_json = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())


@atexit.register
def _flush_logs() -> None:
    if _listener is not None:
        _listener.stop()
