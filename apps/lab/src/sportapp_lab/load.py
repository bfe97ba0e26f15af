"""An open-loop load generator: request i leaves at ``t0 + i / rate``, whatever the server does.

Why not Locust (or any closed-loop tool)? A Locust user is a loop: it sends, waits for the answer,
then sends again. When the server stalls, every user stalls with it, so the requests that *should*
have been sent during the stall are never sent, and the stall shows as one slow request instead of
hundreds: the measured latency hides exactly the outage the experiment is about ("coordinated
omission", Gil Tene). Locust's ``constant_throughput`` does not help: it is a per-user wait time
between tasks, not a fixed arrival schedule, so it too backs off when answers are slow.

Here the schedule is fixed before the run. Each request is its own asyncio task, started when it is
due even while earlier ones are still outstanding, and its latency is measured from the instant it
was *due*, not from when it was sent, so a generator that falls behind still reports the truth. The
only bound is an in-flight cap (a client must not grow without limit): a request due while the cap
is reached is recorded as failed with ``generator-saturated``, never delayed, and the analysis
treats such a run as invalid rather than as evidence.

Registrations are retried at the transport level only (a connection reset or refused before any
answer), with the same ``Idempotency-Key`` and body, so a retry can never create a second user; an
HTTP status is never retried, because the status is the system's answer and what is being measured.
Reads are not retried: a reset on a read counts against the read side.
"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import string
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from sportapp_lab.records import GENERATOR_SATURATED, RequestRecord
from sportapp_lab.workload import LoadConfig, PlannedRequest, plan_requests, registration_email

REGISTER_PATH = "/user-commands/users/register"
USERS_PATH = "/user-queries/users"
PASSWORD_ALPHABET = string.ascii_letters + string.digits
PROGRESS_INTERVAL_S = 0.25
# How many acknowledged ids the reads choose from: recent users, as a person who just signed up.
RECENT_USERS_KEPT = 256


@dataclass(frozen=True, slots=True)
class LoadProgress:
    """Counts at one instant of a run, for a progress bar."""

    elapsed_s: float
    planned: int
    sent: int
    ok: int
    failed: int
    in_flight: int

    @property
    def done(self) -> int:
        """Requests that have an outcome (ok or failed)."""
        return self.ok + self.failed


def run_load_sync(
    config: LoadConfig, on_progress: Callable[[LoadProgress], None] | None = None
) -> list[RequestRecord]:
    """Run :func:`run_load` in a fresh event loop and return its records."""
    return asyncio.run(run_load(config, on_progress))


async def run_load(
    config: LoadConfig, on_progress: Callable[[LoadProgress], None] | None = None
) -> list[RequestRecord]:
    """Send the schedule of ``config`` open-loop and return one record per planned request.

    Ends by itself: the last request is due before ``duration_s``, and outstanding requests get at
    most ``drain_timeout_s`` more before they are cancelled and recorded as ``timeout``.
    """
    run = _Run(config, on_progress)
    return await run.execute()


class _Run:
    """The mutable state of one run (counters, outstanding tasks), kept off module level."""

    def __init__(
        self, config: LoadConfig, on_progress: Callable[[LoadProgress], None] | None
    ) -> None:
        self.config = config
        self.on_progress = on_progress
        self.records: list[RequestRecord] = []
        self.sent = 0
        self.ok = 0
        self.failed = 0
        self.in_flight = 0
        self.started_at = 0.0
        self.mono_to_unix = 0.0
        self.base = config.base_url.rstrip("/")
        self.recent_users: deque[tuple[float, str]] = deque(maxlen=RECENT_USERS_KEPT)
        self.rng = random.Random(config.seed)  # noqa: S311 - picks which user to read, not a secret

    async def execute(self) -> list[RequestRecord]:
        """Send the whole schedule, drain, and return the records in schedule order."""
        plan = plan_requests(self.config)
        # The connector's own cap equals ours, so aiohttp never queues a request we counted as sent.
        connector = aiohttp.TCPConnector(limit=self.config.max_in_flight, limit_per_host=0)
        # No cookies to keep: a cookie jar would only cost every answer a look for Set-Cookie.
        async with aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None),
            cookie_jar=aiohttp.DummyCookieJar(),
        ) as session:
            self.mono_to_unix = time.time() - time.monotonic()
            self.started_at = time.monotonic()
            stop_progress = asyncio.Event()
            progress = asyncio.create_task(self._report_progress(stop_progress))
            tasks: set[asyncio.Task[None]] = set()
            try:
                for planned in plan:
                    due = self.started_at + planned.offset_s
                    delay = due - time.monotonic()
                    # Behind schedule, the request goes at once (latency counts from ``due``
                    # anyway); the zero sleep still lets the requests already started run.
                    await asyncio.sleep(max(0.0, delay))
                    if self.in_flight >= self.config.max_in_flight:
                        self._finish(self._saturated(planned, due))
                        continue
                    self.in_flight += 1
                    self.sent += 1
                    tasks.add(asyncio.create_task(self._send(session, planned, due)))
                await self._drain(tasks)
            finally:
                # Interrupted (Ctrl-C in the CLI): no request may outlive the session it uses.
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                stop_progress.set()
                await progress
        self.records.sort(key=lambda record: record.scheduled_at)
        return self.records

    async def _drain(self, tasks: set[asyncio.Task[None]]) -> None:
        pending = {task for task in tasks if not task.done()}
        if pending:
            _, pending = await asyncio.wait(pending, timeout=self.config.drain_timeout_s)
        for task in pending:
            task.cancel()
        # A cancelled request records itself as a timeout on its way out (see _send).
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _report_progress(self, stop: asyncio.Event) -> None:
        if self.on_progress is None:
            return
        while not stop.is_set():
            self.on_progress(self.snapshot())
            try:
                await asyncio.wait_for(stop.wait(), timeout=PROGRESS_INTERVAL_S)
            except asyncio.TimeoutError:
                continue
        self.on_progress(self.snapshot())

    def snapshot(self) -> LoadProgress:
        """The counts now."""
        return LoadProgress(
            elapsed_s=time.monotonic() - self.started_at,
            planned=self.config.total_requests,
            sent=self.sent,
            ok=self.ok,
            failed=self.failed,
            in_flight=self.in_flight,
        )

    def _finish(self, record: RequestRecord) -> None:
        self.records.append(record)
        if record.ok:
            self.ok += 1
        else:
            self.failed += 1

    def _saturated(self, planned: PlannedRequest, due: float) -> RequestRecord:
        return RequestRecord(
            kind=planned.kind,
            scheduled_at=due,
            sent_at=due,
            t_unix=due + self.mono_to_unix,
            latency_ms=0.0,
            error=GENERATOR_SATURATED,
            invalid_email=planned.invalid_email,
        )

    async def _send(
        self, session: aiohttp.ClientSession, planned: PlannedRequest, due: float
    ) -> None:
        attempt = _Attempt(planned=planned, due=due, sent_at=time.monotonic())
        if planned.kind == "register":
            attempt.email = registration_email(self.config, planned)
            attempt.idempotency_key = str(uuid.uuid4())
        try:
            if planned.kind == "register":
                await self._register(session, attempt)
            else:
                await self._read(session, attempt)
        except asyncio.CancelledError:
            # Cancelled by the drain timeout: the answer never came within the run's bound.
            attempt.error = "timeout"
            self._finish(attempt.record(time.monotonic(), self.mono_to_unix))
            raise
        finally:
            self.in_flight -= 1
        record = attempt.record(time.monotonic(), self.mono_to_unix)
        self._finish(record)
        if record.ok and record.user_id is not None and not record.invalid_email:
            self.recent_users.append((record.completed_at, record.user_id))

    async def _register(self, session: aiohttp.ClientSession, attempt: _Attempt) -> None:
        body = {"correo": attempt.email, "clave": _password()}
        headers = {"Idempotency-Key": attempt.idempotency_key or ""}
        deadline = attempt.sent_at + self.config.timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                attempt.error = "timeout"
                return
            retry = await self._exchange(
                session.post(
                    self.base + REGISTER_PATH,
                    json=body,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=remaining),
                ),
                attempt,
            )
            if not retry or attempt.retries >= self.config.transport_retries:
                return
            # Safe to repeat: same key and body, and registro answers a replay with the same user.
            attempt.retries += 1
            attempt.error = None

    async def _read(self, session: aiohttp.ClientSession, attempt: _Attempt) -> None:
        await self._exchange(
            session.get(
                self.base + self._read_path(),
                timeout=aiohttp.ClientTimeout(total=self.config.timeout_s),
            ),
            attempt,
        )

    def _read_path(self) -> str:
        settled_before = time.monotonic() - self.config.read_settle_s
        candidates = [user_id for acked_at, user_id in self.recent_users if acked_at <= settled_before]
        if not candidates:
            return USERS_PATH + "?limit=5"
        return f"{USERS_PATH}/{self.rng.choice(candidates)}"

    # ``request`` is what ``session.get``/``post`` return: aiohttp names its type only privately.
    async def _exchange(self, request: Any, attempt: _Attempt) -> bool:
        """Send one attempt, fill ``attempt`` from its outcome; True when a transport retry is due."""
        try:
            async with request as response:
                attempt.status = response.status
                attempt.served_by = response.headers.get("X-Served-By")
                attempt.replayed = response.headers.get("Idempotent-Replayed", "").lower() == "true"
                try:
                    payload = await response.read()
                except (asyncio.TimeoutError, TimeoutError):
                    attempt.error = "timeout"
                    return False
                except aiohttp.ClientError as error:
                    # The status came, so the request was processed: not a transport retry case.
                    attempt.error = _short_cause(error)
                    return False
                if attempt.planned.kind == "register" and response.status == 201:
                    attempt.user_id = _user_id(payload)
                return False
        except (asyncio.TimeoutError, TimeoutError):
            attempt.error = "timeout"
            return False
        except aiohttp.ClientConnectionError as error:
            attempt.error = _short_cause(error)
            return attempt.status is None and attempt.planned.kind == "register"
        except aiohttp.ClientError as error:
            attempt.error = _short_cause(error)
            return False


@dataclass
class _Attempt:
    """What one planned request has gathered so far (mutable while the request is in flight)."""

    planned: PlannedRequest
    due: float
    sent_at: float
    email: str | None = None
    idempotency_key: str | None = None
    status: int | None = None
    served_by: str | None = None
    error: str | None = None
    retries: int = 0
    user_id: str | None = None
    replayed: bool = False

    def record(self, ended_at: float, mono_to_unix: float) -> RequestRecord:
        """The finished record, latency counted from the schedule."""
        return RequestRecord(
            kind=self.planned.kind,
            scheduled_at=self.due,
            sent_at=self.sent_at,
            t_unix=self.due + mono_to_unix,
            latency_ms=max(0.0, (ended_at - self.due) * 1000.0),
            status=self.status,
            served_by=self.served_by,
            error=self.error,
            retries=self.retries,
            email=self.email,
            idempotency_key=self.idempotency_key,
            user_id=self.user_id,
            invalid_email=self.planned.invalid_email,
            replayed=self.replayed,
        )


def _password() -> str:
    # 16 URL-safe characters from one call to the system's random source (not one per character).
    return secrets.token_urlsafe(12)


def _user_id(payload: bytes) -> str | None:
    try:
        body = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(body, dict) and body.get("id") is not None:
        return str(body["id"])
    return None


def _short_cause(error: BaseException) -> str:
    if isinstance(error, (aiohttp.ClientConnectionError, ConnectionError)):
        return "connection"
    if isinstance(error, aiohttp.ClientPayloadError):
        return "payload"
    return type(error).__name__
