"""`quantum retry`: the help's example sends a network the back-end failed again, and a
resource that is not in ERROR is refused with a line that says what to do."""

from __future__ import annotations

import asyncio
import json

from quantum_client.cli import VERBS
from tests.clients.test_cli import assert_one_error_line, quantum
from tests.clients.test_cli_examples import bash
from tests.core.test_retry import FAIL_THEN_OK, FAULTY


async def test_retry_sends_a_failed_network_again(stack_factory) -> None:
    stack = await stack_factory("faulty", seed=FAIL_THEN_OK, **FAULTY)
    address = stack.app.address
    net = await stack.api.create_network("web")
    failed = await stack.api.wait_for(net, "ERROR", timeout=10)
    assert failed.error.code == "SIM_INJECTED_FAULT"

    examples = "\n".join(["set -euo pipefail", f"FAILED={net.id[:8]}", *VERBS["retry"][1]])
    done = await asyncio.to_thread(bash, examples, address)
    assert done.returncode == 0, done.stderr
    assert "AVAILABLE" in done.stdout and "SIM_INJECTED_FAULT" not in done.stdout
    shown = json.loads((await quantum("net-show", net.id, "-f", "json", address=address)).stdout)
    assert shown["status"] == "NETWORK_STATUS_AVAILABLE"
    assert int(shown["generation"]) == int(shown["observed_generation"]) == 1
    assert stack.sim.backend.applied_changes == 2

    again = await quantum("retry", net.id, address=address)
    assert again.returncode == 1
    assert_one_error_line(again, "FAILED_PRECONDITION", "RESOURCE_NOT_IN_ERROR", "update it")
