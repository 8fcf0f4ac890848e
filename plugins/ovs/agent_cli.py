"""Command line of the OVS host agent: ``quantum-grpc agent ovs --host NAME [options]``."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import grpc

from quantum_plugins.common.agent import HostAgent
from quantum_plugins.common.agent_cli import add_agent_options, run_agent
from quantum_plugins.ovs.names import INTEGRATION_BRIDGE

__all__ = ["add_arguments", "run"]

_LOG = logging.getLogger("quantum_plugins.ovs.agent")

#: Where ovs-vswitchd keeps its sockets by default (Debian's openvswitch-switch).
DEFAULT_RUNDIR = Path("/var/run/openvswitch")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the agent's options to ``parser``."""
    add_agent_options(parser, backend="127.0.0.1:9699", kind="ovs")
    parser.add_argument(
        "--ovs-rundir",
        type=Path,
        default=DEFAULT_RUNDIR,
        help="the hypervisor's Open vSwitch run directory (OVS_RUNDIR), where db.sock and "
        f"BRIDGE.mgmt are (default: {DEFAULT_RUNDIR})",
    )
    parser.add_argument(
        "--ovsdb",
        default=None,
        help="the OVSDB to follow, an ovsdb-server remote (default: unix:RUNDIR/db.sock)",
    )
    parser.add_argument(
        "--bridge",
        default=INTEGRATION_BRIDGE,
        help=f"the integration bridge (default: {INTEGRATION_BRIDGE}; created if missing)",
    )
    parser.add_argument(
        "--datapath-type",
        default="netdev",
        help="datapath_type of a bridge the agent creates: netdev (userspace, needs no "
        "kernel module) or system (default: netdev)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the agent until SIGTERM or SIGINT; returns the exit code."""

    def make(credentials: grpc.ChannelCredentials | None) -> HostAgent:
        # Imported here so `quantum-grpc --help` works without ovsdbapp.
        from quantum_plugins.ovs.agent import OvsAgent
        from quantum_plugins.ovs.openflow import OpenFlow
        from quantum_plugins.ovs.ovsdb import Ovsdb

        rundir: Path = args.ovs_rundir
        return OvsAgent(
            args.host,
            args.backend,
            Ovsdb(args.ovsdb or f"unix:{rundir / 'db.sock'}"),
            OpenFlow(f"unix:{rundir / (args.bridge + '.mgmt')}"),
            bridge=args.bridge,
            datapath_type=args.datapath_type,
            heartbeat=args.heartbeat,
            credentials=credentials,
            tunnel_ip=args.tunnel_ip,
        )

    return run_agent(_LOG, args, make)
