"""Admission control: slots, the bounded wait, and the 503 that sheds load (no timing races: a
test holds the slots itself)."""

from __future__ import annotations

import asyncio

import anyio.to_thread
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from driftguard.api.admission import Admission
from driftguard.app import create_app
from driftguard.identity.permissions import Role
from driftguard.settings import RESERVED_THREADS, Settings
from support.config import make_settings
from support.identity import auth_headers, make_team, make_user


def test_a_free_slot_is_taken_at_once_and_given_back() -> None:
    admission = Admission(limit=2, queue_size=0, wait_seconds=0)
    assert admission.try_enter()
    assert admission.try_enter()
    assert not admission.try_enter()
    admission.leave()
    assert admission.in_flight == 1
    assert admission.try_enter()


def test_a_full_queue_refuses_at_once_and_a_freed_slot_goes_to_the_first_waiter() -> None:
    async def scenario() -> None:
        admission = Admission(limit=1, queue_size=1, wait_seconds=30)
        assert await admission.enter()
        first = asyncio.create_task(admission.enter())
        await asyncio.sleep(0)
        assert admission.waiting == 1
        assert not await admission.enter()  # the queue holds one: refused without waiting
        assert not admission.try_enter()  # nor may anyone jump the queue
        admission.leave()
        assert await first
        assert (admission.in_flight, admission.waiting) == (1, 0)

    asyncio.run(scenario())


def test_a_wait_that_runs_out_is_refused_and_loses_no_slot() -> None:
    async def scenario() -> None:
        admission = Admission(limit=1, queue_size=4, wait_seconds=0.01)
        assert await admission.enter()
        assert not await admission.enter()
        assert admission.waiting == 0
        admission.leave()
        assert admission.in_flight == 0
        assert await admission.enter()

    asyncio.run(scenario())


def test_a_cancelled_waiter_does_not_take_the_slot() -> None:
    async def scenario() -> None:
        admission = Admission(limit=1, queue_size=4, wait_seconds=30)
        assert await admission.enter()
        gone = asyncio.create_task(admission.enter())
        await asyncio.sleep(0)
        gone.cancel()
        with pytest.raises(asyncio.CancelledError):
            await gone
        admission.leave()
        assert (admission.in_flight, admission.waiting) == (0, 0)

    asyncio.run(scenario())


def test_the_default_limit_never_outgrows_the_threads_or_the_pool() -> None:
    small = make_settings("sqlite://", worker_threads=8, db_pool_size=2, db_max_overflow=2)
    assert small.admission_limit == 2  # half of 4 connections
    threads = make_settings("sqlite://", worker_threads=6, db_pool_size=50, db_max_overflow=0)
    assert threads.admission_limit == 6 - RESERVED_THREADS
    assert make_settings("sqlite://").admission_queue == make_settings("sqlite://").admission_limit


def test_a_limit_beyond_the_pools_is_refused_at_start_up() -> None:
    with pytest.raises(ValidationError, match="DRIFTGUARD_MAX_IN_FLIGHT may be at most 4"):
        make_settings("sqlite://", max_in_flight=5, db_pool_size=4, db_max_overflow=4)


@pytest.fixture
def one_slot(settings: Settings, engine: Engine) -> TestClient:
    configured = Settings.model_validate(
        {**settings.model_dump(), "max_in_flight": 1, "admission_wait_seconds": 0}
    )
    return TestClient(create_app(configured, engine=engine))


def test_an_overloaded_server_sheds_with_503_retry_after_and_the_error_body(
    one_slot: TestClient, session_factory: sessionmaker[Session], hasher: PasswordHasher
) -> None:
    with one_slot as client:
        team = make_team(session_factory)
        headers = auth_headers(
            client, make_user(session_factory, hasher, teams={team: Role.VIEWER})
        )
        admission: Admission = client.app.state.admission  # type: ignore[attr-defined]
        assert admission.try_enter()  # the one slot is busy
        shed = client.get("/api/v1/models", headers={**headers, "X-Request-ID": "busy-1"})
        assert shed.status_code == 503
        assert shed.headers["retry-after"] == "1"
        assert shed.json() == {
            "error": "overloaded",
            "message": shed.json()["message"],
            "details": [],
            "request_id": "busy-1",
        }
        assert "Retry-After" in shed.json()["message"]
        # Probes and the scrape still answer.
        assert client.get("/livez").status_code == 200
        assert client.get("/readyz").status_code == 200
        body = client.get("/metrics").text
        assert "driftguard_admission_rejections_total 1.0" in body
        assert "driftguard_http_requests_in_flight 1.0" in body
        admission.leave()
        assert client.get("/api/v1/models", headers=headers).status_code == 200
        assert admission.in_flight == 0


def test_the_worker_thread_pool_is_sized_from_the_settings(
    settings: Settings, engine: Engine
) -> None:
    configured = Settings.model_validate({**settings.model_dump(), "worker_threads": 12})
    with TestClient(create_app(configured, engine=engine)) as client:
        tokens = client.portal.call(
            lambda: anyio.to_thread.current_default_thread_limiter().total_tokens
        )
        assert tokens == 12
