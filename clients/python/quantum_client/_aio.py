"""The asyncio client (grpc.aio)."""

from __future__ import annotations

import time
from asyncio import sleep
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable
from types import TracebackType
from typing import Any, Literal, TypeVar, overload

import grpc

from quantum_api.errors import QuantumError, ResourceDeleted, WaitTimeout
from quantum_api.v1 import (
    attachment_service_pb2 as att_pb,
    network_service_pb2 as net_pb,
    port_service_pb2 as port_pb,
    watch_service_pb2 as watch_pb,
)
from quantum_client import _requests as rq
from quantum_client._errors import call_error, token_expired
from quantum_client._gone import gone_spec
from quantum_client._settings import CHANNEL_OPTIONS, RetryPolicy, Settings
from quantum_client._stubs import Stubs
from quantum_client._tokens import TokenLike, TokenSource
from quantum_client._watching import Cursor, OnRetry, OnUpdate, StreamEnd, Waiter, wait_spec
from quantum_client.resources import KindLike, StatusLike, resource_of
from quantum_client.types import (
    AnyResource,
    Attachment,
    DeleteNetworkResponse,
    DeletePortResponse,
    Network,
    PlugAttachmentResponse,
    Port,
    QosPolicy,
    UnplugAttachmentResponse,
    WatchEvent,
    WatchStatusRequest,
)

__all__ = ["AsyncClient"]

DEFAULT_TIMEOUT = 30.0
# wait_for(resource, ...) returns a resource of the kind it was given.
ResourceT = TypeVar("ResourceT", Network, Port, Attachment)


class AsyncClient:
    """An asyncio client of the Quantum API; create it inside the running event loop.

    Every method raises the catalogue's exceptions (:mod:`quantum_api.errors`), which
    carry the gRPC ``code`` and the ErrorInfo ``reason``. Reads, creates (made safe by a
    request id generated per call) and plugs are retried on UNAVAILABLE with backoff.

    Example:
        >>> async with AsyncClient(tenant="acme") as quantum:
        ...     net = await quantum.create_network("web")
        ...     port = await quantum.create_port(net.id)
        ...     await quantum.plug(port.id, "vif-1")
        ...     port = await quantum.wait_for(port, "ACTIVE", timeout=60)
    """

    def __init__(
        self,
        url: str | None = None,
        tenant: str | None = None,
        *,
        admin: bool | None = None,
        token: TokenLike | TokenSource | None = None,
        token_file: str | None = None,
        tls: bool | None = None,
        ca: str | None = None,
        cert: str | None = None,
        key: str | None = None,
        settings: Settings | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        channel: grpc.aio.Channel | None = None,
    ) -> None:
        """Connect (lazily) to the server.

        Args:
            url: ``grpcs://host:port`` for TLS, ``host:port`` (or ``grpc://host:port``)
                for plaintext; defaults to ``$QUANTUM_URL``, then ``127.0.0.1:9696``.
            tenant: The caller's tenant; defaults to ``$QUANTUM_TENANT`` (required
                without a token).
            admin: Act as an administrator; defaults to ``$QUANTUM_ADMIN``.
            token: The bearer token: the token itself (``str``), a file holding it
                (``pathlib.Path``, read again on every call), or a function returning
                the current one; defaults to ``$QUANTUM_TOKEN``.
            token_file: A token file (read again on every call, so a rotated file is
                picked up); defaults to ``$QUANTUM_TOKEN_FILE``.
            tls: Use TLS with a bare ``host:port``; defaults to ``$QUANTUM_TLS``, and is on
                when a CA or client certificate is given.
            ca: PEM file of the CAs to trust; defaults to ``$QUANTUM_CA``, then the
                system's roots.
            cert: PEM client certificate for a server that requires one
                (``$QUANTUM_CERT``), with ``key`` its private key (``$QUANTUM_KEY``).
            settings: Settings already resolved (:meth:`Settings.resolve`), used instead
                of the connection arguments above.
            timeout: Deadline in seconds of each unary call; None for none.
            retry: How UNAVAILABLE is retried and streams resumed.
            channel: A channel to use instead of one to ``url``; it is not closed by
                :meth:`close`.

        Raises:
            TenantRequired: when neither a tenant nor a token is given either way.
            SettingsError: unusable TLS or token settings (a file that cannot be read,
                a certificate without its key).
        """
        self.settings = settings or Settings.resolve(
            url, tenant, admin, tls=tls, ca=ca, cert=cert, key=key, token=token,
            token_file=token_file,
        )  # fmt: skip
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._owns_channel = channel is None
        if channel is None:
            credentials = self.settings.credentials()
            target = self.settings.target
            channel = (
                grpc.aio.insecure_channel(target, options=CHANNEL_OPTIONS)
                if credentials is None
                else grpc.aio.secure_channel(target, credentials, options=CHANNEL_OPTIONS)
            )
        self._channel = channel
        # The raw per-service stubs, for callers that need the protos as they are.
        self.stubs = Stubs(self._channel)

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        """The call metadata naming the caller, with the current token, for calls made on
        :attr:`stubs`."""
        return self.settings.metadata

    async def close(self) -> None:
        """Close the channel (unless it was passed in)."""
        if self._owns_channel:
            await self._channel.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- plumbing ----------------------------------------------------------------------
    async def _unary(self, method: Callable[..., Any], request: Any, *, idempotent: bool) -> Any:
        failures = 0
        while True:
            token = self.settings.current_token()
            try:
                return await method(
                    request, metadata=self.settings.metadata_with(token), timeout=self.timeout
                )
            except grpc.RpcError as exc:
                error = call_error(exc, self.settings)
                if token_expired(error) and self.settings.token_renewed(token):
                    continue  # refused before it ran: safe to send again with the new token
                failures += 1
                if (
                    not idempotent
                    or error.code != grpc.StatusCode.UNAVAILABLE
                    or failures >= self.retry.max_attempts
                ):
                    raise error from exc
            await sleep(self.retry.backoff(failures))

    async def _pages(
        self, method: Callable[..., Any], request: Any, field: str
    ) -> AsyncIterator[Any]:
        while True:
            response = await self._unary(method, request, idempotent=True)
            for item in getattr(response, field):
                yield item
            if not response.next_page_token:
                return
            request.page_token = response.next_page_token

    async def _stream(
        self,
        base: WatchStatusRequest,
        cursor: Cursor,
        *,
        deadline: float | None = None,
        on_retry: OnRetry | None = None,
        on_start: Callable[[int], object] | None = None,
    ) -> AsyncGenerator[WatchEvent, None]:
        while True:
            request = cursor.request(base)
            remaining = None
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WaitTimeout("the deadline passed")
            if on_start is not None:
                on_start(request.start_revision)
            # Every stream (every resume) carries the token current when it starts.
            token = self.settings.current_token()
            call = self.stubs.watch.WatchStatus(
                request, metadata=self.settings.metadata_with(token), timeout=remaining
            )
            end = StreamEnd()
            try:
                async for response in call:
                    for event in response.events:
                        cursor.seen(event)
                        yield event
            except grpc.RpcError as exc:
                end = StreamEnd.of(exc, self.settings, token)
            finally:
                call.cancel()
            pause = cursor.cut(end)
            if deadline is not None:
                pause = max(0.0, min(pause, deadline - time.monotonic()))
            if on_retry is not None:
                on_retry(end.error, pause)
            await sleep(pause)

    # -- networks ----------------------------------------------------------------------
    async def create_network(self, name: str, *, request_id: str | None = None) -> Network:
        """Create a network; retried safely on UNAVAILABLE thanks to its request id.

        Args:
            name: 1 to 255 characters, no control characters.
            request_id: A UUID making retries safe; one is generated when omitted.

        Returns:
            The network, AVAILABLE if the back-end confirmed at once, else PROVISIONING.
        """
        request = rq.create_network(name, request_id)
        response: net_pb.CreateNetworkResponse = await self._unary(
            self.stubs.networks.CreateNetwork, request, idempotent=True
        )
        return response.network

    async def get_network(self, network_id: str) -> Network:
        """One network with its current status."""
        request = net_pb.GetNetworkRequest(network_id=network_id)
        response: net_pb.GetNetworkResponse = await self._unary(
            self.stubs.networks.GetNetwork, request, idempotent=True
        )
        return response.network

    def list_networks(
        self, *, name: str = "", status: StatusLike | None = None, page_size: int = 0
    ) -> AsyncIterator[Network]:
        """Every network of the tenant, oldest first, fetching pages as it goes.

        Args:
            name: Only networks with exactly this name.
            status: Only networks in this status (``"AVAILABLE"``).
            page_size: Networks per page; 0 lets the server choose.
        """
        request = rq.list_networks(name, status, page_size)
        return self._pages(self.stubs.networks.ListNetworks, request, "networks")

    async def update_network(
        self, network_id: str, *, name: str | None = None, expected_revision: int = 0
    ) -> Network:
        """Change a network's name; ``expected_revision`` makes it a compare-and-swap."""
        request = rq.update_network(network_id, name, expected_revision)
        response: net_pb.UpdateNetworkResponse = await self._unary(
            self.stubs.networks.UpdateNetwork, request, idempotent=False
        )
        return response.network

    async def delete_network(
        self, network_id: str, *, expected_revision: int = 0
    ) -> DeleteNetworkResponse:
        """Delete a network without plugged ports.

        Returns:
            The last snapshot and ``deleted``; with an asynchronous back-end the network
            stays visible with ``deleting`` set until the back-end confirms.
        """
        request = net_pb.DeleteNetworkRequest(
            network_id=network_id, expected_revision=expected_revision
        )
        response: DeleteNetworkResponse = await self._unary(
            self.stubs.networks.DeleteNetwork, request, idempotent=False
        )
        return response

    async def retry_network(self, network_id: str, *, expected_revision: int = 0) -> Network:
        """Send a network left in ERROR to its back-end again, once the cause is mended.

        Not a new change: the generation stays; the network is PROVISIONING (the error
        cleared) until the back-end answers. Wait for it with ``wait_for(network, "APPLIED")``.

        Raises:
            ResourceNotInError: the network is not in ERROR (FAILED_PRECONDITION).
        """
        request = net_pb.RetryNetworkRequest(
            network_id=network_id, expected_revision=expected_revision
        )
        response: net_pb.RetryNetworkResponse = await self._unary(
            self.stubs.networks.RetryNetwork, request, idempotent=False
        )
        return response.network

    # -- ports -------------------------------------------------------------------------
    async def create_port(
        self,
        network_id: str,
        *,
        admin_state_up: bool | None = None,
        qos: QosPolicy | None = None,
        require_ready: bool = False,
        request_id: str | None = None,
    ) -> Port:
        """Create a port on a network; retried safely on UNAVAILABLE.

        Args:
            network_id: The network's UUID.
            admin_state_up: The administrative state; up when omitted.
            qos: A rate limit (``QosPolicy(rate_kbps=..., burst_kbytes=...)``).
            require_ready: Fail with RESOURCE_NOT_READY if the network is not AVAILABLE.
            request_id: A UUID making retries safe; one is generated when omitted.
        """
        request = rq.create_port(network_id, admin_state_up, qos, require_ready, request_id)
        response: port_pb.CreatePortResponse = await self._unary(
            self.stubs.ports.CreatePort, request, idempotent=True
        )
        return response.port

    async def get_port(self, port_id: str) -> Port:
        """One port with its derived status."""
        request = port_pb.GetPortRequest(port_id=port_id)
        response: port_pb.GetPortResponse = await self._unary(
            self.stubs.ports.GetPort, request, idempotent=True
        )
        return response.port

    def list_ports(
        self, network_id: str = "", *, status: StatusLike | None = None, page_size: int = 0
    ) -> AsyncIterator[Port]:
        """The ports of a network (or of the whole tenant), oldest first, page by page."""
        request = rq.list_ports(network_id, status, page_size)
        return self._pages(self.stubs.ports.ListPorts, request, "ports")

    async def update_port(
        self,
        port_id: str,
        *,
        admin_state_up: bool | None = None,
        qos: QosPolicy | None = None,
        expected_revision: int = 0,
        require_ready: bool = False,
    ) -> Port:
        """Change a port's administrative state or QoS (a rate of 0 removes the limit)."""
        request = rq.update_port(port_id, admin_state_up, qos, expected_revision, require_ready)
        response: port_pb.UpdatePortResponse = await self._unary(
            self.stubs.ports.UpdatePort, request, idempotent=False
        )
        return response.port

    async def delete_port(self, port_id: str, *, expected_revision: int = 0) -> DeletePortResponse:
        """Delete a port without an attachment; see :meth:`delete_network` for ``deleted``."""
        request = port_pb.DeletePortRequest(port_id=port_id, expected_revision=expected_revision)
        response: DeletePortResponse = await self._unary(
            self.stubs.ports.DeletePort, request, idempotent=False
        )
        return response

    async def retry_port(self, port_id: str, *, expected_revision: int = 0) -> Port:
        """Send a port left in ERROR to its back-end again (its interface included, so a
        failed plug is tried again), once the cause is mended.

        Not a new change: the generation stays; the failure is cleared and the status
        derived anew (PROVISIONING while its create is unconfirmed) until the back-end
        answers. Wait for it with ``wait_for(port, "APPLIED")``.

        Raises:
            ResourceNotInError: the port is not in ERROR (FAILED_PRECONDITION).
        """
        request = port_pb.RetryPortRequest(port_id=port_id, expected_revision=expected_revision)
        response: port_pb.RetryPortResponse = await self._unary(
            self.stubs.ports.RetryPort, request, idempotent=False
        )
        return response.port

    # -- attachments -------------------------------------------------------------------
    async def get_attachment(self, port_id: str) -> Attachment:
        """The attachment of a port (ATTACHMENT_NOT_FOUND when nothing is plugged)."""
        request = att_pb.GetAttachmentRequest(port_id=port_id)
        response: att_pb.GetAttachmentResponse = await self._unary(
            self.stubs.attachments.GetAttachment, request, idempotent=True
        )
        return response.attachment

    async def plug(
        self,
        port_id: str,
        interface_id: str,
        *,
        expected_revision: int = 0,
        require_ready: bool = False,
    ) -> PlugAttachmentResponse:
        """Plug an interface into a port.

        Plugging the interface already on the port returns it unchanged, so an
        unconditional plug is retried on UNAVAILABLE.

        Returns:
            The attachment and the port after the plug.
        """
        request = rq.plug(port_id, interface_id, expected_revision, require_ready)
        response: PlugAttachmentResponse = await self._unary(
            self.stubs.attachments.PlugAttachment, request, idempotent=expected_revision == 0
        )
        return response

    async def unplug(self, port_id: str, *, expected_revision: int = 0) -> UnplugAttachmentResponse:
        """Unplug the port's interface; the port's link goes DOWN."""
        request = att_pb.UnplugAttachmentRequest(
            port_id=port_id, expected_revision=expected_revision
        )
        response: UnplugAttachmentResponse = await self._unary(
            self.stubs.attachments.UnplugAttachment, request, idempotent=False
        )
        return response

    # -- watching ----------------------------------------------------------------------
    def watch(
        self,
        *,
        kinds: Iterable[KindLike] = (),
        resource_ids: Iterable[str] = (),
        network_id: str = "",
        statuses: dict[KindLike, StatusLike] | None = None,
        start_revision: int = 0,
        relist: bool = False,
        on_retry: OnRetry | None = None,
    ) -> AsyncGenerator[WatchEvent, None]:
        """Follow changes; the stream resumes by itself from the last revision received.

        Without ``start_revision`` it yields an ADDED event per current resource, then a
        SYNCED marker, then live events; with it, exactly the events after it. PROGRESS
        markers arrive on idle streams. A cut stream is resumed with backoff (see
        :func:`quantum_client.resumable` for which endings: UNAVAILABLE, WATCH_LAGGING, and an
        INTERNAL, UNKNOWN or CANCELLED without the server's ErrorInfo, as a proxy's cut
        surfaces), for ever unless ``retry.watch_resumes`` caps the failures in a row.

        Args:
            kinds: Only these kinds (``"port"``...); all when empty.
            resource_ids: Only these resources (an attachment also matches its port's id).
            network_id: Only this network and what is on it.
            statuses: Only snapshots in these statuses, per kind: ``{"port": "ACTIVE"}``.
            start_revision: Resume after this revision.
            relist: When the revision was compacted (OUT_OF_RANGE), start over with a full
                list (ADDED events then SYNCED: rebuild your state on SYNCED) instead of
                raising :class:`~quantum_api.errors.RevisionCompacted`.
            on_retry: Called with the error and the pause before each resume.

        Returns:
            An async generator of events, markers included; ``aclose()`` it (or use
            ``contextlib.aclosing``) to end the stream.
        """
        base = rq.watch(kinds, resource_ids, network_id, statuses)
        cursor = Cursor(self.retry, start_revision, limit=self.retry.watch_resumes, relist=relist)
        return self._stream(base, cursor, on_retry=on_retry)

    async def wait_for_status(
        self, kind: KindLike, resource_id: str, statuses: StatusLike, *, timeout: float = 60.0
    ) -> AnyResource:
        """The server-side wait (the WaitForStatus RPC); see :meth:`wait_for` for one that
        also survives a server restart. ``statuses`` may name ``"APPLIED"`` as
        :meth:`wait_for`'s may (the request's condition WAIT_CONDITION_APPLIED).

        Raises:
            ResourceFailed: the resource went to ERROR.
            ResourceDeleted: it was deleted (or the server's event log no longer tells
                whether it ever existed).
            NetworkNotFound, PortNotFound: no such resource ever existed (NOT_FOUND);
                AttachmentNotFound: its port never had an attachment.
            WaitTimeout: ``timeout`` passed first.
        """
        request = rq.wait_for_status(kind, resource_id, statuses)
        try:
            response: watch_pb.WaitForStatusResponse = await self.stubs.watch.WaitForStatus(
                request, metadata=self.settings.metadata, timeout=timeout
            )
        except grpc.RpcError as exc:
            error = call_error(exc, self.settings)
            if error.code == grpc.StatusCode.DEADLINE_EXCEEDED and not isinstance(
                error, WaitTimeout
            ):
                # The call's own deadline can beat the server's WaitTimeout to the client.
                error = WaitTimeout(f"no wanted status within {timeout:g} s")
            raise error from exc
        found = resource_of(response.resource)
        assert found is not None
        return found

    @overload
    async def wait_for(
        self,
        target: ResourceT,
        statuses: StatusLike,
        /,
        *,
        timeout: float = ...,
        on_update: OnUpdate | None = ...,
        on_retry: OnRetry | None = ...,
    ) -> ResourceT: ...
    @overload
    async def wait_for(
        self,
        target: Literal["port"],
        resource_id: str,
        statuses: StatusLike,
        /,
        *,
        timeout: float = ...,
        on_update: OnUpdate | None = ...,
        on_retry: OnRetry | None = ...,
    ) -> Port: ...
    @overload
    async def wait_for(
        self,
        target: KindLike,
        resource_id: str,
        statuses: StatusLike,
        /,
        *,
        timeout: float = ...,
        on_update: OnUpdate | None = ...,
        on_retry: OnRetry | None = ...,
    ) -> AnyResource: ...
    async def wait_for(
        self,
        target: AnyResource | KindLike,
        *spec: Any,
        timeout: float = 60.0,
        on_update: OnUpdate | None = None,
        on_retry: OnRetry | None = None,
    ) -> AnyResource:
        """Wait until a resource is in one of ``statuses``, over WatchStatus.

        ``wait_for(port, "ACTIVE", timeout=60)`` or
        ``wait_for("port", port_id, ["ACTIVE", "DOWN"], timeout=60)``. ``"APPLIED"`` among
        the statuses also waits until the back-end applied the latest change
        (``observed_generation == generation``; networks and ports): alone, in any status
        but ERROR, so ``wait_for(port, "APPLIED")`` after a QoS change. A dropped stream
        (a server restart, a proxy's cut: see :func:`quantum_client.resumable`) is resumed
        from the last revision received, with backoff, until ``timeout``; a compacted
        revision is answered by a fresh list.

        Args:
            target: A resource message, or a kind followed by the resource's id (for an
                attachment, its port's id).
            timeout: Seconds to wait in all.
            on_update: Called with every snapshot of the resource as it arrives.
            on_retry: Called with the error and the pause before each resume.

        Returns:
            The resource as it reached a wanted status.

        Raises:
            ResourceFailed: at once when it goes to ERROR; ``metadata`` carries the
                back-end's ``error_code`` and ``error_message``.
            ResourceDeleted: it does not exist (a watch cannot tell one deleted from one
                that never existed: :meth:`wait_for_status` can) or was deleted.
            WaitTimeout: ``timeout`` passed first.
        """
        found = await self._wait(Waiter(wait_spec(target, spec), on_update), timeout, on_retry)
        return found

    async def wait_deleted(
        self,
        kind: KindLike,
        resource_id: str,
        *,
        timeout: float = 60.0,
        on_update: OnUpdate | None = None,
        on_retry: OnRetry | None = None,
    ) -> None:
        """Wait until a resource is gone: its delete confirmed, or no such resource (any
        more). Over WatchStatus, resumed like :meth:`wait_for`'s.

        Args:
            kind: ``"network"``, ``"port"`` or ``"attachment"`` (named by its port's id:
                an unplug).
            resource_id: The resource's id.
            timeout: Seconds to wait in all.
            on_update: Called with every snapshot of the resource as it arrives.
            on_retry: Called with the error and the pause before each resume.

        Raises:
            WaitTimeout: ``timeout`` passed first.
        """
        try:
            await self._wait(Waiter(gone_spec(kind, resource_id), on_update), timeout, on_retry)
        except ResourceDeleted:
            return

    async def _wait(self, waiter: Waiter, timeout: float, on_retry: OnRetry | None) -> AnyResource:
        cursor = Cursor(self.retry, 0, limit=None, relist=True)
        events = self._stream(
            waiter.spec.watch_request(),
            cursor,
            deadline=time.monotonic() + timeout,
            on_retry=on_retry,
            on_start=waiter.stream_started,
        )
        try:
            async for event in events:
                done = waiter.feed(event)
                if done is not None:
                    return done
        except QuantumError as error:
            if error.code == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise waiter.timed_out(timeout) from error
            raise
        finally:
            await events.aclose()
        raise AssertionError("unreachable: the watch stream never ends by itself")
