"""Command line of the host agent: ``quantum-grpc agent linuxbridge --host NAME [options]``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
from pathlib import Path

import grpc

from quantum_plugins.common.cli import configure_logging, positive
from quantum_plugins.common.tls import add_tls_options, tls_from_args

__all__ = ["add_arguments", "run"]

_LOG = logging.getLogger("quantum_plugins.linuxbridge.agent")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the agent's options to ``parser``."""
    parser.add_argument(
        "--host",
        default=socket.gethostname(),
        help="the hypervisor name this agent serves (default: the machine's host name)",
    )
    parser.add_argument(
        "--netns",
        default=None,
        help="wire the devices of this network namespace (ip netns) instead of the "
        "agent's own; the namespace must exist",
    )
    parser.add_argument(
        "--backend",
        default="127.0.0.1:9698",
        help="HOST:PORT of the linuxbridge back-end (default: 127.0.0.1:9698)",
    )
    parser.add_argument(
        "--heartbeat",
        type=positive,
        default=3.0,
        help="seconds between heartbeats; the back-end declares the agent not running "
        "after three missed ones (default: 3)",
    )
    add_tls_options(
        parser,
        role="to dial the back-end with; it must name --host (spiffe://quantum/agent/HOST "
        "or a DNS SAN)",
    )


_CAP_NET_ADMIN = 12


def has_net_admin() -> bool:
    """Whether this process holds CAP_NET_ADMIN (root normally does)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> _CAP_NET_ADMIN & 1)
    except OSError:
        pass
    return os.geteuid() == 0


def run(args: argparse.Namespace) -> int:
    """Run the agent until SIGTERM or SIGINT; returns the exit code."""
    configure_logging()
    if not has_net_admin():
        _LOG.error("the agent changes links and qdiscs: run it as root or with CAP_NET_ADMIN")
        return 1
    try:
        files = tls_from_args(args)
        credentials = None if files is None else files.channel_credentials()
    except (ValueError, OSError) as exc:
        _LOG.error("%s", exc)
        return 2
    return asyncio.run(_run(args, credentials))


async def _run(args: argparse.Namespace, credentials: grpc.ChannelCredentials | None) -> int:
    # Imported here so `quantum-grpc --help` works without pyroute2 (an optional extra).
    from quantum_plugins.linuxbridge.agent import Agent
    from quantum_plugins.linuxbridge.datapath import Datapath, DatapathError

    agent = Agent(
        args.host,
        args.backend,
        Datapath(args.netns),
        heartbeat=args.heartbeat,
        credentials=credentials,
    )
    task = asyncio.create_task(agent.run())
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)
    for sig in signals:
        # The datapath is left as it is: VMs keep their connectivity while no agent runs,
        # and the next agent reconciles it on start.
        loop.add_signal_handler(sig, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        _LOG.info("agent stopped")
        return 0
    except DatapathError as exc:
        _LOG.error("%s", exc)
        return 1
    except PermissionError as exc:
        _LOG.error("netlink refused (the agent needs root or CAP_NET_ADMIN): %s", exc)
        return 1
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return 0
