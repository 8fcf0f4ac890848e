"""What every host agent's command shares: its options, its privileges check, its run loop.

``quantum-grpc agent NAME`` hands its command line to the agent's ``add_arguments`` and
``run`` (docs/plugin-guide.md, "Installing a back-end as a command"); those add their own
options to :func:`add_agent_options` and run their agent with :func:`run_agent`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Callable
from pathlib import Path

import grpc

from quantum_plugins.common.agent import DatapathError, HostAgent
from quantum_plugins.common.cli import configure_logging, positive
from quantum_plugins.common.tls import add_tls_options, tls_from_args

__all__ = ["add_agent_options", "has_net_admin", "run_agent"]

_CAP_NET_ADMIN = 12


def add_agent_options(parser: argparse.ArgumentParser, *, backend: str, kind: str) -> None:
    """--host, --backend (default ``backend``), --heartbeat, --tunnel-ip and --tls-*."""
    parser.add_argument(
        "--host",
        default=socket.gethostname(),
        help="the hypervisor name this agent serves (default: the machine's host name)",
    )
    parser.add_argument(
        "--backend",
        default=backend,
        help=f"HOST:PORT of the {kind} back-end (default: {backend})",
    )
    parser.add_argument(
        "--heartbeat",
        type=positive,
        default=3.0,
        help="seconds between heartbeats; the back-end declares the agent not running "
        "after three missed ones (default: 3)",
    )
    parser.add_argument(
        "--tunnel-ip",
        default="",
        help="this host's address on the underlay network: networks with ports on several "
        "hosts are joined over VXLAN (UDP 4789) between these addresses (default: none, "
        "the host's networks stay on the host)",
    )
    add_tls_options(
        parser,
        role="to dial the back-end with; it must name --host (spiffe://quantum/agent/HOST "
        "or a DNS SAN)",
    )


def has_net_admin() -> bool:
    """Whether this process holds CAP_NET_ADMIN (root normally does)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> _CAP_NET_ADMIN & 1)
    except OSError:
        pass
    return os.geteuid() == 0


def run_agent(
    log: logging.Logger,
    args: argparse.Namespace,
    make: Callable[[grpc.ChannelCredentials | None], HostAgent],
    *,
    privileges: str | None = None,
) -> int:
    """Run the agent ``make(credentials)`` builds until SIGTERM or SIGINT; the exit code.

    ``privileges``, when given, is the error logged if the process lacks CAP_NET_ADMIN.
    """
    configure_logging()
    if privileges is not None and not has_net_admin():
        log.error("%s", privileges)
        return 1
    try:
        files = tls_from_args(args)
        credentials = None if files is None else files.channel_credentials()
    except (ValueError, OSError) as exc:
        log.error("%s", exc)
        return 2
    return asyncio.run(_run(log, make, credentials))


async def _run(
    log: logging.Logger,
    make: Callable[[grpc.ChannelCredentials | None], HostAgent],
    credentials: grpc.ChannelCredentials | None,
) -> int:
    agent = make(credentials)
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
        log.info("agent stopped")
        return 0
    except DatapathError as exc:
        log.error("%s", exc)
        return 1
    except PermissionError as exc:
        log.error("the datapath refused (the agent needs root or CAP_NET_ADMIN): %s", exc)
        return 1
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return 0
