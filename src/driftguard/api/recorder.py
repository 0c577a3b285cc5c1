"""Group commit of the per-request audit records.

Every API call leaves a record in the hash-chained audit trail, and chaining serialises the
writers: each transaction takes the chain lock, reads the head, inserts and commits (an fsync).
One transaction per request made that lock the bottleneck of every server process under load.
Here the records of requests finishing at the same time share one transaction:

* the first request to arrive while no write is under way *leads*: it writes what is queued;
* requests arriving meanwhile queue and wait; when the leader's write ends it hands the lead to
  the first of them, which writes the whole queue in one transaction;
* every request still waits until its own record is committed (or has failed), exactly as with
  one transaction each, so nothing is acknowledged earlier than before and shutdown drains the
  queue by letting the requests finish.

Alone, a request writes its record at once (a batch of one); under load a batch holds the records
of the requests that finished while the previous one was being written. No thread, task or timer
is involved: the state is a queue and a flag of the event loop that serves the requests.

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


class _Lead:
    """The value a queued request receives when the lead is handed to it."""


LEAD = _Lead()


@dataclass
class _Entry:
    facts: RequestFacts
    used_key: int | None
    factory: sessionmaker[Session]
    outcome: asyncio.Future[object] = field(
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
    """Writes request records in shared transactions; used from the serving event loop."""

    def __init__(self) -> None:
        self._queue: list[_Entry] = []
        self._leading = False

    async def record(
        self, factory: sessionmaker[Session], facts: RequestFacts, *, used_key: int | None
    ) -> None:
        """Return once the record is committed; raise what prevented it."""
        entry = _Entry(facts, used_key, factory)
        self._queue.append(entry)
        if self._leading:
            outcome = await entry.outcome
            if outcome is not LEAD:  # written (or failed) in a batch another request led
                if isinstance(outcome, BaseException):
                    raise outcome
                return
        self._leading = True
        failure = await self._lead(entry)
        if failure is not None:
            raise failure

    async def _lead(self, own: _Entry) -> BaseException | None:
        """Write the queue (which holds ``own``) until it is empty or a waiting request takes
        over; the outcome of ``own``."""
        own_result: BaseException | None = None
        keep_leading = True
        try:
            while keep_leading:
                batch, self._queue = self._queue, []
                results: Sequence[BaseException | None] = [
                    asyncio.CancelledError("the write was interrupted")
                ] * len(batch)
                try:
                    results = await run_in_threadpool(_write_batch, batch)
                except Exception as exc:
                    results = [exc] * len(batch)
                finally:
                    for entry, result in zip(batch, results, strict=True):
                        if entry is own:
                            own_result = result
                        elif not entry.outcome.done():
                            entry.outcome.set_result(result)
                    keep_leading = self._hand_over()
        finally:
            if keep_leading:  # interrupted while still leading: the next request takes over
                self._leading = False
        return own_result

    def _hand_over(self) -> bool:
        """After a batch: pass the lead to the first request still waiting (False), or keep it
        while only records whose requests stopped waiting are queued (True), or drop it when the
        queue is empty (False)."""
        if not self._queue:
            self._leading = False
            return False
        successor = next((e for e in self._queue if not e.outcome.done()), None)
        if successor is None:
            return True
        successor.outcome.set_result(LEAD)  # the lead passes on: the flag stays set
        return False
