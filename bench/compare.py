"""This run of ``bench.watch`` against a previous one (by default ``bench/results/``).

The machine is shared and its speed moves between runs, so the ratios say more when both
runs were taken in the same machine state; each side's load average is printed with them.
"""

from __future__ import annotations

from typing import Any

# figure name -> (path into the document, higher is better)
FIGURES: dict[str, tuple[tuple[Any, ...], bool]] = {
    "notification latency p50 ms": (("notification_latency", "p50_ms"), False),
    "notification latency p99 ms": (("notification_latency", "p99_ms"), False),
    "ReportStatus round trip p50 ms": (("notification_latency", "report_rpc", "p50_ms"), False),
    "polling 100 ms: mean ms": (("polling", "every_100ms", "mean_ms"), False),
    "polling 1 s: mean ms": (("polling", "every_1s", "mean_ms"), False),
    "fan-out 100: p99 ms": (("fanout", 100, "reach_all", "p99_ms"), False),
    "fan-out 1,000: p99 ms": (("fanout", 1000, "reach_all", "p99_ms"), False),
    "fan-out 10,000: p99 ms": (("fanout", 10000, "reach_all", "p99_ms"), False),
    "fan-out 10,000: core CPU ms/change": (("fanout", 10000, "core_cpu_ms_per_change"), False),
    "RSS per idle watcher (largest) KiB": (("fanout", -1, "rss_per_watcher_kib"), False),
    "ports: seen after ACTIVE p50, watch ms": (
        ("ports_active", "watch", "seen_after_active", "p50_ms"),
        False,
    ),
    "ports: poll / watch p50 (x)": (("ports_active", "seen_after_active_ratio_p50"), True),
    "creates/s, 1 client": (("creates", "sequential", "per_second"), True),
    "creates/s, 32 clients": (("creates", "concurrent", "per_second"), True),
    "PostgreSQL creates/s, 1 client": (("creates_postgresql", "sequential", "per_second"), True),
    "PostgreSQL creates/s, 32 clients": (("creates_postgresql", "concurrent", "per_second"), True),
    "GetPort p99 ms": (("get_port", "sequential", "latency", "p99_ms"), False),
    "GetPort/s, 32 clients": (("get_port", "concurrent", "per_second"), True),
    "floor: health Check p50 ms": (("get_port", "floor_health_check", "p50_ms"), False),
    "floor: health Checks/s, 32 clients": (
        ("get_port", "floor_health_check_concurrent", "per_second"),
        True,
    ),
}


def _dig(document: dict[str, Any], path: tuple[Any, ...]) -> float | None:
    value: Any = document
    for key in path:
        if isinstance(key, int) and isinstance(value, dict) and "runs" in value:
            runs = {r["watchers"]: r for r in value["runs"]}
            value = runs.get(max(runs) if key < 0 else key) if runs else None
        elif isinstance(value, dict):
            value = value.get(key)
        else:
            return None
        if value is None:
            return None
    return float(value) if isinstance(value, int | float) else None


def compare(previous: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """Each figure in both runs, with ``ratio`` = this run / the previous one and whether
    that is ``better`` (None: missing from either run, or unchanged)."""
    rows = []
    for name, (path, higher) in FIGURES.items():
        before, after = _dig(previous, path), _dig(current, path)
        ratio = round(after / before, 2) if before and after is not None else None
        better = None if ratio in (None, 1.0) else (ratio > 1 if higher else ratio < 1)
        rows.append(
            {"figure": name, "previous": before, "now": after, "ratio": ratio, "better": better}
        )
    meta = previous.get("meta", {})
    return {
        "previous_commit": meta.get("git_commit"),
        "previous_started_utc": meta.get("started_utc"),
        "previous_loadavg": [meta.get("loadavg_at_start"), meta.get("loadavg_at_end")],
        "figures": rows,
    }


def render(comparison: dict[str, Any]) -> str:
    """The comparison as aligned text lines."""
    lines = [
        f"against {comparison['previous_commit']} ({comparison['previous_started_utc']}, "
        f"load {comparison['previous_loadavg']})"
    ]
    for row in comparison["figures"]:

        def shown(value: float | None) -> str:
            return "-" if value is None else f"{value:.2f}"

        lines.append(
            f"  {row['figure']:40} {shown(row['previous']):>10} -> {shown(row['now']):>10}"
            f"  x{shown(row['ratio'])}"
            + ("" if row["better"] is None else (" better" if row["better"] else " worse"))
        )
    return "\n".join(lines)
