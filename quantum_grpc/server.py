"""Assemble the core: database, dispatch, back-end links, servicers, health, reflection.

Two listeners: the client API on ``listen``, and what back-ends call
(StatusReporterService) on ``internal_listen``, each with its own TLS (docs/security.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from quantum_api.plugin.v1 import status_reporter_pb2, status_reporter_pb2_grpc
from quantum_api.v1 import (
    attachment_service_pb2,
    attachment_service_pb2_grpc,
    network_service_pb2,
    network_service_pb2_grpc,
    port_service_pb2,
    port_service_pb2_grpc,
    watch_service_pb2,
)
from quantum_grpc.api.attachments import AttachmentServicer
from quantum_grpc.api.errors import ErrorInterceptor
from quantum_grpc.api.networks import NetworkServicer
from quantum_grpc.api.peer import BackendIdentities
from quantum_grpc.api.ports import PortServicer
from quantum_grpc.api.reflection import enable_reflection
from quantum_grpc.api.reporter import StatusReporterServicer
from quantum_grpc.api.request_ids import RequestIdInterceptor
from quantum_grpc.api.watch import WatchServicer, add_watch_service
from quantum_grpc.auth.setup import authenticator_for, check_exposure
from quantum_grpc.config import Settings
from quantum_grpc.convert import snapshot_of
from quantum_grpc.dispatch.backends import BackendLinks
from quantum_grpc.dispatch.dispatcher import Dispatcher
from quantum_grpc.leader import Duties, Replica
from quantum_grpc.metrics import MetricsServer, ServiceCollector
from quantum_grpc.service.core import Core
from quantum_grpc.service.paging import PageTokens
from quantum_grpc.startup import StartupError, ensure_free
from quantum_grpc.store.engine import (
    create_engine,
    is_sqlite,
    prepare_sqlite_file,
    sqlite_file,
    upgrade,
)
from quantum_grpc.store.lock import DatabaseLock
from quantum_grpc.store.page_key import page_token_key
from quantum_grpc.store.store import Store
from quantum_grpc.tls import channel_credentials, server_credentials
from quantum_grpc.watch.hub import WatchHub

log = logging.getLogger(__name__)

CLIENT_SERVICE_NAMES = (
    network_service_pb2.DESCRIPTOR.services_by_name["NetworkService"].full_name,
    port_service_pb2.DESCRIPTOR.services_by_name["PortService"].full_name,
    attachment_service_pb2.DESCRIPTOR.services_by_name["AttachmentService"].full_name,
    watch_service_pb2.DESCRIPTOR.services_by_name["WatchService"].full_name,
)
INTERNAL_SERVICE_NAMES = (
    status_reporter_pb2.DESCRIPTOR.services_by_name["StatusReporterService"].full_name,
)
SERVICE_NAMES = CLIENT_SERVICE_NAMES + INTERNAL_SERVICE_NAMES
DATABASE_CHECK_INTERVAL = 2.0
MAX_PENDING_REQUESTS = 10_000


def _reachable(listen: str, port: int) -> str:
    """The address back-ends should report to, given what we bound."""
    host = listen.rsplit(":", 1)[0]
    if host in ("", "0.0.0.0", "[::]"):
        host = "127.0.0.1"
    return f"{host}:{port}"


@dataclass
class App:
    """A running core; ``stop`` shuts it down gracefully."""

    server: grpc.aio.Server
    port: int
    internal_server: grpc.aio.Server
    internal_port: int
    store: Store
    core: Core
    dispatcher: Dispatcher
    links: BackendLinks
    hub: WatchHub
    health: health.aio.HealthServicer
    lock: DatabaseLock | None = None
    # Hearing other replicas' commits, and the leadership (docs/operations.md, "Replicas").
    replica: Replica | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    # The Prometheus endpoint (--metrics-listen), if any.
    metrics: MetricsServer | None = None

    @property
    def address(self) -> str:
        """host:port clients can dial."""
        return _reachable(self.core.settings.listen, self.port)

    @property
    def internal_address(self) -> str:
        """host:port back-ends can dial (StatusReporterService)."""
        return _reachable(self.core.settings.internal_listen, self.internal_port)

    async def set_serving(self, serving: bool) -> None:
        """Flip every health entry (the overall "" one included)."""
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", *SERVICE_NAMES):
            await self.health.set(name, status)

    async def stop(
        self,
        grace: float | None = None,
        drain_delay: float | None = None,
        hurry: asyncio.Event | None = None,
    ) -> None:
        """Drain, then stop, then release everything (docs/operations.md, "Graceful
        shutdown"): NOT_SERVING at once, serving on for ``drain_delay`` (or until
        ``hurry`` is set) so that load balancers move traffic first; then no new calls,
        and every watch ends resumably."""
        await self.health.enter_graceful_shutdown()
        settings = self.core.settings
        delay = settings.drain_delay if drain_delay is None else drain_delay
        if delay > 0:
            log.info("draining: NOT_SERVING, still serving for %gs", delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for((hurry or asyncio.Event()).wait(), delay)
        grace = settings.grace if grace is None else grace
        # No new calls from here on (a watcher resuming at once must reach another core),
        # then the watches end, each after what it has queued: one turn of the loop lets
        # both servers begin to stop before the hub wakes the watches.
        stopping = asyncio.gather(self.server.stop(grace), self.internal_server.stop(grace))
        await asyncio.sleep(0)
        await self.hub.shutdown()
        await stopping
        await self.hub.close()
        if self.replica is not None:
            await self.replica.close()  # the leader's duties stop; another replica takes them
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.dispatcher.close()
        await self.links.close()
        await self.store.close()
        if self.metrics is not None:
            self.metrics.close()
        if self.lock is not None:
            self.lock.release()  # last: another core may open the file from now on


async def _watch_database(app: App) -> None:
    serving = True
    while True:
        await asyncio.sleep(DATABASE_CHECK_INTERVAL)
        ok = await app.store.ping() and not app.store.failed_within(2 * DATABASE_CHECK_INTERVAL)
        if ok != serving:
            log.warning("database is %s", "reachable again" if ok else "unreachable: NOT_SERVING")
            await app.set_serving(ok)
            serving = ok


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def server_options(settings: Settings) -> list[tuple[str, int]]:
    """gRPC server options: exclusive bind, keepalive, and the limits of docs/operations.md."""
    options = [
        # gRPC sets SO_REUSEPORT by default: a second core on this port would start and
        # share it, and clients would alternate between two databases.
        ("grpc.so_reuseport", 0),
        ("grpc.keepalive_time_ms", _ms(settings.keepalive_time)),
        ("grpc.keepalive_timeout_ms", _ms(settings.keepalive_timeout)),
        ("grpc.http2.min_ping_interval_without_data_ms", _ms(settings.min_ping_interval)),
        ("grpc.max_concurrent_streams", settings.max_concurrent_streams),
        ("grpc.max_receive_message_length", settings.max_receive_message_bytes),
        # gRPC core cancels calls that arrive while 1,000 (its default) wait for the
        # server to take them up: a burst of watches resuming after a drain, or 1,500
        # watches opened through one proxy, lost dozens (docs/operations.md, "Behind a
        # proxy or mesh").
        ("grpc.server.max_pending_requests", MAX_PENDING_REQUESTS),
        ("grpc.server.max_pending_requests_hard_limit", 3 * MAX_PENDING_REQUESTS),
    ]
    if settings.max_connection_age:  # gRPC jitters it by +-10%: reconnects spread out
        options.append(("grpc.max_connection_age_ms", _ms(settings.max_connection_age)))
        options.append(("grpc.max_connection_age_grace_ms", _ms(settings.max_connection_age_grace)))
    if settings.max_connections:
        options.append(("grpc.max_allowed_incoming_connections", settings.max_connections))
    if settings.max_connection_idle:
        options.append(("grpc.max_connection_idle_ms", int(settings.max_connection_idle * 1000)))
    return options


def _bind(server: grpc.aio.Server, listen: str, credentials: grpc.ServerCredentials | None) -> int:
    """Add the listening port; StartupError (one line) if it cannot be had."""
    try:
        if credentials is None:
            port = server.add_insecure_port(listen)
        else:
            port = server.add_secure_port(listen, credentials)
    except RuntimeError:  # grpcio raises on a failed bind (it logs the details itself)
        port = 0
    if port == 0:
        ensure_free(listen)  # in use now (a race with the check before)? say so
        raise StartupError(f"cannot listen on {listen} (see the gRPC error above)")
    return port


def _lock_database(url: str) -> DatabaseLock | None:
    """Prepare and lock the SQLite file.

    docs/operations.md, "One core per address and per database".
    """
    database = sqlite_file(url)
    if database is None:
        return None
    prepare_sqlite_file(database)
    return DatabaseLock.acquire(database)


async def build_server(settings: Settings) -> App:
    """Migrate the database, then start a core listening on ``settings.listen``.

    Raises StartupError when the address is taken, the database is locked by another core
    or unreachable, or the data directory is unwritable; nothing is left running then.
    """
    ensure_free(settings.listen)
    ensure_free(settings.internal_listen)
    client_credentials, internal_credentials = _listener_credentials(settings)
    listeners = (settings.listen, settings.internal_listen)
    check_exposure(settings.auth, settings.insecure, listeners)
    authenticator = authenticator_for(settings)
    async with contextlib.AsyncExitStack() as undo:  # unwound only if start-up fails
        lock = _lock_database(settings.database_url)
        if lock is not None:
            undo.callback(lock.release)
        await asyncio.to_thread(upgrade, settings.database_url)
        store = Store(
            create_engine(settings.database_url),
            serialize_writes=is_sqlite(settings.database_url),
            encode_snapshot=snapshot_of,
        )
        undo.push_async_callback(store.close)
        links = BackendLinks(
            settings.backends,
            store,
            call_timeout=settings.backend_call_timeout,
            retry=settings.health_retry,
            credentials=(
                None
                if settings.internal_tls is None
                else channel_credentials(settings.internal_tls, prefix="--internal-tls")
            ),
        )
        undo.push_async_callback(links.close)
        dispatcher = Dispatcher(
            store,
            links,
            call_timeout=settings.backend_call_timeout,
            retry_max=settings.backend_retry_max,
        )
        undo.push_async_callback(dispatcher.close)
        core = Core(store, settings, dispatcher, PageTokens(await page_token_key(store)))
        hub = WatchHub(store, settings)
        metrics = _metrics(settings)
        if metrics is not None:
            hub.metrics = dispatcher.metrics = metrics.service
        # Request ids first (every later log line of a call has one), then metrics (they
        # see the code the error interceptor ends with).
        server = grpc.aio.server(
            interceptors=[
                RequestIdInterceptor(),
                *([] if metrics is None else [metrics.interceptor]),
                ErrorInterceptor(authenticator),
            ],
            options=server_options(settings),
        )
        internal = grpc.aio.server(
            interceptors=[ErrorInterceptor()], options=server_options(settings)
        )
        health_servicer = _add_services(server, core, hub, settings)
        _add_internal_services(internal, store, health_servicer, settings)
        port = _bind(server, settings.listen, client_credentials)
        internal_port = _bind(internal, settings.internal_listen, internal_credentials)
        await hub.start()
        undo.push_async_callback(hub.close)
        replica = Replica(settings.database_url, store)
        await replica.listen()
        undo.push_async_callback(replica.close)
        for started in (server, internal):
            await started.start()
            undo.push_async_callback(started.stop, 0)
        app = App(
            server,
            port,
            internal,
            internal_port,
            store,
            core,
            dispatcher,
            links,
            hub,
            health_servicer,
            lock,
            replica,
        )
        await app.set_serving(True)
        reporter_target = settings.reporter_target or app.internal_address
        core_id = f"core-{uuid.uuid4().hex[:8]}"
        await replica.campaign(Duties(links, dispatcher, hub, reporter_target, core_id))
        app.tasks.append(asyncio.create_task(_watch_database(app)))
        if metrics is not None:
            collector = ServiceCollector(
                asyncio.get_running_loop(), store, hub, links, (b.name for b in settings.backends)
            )
            _serve_metrics(metrics, settings.metrics_listen, collector)
            app.metrics = metrics
        undo.pop_all()
    return app


def _metrics(settings: Settings) -> MetricsServer | None:
    if not settings.metrics_listen:
        return None
    ensure_free(settings.metrics_listen)  # before anything starts
    return MetricsServer()


def _serve_metrics(metrics: MetricsServer, listen: str, collector: ServiceCollector) -> None:
    try:
        metrics.start(listen, collector)
    except OSError as exc:
        raise StartupError(f"cannot serve metrics on {listen}: {exc.strerror or exc}") from None


def _listener_credentials(
    settings: Settings,
) -> tuple[grpc.ServerCredentials | None, grpc.ServerCredentials | None]:
    """The client and internal listeners' TLS (None: plain text), read before anything
    starts so that a bad file is a one-line StartupError."""
    client = (
        None
        if settings.client_tls is None
        else server_credentials(settings.client_tls, prefix="--tls", ca_flag="--tls-client-ca")
    )
    internal = (
        None
        if settings.internal_tls is None
        else server_credentials(
            settings.internal_tls, prefix="--internal-tls", ca_flag="--internal-tls-ca"
        )
    )
    return client, internal


def _add_internal_services(
    server: grpc.aio.Server,
    store: Store,
    health_servicer: health.aio.HealthServicer,
    settings: Settings,
) -> None:
    """What back-ends call; with mTLS a back-end is who its certificate says (api/peer.py)."""
    identities = None if settings.internal_tls is None else BackendIdentities(settings.backends)
    status_reporter_pb2_grpc.add_StatusReporterServiceServicer_to_server(
        StatusReporterServicer(store, frozenset(b.name for b in settings.backends), identities),
        server,
    )
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    if settings.reflection:
        enable_reflection(server, (*INTERNAL_SERVICE_NAMES, health.SERVICE_NAME))


def _add_services(
    server: grpc.aio.Server, core: Core, hub: WatchHub, settings: Settings
) -> health.aio.HealthServicer:
    network_service_pb2_grpc.add_NetworkServiceServicer_to_server(NetworkServicer(core), server)
    port_service_pb2_grpc.add_PortServiceServicer_to_server(PortServicer(core), server)
    attachment_service_pb2_grpc.add_AttachmentServiceServicer_to_server(
        AttachmentServicer(core), server
    )
    add_watch_service(WatchServicer(core.store, hub, settings.watch_progress_interval), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    if settings.reflection:
        enable_reflection(server, (*CLIENT_SERVICE_NAMES, health.SERVICE_NAME))
    return health_servicer
