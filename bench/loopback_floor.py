#!/usr/bin/env python3
"""What this machine's TCP loopback itself can do, without remora: the floors the TCP targets are
measured against (BENCHMARKS.md, "Results of one run").

    /usr/bin/python3 bench/loopback_floor.py

Prints: a blocking TCP ping-pong between two processes (32-byte messages, TCP_NODELAY), left to the
scheduler and pinned to one CPU; one TCP stream's bandwidth with 64 MiB messages; memcpy of 64 MiB
(numpy) for scale. Medians of repeated runs.
"""
import os
import socket
import statistics
import time

import numpy as np


def ping_pong(rounds=20000, cpu=None):
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    if os.fork() == 0:
        c = socket.create_connection(("127.0.0.1", port))
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(rounds):
            c.sendall(c.recv(64))
        os._exit(0)
    a, _ = server.accept()
    a.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    start = time.perf_counter()
    for _ in range(rounds):
        a.sendall(b"x" * 32)
        a.recv(64)
    elapsed = time.perf_counter() - start
    os.wait()
    os.sched_setaffinity(0, range(os.cpu_count()))
    return elapsed / rounds * 1e6


def stream_bandwidth(size=64 << 20, repeats=20):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    if os.fork() == 0:
        c = socket.create_connection(("127.0.0.1", port))
        view = memoryview(bytearray(size))
        for _ in range(repeats):
            got = 0
            while got < size:
                got += c.recv_into(view[got:], size - got)
            c.sendall(b"k")
        os._exit(0)
    a, _ = server.accept()
    data = b"x" * size
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        a.sendall(data)
        a.recv(1)
        rates.append(size / (time.perf_counter() - start) / 2**30)
    os.wait()
    return statistics.median(rates), max(rates)


def memcpy_bandwidth(size=64 << 20, repeats=20):
    src = np.ones(size, dtype=np.uint8)
    dst = np.empty_like(src)
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        np.copyto(dst, src)
        rates.append(size / (time.perf_counter() - start) / 2**30)
    return statistics.median(rates)


if __name__ == "__main__":
    print(f"load average: {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs")
    print(f"TCP ping-pong, scheduler's placement: {ping_pong():.1f} us per round trip")
    print(f"TCP ping-pong, both on CPU 0:        {ping_pong(cpu=0):.1f} us per round trip")
    median, best = stream_bandwidth()
    print(f"TCP stream, 64 MiB messages:         {median:.2f} GiB/s median, {best:.2f} best")
    print(f"memcpy 64 MiB:                       {memcpy_bandwidth():.2f} GiB/s median")
