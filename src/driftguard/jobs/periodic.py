"""Work a server process repeats in the background (embedded mode), run one way.

The scheduler's tick, the maintenance round and webhook delivery are blocking functions over a
session factory (the same ones the Celery tasks call). :func:`run_periodically` runs one of them
in a worker thread every interval until the loop is cancelled, with one behaviour for all three:

- a tick that raises is logged and the next one runs as planned (the loop outlives a bad tick);
- cancelling the loop (the app shutting down) lets a tick under way finish first, then ends.
  Cancelling would not stop its thread, which would go on using the app's engine after the app
  has disposed of it; every tick bounds its own waits (statement and lock timeouts, HTTP
  timeouts), so the wait is bounded too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import anyio.to_thread


async def run_periodically(
    tick: Callable[[], object],
    *,
    every_seconds: float,
    what: str,
    logger: logging.Logger,
    at_start: bool = False,
) -> None:
    """Run ``tick`` in a worker thread every ``every_seconds`` (the first time at once with
    ``at_start``, else after one interval) until cancelled; a failure is logged as
    ``"<what> failed"`` on ``logger``."""
    if not at_start:
        await asyncio.sleep(every_seconds)
    while True:
        running = asyncio.ensure_future(anyio.to_thread.run_sync(tick))
        try:
            await asyncio.shield(running)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await running
            raise
        except Exception:  # the loop must outlive any one bad tick
            logger.exception("%s failed", what)
        await asyncio.sleep(every_seconds)
