"""One record per request of a run, and its CSV form: the raw log every figure is computed from.

Times are ``time.monotonic()`` seconds (``t_mono``), the clock the monitor's event log also
writes, so a request and a monitor event can be subtracted from each other. ``t_unix`` is kept
beside it for people and for tools that only know wall-clock time (JMeter).

CSV columns, in this order (an empty cell is ``None``):

==================  =====================================================================
``kind``            ``register`` or ``read``
``scheduled_at``    t_mono at which the request was due by the open-loop schedule
``sent_at``         t_mono at which it actually left (later than ``scheduled_at`` only when
                    the generator itself fell behind)
``t_unix``          wall-clock (epoch seconds) of ``scheduled_at``
``latency_ms``      from ``scheduled_at`` to the end of the answer (or of the failure), so a
                    stalled server shows in the latency instead of hiding in a delayed send
``status``          HTTP status, empty when no answer came
``served_by``       the ``X-Served-By`` header of the answer
``error``           empty, ``timeout``, ``connection``, ``generator-saturated`` or another
                    short cause
``retries``         transport-level retries of the same request (same Idempotency-Key)
``email``           the ``correo`` sent (registrations)
``idempotency_key`` the ``Idempotency-Key`` header sent (registrations)
``user_id``         the ``id`` of a 201 answer
``invalid_email``   ``1`` when the address was deliberately invalid and 422 is the right answer
``replayed``        ``1`` when the answer carried ``Idempotent-Replayed: true``
==================  =====================================================================
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

RequestKind = Literal["register", "read"]

CSV_COLUMNS = (
    "kind",
    "scheduled_at",
    "sent_at",
    "t_unix",
    "latency_ms",
    "status",
    "served_by",
    "error",
    "retries",
    "email",
    "idempotency_key",
    "user_id",
    "invalid_email",
    "replayed",
)

# The error a request gets when the generator's own in-flight cap refused to send it.
GENERATOR_SATURATED = "generator-saturated"


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """What happened to one request of the load: when it was due, when it went, how it ended."""

    kind: RequestKind
    scheduled_at: float
    sent_at: float
    t_unix: float
    latency_ms: float
    status: int | None = None
    served_by: str | None = None
    error: str | None = None
    retries: int = 0
    email: str | None = None
    idempotency_key: str | None = None
    user_id: str | None = None
    invalid_email: bool = False
    replayed: bool = False

    @property
    def ok(self) -> bool:
        """True when the system gave the right answer: a 2xx, or 422 to a deliberately bad address."""
        if self.status is None:
            return False
        if self.invalid_email:
            return self.status == 422
        return 200 <= self.status < 300

    @property
    def completed_at(self) -> float:
        """t_mono at which the answer (or the failure) came: the schedule plus the latency."""
        return self.scheduled_at + self.latency_ms / 1000.0

    @property
    def was_sent(self) -> bool:
        """False only for requests the generator refused to send because it was saturated."""
        return self.error != GENERATOR_SATURATED


def write_records_csv(records: Iterable[RequestRecord], path: Path) -> Path:
    """Write ``records`` to ``path`` as CSV with a header row (columns in the module docstring)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for record in records:
            writer.writerow(
                [
                    record.kind,
                    repr(record.scheduled_at),
                    repr(record.sent_at),
                    repr(record.t_unix),
                    repr(record.latency_ms),
                    _cell(record.status),
                    _cell(record.served_by),
                    _cell(record.error),
                    record.retries,
                    _cell(record.email),
                    _cell(record.idempotency_key),
                    _cell(record.user_id),
                    int(record.invalid_email),
                    int(record.replayed),
                ]
            )
    return path


def read_records_csv(path: Path) -> list[RequestRecord]:
    """Read records written by :func:`write_records_csv`."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = set(CSV_COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path} is not a request log: missing columns {sorted(missing)}")
        return [_parse_row(row) for row in reader]


def _parse_row(row: dict[str, str]) -> RequestRecord:
    kind = row["kind"]
    if kind not in ("register", "read"):
        raise ValueError(f"unknown request kind {kind!r}")
    return RequestRecord(
        kind="register" if kind == "register" else "read",
        scheduled_at=float(row["scheduled_at"]),
        sent_at=float(row["sent_at"]),
        t_unix=float(row["t_unix"]),
        latency_ms=float(row["latency_ms"]),
        status=int(row["status"]) if row["status"] else None,
        served_by=row["served_by"] or None,
        error=row["error"] or None,
        retries=int(row["retries"] or 0),
        email=row["email"] or None,
        idempotency_key=row["idempotency_key"] or None,
        user_id=row["user_id"] or None,
        invalid_email=row["invalid_email"] == "1",
        replayed=row["replayed"] == "1",
    )


def _cell(value: object) -> str:
    return "" if value is None else str(value)
