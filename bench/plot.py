"""The PNG of ``bench.watch``: four panels, one per question the benchmark answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # before pyplot is imported: no display needed

import matplotlib.pyplot as plt


def _cdf(axis: Any, samples_s: list[float], label: str) -> None:
    if not samples_s:
        return
    ms = sorted(s * 1000 for s in samples_s)
    axis.plot(ms, [(i + 1) / len(ms) for i in range(len(ms))], label=label)


def plot(document: dict[str, Any], raw: dict[str, Any], path: Path) -> None:
    """Write the figure for ``document`` (the JSON figures) and ``raw`` (samples) to ``path``."""
    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    quick = " (--quick)" if document["meta"]["quick"] else ""
    fig.suptitle(f"quantum-grpc WatchStatus on loopback{quick}")

    latency = axes[0][0]
    _cdf(latency, raw["latency"]["samples"], "watch")
    for key, label in (("poll_100ms", "poll GetPort every 100 ms"), ("poll_1s", "every 1 s")):
        _cdf(latency, raw[key]["samples"], label)
    latency.axvline(2, color="grey", linestyle=":", label="target p99 2 ms")
    latency.set_xscale("log")
    latency.set_xlabel("report → client sees the change (ms)")
    latency.set_ylabel("share of changes")
    latency.set_title("1-2. notification latency, one change in flight")
    latency.legend(loc="lower right")
    latency.grid(alpha=0.3)

    fan = axes[0][1]
    runs = document["fanout"]["runs"]
    sizes = [r["watchers"] for r in runs]
    fan.plot(sizes, [r["reach_all"]["p50_ms"] for r in runs], "o-", label="reach all, p50")
    fan.plot(sizes, [r["reach_all"]["p99_ms"] for r in runs], "s-", label="reach all, p99")
    fan.plot(sizes, [r["reach_first"]["p50_ms"] for r in runs], "^--", label="first, p50")
    fan.plot([1000, 10000], [50, 500], "kx", markersize=10, label="targets (p99)")
    fan.set_xscale("log")
    fan.set_yscale("log")
    fan.set_xlabel("idle watchers on one server")
    fan.set_ylabel("report → received (ms)")
    fan.set_title("3. one change to every watcher")
    memory = fan.twinx()
    memory.plot(sizes, [r["rss_per_watcher_kib"] for r in runs], "d:", color="tab:red")
    memory.axhline(20, color="tab:red", linestyle=":", alpha=0.4)
    memory.set_ylabel("server RSS per idle watcher (KiB), red", color="tab:red")
    memory.set_ylim(bottom=0)
    fan.legend(loc="lower right")
    fan.grid(alpha=0.3)

    ports = axes[1][0]
    for mode, label in (("watch", "one watch"), ("poll", "GetPort every 1 s")):
        seen = raw["ports"][mode]["seen_at"]
        ports.plot(seen, range(1, len(seen) + 1), label=label)
    ports.set_xlabel("seconds since the first create")
    ports.set_ylabel("ports seen ACTIVE")
    active = document["ports_active"]
    ports.set_title(
        f"4. {active['watch']['ports']} ports to ACTIVE (async sim): "
        f"{active['watch']['await_rpcs']} vs {active['poll']['await_rpcs']} RPCs"
    )
    ports.legend(loc="lower right")
    ports.grid(alpha=0.3)

    rate = axes[1][1]
    created = document["creates"]
    labels = ["1 client, in sequence", f"{created['concurrent']['clients']} clients"]
    values = [created["sequential"]["per_second"], created["concurrent"]["per_second"]]
    bars = rate.bar(labels, values, color=["tab:blue", "tab:orange"])
    rate.bar_label(bars, fmt="%.0f/s")
    rate.set_ylabel("CreatePort per second")
    rate.set_title("5. creates on the sync sim")
    rate.grid(alpha=0.3, axis="y")

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
