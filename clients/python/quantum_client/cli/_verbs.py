"""The verbs that change or show resources: one SDK call each (and ``--wait``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from quantum_api.errors import QuantumError
from quantum_client._sync import Client
from quantum_client.cli import _wait
from quantum_client.cli._errors import UsageError, report_error
from quantum_client.cli._find import Finder, LookupFailed
from quantum_client.cli._format import Output
from quantum_client.resources import APPLIED
from quantum_client.types import (
    AnyResource,
    DeleteNetworkResponse,
    DeletePortResponse,
    Port,
    QosPolicy,
)

Handler = Callable[[Client, argparse.Namespace, Output, Finder], int]


class Failures(Exception):
    """Some ids of a multi-id verb failed; each was reported already."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _qos(args: argparse.Namespace) -> QosPolicy | None:
    if args.qos_rate is None:
        if args.qos_burst is not None:
            raise UsageError("--qos-burst needs --qos-rate")
        return None
    return QosPolicy(rate_kbps=args.qos_rate, burst_kbytes=args.qos_burst or 0)


def _settled(
    client: Client, args: argparse.Namespace, out: Output, resource: Any, wanted: str
) -> Any:
    """``resource``, or with ``--wait`` its snapshot once ``wanted`` is reached."""
    if not args.wait:
        return resource
    found = _wait.settle(client, out, _wait.goal_for(resource, wanted), args.timeout)
    return found if found is not None else resource


def port_line(port: Port) -> str:
    """``port ID: ACTIVE, link UP``, for the summaries of plug and unplug."""
    return f"port {port.id}: {_wait.describe(port, False)}"


def net_create(client: Client, args: argparse.Namespace, out: Output, finder: Finder) -> int:
    created = client.create_network(args.name)
    out.resource(_settled(client, args, out, created, "AVAILABLE"), "network")
    return 0


def net_list(client: Client, args: argparse.Namespace, out: Output, finder: Finder) -> int:
    out.networks(client.list_networks(name=args.name))
    return 0


def net_show(client: Client, args: argparse.Namespace, out: Output, finder: Finder) -> int:
    out.resource(client.get_network(finder.network(args.network)), "network")
    return 0


def net_update(client: Client, args: argparse.Namespace, out: Output, finder: Finder) -> int:
    updated = client.update_network(finder.network(args.network), name=args.name)
    out.resource(_settled(client, args, out, updated, APPLIED), "network")
    return 0


def port_create(client: Client, args: argparse.Namespace, out: Output, finder: Finder) -> int:
    qos = _qos(args)
    admin = False if args.admin_down else None
    created = client.create_port(finder.network(args.network), admin_state_up=admin, qos=qos)
    out.resource(_settled(client, args, out, created, APPLIED), "port")
    return 0


def port_list(client: Client, args: argparse.Namespace, out: Output, finder: Finder) -> int:
    network_id = finder.network(args.network) if args.network else ""
    out.ports(client.list_ports(network_id))
    return 0


def port_show(client: Client, args: argparse.Namespace, out: Output, finder: Finder) -> int:
    out.resource(client.get_port(finder.port(args.port)), "port")
    return 0


def port_update(client: Client, args: argparse.Namespace, out: Output, finder: Finder) -> int:
    qos = _qos(args)
    if args.admin_up is None and qos is None:
        raise UsageError("say what to change: --admin-up, --admin-down or --qos-rate")
    updated = client.update_port(finder.port(args.port), admin_state_up=args.admin_up, qos=qos)
    out.resource(_settled(client, args, out, updated, APPLIED), "port")
    return 0


def plug(client: Client, args: argparse.Namespace, out: Output, finder: Finder) -> int:
    port_id = finder.port(args.port)
    plugged = client.plug(port_id, args.interface_id)
    if args.wait:
        goal = _wait.Goal("attachment", port_id, ("AVAILABLE",))
        _wait.settle(client, out, goal, args.timeout)
        plugged.port.CopyFrom(client.get_port(port_id))
        plugged.attachment.CopyFrom(client.get_attachment(port_id))
    out.summary(plugged, f"plugged {args.interface_id}; {port_line(plugged.port)}")
    return 0


def unplug(client: Client, args: argparse.Namespace, out: Output, finder: Finder) -> int:
    port_id = finder.port(args.port)
    unplugged = client.unplug(port_id)
    if args.wait:
        _wait.settle(client, out, _wait.Goal("attachment", port_id, (_wait.DELETE,)), args.timeout)
        unplugged.port.CopyFrom(client.get_port(port_id))
    out.summary(unplugged, f"unplugged; {port_line(unplugged.port)}")
    return 0


def _gone(kind: str, resource_id: str, deleted: bool) -> str:
    if deleted:
        return f"{kind} {resource_id} deleted"
    return f"{kind} {resource_id} is being deleted (the back-end has not confirmed yet)"


def _delete_each(
    client: Client,
    args: argparse.Namespace,
    out: Output,
    kind: str,
    refs: list[str],
    lookup: Callable[[str], str],
    delete: Callable[[str], DeleteNetworkResponse | DeletePortResponse],
) -> int:
    worst = 0
    for ref in refs:
        try:
            resource_id = lookup(ref)
            response = delete(resource_id)
            if args.wait and not response.deleted:
                goal = _wait.Goal(kind, resource_id, (_wait.DELETE,))
                _wait.settle(client, out, goal, args.timeout)
                response.deleted = True
            out.summary(response, _gone(kind, resource_id, response.deleted))
        except (QuantumError, LookupFailed) as error:
            worst = max(worst, report_error(error))
    if worst and len(refs) > 1:
        raise Failures(worst)
    return worst


def net_delete(client: Client, args: argparse.Namespace, out: Output, finder: Finder) -> int:
    return _delete_each(
        client, args, out, "network", args.networks, finder.network, client.delete_network
    )


def port_delete(client: Client, args: argparse.Namespace, out: Output, finder: Finder) -> int:
    return _delete_each(client, args, out, "port", args.ports, finder.port, client.delete_port)


def events(client: Client, args: argparse.Namespace, out: Output, finder: Finder) -> int:
    from quantum_client.cli._history import history

    resource: AnyResource = finder.any(args.resource)
    history(client, out, resource, args.limit, wide=out.wide)
    return 0


def retry(client: Client, args: argparse.Namespace, out: Output, finder: Finder) -> int:
    resource: AnyResource = finder.any(args.resource)
    if isinstance(resource, Port):
        retried: AnyResource = client.retry_port(resource.id)
        kind = "port"
    else:
        retried, kind = client.retry_network(resource.id), "network"
    out.resource(_settled(client, args, out, retried, APPLIED), kind)
    return 0


HANDLERS: dict[str, Handler] = {
    "net-create": net_create,
    "net-list": net_list,
    "net-show": net_show,
    "net-update": net_update,
    "net-delete": net_delete,
    "port-create": port_create,
    "port-list": port_list,
    "port-show": port_show,
    "port-update": port_update,
    "port-delete": port_delete,
    "plug": plug,
    "unplug": unplug,
    "events": events,
    "retry": retry,
}
