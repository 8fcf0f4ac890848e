"""Which configured back-end a caller of the internal listener is, from its client
certificate (docs/security.md, "Back-ends and mTLS").

A certificate names back-end NAME (one of `serve --backend NAME=HOST:PORT`) by:

1. a SAN URI ``spiffe://quantum/backend/NAME``; if the certificate has such URIs, they
   alone count;
2. otherwise a DNS SAN equal to ``NAME``, or to the ``HOST`` of that back-end's target
   when no other configured back-end has the same host.

A certificate naming no configured back-end, or several, identifies none.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping

from quantum_grpc.config import BackendTarget
from quantum_grpc.startup import split_host_port

BACKEND_URI_PREFIX = "spiffe://quantum/backend/"
# grpcio's auth_context (the peer's verified certificate): every SAN, URIs and DNS names
# alike, each as bytes.
SAN_KEY = "x509_subject_alternative_name"

AuthContext = Mapping[str, Iterable[bytes]]


class BackendIdentities:
    """Maps a peer's certificate to the configured back-end it belongs to."""

    def __init__(self, backends: Iterable[BackendTarget]) -> None:
        targets = list(backends)
        self._names = frozenset(target.name for target in targets)
        hosts: dict[str, list[str]] = {}
        for target in targets:
            host = _dns_host(target.target)
            if host is not None:
                hosts.setdefault(host, []).append(target.name)
        # A host shared by two back-ends says nothing about which one is calling.
        self._by_host = {host: names[0] for host, names in hosts.items() if len(names) == 1}

    def backend_of(self, auth_context: AuthContext) -> str | None:
        """The back-end the peer's certificate names, or None (none, or several)."""
        sans = [value.decode("utf-8", "replace") for value in auth_context.get(SAN_KEY, ())]
        uris = [san for san in sans if "://" in san]
        if uris:
            found = {
                uri.removeprefix(BACKEND_URI_PREFIX)
                for uri in uris
                if uri.startswith(BACKEND_URI_PREFIX)
            }
            found &= self._names
        else:
            found = {san for san in sans if san in self._names}
            hosts = {san.lower() for san in sans}  # DNS names are case-insensitive
            found |= {self._by_host[host] for host in hosts if host in self._by_host}
        return found.pop() if len(found) == 1 else None


def _dns_host(target: str) -> str | None:
    """The host name of a HOST:PORT target; None for an IP address or another scheme."""
    try:
        host, _port = split_host_port(target.removeprefix("dns:///"))
    except ValueError:
        return None
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host.lower() or None
    return None
