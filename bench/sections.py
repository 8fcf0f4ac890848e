"""The five measurements of ``bench.watch``; each starts its own servers.

Every function returns ``(figures, raw)``: ``figures`` go into the JSON document, ``raw``
holds the samples the plot needs.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench import fanout_worker
from bench.stack import Client, rss_kib, running_stack, sim_generations
from bench.stats import Meter, summary_ms
from quantum_api.v1 import port_pb2, watch_service_pb2 as pb

Raw = dict[str, Any]
Figures = dict[str, Any]


async def _active_port(client: Client, name: str) -> tuple[str, int]:
    """A plugged, ACTIVE port on a new network; its id and the sim's generation for it."""
    network = await client.create_network(name)
    await client.wait_for_status("network", network.id, "AVAILABLE", timeout=30)
    port = await client.active_port(network.id, f"vif-{name}")
    generation = (await sim_generations(client.stack))[port.id]
    return port.id, generation


class _Stream:
    """One WatchStatus stream read in the background; ``on_event`` sees each change."""

    def __init__(
        self,
        client: Client,
        request: pb.WatchStatusRequest,
        on_event: Callable[[Any, float], None],
    ) -> None:
        self.synced = asyncio.Event()
        self.ended = asyncio.Event()
        self.error: grpc.aio.AioRpcError | None = None
        self.messages = 0
        self.events = 0
        self._on_event = on_event
        self._call = client.stubs.watch.WatchStatus(request, metadata=client.metadata)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            async for response in self._call:
                now = time.monotonic()
                self.messages += 1
                for event in response.events:
                    self.events += 1
                    if event.type == pb.EVENT_TYPE_SYNCED:
                        self.synced.set()
                    elif event.type != pb.EVENT_TYPE_PROGRESS:
                        self._on_event(event, now)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                self.error = exc
        finally:
            self.ended.set()

    async def until(self, condition: asyncio.Event, timeout: float) -> None:
        """Wait for ``condition``; fail at once if the stream ends first."""
        async with asyncio.timeout(timeout):
            waits = [asyncio.ensure_future(e.wait()) for e in (condition, self.ended)]
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for wait in waits:
                    wait.cancel()
        if not condition.is_set():
            raise RuntimeError(f"the watch ended early: {self.error}")

    async def close(self) -> None:
        self._call.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


# -- 1. notification latency ----------------------------------------------------------------


async def notification_latency(workdir: Path, events: int) -> tuple[Figures, Raw]:
    """Report a link change as the back-end, time until a watcher receives it; one at a time."""
    async with running_stack(workdir, "sync") as stack, Client(stack, "bench-latency") as client:
        port_id, generation = await _active_port(client, "latency")
        waiting: dict[int, asyncio.Future[float]] = {}

        def on_event(event: Any, now: float) -> None:
            future = waiting.get(event.resource.port.link_status)
            if future is not None and not future.done() and event.type == pb.EVENT_TYPE_MODIFIED:
                future.set_result(now)

        request = pb.WatchStatusRequest(kinds=[pb.RESOURCE_KIND_PORT], resource_ids=[port_id])
        # The back-end's reports travel on their own connection, as a real back-end's would.
        async with Client(stack, "bench-latency") as backend:
            stream = _Stream(client, request, on_event)
            await stream.until(stream.synced, 30)
            samples: list[float] = []
            acks: list[float] = []
            up = True
            with Meter(stack) as meter:
                for _ in range(events + 20):
                    up = not up
                    link = port_pb2.LINK_STATUS_UP if up else port_pb2.LINK_STATUS_DOWN
                    waiting.clear()
                    future = waiting[link] = asyncio.get_running_loop().create_future()
                    start = time.monotonic()
                    await backend.report_link(port_id, generation, up)
                    acks.append(time.monotonic() - start)
                    samples.append(await asyncio.wait_for(future, 10) - start)
            await stream.close()
    # The first 20 warm the connections up.
    samples, acks = samples[20:], acks[20:]
    figures = {
        **summary_ms(samples),
        "report_rpc": summary_ms(acks),
        "meter": meter.result,
    }
    return figures, {"samples": samples}


# -- 2. the same by polling -----------------------------------------------------------------


@dataclass
class _Poller:
    """Polls one port's GetPort every ``interval``; fulfils ``waiting`` when it sees a link."""

    client: Client
    port_id: str
    interval: float
    polls: int = 0
    waiting: dict[int, asyncio.Future[float]] = field(default_factory=dict)

    async def run(self) -> None:
        while True:
            port = await self.client.get_port(self.port_id)
            now = time.monotonic()
            self.polls += 1
            future = self.waiting.get(port.link_status)
            if future is not None and not future.done():
                future.set_result(now)
            await asyncio.sleep(self.interval)


async def polling_latency(
    workdir: Path, interval: float, samples: int, ports: int
) -> tuple[Figures, Raw]:
    """Like notification_latency, observed by polling GetPort every ``interval``.

    ``ports`` ports are followed at once, each by its own poller (one GetPort in flight per
    port), so enough samples arrive in reasonable time; each port's next report comes after
    a random pause so reports land at random phases of the poll cycle.
    """
    async with running_stack(workdir, "sync") as stack, Client(stack, "bench-poll") as client:
        setup = await asyncio.gather(*(_active_port(client, f"poll{i}") for i in range(ports)))
        per_port = -(-samples // ports)
        found: list[float] = []
        pollers = [_Poller(client, port_id, interval) for port_id, _ in setup]

        async def follow(poller: _Poller, generation: int, backend: Client) -> None:
            up = True
            for _ in range(per_port):
                await asyncio.sleep(random.uniform(0, interval))
                up = not up
                link = port_pb2.LINK_STATUS_UP if up else port_pb2.LINK_STATUS_DOWN
                poller.waiting.clear()
                future = poller.waiting[link] = asyncio.get_running_loop().create_future()
                start = time.monotonic()
                await backend.report_link(poller.port_id, generation, up)
                found.append(await asyncio.wait_for(future, interval * 10 + 10) - start)

        async with Client(stack, "bench-poll") as backend:
            tasks = [asyncio.create_task(p.run()) for p in pollers]
            with Meter(stack) as meter:
                await asyncio.gather(
                    *(follow(p, gen, backend) for p, (_, gen) in zip(pollers, setup, strict=True))
                )
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    polls = sum(p.polls for p in pollers)
    figures = {
        "interval_s": interval,
        "ports_polled": ports,
        **summary_ms(found),
        "get_rpcs": polls,
        "get_rpcs_per_change": round(polls / len(found), 2),
        "meter": meter.result,
    }
    return figures, {"samples": found}


# -- 3. fan-out -------------------------------------------------------------------------------


async def _recv(conn: Connection, timeout: float) -> Any:
    if not await asyncio.to_thread(conn.poll, timeout):
        raise TimeoutError("a fan-out worker did not answer")
    return conn.recv()


def fanout_processes(watchers: int) -> int:
    """Client processes for ``watchers`` streams (one receives ~5,000 comfortably)."""
    return max(1, -(-watchers // 5000))


async def fanout(
    workdir: Path,
    watchers: int,
    changes: int,
    *,
    processes: int,
    per_channel: int,
) -> tuple[Figures, Raw]:
    """``watchers`` idle streams on one port; time for one change to reach them all."""
    context = multiprocessing.get_context("spawn")
    async with running_stack(workdir, "sync") as stack, Client(stack, "bench-fanout") as client:
        port_id, generation = await _active_port(client, "fanout")
        await asyncio.sleep(1.0)
        rss_before = rss_kib(stack.core_pid)
        shares = [watchers // processes + (i < watchers % processes) for i in range(processes)]
        workers: list[tuple[Any, Connection]] = []
        try:
            for share in shares:
                ours, theirs = context.Pipe()
                spec = fanout_worker.WorkerSpec(
                    stack.address, "bench-fanout", port_id, share, per_channel
                )
                process = context.Process(target=fanout_worker.run, args=(spec, theirs))
                process.start()
                workers.append((process, ours))
            open_start = time.monotonic()
            ready = await asyncio.gather(*(_recv(conn, 900) for _, conn in workers))
            open_seconds = time.monotonic() - open_start
            opened = sum(r[1] for r in ready)
            if opened != watchers:
                raise RuntimeError(f"only {opened} of {watchers} watchers synced: {ready}")
            await asyncio.sleep(2.0)
            rss_after = rss_kib(stack.core_pid)
            client_cpu_start = sum(r[2] for r in ready)
            reach_all: list[float] = []
            reach_first: list[float] = []
            with Meter(stack) as meter:
                up = True
                for _ in range(changes):
                    up = not up
                    start = time.monotonic()
                    await client.report_link(port_id, generation, up)
                    done = await asyncio.gather(*(_recv(conn, 120) for _, conn in workers))
                    if len({d[1] for d in done}) != 1:
                        raise RuntimeError(f"workers saw different revisions: {done}")
                    reach_first.append(min(d[2] for d in done) - start)
                    reach_all.append(max(d[3] for d in done) - start)
                    await asyncio.sleep(random.uniform(0.05, 0.15))
            for _, conn in workers:
                conn.send("stop")
            stopped = await asyncio.gather(*(_recv(conn, 60) for _, conn in workers))
            client_cpu = sum(s[1] for s in stopped) - client_cpu_start
        finally:
            for process, _ in workers:
                process.join(10)
                if process.is_alive():
                    process.kill()
    pauses = meter.result["wall_s"] - sum(reach_all)
    figures = {
        "watchers": watchers,
        "changes": changes,
        "client_processes": processes,
        "watchers_per_connection": per_channel,
        "reach_all": summary_ms(reach_all),
        "reach_first": summary_ms(reach_first),
        "server_rss_before_kib": rss_before,
        "server_rss_after_kib": rss_after,
        "rss_per_watcher_kib": round((rss_after - rss_before) / watchers, 2),
        "open_all_s": round(open_seconds, 2),
        "core_cpu_ms_per_change": round(meter.result["core_cpu_s"] * 1000 / changes, 2),
        "clients_cpu_ms_per_change": round(client_cpu * 1000 / changes, 2),
        "meter": {**meter.result, "pauses_between_changes_s": round(pauses, 2)},
    }
    return figures, {"reach_all": reach_all}


# -- 4. 1,000 ports to ACTIVE on the async profile -------------------------------------------


@dataclass
class _Seen:
    """When each port was seen ACTIVE, and when it became ACTIVE (its revision's time)."""

    expected: int
    at: dict[str, float] = field(default_factory=dict)  # monotonic, when seen
    lag: dict[str, float] = field(default_factory=dict)  # seen (wall) - update_time
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def see(self, port: Any, now: float) -> None:
        if port.status != port_pb2.PORT_STATUS_ACTIVE or port.id in self.at:
            return
        wall = time.time() - (time.monotonic() - now)
        self.at[port.id] = now
        self.lag[port.id] = wall - port.update_time.ToNanoseconds() / 1e9
        if len(self.at) >= self.expected:
            self.done.set()


async def ports_to_active(
    workdir: Path, mode: str, ports: int, networks: int, concurrency: int, poll_interval: float
) -> tuple[Figures, Raw]:
    """Create and plug ``ports`` ports; learn each is ACTIVE by one watch or by polling.

    The ports are spread over ``networks`` networks because the sim applies one network's
    changes one after another (3 steps of 50 ms each on ``async``). ``concurrency``
    create+plug sequences run at once. In ``poll`` mode each port is polled with GetPort
    every ``poll_interval`` from the moment its plug returned until it is seen ACTIVE.
    """
    async with running_stack(workdir, "async") as stack:
        clients = [Client(stack, "bench-ports") for _ in range(4)]
        try:
            nets = await asyncio.gather(
                *(clients[0].create_network(f"ports{i}") for i in range(networks))
            )
            await asyncio.gather(
                *(
                    clients[0].wait_for_status("network", n.id, "AVAILABLE", timeout=60)
                    for n in nets
                )
            )
            seen = _Seen(ports)
            stream = None
            if mode == "watch":
                request = pb.WatchStatusRequest(kinds=[pb.RESOURCE_KIND_PORT])
                stream = _Stream(clients[0], request, lambda e, now: seen.see(e.resource.port, now))
                await stream.until(stream.synced, 30)
            polls = 0
            pollers: list[asyncio.Task[None]] = []

            async def poll(client: Client, port_id: str) -> None:
                nonlocal polls
                while True:
                    port = await client.get_port(port_id)
                    polls += 1
                    seen.see(port, time.monotonic())
                    if port_id in seen.at:
                        return
                    await asyncio.sleep(poll_interval)

            queue: asyncio.Queue[int] = asyncio.Queue()
            for i in range(ports):
                queue.put_nowait(i)
            mutated: dict[str, float] = {}

            async def mutate(client: Client) -> None:
                while not queue.empty():
                    i = queue.get_nowait()
                    port = await client.create_port(nets[i % networks].id)
                    await client.plug(port.id, f"vif-{i}")
                    mutated[port.id] = time.monotonic()
                    if mode == "poll":
                        pollers.append(asyncio.create_task(poll(client, port.id)))

            with Meter(stack) as meter:
                start = time.monotonic()
                await asyncio.gather(*(mutate(clients[w % 4]) for w in range(concurrency)))
                mutations_done = time.monotonic() - start
                if stream is not None:
                    await stream.until(seen.done, 600)
                else:
                    await asyncio.wait_for(seen.done.wait(), 600)
                total = time.monotonic() - start
            await asyncio.gather(*pollers)
            stream_messages = 0
            if stream is not None:
                stream_messages = stream.messages
                await stream.close()
        finally:
            for client in clients:
                await client.close()
    lags = list(seen.lag.values())
    figures = {
        "mode": mode,
        "ports": ports,
        "networks": networks,
        "concurrency": concurrency,
        "all_seen_active_s": round(total, 3),
        "mutations_s": round(mutations_done, 3),
        "mutation_rpcs": 2 * ports,
        "await_rpcs": 1 if mode == "watch" else polls,
        "stream_messages": stream_messages,
        "seen_after_active": summary_ms(lags),
        "seen_after_plug": summary_ms([seen.at[p] - mutated[p] for p in seen.at]),
        "meter": meter.result,
    }
    if mode == "poll":
        figures["poll_interval_s"] = poll_interval
    curve = sorted(t - start for t in seen.at.values())
    return figures, {"seen_at": curve, "lags": lags}


# -- 5. creates per second --------------------------------------------------------------------


async def _timed(call: Awaitable[Any], latencies: list[float]) -> Any:
    start = time.monotonic()
    result = await call
    latencies.append(time.monotonic() - start)
    return result


async def creates(
    workdir: Path, sequential: int, clients: int, per_client: int, *, database_url: str = ""
) -> Figures:
    """CreatePort on the ``sync`` profile: one client in sequence, then ``clients`` at once.

    Each concurrent client has its own connection and its own network and creates its
    ports one after another. A create answers once the back-end confirmed it (status DOWN:
    created, nothing attached), so every create is a full round trip through the sim.
    ``database_url``: the core's database (default: a fresh SQLite file).
    """
    async with running_stack(workdir, "sync", database_url=database_url) as stack:
        many = [Client(stack, "bench-creates") for _ in range(clients)]
        try:
            nets = await asyncio.gather(
                *(c.create_network(f"creates{i}") for i, c in enumerate(many))
            )
            await asyncio.gather(
                *(many[0].wait_for_status("network", n.id, "AVAILABLE", timeout=60) for n in nets)
            )
            confirmed = 0
            one_latencies: list[float] = []
            with Meter(stack) as one:
                for _ in range(sequential):
                    port = await _timed(many[0].create_port(nets[0].id), one_latencies)
                    confirmed += port.status == port_pb2.PORT_STATUS_DOWN
            all_latencies: list[float] = []

            async def client_loop(client: Client, network_id: str) -> int:
                ok = 0
                for _ in range(per_client):
                    port = await _timed(client.create_port(network_id), all_latencies)
                    ok += port.status == port_pb2.PORT_STATUS_DOWN
                return ok

            with Meter(stack) as concurrent:
                results = await asyncio.gather(
                    *(client_loop(c, n.id) for c, n in zip(many, nets, strict=True))
                )
        finally:
            for client in many:
                await client.close()
    total = clients * per_client
    return {
        "sequential": {
            "creates": sequential,
            "per_second": round(sequential / one.result["wall_s"], 1),
            "confirmed": confirmed,
            "latency": summary_ms(one_latencies),
            "meter": one.result,
        },
        "concurrent": {
            "clients": clients,
            "creates": total,
            "per_second": round(total / concurrent.result["wall_s"], 1),
            "confirmed": sum(results),
            "latency": summary_ms(all_latencies),
            "meter": concurrent.result,
        },
    }


# -- 6. GetPort ---------------------------------------------------------------------------------


async def get_ports(workdir: Path, sequential: int, clients: int, per_client: int) -> Figures:
    """GetPort of one existing port: one client in sequence, then ``clients`` at once (own
    connections); beside it the floor, a health ``Check`` round trip to the same core."""
    async with running_stack(workdir, "sync") as stack:
        many = [Client(stack, "bench-get") for _ in range(clients)]
        try:
            network = await many[0].create_network("gets")
            await many[0].wait_for_status("network", network.id, "AVAILABLE", timeout=60)
            port = await many[0].create_port(network.id)
            floor: list[float] = []
            health = health_pb2_grpc.HealthStub(many[0].channel)
            for _ in range(min(sequential, 500)):
                await _timed(health.Check(health_pb2.HealthCheckRequest()), floor)
            one: list[float] = []
            with Meter(stack) as alone:
                for _ in range(sequential):
                    await _timed(many[0].get_port(port.id), one)
            every: list[float] = []

            async def client_loop(client: Client) -> None:
                for _ in range(per_client):
                    await _timed(client.get_port(port.id), every)

            with Meter(stack) as together:
                await asyncio.gather(*(client_loop(c) for c in many))

            async def check_loop(client: Client) -> None:
                check = health_pb2_grpc.HealthStub(client.channel).Check
                for _ in range(per_client):
                    await check(health_pb2.HealthCheckRequest())

            # The floor of the 32-client figure: the same calls' count of health Checks,
            # which pass the interceptors and touch no database.
            with Meter(stack) as checks:
                await asyncio.gather(*(check_loop(c) for c in many))
        finally:
            for client in many:
                await client.close()
    return {
        "sequential": {
            "gets": sequential,
            "per_second": round(sequential / alone.result["wall_s"], 1),
            "latency": summary_ms(one),
            "meter": alone.result,
        },
        "concurrent": {
            "clients": clients,
            "gets": clients * per_client,
            "per_second": round(clients * per_client / together.result["wall_s"], 1),
            "latency": summary_ms(every),
            "meter": together.result,
        },
        "floor_health_check": summary_ms(floor),
        "floor_health_check_concurrent": {
            "checks": clients * per_client,
            "per_second": round(clients * per_client / checks.result["wall_s"], 1),
            "meter": checks.result,
        },
    }
