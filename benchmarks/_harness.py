"""Shared benchmark plumbing: one subprocess per tool, timed with a limit, memory traced.

Every tool runs in its own fresh interpreter (``python <script> --worker TOOL ...``) so that
imports, caches and peak memory of one tool cannot affect another, and a slow peer can be cut
off with a timeout. Workers print one JSON line; the parent prints a table.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

QUIET_ENV = {
    # Peers phone home by default; this machine has no internet and the retries cost time.
    "NML_DISABLE_USAGE_LOGGING": "1",
    "DO_NOT_TRACK": "1",
    "EVIDENTLY_DISABLE_TELEMETRY": "1",
    "TF_CPP_MIN_LOG_LEVEL": "3",
}


def measure(
    run: Callable[[], Any], *, repeats: int, budget_s: float, context: dict[str, Any]
) -> dict[str, Any]:
    """Median wall time over up to ``repeats`` runs (fewer once ``budget_s`` is spent).

    The timings are emitted at once (a partial result), then one more run under tracemalloc
    measures the peak of memory allocated during the call; tracemalloc slows Python-heavy code
    down a lot, so if that run hits the time limit the timings still count.
    """
    times: list[float] = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
        if sum(times) > budget_s:
            break
    result: dict[str, Any] = {"median_s": statistics.median(times), "runs": times}
    emit({**context, **result})
    tracemalloc.start()
    tracemalloc.reset_peak()
    run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {**context, **result, "peak_bytes": peak}


def emit(result: dict[str, Any]) -> None:
    import resource

    import numpy

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    result = {**result, "numpy": numpy.__version__, "max_rss_bytes": rss}
    print("RESULT " + json.dumps(result), flush=True)


def project_python() -> str | None:
    """The project's own interpreter (``uv sync`` venv), when it is not the one running."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    candidate = os.path.join(root, ".venv", "bin", "python")
    running = os.path.abspath(sys.executable)
    return candidate if os.path.exists(candidate) and candidate != running else None


def run_worker(
    script: str, args: list[str], timeout_s: float, python: str | None = None
) -> dict[str, Any]:
    env = {**os.environ, **QUIET_ENV}
    note = ""
    try:
        proc = subprocess.run(
            [python or sys.executable, script, *args],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=env,
            check=False,
        )
        stdout, stderr = proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout or b""
        stdout = out.decode() if isinstance(out, bytes) else out
        stderr = ""
        note = f"timed out after {timeout_s:.0f} s"
    found = [line for line in stdout.splitlines() if line.startswith("RESULT ")]
    if found:
        result: dict[str, Any] = json.loads(found[-1][len("RESULT ") :])
        if note:
            result["note"] = f"{result.get('note', '')} (memory run {note})".strip()
        return result
    if note:
        return {"error": note}
    tail = (stderr.strip().splitlines() or ["no output"])[-1]
    return {"error": tail[:200]}


def mib(value: float | None) -> str:
    return "-" if value is None else f"{value / 2**20:.1f}"


def table(rows: list[dict[str, Any]], baseline: str) -> str:
    """Markdown table: median seconds, ratio to DriftGuard, traced peak memory."""
    bases = {r.get("numpy"): r for r in rows if r["tool"] == baseline and "median_s" in r}
    lines = [
        "| tool | median s | x DriftGuard (same numpy) | peak traced MiB | max RSS MiB "
        "| fit s | runs | note |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        if "median_s" not in r:
            lines.append(f"| {r['tool']} | - | - | - | - | - | 0 | {r.get('error', '')} |")
            continue
        base = bases.get(r.get("numpy")) or next(iter(bases.values()), None)
        ratio = r["median_s"] / base["median_s"] if base else float("nan")
        label = f"{r['tool']} (numpy {r.get('numpy', '?')})"
        fit = f"{r['fit_s']:.3f}" if r.get("fit_s") is not None else "-"
        lines.append(
            f"| {label} | {r['median_s']:.3f} | {ratio:.1f} | "
            f"{mib(r.get('peak_bytes'))} | {mib(r.get('max_rss_bytes'))} | {fit} | "
            f"{len(r['runs'])} | {r.get('note', '')} |"
        )
    return "\n".join(lines)
