"""A loopback HTTP endpoint that accepts what sentry-sdk sends and keeps it for inspection."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class SentrySink:
    def __init__(self, server: ThreadingHTTPServer) -> None:
        host, port = server.server_address[:2]
        self.dsn = f"http://publickey@{host!s}:{port}/42"
        self.bodies: list[bytes] = []

    def events(self) -> list[dict[str, Any]]:
        """Every ``event`` item of every envelope received so far."""
        found: list[dict[str, Any]] = []
        for body in self.bodies:
            lines = body.split(b"\n")
            # An envelope: a header line, then (item header, payload) pairs.
            for header, payload in zip(lines[1::2], lines[2::2], strict=False):
                if header and json.loads(header).get("type") == "event":
                    found.append(json.loads(payload))
        return found

    def wait_for_events(self, count: int, timeout_seconds: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_seconds
        while len(self.events()) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.events()


@contextmanager
def sentry_sink() -> Iterator[SentrySink]:
    holder: list[SentrySink] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            encoding = self.headers.get("Content-Encoding")
            if encoding == "gzip":
                raw = gzip.decompress(raw)
            elif encoding == "br":
                # sentry-sdk compresses with Brotli whenever the brotli module is importable
                # (WeasyPrint's font tools bring it in).
                import brotli

                raw = brotli.decompress(raw)
            elif encoding is not None:
                raise AssertionError(f"unexpected Content-Encoding {encoding!r}")
            holder[0].bodies.append(raw)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder.append(SentrySink(server))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
