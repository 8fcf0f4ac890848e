"""The arguments of `quantum`: verbs, their options and the examples `--help` shows.

Every example in VERBS is run by tests/clients/test_cli_examples.py, so they stay true.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from importlib import metadata

from quantum_client._settings import RetryPolicy
from quantum_client.resources import KIND_NAMES

FORMATS = ("table", "value", "json", "yaml", "csv")

EXIT_CODES = """\
exit codes:
  0    success
  1    the server refused the request, or no resource has that name or id
       (the error line gives code, reason and message)
  2    usage error (bad arguments, no tenant, a name or prefix matching several resources)
  3    timeout: `wait` (or a call) ran out of time
  4    the resource went to ERROR (the line carries the back-end's error)
  5    the server cannot be reached
  130  interrupted
"""

ENVIRONMENT = """\
environment (flags win over these, these over the profile):
  QUANTUM_PROFILE  the profile of ~/.config/quantum/config.toml to use (--profile)
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

IDS = """\
resources are named by full id, by a unique id prefix (the 8 characters tables show) or,
for networks, by name; a name or prefix matching several is an error listing them.
"""

#: verb -> (one-line help, examples), in the order of a resource's life: the examples run
#: one after the other in tests/clients/test_cli_examples.py (watch and completion apart).
VERBS: dict[str, tuple[str, list[str]]] = {
    "net-create": (
        "create a network",
        ["quantum net-create web", "NET=$(quantum net-create web2 --wait -f value -c id)"],
    ),
    "net-list": (
        "list your networks",
        ["quantum net-list", "quantum net-list -f json", "quantum net-list -f value -c id -c name"],
    ),
    "net-show": ("show one network", ["quantum net-show web2", "quantum net-show $NET -f yaml"]),
    "net-update": ("rename a network", ["quantum net-update $NET --name frontend --wait"]),
    "port-create": (
        "create a port on a network",
        [
            "PORT=$(quantum port-create frontend -f value -c id)",
            "quantum port-create frontend --admin-down --qos-rate 1000 --qos-burst 64",
        ],
    ),
    "port-list": (
        "list ports (of one network, or all)",
        ["quantum port-list", "quantum port-list frontend -f csv"],
    ),
    "port-show": ("show one port", ["quantum port-show $PORT -c status -c link_status"]),
    "port-update": (
        "change a port's admin state or QoS",
        [
            "quantum port-update $PORT --admin-down",
            "quantum port-update $PORT --admin-up --qos-rate 2000 --qos-burst 128 --wait",
        ],
    ),
    "plug": ("plug an interface into a port", ["quantum plug $PORT vif-1 --wait"]),
    "wait": (
        "wait until resources reach a status",
        [
            "quantum wait $PORT --for ACTIVE --timeout 60",
            "quantum wait $NET",
            "quantum wait --network frontend --for applied  # all its ports",
        ],
    ),
    "events": ("a resource's recent history from the event log", ["quantum events $PORT"]),
    "retry": (
        "send a network or port left in ERROR to its back-end again",
        ["quantum retry $FAILED --wait  # once the back-end's trouble is mended"],
    ),
    "unplug": ("unplug a port's interface", ["quantum unplug $PORT --wait"]),
    "port-delete": (
        "delete ports without an attachment",
        ["quantum port-delete $PORT", "quantum wait $PORT --for delete"],
    ),
    "net-delete": ("delete networks without plugged ports", ["quantum net-delete web --wait"]),
    "watch": (
        "follow resources and their status live",
        [
            "quantum watch",
            "quantum watch --kind port --network frontend",
            "quantum watch --stream         # one line per event, for pipes and logs",
            "quantum watch -f json          # one JSON object per event line",
            "quantum watch --max-retries 5  # give up after 5 failed reconnects in a row",
        ],
    ),
    "completion": ("print a shell completion script", ["source <(quantum completion bash)"]),
}

DEFAULT_WAIT_STATUS = {"port": "ACTIVE", "network": "AVAILABLE", "attachment": "AVAILABLE"}


def version() -> str:
    """The installed quantum-client version."""
    try:
        return metadata.version("quantum-client")
    except metadata.PackageNotFoundError:  # run from a source tree that was not installed
        return "unknown"


def _examples(verbs: Sequence[str]) -> str:
    lines = ["examples:"]
    for verb in verbs:
        lines += [f"  {example}" for example in VERBS[verb][1]]
    return "\n".join(lines) + "\n"


def _add(group: argparse._ArgumentGroup, *flags: str, **options: object) -> None:
    # SUPPRESS defaults let the options go before or after the verb without the
    # subcommand's parser resetting a value given before it.
    group.add_argument(*flags, default=argparse.SUPPRESS, **options)  # type: ignore[arg-type]


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("connection and output")
    _add(group, "--profile", help="profile of ~/.config/quantum/config.toml ($QUANTUM_PROFILE)")
    _add(group, "--url", help="grpcs://host:port (TLS) or host:port (default $QUANTUM_URL)")
    _add(group, "--tenant", help="your tenant (default $QUANTUM_TENANT)")
    _add(group, "--admin", action="store_true", help="act as an administrator ($QUANTUM_ADMIN)")
    _add(group, "--token", help="bearer token ($QUANTUM_TOKEN; prefer --token-file)")
    _add(group, "--token-file", metavar="FILE", help="file holding the token ($QUANTUM_TOKEN_FILE)")
    _add(group, "--tls", action="store_true", help="TLS with a bare host:port ($QUANTUM_TLS)")
    _add(group, "--ca", metavar="FILE", help="PEM CA(s) to trust ($QUANTUM_CA)")
    _add(group, "--cert", metavar="FILE", help="PEM client certificate ($QUANTUM_CERT)")
    _add(group, "--key", metavar="FILE", help="the client certificate's key ($QUANTUM_KEY)")
    _add(
        group, "-f", "--format", "-o", "--output", dest="output", choices=FORMATS,
        metavar="FORMAT", help=f"{', '.join(FORMATS)} (default table; -o is the same)",
    )  # fmt: skip
    _add(
        group, "-c", "--column", dest="columns", action="append", metavar="COLUMN",
        help="only this column or field (repeatable), e.g. -c id",
    )  # fmt: skip
    _add(group, "--wide", action="store_true", help="full ids in tables")
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


def _timeout_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout", type=_positive_float, default=60.0, help="seconds to wait (default 60)"
    )


def _wait_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--wait", action="store_true", help=f"wait until {what}")
    _timeout_option(parser)
    _backoff_option(parser)


def _qos_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--qos-rate", type=int, metavar="KBPS", help="rate limit; 0 removes it")
    parser.add_argument("--qos-burst", type=int, metavar="KB", help="burst size (with --qos-rate)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `quantum`."""
    common = _common_options()
    parser = argparse.ArgumentParser(
        prog="quantum",
        description="Manage Quantum networks, ports and attachments over gRPC.",
        epilog=_examples(list(VERBS)) + "\n" + IDS + "\n" + ENVIRONMENT + "\n" + EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"quantum {version()}")
    verbs = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def verb(name: str) -> argparse.ArgumentParser:
        summary, _ = VERBS[name]
        return verbs.add_parser(
            name,
            help=summary,
            description=summary[0].upper() + summary[1:] + ".",
            epilog=_examples([name]) + "\n" + IDS + "\n" + EXIT_CODES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            parents=[common],
        )

    create = verb("net-create")
    create.add_argument("name", metavar="NAME")
    _wait_option(create, "the back-end made it AVAILABLE")
    verb("net-list").add_argument("--name", default="", help="only networks with this name")
    verb("net-show").add_argument("network", metavar="NET")
    update = verb("net-update")
    update.add_argument("network", metavar="NET")
    update.add_argument("--name", required=True, help="the new name")
    _wait_option(update, "the back-end applied the change")
    delete = verb("net-delete")
    delete.add_argument("networks", metavar="NET", nargs="+")
    _wait_option(delete, "the back-end confirmed the delete")

    port_create = verb("port-create")
    port_create.add_argument("network", metavar="NET")
    port_create.add_argument(
        "--admin-down", action="store_true", help="create it administratively down"
    )
    _qos_options(port_create)
    _wait_option(port_create, "the back-end applied the port")
    verb("port-list").add_argument("network", metavar="NET", nargs="?", default="")
    verb("port-show").add_argument("port", metavar="PORT")
    port_update = verb("port-update")
    port_update.add_argument("port", metavar="PORT")
    admin = port_update.add_mutually_exclusive_group()
    admin.add_argument("--admin-up", dest="admin_up", action="store_const", const=True)
    admin.add_argument("--admin-down", dest="admin_up", action="store_const", const=False)
    _qos_options(port_update)
    _wait_option(port_update, "the back-end applied the change")
    port_delete = verb("port-delete")
    port_delete.add_argument("ports", metavar="PORT", nargs="+")
    _wait_option(port_delete, "the back-end confirmed the delete")

    plug = verb("plug")
    plug.add_argument("port", metavar="PORT")
    plug.add_argument("interface_id", metavar="INTERFACE_ID")
    _wait_option(plug, "the attachment is AVAILABLE")
    unplug = verb("unplug")
    unplug.add_argument("port", metavar="PORT")
    _wait_option(unplug, "the back-end confirmed the unplug")

    watch = verb("watch")
    watch.add_argument(
        "--kind", action="append", default=[], choices=list(KIND_NAMES.values()),
        help="only this kind (repeatable)",
    )  # fmt: skip
    watch.add_argument("--network", default="", metavar="NET", help="only this network")
    watch.add_argument(
        "--id", action="append", default=[], metavar="ID",
        help="only this network or port, and a port's attachment (repeatable)",
    )  # fmt: skip
    watch.add_argument("--start-revision", type=int, default=0, help="resume after this revision")
    watch.add_argument(
        "--stream", action="store_true", help="one line per event instead of a live table"
    )
    watch.add_argument(
        "--max-retries", type=_count, metavar="N",
        help="give up after N failed reconnects in a row (default: reconnect for ever)",
    )  # fmt: skip
    _backoff_option(watch)

    wait = verb("wait")
    wait.add_argument("ids", metavar="ID", nargs="*", help="networks, ports (kind inferred)")
    wait.add_argument("--network", metavar="NET", help="every port of this network")
    wait.add_argument(
        "--kind", choices=list(KIND_NAMES.values()),
        help="the kind of the ids (default: found from the id; attachment: by its port's id)",
    )  # fmt: skip
    wait.add_argument(
        "--for", dest="statuses", action="append", metavar="STATUS",
        help="wanted status, repeatable or comma-separated; 'applied': the back-end applied "
        "the latest change; 'delete': the resource is gone (default ACTIVE for ports, "
        "AVAILABLE otherwise)",
    )  # fmt: skip
    _timeout_option(wait)
    _backoff_option(wait)

    events = verb("events")
    events.add_argument("resource", metavar="ID", help="a network or port")
    events.add_argument("--limit", type=_count, default=20, help="newest N events (default 20)")

    retry = verb("retry")
    retry.add_argument("resource", metavar="ID", help="a network or port in ERROR")
    _wait_option(retry, "the back-end applied it")

    completion = verb("completion")
    completion.add_argument("shell", choices=["bash", "zsh"])
    return parser
