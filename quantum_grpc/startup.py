"""What can stop the core from starting, said in one line (docs/operations.md, "Start-up errors").

`serve` prints a :class:`StartupError` as ``quantum-grpc: error: MESSAGE`` and exits 1: the
flags were valid, but the environment (a port, a database, a directory) is not usable.
"""

from __future__ import annotations

import errno
import socket


class StartupError(Exception):
    """The core cannot start here; the message names what to fix."""


def split_host_port(address: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[V6]:PORT`` too) as its host and port; ValueError if malformed."""
    host, sep, port_text = address.rpartition(":")
    if not sep or not port_text.isdigit():
        raise ValueError(f"expected HOST:PORT, got {address!r}")
    port = int(port_text)
    if port > 65535:
        raise ValueError(f"port {port} is out of range (0 to 65535) in {address!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, port


def ensure_free(address: str) -> None:
    """StartupError if something already listens on ``address`` (port 0 is always free).

    gRPC would log its own multi-line error first; checking with a plain socket lets the
    operator see one line. The bind that follows is exclusive, so a race is caught there.
    """
    host, port = split_host_port(address)
    if port == 0:
        return
    try:
        candidates = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise StartupError(f"cannot listen on {address}: {exc.strerror}") from None
    for family, kind, proto, _name, sockaddr in candidates:
        with socket.socket(family, kind, proto) as probe:
            # As gRPC does: a port left in TIME_WAIT by a core that just stopped is free.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(sockaddr)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise StartupError(
                        f"{address} is in use: stop what listens there or choose another --listen"
                    ) from None
                # Anything else (no IPv6 here, say) is gRPC's to decide.
