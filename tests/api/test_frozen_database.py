"""A database that stops answering without closing its connections (a SIGSTOPped server, a
paused VM) costs a request a 503 with Retry-After within 5 s, and /readyz answers within 2 s; the
service recovers by itself when the database answers again. On SQLite, the same for a request
that waits on another process's write lock. Real server processes; the freeze is a proxy's
(tests/support/freezable_proxy.py), never the shared database server's."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.config import POSTGRES_URL
from support.frozen_database import (
    Answer,
    measure_postgres_freeze,
    measure_sqlite_lock,
    postgres_behind_proxy,
    sqlite_server,
)

REQUEST_BOUND = 5.0
READYZ_BOUND = 2.0
# Reconnecting is one connect (at most 2 s) once the database answers; the rest is margin for
# a loaded machine.
RECOVERY_BOUND = 15.0


def _unavailable(answer: Answer, bound: float) -> None:
    assert answer.status == 503, answer
    assert answer.retry_after is not None, answer
    assert int(answer.retry_after) > 0, answer
    assert answer.seconds < bound, answer


@pytest.mark.xdist_group("processes")  # not beside another test that boots servers
@pytest.mark.skipif(POSTGRES_URL is None, reason="runs with DRIFTGUARD_TEST_POSTGRES_URL set")
def test_a_frozen_postgres_is_503_within_5_s_and_recovers_on_thaw(tmp_path: Path) -> None:
    assert POSTGRES_URL is not None
    with postgres_behind_proxy(POSTGRES_URL, tmp_path) as (served, proxy, direct_url):
        figures = measure_postgres_freeze(served, proxy, direct_url)
        log = served.server.output()[-4000:]
    _unavailable(figures.in_flight, REQUEST_BOUND)
    for answer in figures.arriving:
        _unavailable(answer, REQUEST_BOUND)
    for probe in figures.readyz:
        _unavailable(probe, READYZ_BOUND)
    assert figures.recovery_seconds < RECOVERY_BOUND, (figures, log)


@pytest.mark.xdist_group("processes")
def test_a_held_sqlite_write_lock_is_503_within_5_s(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    with sqlite_server(path, tmp_path) as served:
        locked, ready, after = measure_sqlite_lock(served, path)
    _unavailable(locked, REQUEST_BOUND)
    assert ready.status == 200, ready  # readers share a WAL file with the writer
    assert after.status == 200, after
