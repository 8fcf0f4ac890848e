"""Command line of the OVS back-end: ``quantum-grpc plugin ovs [options]``."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from quantum_plugins.common.cli import (
    add_agent_backend_arguments,
    agent_backend_settings,
    run_backend,
)
from quantum_plugins.common.segments import MAX_VLAN
from quantum_plugins.ovs.server import DEFAULT_VLANS, build_ovs_server

__all__ = ["add_arguments", "run"]

_LOG = logging.getLogger("quantum_plugins.ovs")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the OVS back-end's options to ``parser``."""
    add_agent_backend_arguments(
        parser,
        name="ovs",
        listen="127.0.0.1:9699",
        segments="VLANs",
        segment_range=DEFAULT_VLANS,
        highest=MAX_VLAN,
        range_flag="--vlan-range",
        state_file=Path("ovs-backend.sqlite"),
    )


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM or SIGINT, then shut down gracefully; returns the exit code."""
    return run_backend(
        _LOG,
        "ovs back-end",
        args,
        lambda tls: build_ovs_server(
            state_file=args.state_file,
            vlans=args.vlan_range,
            **agent_backend_settings(args, tls),
        ),
    )
