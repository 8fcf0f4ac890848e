"""The certificates of an mTLS lab: one CA, the core, the back-end, an agent per host.

Shared by the linuxbridge and OVS labs (tests/ovs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from quantum_grpc.config import TlsFiles as CoreTls
from quantum_plugins.common.identity import agent_uri
from tests.helpers.pki import Ca, Issued, backend_uri, files, issue, make_ca, tls_flags

__all__ = ["CoreTls", "LabPki", "files", "tls_flags"]

BACKEND = "linuxbridge"


@dataclass
class LabPki:
    """A CA and the certificates it signed, made on demand for agents."""

    directory: Path
    #: The back-end's name (its certificate names it): "linuxbridge" or "ovs".
    backend_name: str = BACKEND
    ca: Ca = field(init=False)
    core: Issued = field(init=False)
    backend: Issued = field(init=False)
    _agents: dict[str, Issued] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ca = make_ca(self.directory, "quantum")
        # The core serves its internal listener and dials back-ends: both usages.
        self.core = issue(self.ca, "core", client=True, server=True)
        self.backend = issue(
            self.ca,
            self.backend_name,
            san_uris=[backend_uri(self.backend_name)],
            client=True,
            server=True,
        )

    def agent(self, host: str) -> Issued:
        """The agent certificate of ``host`` (SAN URI spiffe://quantum/agent/HOST)."""
        if host not in self._agents:
            self._agents[host] = issue(
                self.ca, f"agent-{host}", san_uris=[agent_uri(host)], client=True
            )
        return self._agents[host]

    def core_tls(self) -> CoreTls:
        """The core's Settings.internal_tls."""
        return CoreTls(cert=self.core.cert, key=self.core.key, ca=self.ca.cert)
