"""Prometheus metrics (`serve --metrics-listen`): every RPC with its code, every message a
stream sends, handling times, and the service's own figures read when scraped.

The RPC figures come from a server interceptor placed before the error interceptor, so
it sees the code each call ended with. It wraps server streams message by message: the
common Python interceptor packages count only unary calls. The service's figures (open
watches, resources by kind and status, outbox, back-ends, event log) are read at scrape
time, from the core's event loop, so nothing on the hot path keeps them up to date.
The few figures that must be counted as they happen (event delivery, watch lag, resumes,
compactions, dispatch) go through an :class:`Observer`: the hub, the watch streams and the
dispatcher call it, and without `--metrics-listen` it is one that records nothing.
The names are listed in docs/operations.md, "Metrics".
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias
from wsgiref.simple_server import WSGIServer

import grpc
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from quantum_grpc.api.context import Context, caller_of
from quantum_grpc.api.handlers import WrappedHandlers, rewrap, rpc_type
from quantum_grpc.startup import split_host_port
from quantum_grpc.store.models import AttachmentRow, NetworkRow, OutboxRow, PortRow
from quantum_grpc.store.store import Store, now

if TYPE_CHECKING:
    from quantum_grpc.dispatch.backends import BackendLinks
    from quantum_grpc.watch.events import LogEvent
    from quantum_grpc.watch.hub import WatchHub

    Handler: TypeAlias = grpc.RpcMethodHandler[Any, Any]

log = logging.getLogger(__name__)
WATCH_METHOD = "/quantum.v1.WatchService/WatchStatus"
# Scrapes wait this long for the database figures, then report without them.
SCRAPE_TIMEOUT = 5.0
_STATUSES: dict[str, Any] = {
    "network": NetworkRow.status,
    "port": PortRow.status,
    "attachment": AttachmentRow.status,
}


def _split(method: str) -> tuple[str, str]:
    service, _, name = method.lstrip("/").partition("/")
    return service, name


class RpcMetrics:
    """The gRPC server figures, named as grpc-ecosystem's go-grpc-prometheus names them."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ("grpc_service", "grpc_method", "grpc_type")
        self.started = Counter(
            "grpc_server_started", "RPCs started on the server.", labels, registry=registry
        )
        self.handled = Counter(
            "grpc_server_handled",
            "RPCs completed on the server, by status code.",
            (*labels, "grpc_code"),
            registry=registry,
        )
        self.sent = Counter(
            "grpc_server_msg_sent",
            "Messages sent by the server, each message of a stream counted.",
            labels,
            registry=registry,
        )
        self.received = Counter(
            "grpc_server_msg_received",
            "Messages received by the server.",
            labels,
            registry=registry,
        )
        self.seconds = Histogram(
            "grpc_server_handling_seconds",
            "Time from the start of an RPC to its end (a stream's whole life).",
            labels,
            registry=registry,
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60, 300),
        )
        self.watches = Gauge(
            "quantum_watches_open",
            "WatchStatus streams open, by tenant ('*': an admin's watch of every tenant).",
            ("tenant",),
            registry=registry,
        )


# Where a resume's history came from (quantum_watch_resumes_total's `source`).
RESUMED_FROM_RING = "ring"
RESUMED_FROM_LOG = "log"
RESUME_COMPACTED = "compacted"
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Observer:
    """What the core's own paths record as it happens; this one records nothing (the
    core runs without `--metrics-listen`). Each call is made once per event sent, batch,
    resume, compaction or change, so an implementation stays a few counter increments."""

    def delivered(self, events: Sequence[LogEvent], queued: int) -> None:
        """A watch stream sent ``events``, taken with ``queued`` events waiting."""

    def ended_lagging(self) -> None:
        """A watcher was ended for falling ``watch_max_lag`` events behind."""

    def resumed(self, source: str) -> None:
        """A watch resumed (``RESUMED_FROM_RING``, ``RESUMED_FROM_LOG``) or was refused
        (``RESUME_COMPACTED``)."""

    def compacted(self, events: int) -> None:
        """A compaction pass removed ``events`` events from the log."""

    def applied(self, backend: str, seconds: float, retried: bool) -> None:
        """One ApplyChange call took ``seconds`` (``retried``: it failed and is tried again)."""

    def dispatched(self, backend: str, recorded_at: datetime) -> None:
        """A change recorded at ``recorded_at`` left the outbox for good."""


NO_METRICS = Observer()


class ServiceMetrics(Observer):
    """The :class:`Observer` feeding the registry of `--metrics-listen`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._delivery = Histogram(
            "quantum_watch_event_delivery_seconds",
            "From an event's commit to its write on a WatchStatus stream that follows the "
            "log (replayed history and initial state not included).",
            registry=registry,
            buckets=_LATENCY_BUCKETS,
        )
        self._lag = Histogram(
            "quantum_watch_lag_events",
            "Events waiting in a watcher's queue each time its stream takes a batch "
            "(a watcher is ended at watch_max_lag).",
            registry=registry,
            buckets=(0, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000),
        )
        self._lagging = Counter(
            "quantum_watches_ended_lagging",
            "Watchers ended with WATCH_LAGGING (RESOURCE_EXHAUSTED): their queue filled.",
            registry=registry,
        )
        self._resumes = Counter(
            "quantum_watch_resumes",
            "WatchStatus calls with a start_revision, by where their history came from "
            "(ring: memory, log: the database) or 'compacted' (REVISION_COMPACTED).",
            ("source",),
            registry=registry,
        )
        for source in (RESUMED_FROM_RING, RESUMED_FROM_LOG, RESUME_COMPACTED):
            self._resumes.labels(source)
        self._compactions = Counter(
            "quantum_event_log_compactions",
            "Compaction passes that removed events from the log.",
            registry=registry,
        )
        self._compacted = Counter(
            "quantum_event_log_compacted_events",
            "Events removed from the log by compaction.",
            registry=registry,
        )
        self._apply = Histogram(
            "quantum_backend_apply_seconds",
            "ApplyChange calls to a back-end, each attempt, until it answers or fails.",
            ("backend",),
            registry=registry,
            buckets=_LATENCY_BUCKETS,
        )
        self._retries = Counter(
            "quantum_dispatch_retries",
            "ApplyChange attempts that failed with a retryable code and are tried again.",
            ("backend",),
            registry=registry,
        )
        self._dispatch = Histogram(
            "quantum_dispatch_seconds",
            "From a change's recording in the outbox to its leaving it (the back-end "
            "answered or refused), retries and back-end outages included.",
            ("backend",),
            registry=registry,
            buckets=_LATENCY_BUCKETS,
        )

    def delivered(self, events: Sequence[LogEvent], queued: int) -> None:
        self._lag.observe(queued)
        sent = time.time()
        observe = self._delivery.observe
        for event in events:
            if event.committed_at:
                observe(max(sent - event.committed_at, 0.0))

    def ended_lagging(self) -> None:
        self._lagging.inc()

    def resumed(self, source: str) -> None:
        self._resumes.labels(source).inc()

    def compacted(self, events: int) -> None:
        if events:
            self._compactions.inc()
            self._compacted.inc(events)

    def applied(self, backend: str, seconds: float, retried: bool) -> None:
        self._apply.labels(backend).observe(seconds)
        if retried:
            self._retries.labels(backend).inc()

    def dispatched(self, backend: str, recorded_at: datetime) -> None:
        waited = (now() - _aware(recorded_at)).total_seconds()
        self._dispatch.labels(backend).observe(max(waited, 0.0))


class MetricsInterceptor(grpc.aio.ServerInterceptor):
    """Counts every RPC (started, handled by code, messages, time); see the module doc."""

    def __init__(self, metrics: RpcMetrics) -> None:
        self._metrics = metrics
        self._wrapped = WrappedHandlers()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        return self._wrapped.get(method, handler, lambda: self._wrap(method, handler))

    def _wrap(self, method: str, handler: Handler) -> Handler:
        service, name = _split(method)
        call = _Call(self._metrics, (service, name, rpc_type(handler)), method == WATCH_METHOD)
        return rewrap(handler, call.wrap)


@dataclass(frozen=True)
class _Call:
    metrics: RpcMetrics
    labels: tuple[str, str, str]
    is_watch: bool

    def _started(self) -> float:
        self.metrics.started.labels(*self.labels).inc()
        self.metrics.received.labels(*self.labels).inc()
        return time.perf_counter()

    def _ended(self, began: float, context: Context, error: BaseException | None) -> None:
        if isinstance(error, asyncio.CancelledError):
            code = grpc.StatusCode.CANCELLED
        elif error is not None and not isinstance(error, grpc.aio.AbortError):
            code = grpc.StatusCode.UNKNOWN
        else:
            code = context.code() or grpc.StatusCode.OK
        self.metrics.handled.labels(*self.labels, code.name).inc()
        self.metrics.seconds.labels(*self.labels).observe(time.perf_counter() - began)

    def wrap(self, behavior: Any) -> Any:
        if inspect.isasyncgenfunction(behavior):
            return self._stream(behavior)
        if self.labels[2] == "UNARY":
            return self._unary(behavior)
        return self._writer(behavior)  # a stream sent with context.write()

    def _unary(self, behavior: Any) -> Any:
        async def counted(request: Any, context: Context) -> Any:
            began, error = self._started(), None
            try:
                answer = await behavior(request, context)
                self.metrics.sent.labels(*self.labels).inc()
                return answer
            except BaseException as exc:
                error = exc
                raise
            finally:
                self._ended(began, context, error)

        return counted

    def _stream(self, behavior: Any) -> Any:
        async def counted(request: Any, context: Context) -> AsyncIterator[Any]:
            began, error, sent = self._started(), None, _Sent(self, context)
            try:
                async for item in behavior(request, context):
                    sent()
                    yield item
            except BaseException as exc:
                error = exc
                raise
            finally:
                sent.close()
                self._ended(began, context, error)

        return counted

    def _writer(self, behavior: Any) -> Any:
        """A stream handler that is a coroutine sending with ``context.write()`` (as
        WatchStatus does, its messages pre-encoded): each write is counted."""

        async def counted(request: Any, context: Context) -> None:
            began, error, sent = self._started(), None, _Sent(self, context)
            try:
                await behavior(request, _CountingContext(context, sent))
            except BaseException as exc:
                error = exc
                raise
            finally:
                sent.close()
                self._ended(began, context, error)

        return counted


class _Sent:
    """Counts one stream's messages; a watch is open (by tenant) from its first message."""

    def __init__(self, call: _Call, context: Context) -> None:
        self._counter = call.metrics.sent.labels(*call.labels)
        self._watches = call.metrics.watches if call.is_watch else None
        self._context = context
        self._tenant: str | None = None

    def __call__(self) -> None:
        self._counter.inc()
        if self._watches is not None and self._tenant is None:
            self._tenant = _tenant_of(self._context)
            self._watches.labels(self._tenant).inc()

    def close(self) -> None:
        if self._watches is not None and self._tenant is not None:
            self._watches.labels(self._tenant).dec()


def _tenant_of(context: Context) -> str:
    # The caller is known once the error interceptor admitted the call.
    try:
        caller = caller_of(context)
    except RuntimeError:
        return ""
    return "*" if caller.admin and not caller.tenant_id else caller.tenant_id


class _CountingContext:
    """The call's context, with every ``write`` counted."""

    def __init__(self, context: Context, sent: _Sent) -> None:
        self._context = context
        self._sent = sent

    async def write(self, message: Any) -> None:
        await self._context.write(message)
        self._sent()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


class ServiceCollector(Collector):
    """The core's figures, read at scrape time (in the HTTP server's thread) from the
    event loop that owns the database engine, the watch hub and the back-end links."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        store: Store,
        hub: WatchHub,
        links: BackendLinks,
        backends: Iterable[str],
    ) -> None:
        self._loop = loop
        self._store = store
        self._hub = hub
        self._links = links
        self._backends = tuple(backends)

    def collect(self) -> Iterator[Metric]:
        yield from self._in_memory()
        try:
            figures = asyncio.run_coroutine_threadsafe(self._read(), self._loop).result(
                SCRAPE_TIMEOUT
            )
        except Exception as exc:  # a scrape must not fail for want of the database
            log.warning("metrics: reading the database failed: %s", exc)
            return
        yield from figures

    def _in_memory(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "quantum_backend_up",
            "1 while the back-end is healthy and introduced, else 0.",
            labels=("backend",),
        )
        for name in self._backends:
            link = self._links.get(name)
            up.add_metric((name,), 1.0 if link is not None and link.ready.is_set() else 0.0)
        yield up
        yield GaugeMetricFamily(
            "quantum_event_log_head_revision",
            "The newest revision the watch hub has read from the event log.",
            value=self._hub.head,
        )
        yield GaugeMetricFamily(
            "quantum_event_log_floor_revision",
            "The oldest revision still kept (older ones are compacted away).",
            value=self._hub.floor,
        )

    async def _read(self) -> list[Metric]:
        resources = GaugeMetricFamily(
            "quantum_resources",
            "Resources by kind and status.",
            labels=("kind", "status"),
        )
        async with self._store.read() as conn:
            for kind, status_column in _STATUSES.items():
                counted = await conn.execute(
                    select(status_column, func.count()).group_by(status_column)
                )
                for status, count in counted.all():
                    resources.add_metric((kind, status), count)
            depth, oldest = (
                await conn.execute(select(func.count(), func.min(OutboxRow.created_at)))
            ).one()
        outbox_age = 0.0 if oldest is None else (now() - _aware(oldest)).total_seconds()
        return [
            resources,
            GaugeMetricFamily(
                "quantum_outbox_depth",
                "Changes recorded but not yet handed to their back-end.",
                value=depth,
            ),
            GaugeMetricFamily(
                "quantum_outbox_oldest_seconds",
                "Age of the oldest change waiting in the outbox (0 when empty): how late "
                "dispatch is running.",
                value=max(outbox_age, 0.0),
            ),
        ]


def _aware(moment: Any) -> Any:
    # SQLite gives naive datetimes back (stored as UTC).
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=now().tzinfo)


class MetricsServer:
    """The registry, the interceptor feeding it, and the HTTP endpoint serving it."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.rpc = RpcMetrics(self.registry)
        self.service = ServiceMetrics(self.registry)
        self.interceptor = MetricsInterceptor(self.rpc)
        self._http: WSGIServer | None = None
        self.port = 0

    def start(self, listen: str, collector: Collector) -> None:
        """Serve ``/metrics`` on ``listen`` (port 0: any free port, then in ``port``)."""
        self.registry.register(collector)
        host, port = split_host_port(listen)
        self._http, _thread = start_http_server(port, addr=host, registry=self.registry)
        self.port = int(self._http.server_address[1])

    def close(self) -> None:
        """Stop the HTTP endpoint."""
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
