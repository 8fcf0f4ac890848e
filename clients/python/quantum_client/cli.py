"""`quantum`: the command-line client, with the old quantum client's verbs.

Each verb is one SDK call; output is a rich table or JSON (``--output json``); errors
print one line and exit with a code that says what kind of failure it was.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import grpc

from quantum_api.errors import QuantumError, ResourceFailed, RevisionCompacted, TenantRequired
from quantum_client import _render
from quantum_client._settings import RetryPolicy, Settings
from quantum_client._sync import Client
from quantum_client._tokens import SettingsError
from quantum_client.resources import (
    APPLIED,
    KIND_NAMES,
    is_marker,
    kind_label,
    kind_of,
    link_label,
    resource_of,
    status_label,
)
from quantum_client.types import AnyResource, Attachment, Port, QosPolicy

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_TIMEOUT = 3
EXIT_FAILED = 4
EXIT_UNREACHABLE = 5
EXIT_INTERRUPTED = 130

EXIT_CODES = """\
exit codes:
  0    success
  1    the server refused the request (the error line gives code, reason and message)
  2    usage error (bad arguments, no tenant)
  3    timeout: `wait` (or a call) ran out of time
  4    the resource went to ERROR (the line carries the back-end's error)
  5    the server cannot be reached
  130  interrupted
"""

ENVIRONMENT = """\
environment:
  QUANTUM_URL     server address: grpcs://host:port (TLS), or host:port / grpc://host:port
                  (plaintext) (default 127.0.0.1:9696)
  QUANTUM_TENANT  your tenant id, sent as x-tenant-id (required unless --tenant or a token)
  QUANTUM_ADMIN   "true" to act as an administrator (x-quantum-admin; servers without --auth)
  QUANTUM_TOKEN   bearer token, sent as `authorization: Bearer ...`
  QUANTUM_TOKEN_FILE  file holding the token, read again on every call (rotation)
  QUANTUM_TLS     "true": TLS with a bare host:port
  QUANTUM_CA      PEM file of the CA(s) the server's certificate is signed by (TLS;
                  default the system's roots)
  QUANTUM_CERT, QUANTUM_KEY  client certificate and key, for a server that requires one
  QUANTUM_MAX_BACKOFF  longest pause in seconds between reconnects of `watch` and
                  `wait` (default 2)
"""

#: verb -> (one-line help, examples)
VERBS: dict[str, tuple[str, list[str]]] = {
    "net-create": ("create a network", ["quantum net-create web"]),
    "net-list": ("list your networks", ["quantum net-list", "quantum net-list -o json"]),
    "net-show": ("show one network", ["quantum net-show NET_ID"]),
    "net-update": ("rename a network", ["quantum net-update NET_ID --name frontend"]),
    "net-delete": ("delete a network without plugged ports", ["quantum net-delete NET_ID"]),
    "port-create": (
        "create a port on a network",
        [
            "quantum port-create NET_ID",
            "quantum port-create NET_ID --admin-down --qos-rate 1000 --qos-burst 64",
        ],
    ),
    "port-list": (
        "list ports (of one network, or all)",
        ["quantum port-list", "quantum port-list NET_ID -o json"],
    ),
    "port-show": ("show one port", ["quantum port-show PORT_ID"]),
    "port-update": (
        "change a port's admin state or QoS",
        ["quantum port-update PORT_ID --admin-down", "quantum port-update PORT_ID --qos-rate 0"],
    ),
    "port-delete": ("delete a port without an attachment", ["quantum port-delete PORT_ID"]),
    "plug": ("plug an interface into a port", ["quantum plug PORT_ID vif-1"]),
    "unplug": ("unplug a port's interface", ["quantum unplug PORT_ID"]),
    "watch": (
        "follow resources and their status live",
        [
            "quantum watch",
            "quantum watch --kind port --network NET_ID",
            "quantum watch -o json          # one JSON object per event line",
            "quantum watch --max-retries 5  # give up after 5 failed reconnects in a row",
        ],
    ),
    "wait": (
        "wait until a resource reaches a status",
        [
            "quantum wait PORT_ID --for ACTIVE --timeout 60",
            "quantum wait NET_ID --kind network --for AVAILABLE",
            "quantum wait PORT_ID --for applied  # until the back-end applied the last change",
        ],
    ),
}

#: Options handed to Settings.resolve as they are (their names are its keywords).
CONNECTION_OPTIONS = ("tls", "ca", "cert", "key", "token", "token_file")

DEFAULT_WAIT_STATUS = {"port": "ACTIVE", "network": "AVAILABLE", "attachment": "AVAILABLE"}


def _examples(verbs: Sequence[str]) -> str:
    lines = ["examples:"]
    for verb in verbs:
        lines += [f"  {example}" for example in VERBS[verb][1]]
    return "\n".join(lines) + "\n"


def _common_options() -> argparse.ArgumentParser:
    # SUPPRESS defaults let the options go before or after the verb without the
    # subcommand's parser resetting a value given before it.
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("connection and output")
    group.add_argument(
        "--url", default=argparse.SUPPRESS,
        help="grpcs://host:port (TLS) or host:port (default $QUANTUM_URL)",
    )  # fmt: skip
    group.add_argument(
        "--tenant", default=argparse.SUPPRESS, help="your tenant (default $QUANTUM_TENANT)"
    )
    group.add_argument(
        "--admin",
        action="store_true",
        default=argparse.SUPPRESS,
        help="act as an administrator (default $QUANTUM_ADMIN)",
    )
    group.add_argument(
        "--token", default=argparse.SUPPRESS,
        help="bearer token (default $QUANTUM_TOKEN; prefer --token-file: argv is visible)",
    )  # fmt: skip
    group.add_argument(
        "--token-file", default=argparse.SUPPRESS, metavar="FILE",
        help="file holding the token, re-read on every call (default $QUANTUM_TOKEN_FILE)",
    )  # fmt: skip
    group.add_argument(
        "--tls", action="store_true", default=argparse.SUPPRESS,
        help="TLS with a bare host:port (grpcs:// URLs imply it; default $QUANTUM_TLS)",
    )  # fmt: skip
    group.add_argument(
        "--ca", default=argparse.SUPPRESS, metavar="FILE",
        help="PEM CA(s) to trust for the server's certificate (default $QUANTUM_CA)",
    )  # fmt: skip
    group.add_argument(
        "--cert", default=argparse.SUPPRESS, metavar="FILE",
        help="PEM client certificate (default $QUANTUM_CERT), with --key",
    )  # fmt: skip
    group.add_argument(
        "--key", default=argparse.SUPPRESS, metavar="FILE",
        help="the client certificate's key (default $QUANTUM_KEY)",
    )  # fmt: skip
    group.add_argument(
        "-o",
        "--output",
        choices=["table", "json"],
        default=argparse.SUPPRESS,
        help="table (default) or json",
    )
    return common


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text}")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value


def _backoff_option(parser: argparse.ArgumentParser) -> None:
    # A string default goes through `type` too, so a bad $QUANTUM_MAX_BACKOFF is a usage error.
    parser.add_argument(
        "--max-backoff", type=_positive_float, metavar="SECONDS",
        default=os.environ.get("QUANTUM_MAX_BACKOFF") or str(RetryPolicy.max_backoff),
        help="longest pause between reconnects (default $QUANTUM_MAX_BACKOFF, else 2)",
    )  # fmt: skip


def _qos_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--qos-rate", type=int, metavar="KBPS", help="rate limit; 0 removes it")
    parser.add_argument("--qos-burst", type=int, metavar="KB", help="burst size (with --qos-rate)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `quantum`."""
    common = _common_options()
    parser = argparse.ArgumentParser(
        prog="quantum",
        description="Manage Quantum networks, ports and attachments over gRPC.",
        epilog=_examples(list(VERBS)) + "\n" + ENVIRONMENT + "\n" + EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    verbs = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def verb(name: str) -> argparse.ArgumentParser:
        summary, _ = VERBS[name]
        return verbs.add_parser(
            name,
            help=summary,
            description=summary[0].upper() + summary[1:] + ".",
            epilog=_examples([name]) + "\n" + EXIT_CODES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            parents=[common],
        )

    verb("net-create").add_argument("name", metavar="NAME")
    verb("net-list").add_argument("--name", default="", help="only networks with this name")
    verb("net-show").add_argument("network_id", metavar="NET_ID")
    update = verb("net-update")
    update.add_argument("network_id", metavar="NET_ID")
    update.add_argument("--name", required=True, help="the new name")
    verb("net-delete").add_argument("network_id", metavar="NET_ID")

    create = verb("port-create")
    create.add_argument("network_id", metavar="NET_ID")
    create.add_argument("--admin-down", action="store_true", help="create it administratively down")
    _qos_options(create)
    verb("port-list").add_argument("network_id", metavar="NET_ID", nargs="?", default="")
    verb("port-show").add_argument("port_id", metavar="PORT_ID")
    port_update = verb("port-update")
    port_update.add_argument("port_id", metavar="PORT_ID")
    admin = port_update.add_mutually_exclusive_group()
    admin.add_argument("--admin-up", dest="admin", action="store_const", const=True)
    admin.add_argument("--admin-down", dest="admin", action="store_const", const=False)
    _qos_options(port_update)
    verb("port-delete").add_argument("port_id", metavar="PORT_ID")

    plug = verb("plug")
    plug.add_argument("port_id", metavar="PORT_ID")
    plug.add_argument("interface_id", metavar="INTERFACE_ID")
    verb("unplug").add_argument("port_id", metavar="PORT_ID")

    watch = verb("watch")
    watch.add_argument(
        "--kind", action="append", default=[], choices=list(KIND_NAMES.values()),
        help="only this kind (repeatable)",
    )  # fmt: skip
    watch.add_argument("--network", default="", metavar="NET_ID", help="only this network")
    watch.add_argument("--id", action="append", default=[], help="only this resource (repeatable)")
    watch.add_argument("--start-revision", type=int, default=0, help="resume after this revision")
    watch.add_argument(
        "--max-retries", type=_count, metavar="N",
        help="give up after N failed reconnects in a row (default: reconnect for ever)",
    )  # fmt: skip
    _backoff_option(watch)

    wait = verb("wait")
    wait.add_argument("resource_id", metavar="ID", help="the resource (a port by default)")
    wait.add_argument(
        "--kind", default="port", choices=list(KIND_NAMES.values()), help="default port"
    )
    wait.add_argument(
        "--for", dest="statuses", action="append", metavar="STATUS",
        help="wanted status, repeatable or comma-separated, or 'applied': the back-end "
        "applied the latest change (default ACTIVE for ports, AVAILABLE otherwise)",
    )  # fmt: skip
    wait.add_argument("--timeout", type=float, default=60.0, help="seconds (default 60)")
    _backoff_option(wait)
    return parser


# -- verbs ---------------------------------------------------------------------------------
Handler = Callable[[Client, argparse.Namespace, _render.Output], int]


def _qos(args: argparse.Namespace, parser_error: Callable[[str], Any]) -> QosPolicy | None:
    if args.qos_rate is None:
        if args.qos_burst is not None:
            parser_error("--qos-burst needs --qos-rate")
        return None
    return QosPolicy(rate_kbps=args.qos_rate, burst_kbytes=args.qos_burst or 0)


def _gone(kind: str, resource_id: str, deleted: bool) -> str:
    if deleted:
        return f"{kind} {resource_id} deleted"
    return f"{kind} {resource_id} is being deleted (the back-end has not confirmed yet)"


class Reconnects:
    """Counts reconnects in a row and words them: ``reconnecting (attempt 3, UNAVAILABLE: …)``."""

    def __init__(self) -> None:
        self.attempt = 0

    def note(self, error: QuantumError | None, pause: float) -> str:
        """Count one more reconnect; the line that says so."""
        self.attempt += 1
        why = f"{error.code.name}: {error.message}" if error else "the stream ended"
        return " ".join(
            f"reconnecting (attempt {self.attempt}, {why}); next try in {pause:.2g} s".split()
        )


def _notice(message: str) -> None:
    """A state line on stderr, for when stdout carries JSON."""
    print(f"quantum: {message}", file=sys.stderr, flush=True)


def _port_line(port: Port) -> str:
    reason = f" ({port.link_status_reason})" if port.link_status_reason else ""
    return f"port {port.id}: {status_label(port)}, link {link_label(port)}{reason}"


def _run(client: Client, args: argparse.Namespace, out: _render.Output) -> int:
    command = args.command
    if command == "net-create":
        out.resource(client.create_network(args.name))
    elif command == "net-list":
        out.networks(list(client.list_networks(name=args.name)))
    elif command == "net-show":
        out.resource(client.get_network(args.network_id))
    elif command == "net-update":
        out.resource(client.update_network(args.network_id, name=args.name))
    elif command == "net-delete":
        gone = client.delete_network(args.network_id)
        out.response(gone, _gone("network", args.network_id, gone.deleted))
    elif command == "port-create":
        qos = _qos(args, args.parser_error)
        admin = False if args.admin_down else None
        out.resource(client.create_port(args.network_id, admin_state_up=admin, qos=qos))
    elif command == "port-list":
        out.ports(list(client.list_ports(args.network_id)))
    elif command == "port-show":
        out.resource(client.get_port(args.port_id))
    elif command == "port-update":
        qos = _qos(args, args.parser_error)
        out.resource(client.update_port(args.port_id, admin_state_up=args.admin, qos=qos))
    elif command == "port-delete":
        dropped = client.delete_port(args.port_id)
        out.response(dropped, _gone("port", args.port_id, dropped.deleted))
    elif command == "plug":
        plugged = client.plug(args.port_id, args.interface_id)
        out.response(plugged, f"plugged {args.interface_id}; {_port_line(plugged.port)}")
    elif command == "unplug":
        unplugged = client.unplug(args.port_id)
        out.response(unplugged, f"unplugged; {_port_line(unplugged.port)}")
    elif command == "watch":
        return _watch(client, args, out)
    elif command == "wait":
        return _wait(client, args, out)
    return EXIT_OK


def _watch(client: Client, args: argparse.Namespace, out: _render.Output) -> int:
    from rich.live import Live

    revision = args.start_revision
    rows: dict[tuple[str, str], tuple[Any, ...]] = {}
    state = "syncing" if not revision else "resuming"
    reconnects = Reconnects()

    def caption() -> str:
        return f"revision {revision} · {state} · Ctrl-C to stop"

    def on_retry(error: QuantumError | None, pause: float) -> None:
        nonlocal state
        state = reconnects.note(error, pause)
        if live is None:
            _notice(state)
        else:
            live.update(_render.watch_table(rows.values(), caption()), refresh=True)

    live: Live | None = None
    if not out.json:
        live = Live(_render.watch_table([], caption()), console=out.console, auto_refresh=False)
        live.start()
    try:
        while True:
            events = client.watch(
                kinds=args.kind,
                resource_ids=args.id,
                network_id=args.network,
                start_revision=revision,
                on_retry=on_retry,
            )
            try:
                for event in events:
                    revision = max(revision, event.revision)
                    reconnects.attempt = 0  # as the SDK's count: any event, markers too
                    if out.json:
                        out.line(_render.event_dict(event))
                        continue
                    resource = None if is_marker(event) else resource_of(event.resource)
                    if resource is not None:
                        label = _render.event_dict(event)["type"]
                        key = (kind_label(kind_of(resource)), resource.id)
                        rows[key] = _render.watch_row(resource, label, event.revision)
                    state = "live"
                    assert live is not None
                    live.update(_render.watch_table(rows.values(), caption()), refresh=True)
            except RevisionCompacted:
                # Events were compacted away: start over from a fresh list.
                rows.clear()
                revision, state = 0, "re-listing"
            finally:
                events.close()
    except KeyboardInterrupt:
        return EXIT_OK
    finally:
        if live is not None:
            live.stop()


def _wait(client: Client, args: argparse.Namespace, out: _render.Output) -> int:
    kind = args.kind
    wanted = [s for item in (args.statuses or [DEFAULT_WAIT_STATUS[kind]]) for s in item.split(",")]
    wanted = [s.strip() for s in wanted if s.strip()]
    noun = f"{kind} {args.resource_id}"
    applied = any(s.upper() == APPLIED for s in wanted)
    status = out.console.status(f"waiting for {noun}…", spinner="dots")

    def on_update(resource: AnyResource) -> None:
        extra = ""
        if isinstance(resource, Port):
            extra = f", link {link_label(resource)}"
            if resource.link_status_reason:
                extra += f" ({resource.link_status_reason})"
        if applied and not isinstance(resource, Attachment):
            extra += f", generation {resource.observed_generation}/{resource.generation} applied"
        status.update(f"{noun}: {status_label(resource)}{extra} — waiting for {'/'.join(wanted)}")

    reconnects = Reconnects()

    def on_retry(error: QuantumError | None, pause: float) -> None:
        status.update(f"{noun}: {reconnects.note(error, pause)}")

    def on_retry_json(error: QuantumError | None, pause: float) -> None:
        _notice(f"{noun}: {reconnects.note(error, pause)}")

    if out.json:
        found = client.wait_for(
            kind, args.resource_id, wanted, timeout=args.timeout, on_retry=on_retry_json
        )
        out.resource(found)
        return EXIT_OK
    with status:
        found = client.wait_for(
            kind,
            args.resource_id,
            wanted,
            timeout=args.timeout,
            on_update=on_update,
            on_retry=on_retry,
        )
    done = ""
    if applied and not isinstance(found, Attachment):
        done = f" (generation {found.generation} applied)"
    out.console.print(f"{noun} is {_render.styled(status_label(found)).markup}{done}")
    return EXIT_OK


# -- entry point ---------------------------------------------------------------------------
def exit_code(error: QuantumError) -> int:
    """The exit code for an error."""
    if isinstance(error, ResourceFailed):
        return EXIT_FAILED
    if error.code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return EXIT_TIMEOUT
    if error.code == grpc.StatusCode.UNAVAILABLE:
        return EXIT_UNREACHABLE
    return EXIT_ERROR


def _say(message: str) -> None:
    print(f"quantum: error: {' '.join(message.split())}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `quantum` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.parser_error = parser.error
    try:
        settings = Settings.resolve(
            getattr(args, "url", None),
            getattr(args, "tenant", None),
            getattr(args, "admin", None),
            **{name: getattr(args, name) for name in CONNECTION_OPTIONS if hasattr(args, name)},
        )
    except TenantRequired as error:
        _say(error.message)
        return EXIT_USAGE
    except SettingsError as error:
        _say(str(error))
        return EXIT_USAGE
    out = _render.Output(getattr(args, "output", "table"))
    retry = RetryPolicy(
        max_backoff=getattr(args, "max_backoff", RetryPolicy.max_backoff),
        watch_resumes=getattr(args, "max_retries", None),
    )
    try:
        with Client(settings=settings, retry=retry) as client:
            return _run(client, args, out)
    except SettingsError as error:  # a token file gone while running
        _say(str(error))
        return EXIT_USAGE
    except QuantumError as error:
        if error.code == grpc.StatusCode.UNAVAILABLE and error.reason == "UNKNOWN":
            _say(f"cannot reach the server at {settings.url}: UNAVAILABLE: {error.message}")
        else:
            _say(str(error))
        return exit_code(error)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`quantum watch -o json | head`): not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as error:  # one line, never a traceback
        _say(f"internal error: {type(error).__name__}: {error}")
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
