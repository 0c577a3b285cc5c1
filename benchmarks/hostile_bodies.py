"""Time to refuse hostile JSON batch bodies, and the server's peak memory above idle.

    uv run python benchmarks/hostile_bodies.py [--mb 30]

Seeds a model version on a throwaway SQLite file, starts ``driftguard`` (uvicorn, one process)
on loopback, and sends each body once, up to ``--mb`` MB (the batch limit is 32 MiB). Before each
body the server's peak resident size is reset (``/proc/PID/clear_refs``); after the answer the
peak (``VmHWM``) is read and the resident size before the request subtracted.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx2

from _loadgen import Server
from ingest import seed, server_env


def _repeat(head: bytes, item: bytes, tail: bytes, size: int) -> bytes:
    count = max(1, (size - len(head) - len(tail)) // (len(item) + 1))
    return head + (item + b",") * (count - 1) + item + tail


_ROW = b'{"prediction_id":"p","timestamp":"2026-10-01T00:00:00Z","prediction":{"score":1},'


def _rows(features: bytes, count: int = 10_000) -> bytes:
    return b'{"rows":[' + b",".join([_ROW + b'"features":{' + features + b"}}"] * count) + b"]}"


def _valid() -> bytes:
    rows = [
        b'{"prediction_id":"p%d","timestamp":"2026-10-01T00:00:00Z",'
        b'"prediction":{"score":0.5},"features":{%s}}'
        % (i, b",".join(b'"f%02d":%d.25' % (j, i % 7) for j in range(20)))
        for i in range(10_000)
    ]
    return b'{"rows":[' + b",".join(rows) + b"]}"


Body = tuple[str, str, Callable[[], bytes]]


def bodies(size: int) -> dict[str, Body]:
    """name → (method, path suffix, body builder); the hostile ones about ``size`` bytes."""
    rows, labels = b'{"rows":[', b'{"labels":['
    half = size // 2
    return {
        "rows of empty objects": ("POST", "predictions", lambda: _repeat(rows, b"{}", b"]}", size)),
        "rows of zeros": ("POST", "predictions", lambda: _repeat(rows, b"0", b"]}", size)),
        "rows of empty strings": ("POST", "predictions", lambda: _repeat(rows, b'""', b"]}", size)),
        "deep nesting": ("POST", "predictions", lambda: rows + b"[" * half + b"]" * half + b"}"),
        "labels of empty objects": ("POST", "labels", lambda: _repeat(labels, b"{}", b"]}", size)),
        "reference rows of empty objects": (
            "PUT",
            "reference",
            lambda: _repeat(rows, b"{}", b"]}", size),
        ),
        "an extra field of empty objects": (
            "POST",
            "predictions",
            lambda: _repeat(b'{"rows":[],"x":[', b"{}", b"]}", size),
        ),
        "one feature of millions of members": (
            "POST",
            "predictions",
            lambda: _repeat(rows + _ROW + b'"features":{', b'"a":0', b"}}]}", size),
        ),
        "10,000 rows of a 90-item list (960k values)": (
            "POST",
            "predictions",
            lambda: _rows(b'"a":[' + b",".join([b'"ab"'] * 90) + b"]"),
        ),
        "10,000 rows of 19 objects and arrays (190k)": (
            "POST",
            "predictions",
            lambda: _rows(b'"a":[' + b",".join([b"{}"] * 15) + b"]"),
        ),
        "valid: 10,000 rows of 20 features": ("POST", "predictions", _valid),
    }


def _status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of ``pid`` in bytes."""
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {
        line.split(":")[0]: int(line.split()[1]) * 1024
        for line in lines
        if line.startswith(("VmRSS", "VmHWM"))
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=30.0, help="size of each hostile body")
    args = parser.parse_args()
    size = int(args.mb * 1_000_000)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        model_id, key = seed(url)
        env = server_env(url)
        base = f"/api/v1/models/{model_id}/versions/1/"
        print(
            "| body | MB | status | seconds | peak RSS above idle MB |\n|---|---:|---:|---:|---:|"
        )
        with Server(env) as server, httpx2.Client(base_url=server.base_url, timeout=120) as http:
            assert server.process is not None
            pid = server.process.pid
            headers = {"X-API-Key": key, "Content-Type": "application/json"}
            for name, (method, suffix, build) in bodies(size).items():
                body = build()
                Path(f"/proc/{pid}/clear_refs").write_text("5")
                idle = _status(pid)["VmRSS"]
                start = time.perf_counter()
                response = http.request(method, base + suffix, content=body, headers=headers)
                seconds = time.perf_counter() - start
                peak = _status(pid)["VmHWM"] - idle
                print(
                    f"| {name} | {len(body) / 1e6:.1f} | {response.status_code} "
                    f"| {seconds:.2f} | {peak / 1e6:.0f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
