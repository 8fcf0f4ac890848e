"""How `quantum` ends: one error line on stderr and an exit code that says what failed."""

from __future__ import annotations

import sys

import grpc

from quantum_api.errors import QuantumError, ResourceFailed
from quantum_client.cli._find import LookupFailed

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_TIMEOUT = 3
EXIT_FAILED = 4
EXIT_UNREACHABLE = 5
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Arguments that make no sense together (exit 2)."""


def exit_code(error: QuantumError) -> int:
    """The exit code for an error."""
    if isinstance(error, ResourceFailed):
        return EXIT_FAILED
    if error.code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return EXIT_TIMEOUT
    if error.code == grpc.StatusCode.UNAVAILABLE:
        return EXIT_UNREACHABLE
    return EXIT_ERROR


def say(message: str) -> None:
    """One ``quantum: error:`` line on stderr."""
    print(f"quantum: error: {' '.join(message.split())}", file=sys.stderr, flush=True)


def report_error(error: QuantumError | LookupFailed, url: str = "") -> int:
    """Print ``error`` as one line; its exit code."""
    if isinstance(error, LookupFailed):
        say(str(error))
        return EXIT_USAGE if error.ambiguous else EXIT_ERROR
    if error.code == grpc.StatusCode.UNAVAILABLE and type(error) is QuantumError and url:
        say(f"cannot reach the server at {url}: UNAVAILABLE: {error.message}")
    else:
        say(str(error))
    return exit_code(error)
