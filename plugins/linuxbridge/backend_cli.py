"""Command line of the linuxbridge back-end: ``quantum-grpc plugin linuxbridge [options]``."""

from __future__ import annotations

import argparse
import logging

from quantum_plugins.common.cli import (
    add_agent_backend_arguments,
    agent_backend_settings,
    run_backend,
)
from quantum_plugins.common.segments import MAX_VNI
from quantum_plugins.linuxbridge.server import DEFAULT_VNIS, build_linuxbridge_server

__all__ = ["add_arguments", "run"]

_LOG = logging.getLogger("quantum_plugins.linuxbridge")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the linuxbridge back-end's options to ``parser``."""
    add_agent_backend_arguments(
        parser,
        name="linuxbridge",
        listen="127.0.0.1:9698",
        segments="VXLAN VNIs",
        segment_range=DEFAULT_VNIS,
        highest=MAX_VNI,
        range_flag="--vni-range",
        state_file=None,
    )


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM or SIGINT, then shut down gracefully; returns the exit code."""
    return run_backend(
        _LOG,
        "linuxbridge back-end",
        args,
        lambda tls: build_linuxbridge_server(
            state_file=args.state_file or ":memory:",
            vnis=args.vni_range,
            **agent_backend_settings(args, tls),
        ),
    )
