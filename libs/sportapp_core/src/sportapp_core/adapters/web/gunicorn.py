"""gunicorn settings shared by the apps' ``gunicorn.conf.py`` files, from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class GunicornSettings:
    """bind, workers and threads from ``SPORTAPP_BIND``, ``SPORTAPP_WORKERS``, ``SPORTAPP_THREADS``.

    The worker class is ``gthread``: a registration spends most of its time hashing in C with the
    GIL released, so threads keep ``/ping`` and reads answering while hashes run.
    """

    bind: str
    workers: int
    threads: int

    @classmethod
    def from_environ(
        cls, default_port: int, default_workers: int = 2, default_threads: int = 8
    ) -> GunicornSettings:
        """Read the settings, with this app's defaults."""
        return cls(
            bind=os.environ.get("SPORTAPP_BIND", f"127.0.0.1:{default_port}"),
            workers=int(os.environ.get("SPORTAPP_WORKERS", default_workers)),
            threads=int(os.environ.get("SPORTAPP_THREADS", default_threads)),
        )


def mark_worker_dead(_server: Any, worker: Any) -> None:
    """gunicorn ``child_exit`` hook: drop a dead worker's live gauges from the shared metrics."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
