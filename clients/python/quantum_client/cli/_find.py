"""Resources named on the command line: by full id, unique id prefix or (networks) name."""

from __future__ import annotations

import re
from collections.abc import Iterable

from quantum_api.errors import NetworkNotFound, PortNotFound
from quantum_client._sync import Client
from quantum_client.types import AnyResource, Network, Port

UUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
SHORT = 8


class LookupFailed(Exception):
    """A name or prefix that matches no resource (exit 1) or several (``ambiguous``, exit 2)."""

    def __init__(self, message: str, *, ambiguous: bool = False) -> None:
        super().__init__(message)
        self.ambiguous = ambiguous


def short(resource_id: str) -> str:
    """The id as tables show it: its first 8 characters."""
    return resource_id[:SHORT]


def _describe(resource: AnyResource) -> str:
    kind = "network" if isinstance(resource, Network) else "port"
    name = f" ({resource.name})" if isinstance(resource, Network) else ""
    return f"{kind} {resource.id}{name}"


def _pick(ref: str, what: str, candidates: Iterable[AnyResource]) -> AnyResource:
    found: list[AnyResource] = list(candidates)
    named: list[AnyResource] = [r for r in found if isinstance(r, Network) and r.name == ref]
    matches = named or [r for r in found if r.id.startswith(ref.lower())]
    if not matches:
        raise LookupFailed(f"no {what} has the name or id prefix {ref!r}")
    if len(matches) > 1:
        listed = "; ".join(_describe(r) for r in matches[:10])
        more = f"; and {len(matches) - 10} more" if len(matches) > 10 else ""
        raise LookupFailed(
            f"{ref!r} matches {len(matches)} resources: {listed}{more}; give more of the id",
            ambiguous=True,
        )
    return matches[0]


class Finder:
    """Turns what a user typed into a resource id, asking the server as little as it can."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def network(self, ref: str) -> str:
        """The id of the network ``ref`` names; a full id is taken as it is."""
        if UUID.match(ref):
            return ref
        return _pick(ref, "network", self.client.list_networks()).id

    def port(self, ref: str) -> str:
        """The id of the port ``ref`` (a full id or a unique prefix) names."""
        if UUID.match(ref):
            return ref
        return _pick(ref, "port", self.client.list_ports()).id

    def any(self, ref: str) -> AnyResource:
        """The network or port ``ref`` names, fetched (the kind is found from the id).

        Raises:
            LookupFailed: nothing, or several resources, match.
        """
        if UUID.match(ref):
            try:
                return self.client.get_network(ref)
            except NetworkNotFound:
                pass
            try:
                return self.client.get_port(ref)
            except PortNotFound:
                raise LookupFailed(f"no network or port has the id {ref}") from None
        candidates: list[Network | Port] = [*self.client.list_networks()]
        candidates += self.client.list_ports()
        return _pick(ref, "network or port", candidates)

    def ident(self, ref: str) -> str:
        """The id of the network or port ``ref`` names; a full id is taken as it is."""
        return ref if UUID.match(ref) else self.any(ref).id

    def exists(self, ref: str) -> AnyResource | None:
        """:meth:`any`, or None when nothing has that id (a resource already deleted)."""
        try:
            return self.any(ref)
        except LookupFailed as error:
            if error.ambiguous:
                raise
            return None
