"""A back-end's own store of segmentation ids: which VLAN (or VNI) each network has.

The core holds networks and ports; the segmentation id is the back-end's business, so it
is kept here, in a small SQLite file (``--state-file``), one row per network. A restarted
back-end finds each network's id again when the core's resync re-sends the network, so no
host rewires a port. Allocation takes the lowest free id of the configured range. The OVS
back-end keeps VLANs here (docs/ovs.md), linuxbridge its VXLAN VNIs (docs/linuxbridge.md).
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

__all__ = ["MAX_VLAN", "MAX_VNI", "Range", "SegmentStore", "SegmentsExhausted", "parse_range"]

_LOG = logging.getLogger(__name__)

#: The highest VLAN a network may get (0 and 4095 are reserved by 802.1Q; 4095 is the dead
#: VLAN) and the highest VXLAN VNI (24 bits).
MAX_VLAN, MAX_VNI = 4094, 2**24 - 1


class SegmentsExhausted(Exception):
    """Every id of the range is taken."""


Range = tuple[int, int]


def parse_range(text: str, highest: int) -> Range:
    """``"100:199"`` -> (100, 199); ValueError outside 1-``highest`` or when reversed."""
    low_text, sep, high_text = text.partition(":")
    if not sep:
        raise ValueError(f"{text!r}: expected LOW:HIGH")
    low, high = int(low_text), int(high_text)
    if not 1 <= low <= high <= highest:
        raise ValueError(f"{text!r}: expected 1 <= LOW <= HIGH <= {highest}")
    return low, high


class SegmentStore:
    """network id -> segmentation id, in SQLite (``":memory:"`` keeps nothing)."""

    def __init__(self, path: Path | str, ids: Range) -> None:
        self._low, self._high = ids
        # One thread (the event loop) uses it; each write is its own committed transaction.
        self._db = sqlite3.connect(str(path), isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS segments ("
            " network_id TEXT PRIMARY KEY, segment INTEGER NOT NULL UNIQUE)"
        )
        self._ids: dict[str, int] = dict(
            self._db.execute("SELECT network_id, segment FROM segments")
        )
        outside = {n: v for n, v in self._ids.items() if not self._low <= v <= self._high}
        if outside:
            # Kept: renumbering a live network would cut its VMs off until every host follows.
            _LOG.warning("%d network(s) keep ids outside the range %d:%d", len(outside), *ids)

    def close(self) -> None:
        """Close the file."""
        self._db.close()

    def get(self, network_id: str) -> int | None:
        """The network's id, if it has one."""
        return self._ids.get(network_id)

    def allocate(self, network_id: str) -> int:
        """The network's id, allocating (and storing) the lowest free one if it has none;
        :class:`SegmentsExhausted` when the range is full."""
        held = self._ids.get(network_id)
        if held is not None:
            return held
        taken = set(self._ids.values())
        free = next((v for v in range(self._low, self._high + 1) if v not in taken), None)
        if free is None:
            raise SegmentsExhausted(
                f"every id of {self._low}:{self._high} is taken ({len(taken)} networks)"
            )
        self._db.execute(
            "INSERT INTO segments (network_id, segment) VALUES (?, ?)", (network_id, free)
        )
        self._ids[network_id] = free
        return free

    def release(self, network_id: str) -> None:
        """Forget the network's id (it may be given to another network)."""
        if self._ids.pop(network_id, None) is not None:
            self._db.execute("DELETE FROM segments WHERE network_id = ?", (network_id,))

    def keep_only(self, network_ids: set[str]) -> list[str]:
        """Release every network not in ``network_ids``; the ones released."""
        stale = [n for n in self._ids if n not in network_ids]
        for network_id in stale:
            self.release(network_id)
        return stale

    def all(self) -> dict[str, int]:
        """Every network id -> its segmentation id."""
        return dict(self._ids)
