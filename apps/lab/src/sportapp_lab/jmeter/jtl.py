"""Read Apache JMeter's CSV results (JTL) into :class:`RequestRecord` s.

JMeter writes one row per sample, with a header row when ``jmeter.save.saveservice.print_field_names``
is true (the default since JMeter 3). The documented columns this reader uses:

==================  ======================================================================
``timeStamp``       epoch milliseconds (``jmeter.save.saveservice.timestamp_format=ms``, the
                    default); with ``sampleresult.timestamp.start=true`` (JMeter 5's shipped
                    setting) the instant the sample started
``elapsed``         milliseconds from the start of the sample to the end of the answer
``label``           the sampler's name
``responseCode``    the HTTP status, or ``Non HTTP response code: <java exception>``
``responseMessage`` the reason phrase, or ``Non HTTP response message: <detail>``
``success``         ``true`` / ``false`` (not used: the status decides, as for our own records)
``URL``             the URL sampled (``jmeter.save.saveservice.url=true``), when present
==================  ======================================================================

``sample_variables`` (JMeter appends them as columns after its own, named after the variables)
carry what the plan (``infra/jmeter/registration.jmx``) keeps of each registration:

==================  ======================================================================
``correo``          the address sent: what the verification looks up in the stores
``idempotencyKey``  the ``Idempotency-Key`` header sent
``userId``          the ``id`` a 201 answered (checked against the stored user's id)
``servedBy``        the ``X-Served-By`` header (``none`` when there was none)
==================  ======================================================================

A JTL without ``correo`` (written by another plan) still reads; its acknowledged registrations are
then counted as unverifiable, never assumed stored.

Other documented columns (threadName, dataType, failureMessage, bytes, sentBytes, grpThreads,
allThreads, Latency, IdleTime, Connect, ...) may be present and are ignored. A headerless JTL is
refused with an explanation: its column order depends on every ``jmeter.save.saveservice.*`` flag of
the run that wrote it, so guessing it could silently misread a run.

JMeter has no notion of when a request was *due*: a sample starts when its thread is free, so
``scheduled_at`` and ``sent_at`` are both the sample's start, and a stalled server that holds every
thread shows less latency than an open-loop client would (see ``load``).
"""

from __future__ import annotations

import csv
import re
import time
from pathlib import Path

from sportapp_lab.records import RequestKind, RequestRecord

REQUIRED_COLUMNS = ("timeStamp", "elapsed", "label", "responseCode")
SERVED_BY_COLUMNS = ("servedBy", "served_by", "X-Served-By")
EMAIL_COLUMN = "correo"
KEY_COLUMN = "idempotencyKey"
USER_ID_COLUMN = "userId"
# What JMeter writes for a variable the sample's thread never set (a read, a failed extraction).
_UNSET = frozenset({"", "null", "none"})
NON_HTTP_CODE = "Non HTTP response code:"

# Java exceptions (simple names) that mean the answer did not come in time.
_TIMEOUT_EXCEPTIONS = frozenset(
    {"SocketTimeoutException", "ConnectTimeoutException", "InterruptedIOException", "TimeoutException"}
)
# Java exceptions that mean no usable connection: refused, reset or closed before an answer.
_CONNECTION_EXCEPTIONS = frozenset(
    {
        "ConnectException",
        "HttpHostConnectException",
        "NoHttpResponseException",
        "SocketException",
        "ConnectionClosedException",
        "NoRouteToHostException",
        "UnknownHostException",
        "SSLException",
    }
)


class JTLFormatError(ValueError):
    """The file is not a CSV JTL with field names that this reader can trust."""


def read_jtl(path: Path, *, mono_minus_unix: float | None = None) -> list[RequestRecord]:
    """Records of the HTTP samples in the CSV JTL at ``path``, oldest first.

    ``mono_minus_unix`` converts JMeter's wall-clock stamps to ``t_mono`` (``time.monotonic() -
    time.time()``); by default it is taken now, which holds while the wall clock was not stepped
    since the run. Samples that are neither a registration nor a read are skipped.
    """
    offset = time.monotonic() - time.time() if mono_minus_unix is None else mono_minus_unix
    with path.open(newline="", encoding="utf-8") as handle:
        first_line = handle.readline()
        _check_header(path, first_line)
        handle.seek(0)
        reader = csv.DictReader(handle)
        fieldnames = list(reader.fieldnames or ())
        missing = [column for column in REQUIRED_COLUMNS if column not in fieldnames]
        if missing:
            raise JTLFormatError(f"{path}: the JTL header lacks {missing}; found {fieldnames}")
        served_by_column = next((c for c in SERVED_BY_COLUMNS if c in fieldnames), None)
        records = []
        for line_number, row in enumerate(reader, start=2):
            record = _record(row, served_by_column, offset, f"{path}:{line_number}")
            if record is not None:
                records.append(record)
    records.sort(key=lambda record: record.scheduled_at)
    return records


def classify_response_code(code: str, message: str = "") -> tuple[int | None, str | None]:
    """``(status, error)`` of a JTL responseCode: a number is a status, a Java exception an error."""
    text = code.strip()
    if text.isdigit():
        return int(text), None
    detail = f"{text} {message}"
    exception = _exception_name(text)
    if exception in _TIMEOUT_EXCEPTIONS or "timed out" in detail.lower():
        return None, "timeout"
    if exception in _CONNECTION_EXCEPTIONS or re.search(r"connection (refused|reset)", detail, re.I):
        return None, "connection"
    return None, exception or "non-http"


def kind_of_sample(label: str, url: str = "") -> RequestKind | None:
    """``register`` for the command side, ``read`` for the query side, else ``None``."""
    for text in (url, label):
        if "/user-commands/" in text:
            return "register"
        if "/user-queries/" in text:
            return "read"
    lowered = label.lower()
    if "regist" in lowered:
        return "register"
    if "read" in lowered or "quer" in lowered:
        return "read"
    return None


def _check_header(path: Path, first_line: str) -> None:
    stripped = first_line.lstrip("\ufeff").strip()
    if stripped.startswith("<"):
        raise JTLFormatError(
            f"{path} is an XML JTL; write CSV with jmeter.save.saveservice.output_format=csv"
        )
    first_cell = stripped.split(",", 1)[0].strip('"')
    if not stripped or first_cell.isdigit() or "timeStamp" not in stripped:
        raise JTLFormatError(
            f"{path} has no header row: headerless JTLs are not supported, because their column "
            "order depends on the run's jmeter.save.saveservice.* flags. Run JMeter with "
            "-Jjmeter.save.saveservice.print_field_names=true (the default since JMeter 3)."
        )


def _record(
    row: dict[str, str], served_by_column: str | None, offset: float, where: str
) -> RequestRecord | None:
    kind = kind_of_sample(row.get("label") or "", row.get("URL") or "")
    if kind is None:
        return None
    try:
        started_unix = int(row["timeStamp"]) / 1000.0
        elapsed_ms = float(row["elapsed"])
    except (TypeError, ValueError):
        raise JTLFormatError(
            f"{where}: timeStamp must be epoch milliseconds and elapsed a number "
            f"(jmeter.save.saveservice.timestamp_format=ms); got {row.get('timeStamp')!r}"
        ) from None
    status, error = classify_response_code(row.get("responseCode") or "", row.get("responseMessage") or "")
    started = started_unix + offset
    registration = kind == "register"
    return RequestRecord(
        kind=kind,
        scheduled_at=started,
        sent_at=started,
        t_unix=started_unix,
        latency_ms=elapsed_ms,
        status=status,
        served_by=_variable(row, served_by_column),
        error=error,
        email=_variable(row, EMAIL_COLUMN) if registration else None,
        idempotency_key=_variable(row, KEY_COLUMN) if registration else None,
        user_id=_variable(row, USER_ID_COLUMN) if registration and status == 201 else None,
    )


def _variable(row: dict[str, str], column: str | None) -> str | None:
    """A saved variable's value, or None where the column is absent or the variable was unset."""
    value = (row.get(column) or "").strip() if column else ""
    return None if value.lower() in _UNSET else value


def _exception_name(code: str) -> str | None:
    text = code[len(NON_HTTP_CODE):] if code.startswith(NON_HTTP_CODE) else code
    name = text.strip().rsplit(".", 1)[-1].split(":", 1)[0].strip()
    return name or None
