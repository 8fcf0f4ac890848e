"""Which host a caller of AgentService may speak for (docs/security.md, "Agents").

Shared by the back-ends whose agents speak the linuxbridge agent protocol (linuxbridge, ovs).

Over mTLS an agent's identity is its host, named by its certificate: a SAN URI
``spiffe://quantum/agent/HOST`` or, failing any such URI, a DNS SAN. In plain text the
request's ``host`` field is taken at its word, as before TLS existed.
"""

from __future__ import annotations

from typing import Any

import grpc

from quantum_plugins.common.tls import peer_names

__all__ = ["AGENT_URI_PREFIX", "agent_uri", "certified_hosts", "check_host", "refuse_agents"]

AGENT_URI_PREFIX = "spiffe://quantum/agent/"


def agent_uri(host: str) -> str:
    """The SAN URI that names ``host``'s agent."""
    return AGENT_URI_PREFIX + host


def certified_hosts(context: Any) -> frozenset[str] | None:
    """The hosts the caller's certificate names; None on a plain-text connection."""
    names = peer_names(context)
    if names is None:
        return None
    uris = {
        uri.removeprefix(AGENT_URI_PREFIX) for uri in names.uris if uri.startswith(AGENT_URI_PREFIX)
    }
    # DNS names are case-insensitive: keep them lower-case, and compare so.
    return frozenset(uris or {name.lower() for name in names.dns})


async def check_host(context: Any, host: str) -> None:
    """PERMISSION_DENIED unless the caller may speak for ``host``."""
    hosts = certified_hosts(context)
    if hosts is not None and host not in hosts and host.lower() not in hosts:
        named = ", ".join(sorted(hosts)) or "no host"
        await context.abort(
            grpc.StatusCode.PERMISSION_DENIED,
            f"the agent's certificate names {named}, not host {host!r}",
        )


async def refuse_agents(context: Any) -> None:
    """PERMISSION_DENIED for a caller whose certificate is an agent's (URI form): agents
    may wire their host, never change or list the back-end's state (BackendService)."""
    names = peer_names(context)
    if names is not None and any(uri.startswith(AGENT_URI_PREFIX) for uri in names.uris):
        await context.abort(
            grpc.StatusCode.PERMISSION_DENIED,
            "an agent's certificate may call AgentService only, not BackendService",
        )
