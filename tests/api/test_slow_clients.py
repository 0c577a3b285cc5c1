"""The body deadline, in process: a trickling body is answered 408 without ever taking an
admission slot, a prompt one reaches the app whole (the live-server proof is in
test_slow_client_server.py)."""

from __future__ import annotations

import asyncio
import re

import pytest
from starlette.types import Message, Receive, Scope, Send

from driftguard.api.admission import Admission, AdmissionMiddleware
from driftguard.api.slow_clients import BodyDeadline, BodyDeadlineMiddleware

LOGIN = "/api/v1/auth/login"
UPLOAD = re.compile(r"^/upload$")


def _scope(path: str, headers: list[tuple[bytes, bytes]]) -> Scope:
    return {"type": "http", "method": "POST", "path": path, "headers": headers, "state": {}}


class _Trickle:
    """A client sending ``chunks`` one every ``interval`` seconds."""

    def __init__(self, chunks: list[bytes], interval: float) -> None:
        self.chunks = chunks
        self.interval = interval

    async def __call__(self) -> Message:
        if not self.chunks:
            await asyncio.Event().wait()  # then nothing: a client that went quiet
        await asyncio.sleep(self.interval)
        body = self.chunks.pop(0)
        return {"type": "http.request", "body": body, "more_body": bool(self.chunks)}


class _App:
    """The inner app: records the body it read and whether it held a slot meanwhile."""

    def __init__(self, admission: Admission) -> None:
        self.admission = admission
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def _stack(admission: Admission, app: _App, slow: list[int]) -> BodyDeadlineMiddleware:
    admitted = AdmissionMiddleware(app, admission=admission, retry_after_seconds=1, on_reject=list)
    return BodyDeadlineMiddleware(
        admitted,
        deadline=BodyDeadline(timeout_seconds=0.5, min_rate_bytes=1000),
        max_buffered_bytes=1024,
        streamed=[UPLOAD],
        credentials_prefix="/api/v1",
        public=frozenset({("POST", LOGIN)}),
        on_too_slow=lambda: slow.append(1),
    )


async def _call(
    stack: BodyDeadlineMiddleware, scope: Scope, receive: Receive
) -> tuple[list[Message], float]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    loop = asyncio.get_running_loop()
    began = loop.time()
    await stack(scope, receive, send)
    return sent, loop.time() - began


def test_the_deadline_grows_one_second_per_min_rate_bytes() -> None:
    deadline = BodyDeadline(timeout_seconds=20, min_rate_bytes=500)
    assert deadline.remaining(started=100, received=0, now=100) == 20
    assert deadline.remaining(started=100, received=1000, now=121) == 1
    assert deadline.remaining(started=100, received=500, now=121) == 0


def test_a_trickling_body_gets_408_and_never_holds_a_slot() -> None:
    async def scenario() -> None:
        admission = Admission(limit=1, queue_size=0, wait_seconds=0)
        app, slow = _App(admission), []
        stack = _stack(admission, app, slow)
        headers = [(b"content-length", b"50")]
        trickle = _Trickle([b"x"] * 50, interval=0.05)  # 20 bytes a second
        pending = asyncio.create_task(_call(stack, _scope(LOGIN, headers), trickle))
        await asyncio.sleep(0.2)
        assert admission.in_flight == 0  # reading the body takes no slot
        sent, elapsed = await pending
        assert sent[0]["status"] == 408
        assert (b"connection", b"close") in sent[0]["headers"]
        assert elapsed < 2  # 0.5 s plus a few bytes' worth, with room for a slow machine
        assert (app.bodies, slow, admission.in_flight) == ([], [1], 0)

    asyncio.run(scenario())


def test_a_prompt_body_reaches_the_app_whole() -> None:
    async def scenario() -> None:
        admission = Admission(limit=1, queue_size=0, wait_seconds=0)
        app, slow = _App(admission), []
        stack = _stack(admission, app, slow)
        chunks = [b"a" * 300, b"b" * 300, b"c" * 300]
        sent, _ = await _call(
            stack, _scope(LOGIN, [(b"transfer-encoding", b"chunked")]), _Trickle(chunks, 0.01)
        )
        assert sent[0]["status"] == 200
        assert app.bodies == [b"a" * 300 + b"b" * 300 + b"c" * 300]
        assert slow == []

    asyncio.run(scenario())


def test_a_chunked_body_over_the_limit_gets_413_before_a_slot_is_taken() -> None:
    async def scenario() -> None:
        admission = Admission(limit=1, queue_size=0, wait_seconds=0)
        app = _App(admission)
        stack = _stack(admission, app, [])
        headers = [(b"transfer-encoding", b"chunked")]
        sent, _ = await _call(stack, _scope(LOGIN, headers), _Trickle([b"x" * 2000], 0))
        assert sent[0]["status"] == 413
        assert app.bodies == []

    asyncio.run(scenario())


def test_a_streamed_route_applies_the_same_rule_read_by_read() -> None:
    async def scenario() -> None:
        admission = Admission(limit=1, queue_size=0, wait_seconds=0)
        app, slow = _App(admission), []
        stack = _stack(admission, app, slow)
        trickle = _Trickle([b"x"] * 50, interval=0.05)
        with pytest.raises(Exception, match="arrived too slowly") as raised:
            await _call(stack, _scope("/upload", [(b"content-length", b"50")]), trickle)
        assert getattr(raised.value, "status_code", None) == 408
        assert slow == [1]

    asyncio.run(scenario())
