"""Traffic tools run inside a "VM" network namespace: ``ip netns exec NS python traffic.py``.

Standard library only, so the script runs with any interpreter. Subcommands:

- ``echo PORT``: echo UDP datagrams back to their sender, until killed;
- ``probe HOST PORT --timeout S``: send a datagram every 50 ms until one is echoed back;
  prints JSON and exits 0 on a reply, 1 on timeout;
- ``sink PORT --duration S --wait S``: from the first datagram on, count what arrives for
  ``duration`` seconds; prints JSON with the throughput (UDP payload, Mbit/s);
- ``blast HOST PORT --duration S``: send 1400-byte datagrams as fast as possible.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time


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
    args = parser.parse_args()
    if args.command == "echo":
        return echo(args.port)
    if args.command == "probe":
        return probe(args.host, args.port, args.timeout)
    if args.command == "sink":
        return sink(args.port, args.duration, args.wait)
    return blast(args.host, args.port, args.duration)


if __name__ == "__main__":
    sys.exit(main())
