"""The integration bridge's OpenFlow table and meters, through ``ovs-ofctl``.

OVSDB has no say in what a port may send: the agent cuts dead ports off with a drop flow,
and polices what a VM sends (QoS) with an OpenFlow meter on its in_port flow. OVS's own
``Interface.ingress_policing_rate`` is a kernel tc policer, which the userspace (netdev)
datapath never sees (docs/ovs.md, "QoS"); a meter works on both datapaths.

The agent owns the bridge's flow table: :meth:`OpenFlow.replace_flows` makes it exactly the
given flows (``ovs-ofctl replace-flows`` changes only what differs, so flows that stay are
never removed, not even for a moment).
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass

from quantum_plugins.common.agent import DatapathError

__all__ = ["Meter", "OpenFlow", "burst_kbits"]

_LOG = logging.getLogger(__name__)

_METER = re.compile(
    r"meter=(\d+)\s+kbps\s+burst\s+bands=\s*type=drop\s+rate=(\d+)\s+burst_size=(\d+)"
)
# A burst must hold a few full frames, or large packets never pass (15 000 bytes, as tbf's).
_MIN_BURST_KBITS = 120
# A burst of 0 means 50 ms worth of the rate.
_BURST_SECONDS = 0.05


@dataclass(frozen=True)
class Meter:
    """A drop meter: ``rate`` kbit/s, ``burst`` kbit."""

    rate: int
    burst: int


def burst_kbits(rate_kbps: int, burst_kbytes: int) -> int:
    """A port's burst (kilobytes of 1024 bytes; 0: 50 ms of the rate) as a meter's kbits."""
    kbits = burst_kbytes * 8192 // 1000 if burst_kbytes else int(rate_kbps * _BURST_SECONDS)
    return max(kbits, _MIN_BURST_KBITS)


class OpenFlow:
    """``ovs-ofctl`` against one bridge's management socket (``unix:RUNDIR/BRIDGE.mgmt``)."""

    def __init__(self, target: str, *, program: str = "ovs-ofctl") -> None:
        self.target = target
        self._program = program

    async def _run(self, *args: str, stdin: str | None = None) -> str:
        proc = await asyncio.create_subprocess_exec(
            self._program,
            "-O",
            "OpenFlow13",
            *args,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate(stdin.encode() if stdin is not None else None)
        if proc.returncode != 0:
            raise DatapathError(f"ovs-ofctl {' '.join(args[:2])}: {err.decode().strip()}")
        return out.decode()

    async def replace_flows(self, flows: list[str]) -> None:
        """Make the bridge's flow table exactly ``flows`` (one ``ovs-ofctl`` flow each)."""
        await self._run("replace-flows", self.target, "-", stdin="\n".join(flows) + "\n")

    async def meters(self) -> dict[int, Meter]:
        """The bridge's meters, by id (only drop meters in kbps, the kind the agent sets)."""
        out = await self._run("dump-meters", self.target)
        flat = " ".join(out.split())
        return {int(m[1]): Meter(int(m[2]), int(m[3])) for m in _METER.finditer(flat)}

    async def set_meters(self, wanted: dict[int, Meter], current: dict[int, Meter]) -> None:
        """Add or change the meters in ``wanted`` that differ from ``current``."""
        for meter_id, meter in sorted(wanted.items()):
            if current.get(meter_id) == meter:
                continue
            command = "mod-meter" if meter_id in current else "add-meter"
            band = f"band=type=drop,rate={meter.rate},burst_size={meter.burst}"
            spec = f"meter={meter_id},kbps,burst,{band}"
            await self._run(command, self.target, spec)
            _LOG.info("meter %d: %d kbit/s, burst %d kbit", meter_id, meter.rate, meter.burst)

    async def delete_meters(self, meter_ids: list[int]) -> None:
        """Remove these meters (after the flows that use them)."""
        for meter_id in meter_ids:
            await self._run("del-meter", self.target, f"meter={meter_id}")
            _LOG.info("meter %d removed", meter_id)
