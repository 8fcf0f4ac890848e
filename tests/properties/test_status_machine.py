"""Random operations and randomly delayed, reordered, repeated back-end reports.

The test plays the asynchronous back-end: every change the core records waits in the
outbox until a rule delivers a report for it, in any order, possibly twice, possibly
long after newer changes. After each step the invariants of docs/status-model.md must hold.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sqlalchemy import select

from quantum_api.errors import QuantumError
from quantum_api.plugin.v1 import backend_pb2, resource_status_pb2 as rs
from quantum_api.v1 import attachment_pb2, network_pb2, port_pb2
from quantum_grpc.config import BackendTarget, Settings
from quantum_grpc.convert import (
    attachment_to_proto,
    network_to_proto,
    port_to_proto,
    snapshot_of,
)
from quantum_grpc.service import attachments, networks, ports
from quantum_grpc.service.caller import Caller
from quantum_grpc.service.core import Core, port_status
from quantum_grpc.service.reports import apply_status
from quantum_grpc.store.engine import create_engine, upgrade
from quantum_grpc.store.models import AttachmentRow, EventRow, NetworkRow, OutboxRow, PortRow
from quantum_grpc.store.rows import fetch_all, fetch_by_id
from quantum_grpc.store.store import Store

EXAMPLES = int(os.environ.get("QUANTUM_PROPERTY_EXAMPLES", "200"))
CALLER = Caller("tenant-p")
_TEMPLATE: Path | None = None


def template() -> Path:
    """A migrated database, made once and copied for every example (migrations are slow)."""
    global _TEMPLATE
    if _TEMPLATE is None:
        folder = Path(tempfile.mkdtemp(prefix="quantum-prop-"))
        upgrade(f"sqlite:///{folder}/template.db")
        _TEMPLATE = folder / "template.db"
    return _TEMPLATE


SNAPSHOT_TYPES: dict[str, Any] = {
    "NETWORK": network_pb2.Network,
    "PORT": port_pb2.Port,
    "ATTACHMENT": attachment_pb2.Attachment,
}


class StatusMachine(RuleBasedStateMachine):
    """See the module docstring."""

    @initialize()
    def start(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="quantum-prop-"))
        shutil.copy(template(), self.folder / "db")
        url = f"sqlite:///{self.folder}/db"
        self.loop = asyncio.new_event_loop()
        self.store = Store(create_engine(url), serialize_writes=True, encode_snapshot=snapshot_of)
        self.core = Core(
            self.store, Settings(database_url=url, backends=(BackendTarget("sim", "-"),))
        )
        self.delivered: list[rs.ResourceStatus] = []
        self.observed: dict[str, int] = {}
        self.last_revision = 0

    def teardown(self) -> None:
        if hasattr(self, "loop"):
            self.loop.run_until_complete(self.store.close())
            self.loop.close()
            shutil.rmtree(self.folder, ignore_errors=True)

    def run(self, coroutine: Any) -> Any:
        try:
            return self.loop.run_until_complete(coroutine)
        except QuantumError:
            return None  # a refused operation is a legal outcome; invariants still hold

    def rows(self, model: Any) -> list[Any]:
        async def read() -> list[Any]:
            async with self.store.read() as conn:
                return await fetch_all(conn, model, select(model))

        return self.loop.run_until_complete(read())

    def pick(self, model: Any, index: int) -> Any | None:
        # Ids are random UUIDs; creation order is what a replay reproduces.
        order = "id" if model is OutboxRow else "create_revision"
        found = sorted(self.rows(model), key=lambda r: getattr(r, order))
        return found[index % len(found)] if found else None

    # -- client operations -----------------------------------------------------------
    @rule(name=st.sampled_from(["a", "b", "c"]))
    def create_network(self, name: str) -> None:
        self.run(networks.create_network(self.core, CALLER, tenant_id="", name=name, request_id=""))

    @rule(index=st.integers(0, 9), admin=st.booleans())
    def create_port(self, index: int, admin: bool) -> None:
        net = self.pick(NetworkRow, index)
        if net is not None:
            self.run(
                ports.create_port(
                    self.core,
                    CALLER,
                    tenant_id="",
                    network_id=net.id,
                    admin_state_up=admin,
                    qos=None,
                    request_id="",
                    require_ready=False,
                )
            )

    @rule(
        index=st.integers(0, 9), admin=st.none() | st.booleans(), rate=st.none() | st.integers(0, 3)
    )
    def update_port(self, index: int, admin: bool | None, rate: int | None) -> None:
        port = self.pick(PortRow, index)
        if port is not None:
            qos = None if rate is None else ports.Qos(rate * 1000, 0)
            self.run(
                ports.update_port(
                    self.core,
                    CALLER,
                    tenant_id="",
                    network_id="",
                    port_id=port.id,
                    admin_state_up=admin,
                    qos=qos,
                    expected_revision=0,
                    require_ready=False,
                )
            )

    @rule(index=st.integers(0, 9), interface=st.sampled_from(["vif-1", "vif-2", "vif-3"]))
    def plug(self, index: int, interface: str) -> None:
        port = self.pick(PortRow, index)
        if port is not None:
            self.run(
                attachments.plug(
                    self.core,
                    CALLER,
                    tenant_id="",
                    network_id="",
                    port_id=port.id,
                    interface_id=interface,
                    expected_revision=0,
                    require_ready=False,
                )
            )

    @rule(index=st.integers(0, 9))
    def unplug(self, index: int) -> None:
        port = self.pick(PortRow, index)
        if port is not None:
            self.run(
                attachments.unplug(
                    self.core,
                    CALLER,
                    tenant_id="",
                    network_id="",
                    port_id=port.id,
                    expected_revision=0,
                )
            )

    @rule(index=st.integers(0, 9))
    def delete_port(self, index: int) -> None:
        port = self.pick(PortRow, index)
        if port is not None:
            self.run(
                ports.delete_port(
                    self.core,
                    CALLER,
                    tenant_id="",
                    network_id="",
                    port_id=port.id,
                    expected_revision=0,
                )
            )

    @rule(index=st.integers(0, 9))
    def delete_network(self, index: int) -> None:
        net = self.pick(NetworkRow, index)
        if net is not None:
            self.run(
                networks.delete_network(
                    self.core, CALLER, tenant_id="", network_id=net.id, expected_revision=0
                )
            )

    # -- the back-end ----------------------------------------------------------------
    @rule(index=st.integers(0, 30), ok=st.booleans(), link_up=st.booleans(), again=st.booleans())
    def report(self, index: int, ok: bool, link_up: bool, again: bool) -> None:
        """Answer any recorded change (oldest, newest or in between), or repeat an answer."""
        if again and self.delivered:
            status = self.delivered[index % len(self.delivered)]
        else:
            entry = self.pick(OutboxRow, index)
            if entry is None:
                return
            change = backend_pb2.ApplyChangeRequest.FromString(entry.request)
            state = rs.OBSERVED_STATE_READY if ok else rs.OBSERVED_STATE_ERROR
            if change.action == backend_pb2.CHANGE_ACTION_DELETE:
                state = rs.OBSERVED_STATE_DELETED
            status = rs.ResourceStatus(
                kind=change.kind,
                resource_id=entry.resource_id,
                generation=change.generation,
                state=state,
            )
            if change.kind == rs.RESOURCE_KIND_PORT:
                wired = change.port.admin_state_up and change.port.interface_id and link_up
                status.link_status = port_pb2.LINK_STATUS_UP if wired else port_pb2.LINK_STATUS_DOWN
                status.link_status_reason = "" if wired else "simulated"
            if not ok:
                status.error.code, status.error.message = "E", "simulated failure"
            self.delivered.append(status)

        async def deliver() -> None:
            async with self.store.write() as tx:
                model = NetworkRow if status.kind == rs.RESOURCE_KIND_NETWORK else PortRow
                before = await fetch_by_id(tx.connection, model, status.resource_id)
                generation = before.generation if before is not None else None
                outcome = await apply_status(tx, "sim", status)
                if generation is not None and status.generation < generation:
                    assert outcome.value == "ignored", "a stale report was applied"

        self.loop.run_until_complete(deliver())

    # -- invariants ------------------------------------------------------------------
    @invariant()
    def port_status_is_derived(self) -> None:
        if not hasattr(self, "store"):
            return
        attached = {a.port_id: a for a in self.rows(AttachmentRow)}
        for port in self.rows(PortRow):
            assert port.status == port_status(port, attached.get(port.id)), port.id

    @invariant()
    def generations_only_grow(self) -> None:
        if not hasattr(self, "store"):
            return
        for row in [*self.rows(NetworkRow), *self.rows(PortRow)]:
            assert row.observed_generation <= row.generation
            assert row.observed_generation >= self.observed.get(row.id, 0), (
                "observed generation went back"
            )
            self.observed[row.id] = row.observed_generation

    @invariant()
    def the_log_replays_to_the_current_state(self) -> None:
        if not hasattr(self, "store"):
            return
        events = sorted(self.rows(EventRow), key=lambda e: e.revision)
        revisions = [e.revision for e in events]
        assert revisions == list(range(1, len(events) + 1)), "revisions are not contiguous"
        head = revisions[-1] if revisions else 0
        assert head >= self.last_revision, "the revision went back"
        self.last_revision = head
        replayed: dict[str, tuple[str, bytes]] = {}
        for event in events:
            if event.event_kind == "DELETED":
                replayed.pop(event.resource_id, None)
            else:
                replayed[event.resource_id] = (event.resource_kind, event.snapshot)
        current = {r.id: network_to_proto(r) for r in self.rows(NetworkRow)}
        current |= {r.id: port_to_proto(r) for r in self.rows(PortRow)}
        current |= {r.id: attachment_to_proto(r) for r in self.rows(AttachmentRow)}
        assert set(replayed) == set(current)
        for resource_id, (kind, snapshot) in replayed.items():
            assert SNAPSHOT_TYPES[kind].FromString(snapshot) == current[resource_id], resource_id


StatusMachine.TestCase.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_status_machine = pytest.mark.timeout(600)(StatusMachine.TestCase)
