"""Printing conformance results: a rich table, or JSON for machines."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict

from rich.console import Console
from rich.table import Table

from quantum_plugins.conformance.runner import Result


def print_results(results: Sequence[Result], target: str, output: str, console: Console) -> None:
    """Print one line per scenario and a summary."""
    if output == "json":
        console.print_json(json.dumps([asdict(r) for r in results]))
        return
    table = Table(title=f"conformance of the back-end at {target}")
    for column in ("scenario", "policy", "result", "seconds", "detail"):
        table.add_column(column, overflow="fold")
    for result in results:
        verdict = "[green]pass[/green]" if result.passed else "[red]FAIL[/red]"
        table.add_row(
            result.scenario, result.policy, verdict, f"{result.seconds:.2f}", result.detail
        )
    console.print(table)
    failed = sum(not r.passed for r in results)
    console.print(f"{len(results) - failed} passed, {failed} failed")
