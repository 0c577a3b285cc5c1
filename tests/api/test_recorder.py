"""Group commit of request audit records (api/recorder.py): shared transactions, every record
committed before its request returns, the chain intact, one bad record failing alone."""

from __future__ import annotations

import asyncio
import dataclasses
import threading

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from driftguard.api.recorder import RequestRecorder
from driftguard.audit import service as audit
from driftguard.audit.orm import AuditRecord
from driftguard.audit.schemas import SYSTEM, RequestFacts


def _facts(n: int, *, route: str = "/api/v1/models") -> RequestFacts:
    return RequestFacts(
        method="GET",
        route=route,
        status=200,
        latency_ms=1.0,
        client_addr="127.0.0.1",
        request_id=f"req-{n}",
        actor=SYSTEM,
    )


def _commits(engine: Engine) -> list[int]:
    """A list that grows by one with every commit on ``engine``."""
    seen: list[int] = []
    event.listen(engine, "commit", lambda _conn: seen.append(1))
    return seen


def _records(session_factory: sessionmaker[Session]) -> list[str | None]:
    with session_factory() as session:
        return list(session.scalars(select(AuditRecord.request_id).order_by(AuditRecord.seq)))


class _SlowFirstWrite:
    """A session factory whose first transaction waits until released, so that requests pile
    up behind it as they do under load."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory
        self.release = threading.Event()
        self.calls = 0

    def __call__(self) -> Session:
        self.calls += 1
        if self.calls == 1:
            assert self.release.wait(10)
        return self.factory()


def test_requests_finishing_together_share_a_transaction(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    commits = _commits(engine)
    slow = _SlowFirstWrite(session_factory)

    async def scenario() -> None:
        recorder = RequestRecorder()
        first = asyncio.create_task(recorder.record(slow, _facts(0), used_key=None))  # type: ignore[arg-type]
        await asyncio.sleep(0.05)  # the first write is under way
        others = [
            asyncio.create_task(recorder.record(slow, _facts(n), used_key=None))  # type: ignore[arg-type]
            for n in range(1, 31)
        ]
        await asyncio.sleep(0.05)
        assert not any(t.done() for t in [first, *others])  # nobody returns before its commit
        slow.release.set()
        await asyncio.gather(first, *others)

    asyncio.run(asyncio.wait_for(scenario(), 30))
    # One transaction for the first record, one for the 30 that queued behind it.
    assert len(commits) == 2
    assert slow.calls == 2
    assert sorted(_records(session_factory), key=lambda r: int(str(r)[4:])) == [
        f"req-{n}" for n in range(31)
    ]
    with session_factory() as session:
        assert audit.verify(session).ok


def test_a_record_alone_is_written_at_once(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    commits = _commits(engine)

    async def scenario() -> None:
        recorder = RequestRecorder()
        for n in range(3):
            await recorder.record(session_factory, _facts(n), used_key=None)
            assert _records(session_factory)[-1] == f"req-{n}"

    asyncio.run(asyncio.wait_for(scenario(), 30))
    assert len(commits) == 3


class _Refusing(_SlowFirstWrite):
    """Sessions that refuse to flush the record of request ``req-bad``."""

    def __call__(self) -> Session:
        session = super().__call__()

        def refuse(session: Session, *_: object) -> None:
            if any(getattr(o, "request_id", None) == "req-bad" for o in session.new):
                raise RuntimeError("the database refuses this record")

        event.listen(session, "before_flush", refuse)
        return session


def test_a_bad_record_fails_alone(session_factory: sessionmaker[Session]) -> None:
    slow = _Refusing(session_factory)
    bad = dataclasses.replace(_facts(0), request_id="req-bad")

    async def scenario() -> list[BaseException | None]:
        recorder = RequestRecorder()
        first = asyncio.create_task(recorder.record(slow, _facts(0), used_key=None))  # type: ignore[arg-type]
        await asyncio.sleep(0.05)
        batch = [
            asyncio.create_task(recorder.record(slow, facts, used_key=None))  # type: ignore[arg-type]
            for facts in (_facts(1), bad, _facts(2))
        ]
        await asyncio.sleep(0.05)
        slow.release.set()
        return await asyncio.gather(first, *batch, return_exceptions=True)

    outcomes = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert [o is None for o in outcomes] == [True, True, False, True]
    assert isinstance(outcomes[2], Exception)
    assert sorted(r for r in _records(session_factory) if r) == ["req-0", "req-1", "req-2"]
    with session_factory() as session:
        assert audit.verify(session).ok


def test_a_request_that_stops_waiting_still_has_its_record_written(
    session_factory: sessionmaker[Session],
) -> None:
    slow = _SlowFirstWrite(session_factory)

    async def scenario() -> None:
        recorder = RequestRecorder()
        first = asyncio.create_task(recorder.record(slow, _facts(0), used_key=None))  # type: ignore[arg-type]
        await asyncio.sleep(0.05)
        gone = asyncio.create_task(recorder.record(slow, _facts(1), used_key=None))  # type: ignore[arg-type]
        await asyncio.sleep(0.05)
        gone.cancel()
        with pytest.raises(asyncio.CancelledError):
            await gone
        slow.release.set()
        await first
        # The lead was not lost: a later request is written too.
        await asyncio.wait_for(recorder.record(session_factory, _facts(2), used_key=None), 10)

    asyncio.run(asyncio.wait_for(scenario(), 30))
    assert sorted(r for r in _records(session_factory) if r) == ["req-0", "req-1", "req-2"]


def test_without_group_commit_each_record_has_its_own_transaction(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    commits = _commits(engine)

    async def scenario() -> None:
        recorder = RequestRecorder(group_commit=False)
        await asyncio.gather(
            *(recorder.record(session_factory, _facts(n), used_key=None) for n in range(5))
        )

    asyncio.run(asyncio.wait_for(scenario(), 30))
    assert len(commits) == 5
    assert sorted(r for r in _records(session_factory) if r) == [f"req-{n}" for n in range(5)]
    with session_factory() as session:
        assert audit.verify(session).ok
