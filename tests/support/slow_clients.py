"""Slow clients against a live server, with ordinary requests measured meanwhile (loopback only,
bounded: every slow client gives up after ``give_up_seconds``).

Shared by tests/api/test_slow_client_server.py and benchmarks/slow_clients.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx2

from support.processes import DRIFTGUARD, Server

HEADERS = (
    b"GET /api/v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer x\r\n"
    b"Accept: application/json\r\nUser-Agent: slow-client\r\n\r\n"
)
BODY = b'{"email": "nobody@example.com", "password": "not-the-password-at-all"}'
LOGIN_HEADERS = (
    b"POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Content-Length: " + str(len(BODY)).encode() + b"\r\n\r\n"
)


class ServeProcess(Server):
    """``driftguard serve``, as the container image runs it (the protocol with the header
    deadline and the connection cap is wired there)."""

    def __init__(self, name: str, env: dict[str, str], logs: Path) -> None:
        super().__init__(name, env, logs)
        self.command = [DRIFTGUARD, "serve", "--host", "127.0.0.1", "--port", str(self.port)]


@dataclass
class SlowClient:
    stage: str  # "headers" or "body"
    seconds_open: float = math.inf  # connect (headers) or headers sent (body) until closed
    status_line: bytes = b""


@dataclass
class Figures:
    slow: list[SlowClient]
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)

    def p99(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]

    def longest_open(self, stage: str) -> float:
        return max(c.seconds_open for c in self.slow if c.stage == stage)

    def report(self) -> str:
        closed = Counter((c.stage, c.status_line.decode(errors="replace")) for c in self.slow)
        return (
            f"ordinary requests: {len(self.latencies)}, statuses {dict(self.statuses)}, "
            f"p50 {sorted(self.latencies)[len(self.latencies) // 2] * 1000:.1f} ms, "
            f"p99 {self.p99() * 1000:.1f} ms, max {max(self.latencies) * 1000:.1f} ms\n"
            f"slow clients closed: {dict(closed)}; longest open: headers "
            f"{self.longest_open('headers'):.2f} s, body {self.longest_open('body'):.2f} s"
        )


async def _trickle(
    client: SlowClient,
    *,
    host: str,
    port: int,
    source: str,
    head: bytes,
    trickled: bytes,
    interval: float,
    give_up_seconds: float,
    started: asyncio.Event,
) -> None:
    reader, writer = await asyncio.open_connection(host, port, local_addr=(source, 0))
    begun = time.monotonic()
    try:
        if head:
            writer.write(head)
            await writer.drain()
            begun = time.monotonic()
        started.set()

        async def send_slowly() -> None:
            for byte in trickled:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(interval)
            await asyncio.sleep(give_up_seconds)  # everything sent: wait for the answer

        sender = asyncio.create_task(send_slowly())
        try:
            async with asyncio.timeout(give_up_seconds):
                answer = await reader.read(4096)
                client.status_line = answer.split(b"\r\n", 1)[0]
                while answer:  # until the server closes the connection
                    answer = await reader.read(4096)
            client.seconds_open = time.monotonic() - begun
        except ConnectionError:  # closed while a trickled byte was on its way: a reset
            client.seconds_open = time.monotonic() - begun
        except TimeoutError:
            pass  # still open: seconds_open stays infinite
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await sender
    finally:
        writer.close()


async def run_scenario(
    base_url: str,
    *,
    token: str,
    header_clients: int,
    body_clients: int,
    sources: list[str],
    interval: float = 0.5,
    ordinary_concurrency: int = 2,
    give_up_seconds: float = 30.0,
) -> Figures:
    """Start the slow clients (spread over the ``sources`` loopback addresses), then send
    ordinary requests from 127.0.0.1 until every slow client is closed or has given up."""
    host, port = "127.0.0.1", int(base_url.rsplit(":", 1)[1])
    slow = [SlowClient("headers") for _ in range(header_clients)] + [
        SlowClient("body") for _ in range(body_clients)
    ]
    figures = Figures(slow=slow)
    started = [asyncio.Event() for _ in slow]
    tasks = [
        asyncio.create_task(
            _trickle(
                client,
                host=host,
                port=port,
                source=sources[index % len(sources)],
                head=b"" if client.stage == "headers" else LOGIN_HEADERS,
                trickled=HEADERS if client.stage == "headers" else BODY,
                interval=interval,
                give_up_seconds=give_up_seconds,
                started=event,
            )
        )
        for index, (client, event) in enumerate(zip(slow, started, strict=True))
    ]
    async with asyncio.timeout(give_up_seconds):
        await asyncio.gather(*(event.wait() for event in started))
    slow_done = asyncio.gather(*tasks)
    async with httpx2.AsyncClient(
        base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as http:

        async def ordinary() -> None:
            while not slow_done.done():
                begun = time.perf_counter()
                response = await http.get("/api/v1/models")
                figures.latencies.append(time.perf_counter() - begun)
                figures.statuses[response.status_code] += 1

        await asyncio.gather(*(ordinary() for _ in range(ordinary_concurrency)))
    await slow_done
    return figures
