"""Server configuration as frozen dataclasses, with the defaults `serve` uses."""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from quantum_grpc.service.status_rules import Readiness

DEFAULT_LISTEN = "127.0.0.1:9696"
# Where back-ends reach the core (StatusReporterService), apart from clients: any free
# loopback port, since the core tells each back-end where to report (DescribeBackend's
# reporter_target); deployments with back-ends elsewhere set a fixed one, such as
# 0.0.0.0:9695 (docs/security.md, "Back-ends and mTLS").
DEFAULT_INTERNAL_LISTEN = "127.0.0.1:0"
# Limits (docs/operations.md, "Limits"). The receive limit is twice gRPC's 4 MiB default:
# the largest ReportStatus the core takes (1,000 entries with texts at their full length,
# docs/plugin-guide.md) is about 4.7 MB and must get through to be judged.
DEFAULT_MAX_CONCURRENT_STREAMS = 1000
DEFAULT_MAX_RECEIVE_MESSAGE_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_WATCHES_PER_TENANT = 1000
DEFAULT_MAX_CONNECTIONS = 1000
# Behind a load balancer (docs/operations.md, "Behind a proxy or mesh"): how long `serve`
# keeps serving, NOT_SERVING, after SIGTERM, so health checks move traffic away first;
# and the connection settings of the client listener.
DEFAULT_DRAIN_DELAY = 5.0
DEFAULT_KEEPALIVE_TIME = 30.0
DEFAULT_KEEPALIVE_TIMEOUT = 20.0
DEFAULT_MIN_PING_INTERVAL = 10.0
DEFAULT_MAX_CONNECTION_AGE = 1800.0
DEFAULT_MAX_CONNECTION_AGE_GRACE = 60.0
# The `serve` flags of these, by Settings field.
MESH_DEFAULTS = {
    "drain_delay": DEFAULT_DRAIN_DELAY,
    "keepalive_time": DEFAULT_KEEPALIVE_TIME,
    "keepalive_timeout": DEFAULT_KEEPALIVE_TIMEOUT,
    "min_ping_interval": DEFAULT_MIN_PING_INTERVAL,
    "max_connection_age": DEFAULT_MAX_CONNECTION_AGE,
    "max_connection_age_grace": DEFAULT_MAX_CONNECTION_AGE_GRACE,
}


def default_data_dir() -> Path:
    """Where `serve` keeps its SQLite file: $QUANTUM_DATA_DIR, else ~/.local/share."""
    explicit = os.environ.get("QUANTUM_DATA_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "quantum-grpc"


# Clock skew tolerated on a token's exp, nbf and iat (docs/security.md, "Authentication").
DEFAULT_JWT_LEEWAY = 30.0


class AuthMode(StrEnum):
    """How callers of the client API are identified (docs/security.md, "Authentication")."""

    NONE = "none"  # they say who they are in headers: loopback only (or --insecure)
    JWT = "jwt"  # a signed bearer token says who they are


@dataclass(frozen=True)
class BackendTarget:
    """A back-end the core dispatches to: its name and gRPC target."""

    name: str
    target: str


@dataclass(frozen=True)
class TlsFiles:
    """PEM files of one TLS endpoint: its certificate chain and key, and the CA that
    client (or peer) certificates must be signed by; ``ca`` None: no client certificate
    is asked for."""

    cert: Path
    key: Path
    ca: Path | None = None


@dataclass(frozen=True)
class Settings:
    """Everything the core needs to run.

    Attributes:
        listen: host:port for the client API, health and reflection.
        internal_listen: host:port for what back-ends call (StatusReporterService), with
            health and reflection; any free loopback port by default.
        internal_tls: mTLS on the internal listener (client certificates signed by its
            ``ca`` required; a back-end is who its certificate says) and on the core's
            channels to back-ends (their server certificates checked against ``ca``, the
            core presenting ``cert``); None: plain text both ways.
        client_tls: TLS on the client listener; with a ``ca``, client certificates
            signed by it are required.
        database_url: any SQLAlchemy URL; SQLite and PostgreSQL are tested.
        backends: the back-ends; new networks go to the first one.
        readiness: policy for changes to resources that are not ready yet (docs/status-model.md).
        sync_wait: how long a mutation waits for its back-end call before answering
            with the recorded state (a synchronous back-end answers well within it).
        backend_call_timeout: deadline of each call to a back-end.
        backend_retry_max: longest pause between retries of a failed back-end call.
        health_retry: pause between attempts to follow a back-end's health.
        reporter_target: the address back-ends push reports to; the internal listener's
            address when empty.
        grace: seconds in-flight calls get on shutdown.
        reflection: serve grpc.reflection so grpcurl and buf curl work.
        watch_progress_interval: seconds between PROGRESS markers on an idle watch.
        watch_max_lag: events a watcher may have queued before it is ended with
            RESOURCE_EXHAUSTED (its memory bound).
        watch_ring: recent events kept in memory for resumes without a database read.
        event_retention: events the log keeps at least; older ones are compacted away.
        event_retention_seconds: events younger than this are kept whatever their count.
        compaction_interval: seconds between compaction passes.
        event_poll_interval: seconds between reads of the event log for changes other
            replicas committed (PostgreSQL); 0 relies on this process's commits alone.
        max_concurrent_streams: calls one client connection may have open at once (HTTP/2
            SETTINGS_MAX_CONCURRENT_STREAMS); further calls wait in the client.
        max_receive_message_bytes: the largest request message accepted, back-ends'
            ReportStatus included; larger ones fail with RESOURCE_EXHAUSTED.
        max_watches_per_tenant: open WatchStatus streams plus WaitForStatus calls one
            tenant may hold (admin watches of every tenant count as one tenant); more
            fail with RESOURCE_EXHAUSTED TOO_MANY_WATCHES.
        max_connections: client connections the server keeps open at once; 0 for no cap.
        max_connection_idle: seconds a connection with no call open is kept before the
            server closes it (clients reconnect on their next call).
        auth: ``none`` (identity headers, loopback listeners only unless ``insecure``) or
            ``jwt`` (bearer tokens verified with ``jwt_keys``).
        jwt_keys: key files tokens are verified with: HS256 secrets, PEM public keys or
            JWKS files (several during a rotation).
        jwt_issuer: the ``iss`` tokens must carry; "" to not check it.
        jwt_audience: the ``aud`` tokens must name; "" to not check it.
        jwt_leeway: seconds of clock skew allowed on ``exp``, ``nbf`` and ``iat``.
        insecure: start with ``auth`` none on a listener other than loopback (logged as
            a warning).
        drain_delay: seconds a stopping core keeps serving while its health says
            NOT_SERVING, before it stops accepting calls and ends its watches (`serve`
            defaults to DEFAULT_DRAIN_DELAY; 0 here, for cores embedded in tests).
        keepalive_time: seconds between the server's keepalive pings on a connection.
        keepalive_timeout: seconds a ping may go unanswered before the connection is closed.
        min_ping_interval: the most often a client may ping (without calls open); more
            often and the server closes the connection (GOAWAY too_many_pings).
        max_connection_age: seconds after which a connection is closed (gRPC adds +-10%
            jitter), so clients re-balance over replicas; 0: never.
        max_connection_age_grace: seconds calls in flight get when a connection ages out.
        metrics_listen: host:port of the Prometheus endpoint; "" for none.
    """

    database_url: str
    backends: tuple[BackendTarget, ...]
    listen: str = DEFAULT_LISTEN
    internal_listen: str = DEFAULT_INTERNAL_LISTEN
    internal_tls: TlsFiles | None = None
    client_tls: TlsFiles | None = None
    readiness: Readiness = Readiness.ACCEPT
    sync_wait: float = 2.0
    backend_call_timeout: float = 5.0
    backend_retry_max: float = 2.0
    health_retry: float = 0.5
    reporter_target: str = ""
    grace: float = 5.0
    reflection: bool = True
    watch_progress_interval: float = 5.0
    watch_max_lag: int = 10_000
    watch_ring: int = 10_000
    event_retention: int = 100_000
    event_retention_seconds: float = 3600.0
    compaction_interval: float = 30.0
    event_poll_interval: float = 0.0
    max_concurrent_streams: int = DEFAULT_MAX_CONCURRENT_STREAMS
    max_receive_message_bytes: int = DEFAULT_MAX_RECEIVE_MESSAGE_BYTES
    max_watches_per_tenant: int = DEFAULT_MAX_WATCHES_PER_TENANT
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    max_connection_idle: float = 300.0
    auth: AuthMode = AuthMode.NONE
    jwt_keys: tuple[Path, ...] = ()
    jwt_issuer: str = ""
    jwt_audience: str = ""
    jwt_leeway: float = DEFAULT_JWT_LEEWAY
    insecure: bool = False
    drain_delay: float = 0.0
    keepalive_time: float = DEFAULT_KEEPALIVE_TIME
    keepalive_timeout: float = DEFAULT_KEEPALIVE_TIMEOUT
    min_ping_interval: float = DEFAULT_MIN_PING_INTERVAL
    max_connection_age: float = DEFAULT_MAX_CONNECTION_AGE
    max_connection_age_grace: float = DEFAULT_MAX_CONNECTION_AGE_GRACE
    metrics_listen: str = ""

    @property
    def default_backend(self) -> str:
        """The back-end new networks are given to."""
        return self.backends[0].name
