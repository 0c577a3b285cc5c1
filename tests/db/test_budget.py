"""Each round trip to the database is bounded by its unit of work's budget (db/budget.py): an
ordinary request's statement is cut at the short bound, a long unit of work's is not, and a
database that stops answering costs the client the bound, not the freeze."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from driftguard.app import create_app, route_templates
from driftguard.db.budget import BUDGET_OPTION, BoundedConnection, Budget
from driftguard.db.engine import build_engine
from driftguard.db.session import is_transient
from driftguard.http.deps import BULK_ROUTES
from support.config import POSTGRES_URL, make_settings
from support.databases import throwaway_postgres
from support.freezable_proxy import freezable_proxy

needs_postgres = pytest.mark.skipif(
    POSTGRES_URL is None, reason="runs with DRIFTGUARD_TEST_POSTGRES_URL set"
)
LONG = {BUDGET_OPTION: Budget.LONG}


@pytest.fixture
def postgres_url() -> Iterator[str]:
    assert POSTGRES_URL is not None
    with throwaway_postgres(POSTGRES_URL, "dg_budget") as url:
        yield url


def _request_engine(url: str) -> Engine:
    return build_engine(make_settings(url, db_request_timeout_seconds=0.5), budget=Budget.REQUEST)


@needs_postgres
def test_a_request_statement_is_cut_at_its_bound_and_a_long_one_is_not(postgres_url: str) -> None:
    engine = _request_engine(postgres_url)
    try:
        with engine.connect() as connection, pytest.raises(OperationalError) as cut:
            connection.execute(text("SELECT pg_sleep(1.5)"))
        assert is_transient(cut.value)
        assert "statement timeout" in str(cut.value.orig)  # the server's clean cancel
        with engine.execution_options(**LONG).connect() as connection:
            connection.execute(text("SELECT pg_sleep(1.5)"))
            # The long bound is the transaction's own: the connection goes back short.
        with engine.connect() as connection:
            assert connection.execute(text("SHOW statement_timeout")).scalar_one() == "500ms"
    finally:
        engine.dispose()


@needs_postgres
def test_a_frozen_database_costs_the_client_bound_not_the_freeze(postgres_url: str) -> None:
    url = make_url(postgres_url)
    with freezable_proxy((url.host or "127.0.0.1", url.port or 5432)) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port)
        engine = _request_engine(proxied.render_as_string(hide_password=False))
        try:
            with engine.connect() as connection:
                assert connection.execute(text("SELECT 1")).scalar_one() == 1
                proxy.freeze()
                started = time.monotonic()
                with pytest.raises(OperationalError) as frozen:
                    connection.execute(text("SELECT 1"))
                seconds = time.monotonic() - started
            assert is_transient(frozen.value)
            assert "did not answer within 1 s" in str(frozen.value.orig)
            # 0.5 s server bound + 0.5 s grace; the margin is for a loaded machine.
            assert 0.9 < seconds < 5, seconds
            proxy.thaw()
            with engine.connect() as connection:  # the dead connection was discarded
                assert connection.execute(text("SELECT 1")).scalar_one() == 1
        finally:
            proxy.thaw()
            engine.dispose()


@needs_postgres
def test_a_callers_own_timeout_keeps_the_connection(postgres_url: str) -> None:
    engine = _request_engine(postgres_url)
    try:
        with engine.connect() as connection:
            driver = connection.connection.driver_connection
            assert isinstance(driver, BoundedConnection)
            assert list(driver.notifies(timeout=0.2)) == []  # psycopg's own wait timeout
            assert connection.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()


def test_a_request_waits_for_the_sqlite_write_lock_only_its_bound(tmp_path: Path) -> None:
    path = tmp_path / "budget.db"
    settings = make_settings(
        f"sqlite:///{path}", db_request_timeout_seconds=0.5, sqlite_busy_timeout_ms=20_000
    )
    engine = build_engine(settings, budget=Budget.REQUEST)
    blocker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (x INTEGER)"))
        blocker.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        with pytest.raises(OperationalError) as locked, engine.begin() as connection:
            connection.execute(text("INSERT INTO t VALUES (1)"))
        assert is_transient(locked.value)
        assert time.monotonic() - started < 5
        # A long unit of work waits for the lock (released after a second) and writes.
        release = threading.Timer(1.0, lambda: blocker.execute("ROLLBACK"))
        release.start()
        with engine.execution_options(**LONG).begin() as connection:
            connection.execute(text("INSERT INTO t VALUES (2)"))
        release.join()
    finally:
        blocker.close()
        engine.dispose()


def test_every_bulk_route_exists(tmp_path: Path) -> None:
    app = create_app(make_settings(f"sqlite:///{tmp_path / 'routes.db'}"))
    assert set(route_templates(app).values()) >= BULK_ROUTES
