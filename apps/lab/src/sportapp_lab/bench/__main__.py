"""``python -m sportapp_lab.bench``: run the benchmarks, print every figure beside its baseline,
save them all."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import traceback
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from sportapp_core.adapters.argon2_hasher import Argon2Parameters
from sportapp_lab.bench import (
    cold_start,
    cpu,
    failover,
    lag,
    overload,
    probe_floor,
    queries,
    registration,
    reload,
    saturation,
)
from sportapp_lab.bench.common import Figure
from sportapp_lab.bench.hashing import hashes_per_second
from sportapp_stack.config import find_root


class Plan:
    """How long each benchmark runs: the full run, or ``--quick`` for a look in a few minutes."""

    def __init__(self, quick: bool) -> None:
        self.quick = quick
        self.hash_s = 3.0 if quick else 8.0
        self.step_s = 4.0 if quick else 10.0
        self.registration_rounds = 1 if quick else 3
        self.query_s = 2 if quick else 5  # per run, in interleaved rounds
        self.query_rounds = 3 if quick else 7
        self.lag_s = 8.0 if quick else 30.0
        self.trials = 3 if quick else 10
        self.saturation_s = 20.0 if quick else 60.0
        self.overload_s = 30 if quick else 120
        self.cold_starts = 2 if quick else 5
        self.cpu_idle_s = 10.0 if quick else 20.0
        self.cpu_load_s = 10.0 if quick else 30.0
        self.probe_s = 10.0 if quick else 20.0
        self.probe_rounds = 1 if quick else 3
        self._bound: float | None = None

    def bound(self) -> float:
        """The hashing bound: from the registration benchmark if it ran, else measured now."""
        if self._bound is None:
            self._bound = hashes_per_second(self.hash_s, Argon2Parameters.from_env(os.environ))
        return self._bound

    def registration(self) -> list[Figure]:
        figures, self._bound = registration.measure(
            step_s=self.step_s, hash_s=self.hash_s, rounds=self.registration_rounds
        )
        return figures

    def cpu(self) -> list[Figure]:
        # A quarter of the hashing bound: well below capacity on any machine, as a share of it.
        return cpu.measure(
            rate=round(self.bound() * CPU_LOAD_SHARE, 1), idle_s=self.cpu_idle_s, load_s=self.cpu_load_s
        )

    def probe_floor(self) -> list[Figure]:
        return probe_floor.measure(duration_s=self.probe_s, rounds=self.probe_rounds)

    def queries(self) -> list[Figure]:
        return queries.measure(duration_s=self.query_s, rounds=self.query_rounds)

    def lag(self) -> list[Figure]:
        return lag.measure(duration_s=self.lag_s)

    def failover(self) -> list[Figure]:
        return failover.measure(trials=self.trials)

    def saturation(self) -> list[Figure]:
        return saturation.measure(bound=self.bound(), duration_s=self.saturation_s)

    def overload(self) -> list[Figure]:
        # The capacity ramp starts well below the hashing bound, as the experiment's does.
        return overload.measure(
            duration_s=self.overload_s, step_s=self.step_s / 2, first_rate=round(self.bound() * 0.3, 1)
        )

    def reload(self) -> list[Figure]:
        return reload.measure()

    def cold_start(self) -> list[Figure]:
        return cold_start.measure(runs=self.cold_starts)


CPU_LOAD_SHARE = 0.25
BENCHMARKS = (
    "registration", "cpu", "probe-floor", "queries", "lag", "failover", "saturation", "overload",
    "reload", "cold-start",
)


def _cell(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(figures: list[Figure]) -> str:
    """The figures as a console table: value, baseline, ratio, target and whether it was met."""
    rows = [("figure", "value", "baseline", "ratio", "target", "met")]
    for f in figures:
        met = {True: "yes", False: "NO", None: "-"}[f.met]
        rows.append((
            f.title,
            f"{_cell(f.value)} {f.unit}",
            _cell(f.baseline),
            _cell(f.ratio, 2),
            f.target,
            met,
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run what was asked for; exit 1 if a benchmark could not run (a missed target is a figure)."""
    parser = argparse.ArgumentParser(prog="python -m sportapp_lab.bench", description=__doc__)
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, default=list(BENCHMARKS),
                        help="Run only these benchmarks (default: all, about 22 minutes).")
    parser.add_argument("--quick", action="store_true",
                        help="Shorter runs and fewer trials (a few minutes): a look, not a result.")
    parser.add_argument("--out", type=Path, default=None,
                        help="Results folder (default: var/bench/).")
    args = parser.parse_args(argv)
    plan = Plan(args.quick)
    figures: list[Figure] = []
    broken: dict[str, str] = {}
    for name in args.only:
        print(f"== {name}", flush=True)
        run: Callable[[], list[Figure]] = getattr(plan, name.replace("-", "_"))
        try:
            figures.extend(run())
        except Exception as error:  # one broken benchmark must not lose the others' figures
            traceback.print_exc()
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
            broken[name] = f"{type(error).__name__}: {first_line} (the whole error is printed above)"
    print()
    print(table(figures))
    for name, reason in broken.items():
        print(f"{name}: did not run: {reason}")
    out = args.out or find_root() / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    now = datetime.now(timezone.utc)
    path = out / f"{now.strftime('%Y-%m-%dT%H%M%SZ')}.json"
    path.write_text(json.dumps({
        "started": now.isoformat(),
        "quick": args.quick,
        "machine": {
            "cpus": os.cpu_count(), "platform": platform.platform(), "python": sys.version.split()[0],
        },
        "figures": [figure.as_dict() for figure in figures],
        "did_not_run": broken,
    }, indent=2, default=str))
    print(f"written: {path}")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
