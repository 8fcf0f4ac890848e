"""`quantum`: the command-line client, with the verbs of the old quantum client and the
habits of openstackclient (``-f``, ``-c``, names and id prefixes) and kubectl (``watch``,
``wait --for``).

Each verb is one SDK call (and, with ``--wait``, a wait); errors print one line and exit
with a code that says what kind of failure it was (``quantum --help``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from quantum_api.errors import QuantumError, TenantRequired
from quantum_client._settings import RetryPolicy, Settings
from quantum_client._sync import Client
from quantum_client._tokens import SettingsError
from quantum_client.cli import _profiles, _wait, _watch
from quantum_client.cli._errors import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    exit_code,
    report_error,
    say,
)
from quantum_client.cli._find import Finder, LookupFailed
from quantum_client.cli._format import Output, UnknownColumn
from quantum_client.cli._parser import VERBS, build_parser
from quantum_client.cli._verbs import HANDLERS, Failures

__all__ = ["VERBS", "build_parser", "exit_code", "main"]

#: Options handed to Settings.resolve as they are (their names are its keywords).
CONNECTION_OPTIONS = ("tls", "ca", "cert", "key", "token", "token_file")


def _profile_first(argv: Sequence[str]) -> None:
    # The profile fills in defaults the parser itself reads ($QUANTUM_MAX_BACKOFF).
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--profile")
    known, _ = early.parse_known_args(argv)
    _profiles.apply(known.profile)


def _completion(parser: argparse.ArgumentParser, shell: str) -> int:
    import shtab

    print(shtab.complete(parser, shell=shell))
    return EXIT_OK


def _run(client: Client, args: argparse.Namespace, out: Output) -> int:
    finder = Finder(client)
    if args.command == "watch":
        network_id = finder.network(args.network) if args.network else ""
        args.id = [finder.ident(ref) for ref in args.id]
        return _watch.run(client, args, out, network_id)
    if args.command == "wait":
        return _wait.run(client, args, out, finder)
    return HANDLERS[args.command](client, args, out, finder)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `quantum` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        _profile_first(argv)
    except SettingsError as error:
        say(str(error))
        return EXIT_USAGE
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "completion":
        return _completion(parser, args.shell)
    try:
        settings = Settings.resolve(
            getattr(args, "url", None),
            getattr(args, "tenant", None),
            getattr(args, "admin", None),
            **{name: getattr(args, name) for name in CONNECTION_OPTIONS if hasattr(args, name)},
        )
    except TenantRequired as error:
        say(error.message)
        return EXIT_USAGE
    except SettingsError as error:
        say(str(error))
        return EXIT_USAGE
    out = Output(
        getattr(args, "output", "table"), getattr(args, "columns", ()),
        wide=getattr(args, "wide", False), admin=settings.admin,
    )  # fmt: skip
    retry = RetryPolicy(
        max_backoff=getattr(args, "max_backoff", RetryPolicy.max_backoff),
        watch_resumes=getattr(args, "max_retries", None),
    )
    try:
        with Client(settings=settings, retry=retry) as client:
            return _run(client, args, out)
    except (SettingsError, UsageError, UnknownColumn) as error:
        say(str(error))
        return EXIT_USAGE
    except (QuantumError, LookupFailed) as error:
        return report_error(error, settings.url)
    except Failures as failed:
        return failed.code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`quantum watch -f json | head`): not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as error:  # one line, never a traceback
        say(f"internal error: {type(error).__name__}: {error}")
        return EXIT_ERROR
