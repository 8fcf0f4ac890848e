"""Small statistics and resource-meter helpers shared by the benchmarks."""

from __future__ import annotations

import math
import resource
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.stack import Stack, cpu_seconds


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) of ``values``, linearly interpolated."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary_ms(seconds: Sequence[float]) -> dict[str, float | int]:
    """Count, p50, p90, p99, mean, min and max of durations given in seconds, in ms."""
    if not seconds:
        return {"count": 0}
    ms = [s * 1000 for s in seconds]
    return {
        "count": len(ms),
        "p50_ms": round(percentile(ms, 50), 3),
        "p90_ms": round(percentile(ms, 90), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "mean_ms": round(sum(ms) / len(ms), 3),
        "min_ms": round(min(ms), 3),
        "max_ms": round(max(ms), 3),
    }


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Meter:
    """Wall time and CPU time of the core, the sim and this process over one phase.

    CPU time divided by wall time is the share of one core a process used: a process near
    1.0 (the GIL allows little more) is what bounds the phase.
    """

    stack: Stack
    _start: dict[str, float] = field(default_factory=dict)
    result: dict[str, float] = field(default_factory=dict)

    def _read(self) -> dict[str, float]:
        return {
            "wall": time.monotonic(),
            "core": cpu_seconds(self.stack.core.pid),
            "sim": cpu_seconds(self.stack.sim.pid),
            "client": _own_cpu(),
        }

    def __enter__(self) -> Meter:
        self._start = self._read()
        return self

    def __exit__(self, *_: object) -> None:
        end = self._read()
        wall = end["wall"] - self._start["wall"]
        self.result = {"wall_s": round(wall, 3)}
        for name in ("core", "sim", "client"):
            used = end[name] - self._start[name]
            self.result[f"{name}_cpu_s"] = round(used, 3)
            self.result[f"{name}_cpu_share"] = round(used / wall, 3) if wall > 0 else 0.0
