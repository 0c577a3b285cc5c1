"""A small closed-loop HTTP load generator for the API benchmarks (loopback only, bounded)."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx2
import numpy as np


@dataclass(frozen=True)
class LoadResult:
    name: str
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    def row(self) -> str:
        return (
            f"| {self.name} | {self.requests} | {self.errors} | {self.throughput:,.0f} | "
            f"{self.p50_ms:.1f} | {self.p95_ms:.1f} | {self.p99_ms:.1f} |"
        )


TABLE_HEADER = (
    "| scenario | requests | errors | req/s | p50 ms | p95 ms | p99 ms |\n"
    "|---|---:|---:|---:|---:|---:|---:|"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`driftguard serve` in a child process, on loopback, stopped when the block ends."""

    def __init__(
        self, env: dict[str, str], *, workers: int = 1, log_path: Path | None = None
    ) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env}
        self.workers = workers
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        command = [
            sys.executable, "-m", "uvicorn", "driftguard.api.asgi:app", "--factory",
            "--http", "driftguard.api.http_protocol:GuardedH11Protocol",
            "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
            "--workers", str(self.workers), "--no-access-log",
        ]  # fmt: skip
        # The server's JSON log goes to a file when asked, else nowhere: a terminal would be the
        # bottleneck.
        sink = self.log_path.open("ab") if self.log_path is not None else subprocess.DEVNULL
        try:
            self.process = subprocess.Popen(command, env=self.env, stdout=sink, stderr=sink)
        finally:
            if not isinstance(sink, int):
                sink.close()
        deadline = time.monotonic() + 90  # a loaded machine imports slowly
        while time.monotonic() < deadline:
            try:
                if httpx2.get(f"{self.base_url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx2.HTTPError:
                pass
            time.sleep(0.2)
        self.__exit__()
        raise RuntimeError("server did not become ready within 90 s")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server's processes have used so far (Linux /proc)."""
        assert self.process is not None
        return sum(_cpu_seconds(pid) for pid in _tree(self.process.pid))

    def __exit__(self, *_: object) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (uvicorn's worker processes)."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        found += [p for child in children for p in _tree(int(child))]
    return found


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


async def _run(
    base_url: str, paths: Sequence[str], headers: dict[str, str], clients: int, total: int
) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    next_index = 0
    limits = httpx2.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx2.AsyncClient(
        base_url=base_url, headers=headers, limits=limits, timeout=30
    ) as http:

        async def client() -> None:
            nonlocal next_index, errors
            while next_index < total:
                path = paths[next_index % len(paths)]
                next_index += 1
                started = time.perf_counter()
                response = await http.get(path)
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return latencies, errors, elapsed


def run_load(
    name: str,
    base_url: str,
    paths: Sequence[str],
    *,
    headers: dict[str, str],
    clients: int,
    total: int,
    warmup: int = 200,
) -> LoadResult:
    asyncio.run(_run(base_url, paths, headers, clients, warmup))
    latencies, errors, elapsed = asyncio.run(_run(base_url, paths, headers, clients, total))
    ms = np.asarray(latencies) * 1000
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return LoadResult(name, len(ms), errors, elapsed, float(p50), float(p95), float(p99))


async def _users(
    base_url: str,
    paths: Sequence[str],
    headers: Sequence[dict[str, str]],
    *,
    think: bool,
    seconds: float,
) -> tuple[list[float], int, int, float]:
    """One user per entry of ``headers``, each asking for ``paths`` in turn (starting at its own
    place) for ``seconds``; pausing 0.5-1.5 s between requests when ``think``. Latencies of the
    answered requests, errors (not 200, not 503), shed (503: the user waits ``Retry-After``)."""
    latencies: list[float] = []
    errors = shed = 0
    deadline = time.perf_counter() + seconds
    rng = random.Random(5)

    async def user(index: int, who: dict[str, str]) -> None:
        nonlocal errors, shed
        async with httpx2.AsyncClient(base_url=base_url, headers=who, timeout=30) as http:
            if think:  # people do not all click at the same instant
                await asyncio.sleep(rng.uniform(0, 1.5))
            turn = index
            while time.perf_counter() < deadline:
                path = paths[turn % len(paths)]
                turn += 1
                started = time.perf_counter()
                response = await http.get(path)
                if response.status_code == 503:  # admission control turned it away
                    shed += 1
                    await asyncio.sleep(float(response.headers.get("retry-after", 1)))
                    continue
                latencies.append(time.perf_counter() - started)
                errors += response.status_code != 200
                if think:
                    await asyncio.sleep(rng.uniform(0.5, 1.5))

    started = time.perf_counter()
    await asyncio.gather(*(user(i, h) for i, h in enumerate(headers)))
    return latencies, errors, shed, time.perf_counter() - started


def users(
    name: str,
    base_url: str,
    paths: Sequence[str],
    headers: Sequence[dict[str, str]],
    *,
    think: bool,
    seconds: float,
) -> LoadResult:
    """:func:`_users` after a 3 s warm-up; requests shed with 503 are counted in the name."""
    asyncio.run(_users(base_url, paths, headers, think=think, seconds=3))
    latencies, errors, shed, elapsed = asyncio.run(
        _users(base_url, paths, headers, think=think, seconds=seconds)
    )
    ms = np.asarray(latencies) * 1000
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return LoadResult(
        f"{name} ({shed} shed with 503)" if shed else name,
        len(ms), errors, elapsed, float(p50), float(p95), float(p99),
    )  # fmt: skip
