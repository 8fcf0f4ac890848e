"""Traffic tools run inside a "VM" network namespace: ``ip netns exec NS python traffic.py``.

Standard library only, so the script runs with any interpreter. Subcommands:

- ``echo PORT``: echo UDP datagrams back to their sender, until killed;
- ``probe HOST PORT --timeout S``: send a datagram every 50 ms until one is echoed back;
  prints JSON and exits 0 on a reply, 1 on timeout;
- ``sink PORT --duration S --wait S``: from the first datagram on, count what arrives for
  ``duration`` seconds; prints JSON with the throughput (UDP payload, Mbit/s);
- ``blast HOST PORT --duration S``: send 1400-byte datagrams as fast as possible;
- ``stream HOST PORT --duration S --every S``: send a numbered datagram every ``every``
  seconds, for ``duration`` seconds (or until SIGTERM), to an echo server; prints JSON with
  how many were sent and echoed back and the longest time without a reply (the gap);
- ``no-tx-checksum IFACE``: turn off the interface's transmit checksum offload. A veth
  hands partly-checksummed packets to whoever reads it; Open vSwitch's userspace datapath
  forwards them as they are, and the receiving VM drops them (ping's ICMP is checksummed
  in software and passes anyway).
"""

from __future__ import annotations

import argparse
import array
import contextlib
import fcntl
import json
import signal
import socket
import struct
import sys
import time

_SIOCETHTOOL = 0x8946
_ETHTOOL_STXCSUM = 0x17


def echo(port: int) -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", port))
    print("ready", flush=True)
    while True:
        data, peer = sock.recvfrom(2048)
        sock.sendto(data, peer)


def probe(host: str, port: int, timeout: float) -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(0.05)
    start = time.monotonic()
    sent = 0
    while time.monotonic() - start < timeout:
        try:
            sock.sendto(b"ping %d" % sent, (host, port))
            sent += 1
        except OSError:
            pass  # no route / no neighbour yet: keep trying until the deadline
        try:
            sock.recvfrom(2048)
        except (TimeoutError, OSError):
            continue
        print(json.dumps({"ok": True, "seconds": time.monotonic() - start, "sent": sent}))
        return 0
    print(json.dumps({"ok": False, "seconds": time.monotonic() - start, "sent": sent}))
    return 1


def sink(port: int, duration: float, wait: float) -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind(("0.0.0.0", port))
    print("ready", flush=True)
    sock.settimeout(wait)
    try:
        data = sock.recv(65536)
    except TimeoutError:
        print(json.dumps({"bytes": 0, "seconds": 0.0, "mbps": 0.0, "packets": 0}))
        return 1
    first = time.monotonic()
    total, packets = len(data), 1
    end = first + duration
    while True:
        left = end - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            total += len(sock.recv(65536))
            packets += 1
        except TimeoutError:
            break
    seconds = time.monotonic() - first
    mbps = total * 8 / seconds / 1e6
    print(json.dumps({"bytes": total, "seconds": seconds, "mbps": mbps, "packets": packets}))
    return 0


def blast(host: str, port: int, duration: float) -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    payload = b"x" * 1400
    end = time.monotonic() + duration
    sent = 0
    while time.monotonic() < end:
        for _ in range(64):
            try:
                sock.sendto(payload, (host, port))
                sent += 1
            except OSError:
                time.sleep(0.001)  # ENOBUFS: the device queue is full
    print(json.dumps({"sent": sent}))
    return 0


def stream(host: str, port: int, duration: float, every: float) -> int:
    stop: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.append(signum))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    start = time.monotonic()
    last_reply = start
    gap = 0.0
    sent = echoed = 0
    next_send = start
    print("ready", flush=True)
    while True:
        now = time.monotonic()
        if now - start >= duration or stop:
            break
        if now >= next_send:
            with contextlib.suppress(OSError):
                sock.sendto(b"seq %d" % sent, (host, port))
            sent += 1
            next_send += every
        try:
            while True:
                sock.recvfrom(2048)
                echoed += 1
                now = time.monotonic()
                gap = max(gap, now - last_reply)
                last_reply = now
        except (BlockingIOError, OSError):
            pass
        time.sleep(min(every / 4, max(0.0, next_send - time.monotonic())))
    gap = max(gap, time.monotonic() - last_reply)
    # Replies still on their way are not lost: give them a moment.
    drain = time.monotonic() + 0.5
    while echoed < sent and time.monotonic() < drain:
        try:
            sock.recvfrom(2048)
            echoed += 1
        except (BlockingIOError, OSError):
            time.sleep(0.005)
    print(json.dumps({"sent": sent, "echoed": echoed, "gap": gap}))
    return 0


def no_tx_checksum(interface: str) -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    value = array.array("B", struct.pack("II", _ETHTOOL_STXCSUM, 0))
    request = struct.pack("16sP", interface.encode(), value.buffer_info()[0])
    fcntl.ioctl(sock.fileno(), _SIOCETHTOOL, request)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("echo")
    p.add_argument("port", type=int)
    p = sub.add_parser("probe")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--timeout", type=float, default=3.0)
    p = sub.add_parser("sink")
    p.add_argument("port", type=int)
    p.add_argument("--duration", type=float, default=2.0)
    p.add_argument("--wait", type=float, default=5.0)
    p = sub.add_parser("blast")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--duration", type=float, default=2.5)
    p = sub.add_parser("stream")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--every", type=float, default=0.01)
    p = sub.add_parser("no-tx-checksum")
    p.add_argument("interface")
    args = parser.parse_args()
    if args.command == "echo":
        return echo(args.port)
    if args.command == "probe":
        return probe(args.host, args.port, args.timeout)
    if args.command == "stream":
        return stream(args.host, args.port, args.duration, args.every)
    if args.command == "no-tx-checksum":
        return no_tx_checksum(args.interface)
    if args.command == "sink":
        return sink(args.port, args.duration, args.wait)
    return blast(args.host, args.port, args.duration)


if __name__ == "__main__":
    sys.exit(main())
