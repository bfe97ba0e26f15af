"""Read-model lag as a client sees it: from a 201 to the user being readable through consulta.

Registrations go at a fixed rate (open loop); after each 201 the client polls
``GET /user-queries/users/<id>`` through the gateway every few milliseconds until it answers 200.
The baseline is what such a poll costs on its own (a GET of a user already there): the floor
under any lag this method can see.
"""

from __future__ import annotations

import asyncio
import secrets
import time

import aiohttp

from sportapp_lab.analysis import percentile
from sportapp_lab.bench.common import Figure, bench_stack

TARGET_P99_MS = 100.0
POLL_EVERY_S = 0.005
GIVE_UP_S = 5.0


async def _register_then_watch(
    session: aiohttp.ClientSession, base_url: str, index: int, lags: list[float], polls: list[float]
) -> None:
    body = {"correo": f"lag-{index}-{secrets.token_hex(4)}@sportapp-bench.dev", "clave": secrets.token_hex(8)}
    async with session.post(f"{base_url}/user-commands/users/register", json=body) as response:
        if response.status != 201:
            return
        user_id = (await response.json())["id"]
    acknowledged = time.monotonic()
    url = f"{base_url}/user-queries/users/{user_id}"
    while time.monotonic() - acknowledged < GIVE_UP_S:
        asked = time.monotonic()
        async with session.get(url) as reply:
            await reply.read()
            if reply.status == 200:
                lags.append((time.monotonic() - acknowledged) * 1000)
                # Once visible, one more GET: what a poll costs when there is nothing to wait for.
                asked = time.monotonic()
                async with session.get(url) as again:
                    await again.read()
                polls.append((time.monotonic() - asked) * 1000)
                return
        await asyncio.sleep(max(0.0, POLL_EVERY_S - (time.monotonic() - asked)))
    lags.append(float("inf"))  # never visible within GIVE_UP_S: counted, and it fails the target


async def _run(base_url: str, rate: float, duration_s: float) -> tuple[list[float], list[float], int]:
    lags: list[float] = []
    polls: list[float] = []
    total = int(rate * duration_s)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        started = time.monotonic()
        tasks = []
        for index in range(total):
            await asyncio.sleep(max(0.0, started + index / rate - time.monotonic()))
            tasks.append(asyncio.create_task(_register_then_watch(session, base_url, index, lags, polls)))
        await asyncio.gather(*tasks)
    return lags, polls, total


def measure(*, rate: float = 30.0, duration_s: float) -> list[Figure]:
    """The lag figure at ``rate`` registrations per second."""
    with bench_stack() as stack:
        lags, polls, total = asyncio.run(_run(stack.config.gateway_url, rate, duration_s))
    finite = [lag for lag in lags if lag != float("inf")]
    p99 = percentile(lags, 99)
    figure = Figure(
        key="read_model_lag_p99",
        title=f"read-model lag p99 at {rate:g} registrations/s",
        value=None if p99 is None or p99 == float("inf") else round(p99, 1),
        unit="ms",
        baseline=round(percentile(polls, 50) or 0.0, 2) or None,
        baseline_title="one GET of a present user (p50), ms",
        target=f"p99 < {TARGET_P99_MS:g} ms",
        parameters={
            "p50_ms": round(percentile(finite, 50) or 0.0, 1),
            "max_ms": round(max(finite), 1) if finite else None,
            "acknowledged": len(lags),
            "never_visible": len(lags) - len(finite),
            "offered": total,
            "poll_every_ms": POLL_EVERY_S * 1000,
            "duration_s": duration_s,
        },
    )
    figure.met = figure.value is not None and figure.value < TARGET_P99_MS and len(lags) == total
    return [figure]
