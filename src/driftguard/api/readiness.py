"""The readiness probe's database check, answered within ``ANSWER_SECONDS`` however the
database behaves.

A frozen database holds a check for a ping and a connect (``db/budget.py``), longer than a probe
should wait. So one check runs at a time, in a worker thread, and each probe waits for it at most
``ANSWER_SECONDS``: "not ready" when it has not finished. Probes that arrive meanwhile share the
running check instead of piling up threads behind it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import anyio.to_thread
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from driftguard.db.engine import READ_ONLY_OPTION

ANSWER_SECONDS = 1.0


def database_answers(engine: Engine) -> bool:
    """One round trip to the database succeeds. A reader: on SQLite, another process's write
    lock must not make the service look down."""
    try:
        with engine.execution_options(**{READ_ONLY_OPTION: True}).connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    return True


class Readiness:
    def __init__(self, check: Callable[[], bool], *, answer_seconds: float = ANSWER_SECONDS):
        self._check = check
        self._answer_seconds = answer_seconds
        self._running: asyncio.Task[bool] | None = None

    async def database_ready(self) -> bool:
        """Whether the database answered a check within the answer bound; a slow check keeps running
        for the next probe."""
        if self._running is None or self._running.done():
            self._running = asyncio.create_task(anyio.to_thread.run_sync(self._check))
        try:
            # shield: a probe that gives up leaves the check running for the next probe.
            return await asyncio.wait_for(asyncio.shield(self._running), self._answer_seconds)
        except TimeoutError:
            return False
