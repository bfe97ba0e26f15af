"""A tiny stand-in for the gateway on 127.0.0.1, run by aiohttp.web in a thread of its own.

It answers registrations 201 with an id (a replay of the same Idempotency-Key gets the same id and
``Idempotent-Replayed: true``), 422 to an address without ``@``, and reads 200. Tests choose which
requests stall and which connections it resets, by the request's slot in the schedule (the number
at the end of the ``load-<run>-<i>@...`` address), and read what it saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

SLOT = re.compile(r"-(\d+)(?:@|$)")


@dataclass
class Arrival:
    """One request as the server received it."""

    at: float  # time.monotonic() on arrival
    path: str
    slot: int | None
    key: str | None
    email: str | None


@dataclass
class FakeApi:
    """The server's behaviour and its record of arrivals."""

    stall_s: Callable[[int], float] = lambda slot: 0.0
    resets: Callable[[int, int], bool] = lambda slot, attempt: False
    arrivals: list[Arrival] = field(default_factory=list)
    users: dict[str, str] = field(default_factory=dict)
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _release: asyncio.Event | None = None
    _runner: web.AppRunner | None = None
    _thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """Where the load generator should send."""
        return f"http://127.0.0.1:{self.port}"

    def attempts(self, key: str) -> list[Arrival]:
        """Every arrival that carried Idempotency-Key ``key``."""
        return [a for a in self.arrivals if a.key == key]

    def start(self) -> None:
        """Serve on a free port of 127.0.0.1 until :meth:`stop`."""
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fake API did not start")

    def stop(self) -> None:
        """Release stalled requests, close the server and join its thread."""
        assert self._loop is not None
        assert self._thread is not None
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        loop.run_until_complete(self._startup())
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _startup(self) -> None:
        self._release = asyncio.Event()
        app = web.Application()
        app.router.add_post("/user-commands/users/register", self._register)
        app.router.add_get("/user-queries/users", self._list)
        app.router.add_get("/user-queries/users/{id}", self._read)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def _shutdown(self) -> None:
        assert self._release is not None
        assert self._runner is not None
        self._release.set()
        await self._runner.cleanup()

    async def _register(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        email = body.get("correo")
        key = request.headers.get("Idempotency-Key")
        match = SLOT.search(email or "")
        slot = int(match.group(1)) if match else None
        self.arrivals.append(Arrival(time.monotonic(), request.path, slot, key, email))
        attempt = len(self.attempts(key)) if key else 1
        if slot is not None and self.resets(slot, attempt):
            assert request.transport is not None
            request.transport.abort()  # the client sees the connection die before any answer
            return web.Response(status=500)
        if slot is not None and self.stall_s(slot) > 0:
            await self._stall(self.stall_s(slot))
        headers = {"X-Served-By": "fake-registro"}
        if "@" not in (email or ""):
            return web.json_response({"status": 422}, status=422, headers=headers)
        if key in self.users:
            headers["Idempotent-Replayed"] = "true"
        user_id = self.users.setdefault(key or str(uuid.uuid4()), str(uuid.uuid4()))
        return web.json_response({"id": user_id, "correo": email}, status=201, headers=headers)

    async def _stall(self, seconds: float) -> None:
        assert self._release is not None
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._release.wait(), timeout=seconds)

    async def _list(self, request: web.Request) -> web.StreamResponse:
        self.arrivals.append(Arrival(time.monotonic(), request.path_qs, None, None, None))
        return web.json_response({"users": [], "total": 0}, headers={"X-Served-By": "fake-consulta"})

    async def _read(self, request: web.Request) -> web.StreamResponse:
        self.arrivals.append(Arrival(time.monotonic(), request.path_qs, None, None, None))
        known = request.match_info["id"] in self.users.values()
        status = 200 if known else 404
        return web.json_response({"id": request.match_info["id"]}, status=status,
                                 headers={"X-Served-By": "fake-consulta"})
