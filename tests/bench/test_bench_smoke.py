"""bench.watch --quick runs end to end: every section is there, with positive numbers.

Correctness only: the figures depend on the machine, so nothing here asserts a timing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import need

ROOT = Path(__file__).resolve().parents[2]


def _positive(document: dict[str, Any], *path: str | int) -> None:
    value: Any = document
    for key in path:
        value = value[key]
    assert isinstance(value, int | float) and value > 0, f"{'.'.join(map(str, path))} = {value!r}"


@pytest.mark.timeout(300)
def test_quick_run_writes_every_section_and_a_plot(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.watch", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    printed = json.loads(done.stdout)
    written = json.loads((tmp_path / "watch.json").read_text())
    assert printed == written

    assert written["meta"]["quick"] is True
    assert written["notification_latency"]["count"] >= 200
    for key in ("p50_ms", "p99_ms", "mean_ms"):
        _positive(written, "notification_latency", key)
        for interval in ("every_100ms", "every_1s"):
            _positive(written, "polling", interval, key)
    for interval in ("every_100ms", "every_1s"):
        assert written["polling"][interval]["count"] >= 200
        _positive(written, "polling", interval, "get_rpcs")

    runs = written["fanout"]["runs"]
    assert [r["watchers"] for r in runs] == [100, 300]
    for i, run in enumerate(runs):
        assert run["reach_all"]["count"] == run["changes"] >= 20
        for key in ("p50_ms", "p99_ms"):
            _positive(written, "fanout", "runs", i, "reach_all", key)
            _positive(written, "fanout", "runs", i, "reach_first", key)
        _positive(written, "fanout", "runs", i, "rss_per_watcher_kib")
        assert run["reach_first"]["p50_ms"] <= run["reach_all"]["p50_ms"]

    active = written["ports_active"]
    for mode in ("watch", "poll"):
        assert active[mode]["seen_after_active"]["count"] == active[mode]["ports"] == 100
        for key in ("all_seen_active_s", "await_rpcs", "mutation_rpcs"):
            _positive(active, mode, key)
        _positive(active, mode, "seen_after_active", "p50_ms")
    assert active["watch"]["await_rpcs"] == 1
    assert active["poll"]["await_rpcs"] >= 100  # at least one GetPort per port
    for key in ("rpc_ratio", "seen_after_active_ratio_p50", "seen_after_active_ratio_mean"):
        _positive(active, key)

    for kind in ("sequential", "concurrent"):
        _positive(written, "creates", kind, "per_second")
        created = written["creates"][kind]
        assert created["confirmed"] == created["creates"] > 0

    for kind in ("sequential", "concurrent"):
        _positive(written, "get_port", kind, "per_second")
        _positive(written, "get_port", kind, "latency", "p99_ms")
    _positive(written, "get_port", "floor_health_check", "p50_ms")
    _positive(written, "get_port", "floor_health_check_concurrent", "per_second")
    # Against the kept results (bench/results/watch.json): the same figures, each a ratio.
    rows = written["comparison"]["figures"]
    assert rows and all(r["ratio"] is None or r["ratio"] > 0 for r in rows)
    assert any(r["ratio"] for r in rows)

    assert {t["target"] for t in written["targets"]} and all(
        t["met"] in (True, False, None) for t in written["targets"]
    )
    png = tmp_path / "watch.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # Left out when the PostgreSQL server is unreachable (a failure under CI=true).
    need("creates_postgresql" in written, "PostgreSQL unreachable: no creates_postgresql")
    for kind in ("sequential", "concurrent"):
        created = written["creates_postgresql"][kind]
        assert created["confirmed"] == created["creates"] > 0 and created["per_second"] > 0
