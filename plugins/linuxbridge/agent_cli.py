"""Command line of the host agent: ``quantum-grpc agent linuxbridge --host NAME [options]``."""

from __future__ import annotations

import argparse
import logging

import grpc

from quantum_plugins.common.agent import HostAgent
from quantum_plugins.common.agent_cli import add_agent_options, run_agent

__all__ = ["add_arguments", "run"]

_LOG = logging.getLogger("quantum_plugins.linuxbridge.agent")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the agent's options to ``parser``."""
    add_agent_options(parser, backend="127.0.0.1:9698", kind="linuxbridge")
    parser.add_argument(
        "--netns",
        default=None,
        help="wire the devices of this network namespace (ip netns) instead of the "
        "agent's own; the namespace must exist",
    )


def run(args: argparse.Namespace) -> int:
    """Run the agent until SIGTERM or SIGINT; returns the exit code."""

    def make(credentials: grpc.ChannelCredentials | None) -> HostAgent:
        # Imported here so `quantum-grpc --help` works without pyroute2 (an optional extra).
        from quantum_plugins.linuxbridge.agent import Agent
        from quantum_plugins.linuxbridge.datapath import Datapath

        return Agent(
            args.host,
            args.backend,
            Datapath(args.netns),
            heartbeat=args.heartbeat,
            credentials=credentials,
            tunnel_ip=args.tunnel_ip,
        )

    return run_agent(
        _LOG,
        args,
        make,
        privileges="the agent changes links and qdiscs: run it as root or with CAP_NET_ADMIN",
    )
