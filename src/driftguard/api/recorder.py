"""Group commit of the per-request audit records.

Every API call leaves a record in the hash-chained audit trail, and chaining serialises the
writers: each transaction takes the chain lock, reads the head, inserts and commits (an fsync).
One transaction per request made that lock the bottleneck of every server process under load.
Here the records of requests finishing at the same time share one transaction:

* a request queues its record and waits for it to be committed (or to fail), exactly as with
  one transaction each, so nothing is acknowledged earlier than before and shutdown drains the
  queue by letting the requests finish;
* one writer task per event loop takes the whole queue, writes it in one transaction (in a
  worker thread), and repeats until the queue is empty; records queued meanwhile form the next
  transaction.

Alone, a request's record is written at once (a batch of one); under load a batch holds the
records of the requests that finished while the previous one was being written. A request that
stops waiting (cancelled) does not stop the writer: its record is written all the same.

Used on PostgreSQL, where writers queue fairly for the chain's advisory lock. SQLite has one
write lock for the whole database, taken by polling: there a single writer waiting for it behind
large ingest transactions held every request's record back at once (a benchmark shed requests
with two clients), so each request writes its own record, as before.

If a batch cannot be written, each record is retried in a transaction of its own, so that one bad
record cannot take the others with it; the failures are returned to their requests, which log
them (``ObserveMiddleware``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session, sessionmaker

from driftguard.audit import service as audit
from driftguard.audit.schemas import RequestFacts
from driftguard.db.session import unit_of_work
from driftguard.identity import auth


@dataclass
class _Entry:
    facts: RequestFacts
    used_key: int | None
    factory: sessionmaker[Session]
    outcome: asyncio.Future[BaseException | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


def _write(factory: sessionmaker[Session], entries: Sequence[_Entry]) -> None:
    with unit_of_work(factory) as session:
        for entry in entries:
            if entry.used_key is not None:
                auth.record_api_key_use(session, api_key_id=entry.used_key)
            audit.record_request(session, facts=entry.facts)


def _write_batch(entries: Sequence[_Entry]) -> list[BaseException | None]:
    """Write ``entries`` in one transaction, or else one by one; each entry's failure or None."""
    try:
        _write(entries[0].factory, entries)
    except Exception:  # one of them may be at fault: give each its own chance
        if len(entries) == 1:
            raise
    else:
        return [None] * len(entries)
    failures: list[BaseException | None] = []
    for entry in entries:
        try:
            _write(entry.factory, [entry])
        except Exception as exc:
            failures.append(exc)
        else:
            failures.append(None)
    return failures


class RequestRecorder:
    """Writes request records in shared transactions, from the event loop serving requests;
    without ``group_commit``, each in a transaction of its own."""

    def __init__(self, *, group_commit: bool = True) -> None:
        self.group_commit = group_commit
        self._queue: list[_Entry] = []
        self._writer: asyncio.Task[None] | None = None

    async def record(
        self, factory: sessionmaker[Session], facts: RequestFacts, *, used_key: int | None
    ) -> None:
        """Return once the record is committed; raise what prevented it."""
        entry = _Entry(facts, used_key, factory)
        if not self.group_commit:
            await run_in_threadpool(_write, factory, [entry])
            return
        self._queue.append(entry)
        loop = asyncio.get_running_loop()
        writer = self._writer
        if writer is None or writer.done() or writer.get_loop() is not loop:
            self._writer = loop.create_task(self._write_queue())
        failure = await entry.outcome
        if failure is not None:
            raise failure

    async def _write_queue(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            results: Sequence[BaseException | None]
            try:
                results = await run_in_threadpool(_write_batch, batch)
            except Exception as exc:
                results = [exc] * len(batch)
            except BaseException:  # the writer was stopped (shutdown): tell who still waits
                _settle(batch, [asyncio.CancelledError("the write was interrupted")] * len(batch))
                raise
            _settle(batch, results)


def _settle(batch: Sequence[_Entry], results: Sequence[BaseException | None]) -> None:
    for entry, result in zip(batch, results, strict=True):
        if entry.outcome.done():  # a request that stopped waiting has nobody to tell
            continue
        try:
            entry.outcome.set_result(result)
        except RuntimeError:  # its event loop has closed (an embedded client's short-lived loop)
            continue
