"""Worker metrics: each attempt's outcome, duration and queue wait, by task name; the endpoint's
token; promtool accepts the exposition."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from wsgiref.util import setup_testing_defaults

import httpx2
import pytest
from celery import Celery
from prometheus_client import generate_latest

from driftguard.db import migrate
from driftguard.db.engine import build_engine
from driftguard.errors import InvalidError
from driftguard.worker.app import build_celery
from driftguard.worker.names import PLAN_WINDOWS
from driftguard.worker.runtime import Runtime
from driftguard.worker.tasks import task_options
from driftguard.worker.telemetry import (
    PUBLISHED_AT,
    WorkerTelemetry,
    WsgiApp,
    metrics_app,
    published_at,
)
from support.config import REDIS_URL, TEST_SECRET, make_settings
from support.processes import BOOT_SECONDS, DRIFTGUARD, Process, free_port
from support.worker import flaky_task


def sample(telemetry: WorkerTelemetry, name: str, **labels: str) -> float:
    return telemetry.registry.get_sample_value(name, labels) or 0.0


def test_every_attempt_is_counted_with_its_outcome(celery: tuple[Celery, Runtime]) -> None:
    app, runtime = celery
    calls: list[int] = []
    flaky = flaky_task(app, runtime, calls)

    @app.task(name="test.invalid", **task_options(runtime))
    def invalid() -> None:
        raise InvalidError("never valid")

    flaky.apply(args=[1], task_id="recovers")  # fails once, retried, succeeds
    calls.clear()
    flaky.apply(args=[99], task_id="gives-up")  # 3 attempts, gives up
    flaky.apply(args=[99], task_id="gives-up")  # the same id again: its dead letter exists
    invalid.apply(task_id="invalid")  # not retried
    t = runtime.telemetry
    finished = "driftguard_worker_tasks_finished_total"
    assert sample(t, "driftguard_worker_tasks_started_total", task="test.flaky") == 2 + 3 + 3
    assert sample(t, finished, task="test.flaky", outcome="succeeded") == 1
    assert sample(t, finished, task="test.flaky", outcome="retried") == 1 + 2 + 2
    assert sample(t, finished, task="test.flaky", outcome="failed") == 2
    assert sample(t, "driftguard_worker_tasks_dead_lettered_total", task="test.flaky") == 1
    assert sample(t, finished, task="test.invalid", outcome="failed") == 1
    assert sample(t, finished, task="test.invalid", outcome="retried") == 0
    assert sample(t, "driftguard_worker_tasks_dead_lettered_total", task="test.invalid") == 1
    # Every finished attempt has its duration.
    assert sample(t, "driftguard_worker_task_duration_seconds_count", task="test.flaky") == 8


def test_a_registered_task_is_measured(celery: tuple[Celery, Runtime]) -> None:
    app, runtime = celery
    assert app.tasks[PLAN_WINDOWS].apply().successful()
    t = runtime.telemetry
    assert sample(t, "driftguard_worker_tasks_started_total", task=PLAN_WINDOWS) == 1
    assert (
        sample(t, "driftguard_worker_tasks_finished_total", task=PLAN_WINDOWS, outcome="succeeded")
        == 1
    )
    assert sample(t, "driftguard_worker_task_duration_seconds_sum", task=PLAN_WINDOWS) > 0


def test_queue_wait_runs_from_publication_or_a_retry_due_time() -> None:
    now = time.time()
    assert published_at(None, None) is None
    assert published_at({}, None) is None
    assert published_at({PUBLISHED_AT: "yesterday"}, None) is None
    assert published_at({PUBLISHED_AT: now}, None) == now
    later = datetime.fromtimestamp(now, UTC) + timedelta(seconds=30)
    assert published_at({PUBLISHED_AT: now}, later.isoformat()) == pytest.approx(now + 30)
    earlier = datetime.fromtimestamp(now, UTC) - timedelta(seconds=30)
    assert published_at({PUBLISHED_AT: now}, earlier.isoformat()) == now

    telemetry = WorkerTelemetry()
    telemetry.attempt_started("t", task_id="a", attempt=0, published_at=now - 12)
    telemetry.attempt_started("t", task_id="b", attempt=0, published_at=now + 60)  # skewed clock
    telemetry.attempt_started("t", task_id="c", attempt=0, published_at=None)
    assert sample(telemetry, "driftguard_worker_task_queue_wait_seconds_count", task="t") == 2
    waited = sample(telemetry, "driftguard_worker_task_queue_wait_seconds_sum", task="t")
    assert 12 <= waited < 20


def scrape(app: WsgiApp, authorization: str | None = None) -> tuple[str, bytes]:
    environ: dict[str, object] = {"PATH_INFO": "/metrics"}
    if authorization is not None:
        environ["HTTP_AUTHORIZATION"] = authorization
    setup_testing_defaults(environ)
    status: list[str] = []
    body = b"".join(app(environ, lambda code, headers, *_: status.append(code)))
    return status[0], body


def test_the_endpoint_wants_the_token_when_one_is_set() -> None:
    telemetry = WorkerTelemetry()
    telemetry.started.labels("t").inc()
    line = b'driftguard_worker_tasks_started_total{task="t"} 1.0'
    assert line in scrape(metrics_app(telemetry.registry, None))[1]
    guarded = metrics_app(telemetry.registry, "s3cret-token")
    for sent in (None, "Bearer nope", "s3cret-token"):
        status, body = scrape(guarded, sent)
        assert status.startswith("401")
        assert b"driftguard_worker" not in body
    status, body = scrape(guarded, "Bearer s3cret-token")
    assert status.startswith("200")
    assert line in body


def test_the_exposition_passes_promtool() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is missing: install Debian's prometheus package (see .ci/run)")
    telemetry = WorkerTelemetry()
    telemetry.attempt_started("driftguard.run_window", task_id="x", attempt=0, published_at=1.0)
    for outcome in ("retried", "failed"):
        telemetry.attempt_finished("driftguard.run_window", task_id="x", attempt=0, outcome=outcome)
    telemetry.dead_lettered.labels("driftguard.run_window").inc()
    checked = subprocess.run(  # noqa: S603 - a fixed local tool
        [promtool, "check", "metrics"],
        input=generate_latest(telemetry.registry),
        capture_output=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.skipif(not REDIS_URL, reason="needs Redis (.ci/run sets DRIFTGUARD_TEST_REDIS_URL)")
@pytest.mark.xdist_group("processes")
def test_a_prefork_worker_serves_the_sum_of_its_processes(tmp_path: Path) -> None:
    """``driftguard worker --concurrency 2 --metrics-port``: tasks run in pool children, the
    main process serves their counts, stale files of a previous run are wiped first."""
    assert REDIS_URL is not None
    database = f"sqlite:///{tmp_path / 'worker.db'}"
    queue = f"metrics-{uuid.uuid4().hex[:8]}"  # no other test's tasks on it
    settings = make_settings(database, broker_url=REDIS_URL, broker_queue=queue)
    engine = build_engine(settings)
    migrate.upgrade(engine)
    engine.dispose()
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_1.db").write_bytes(b"stale")
    port, token = free_port(), "worker-scrape-token-" + "w" * 20
    env = {
        "DRIFTGUARD_DATABASE_URL": database,
        "DRIFTGUARD_BROKER_URL": REDIS_URL,
        "DRIFTGUARD_ENVIRONMENT": "test",
        "DRIFTGUARD_JWT_SECRET": TEST_SECRET,
        "DRIFTGUARD_METRICS_TOKEN": token,
        "PROMETHEUS_MULTIPROC_DIR": str(directory),
        "DRIFTGUARD_BROKER_QUEUE": queue,
    }
    client, runtime = build_celery(settings, tasks=False)
    with client.connection_for_write() as connection:
        connection.default_channel.queue_purge(queue)
    process = Process(
        "metrics-worker",
        [DRIFTGUARD, "worker", "--concurrency", "2", "--metrics-port", str(port)],
        env,
        tmp_path,
    )
    url = f"http://127.0.0.1:{port}/metrics"
    headers = {"Authorization": f"Bearer {token}"}
    try:
        process.start()
        sent = 6
        for _ in range(sent):
            client.send_task(PLAN_WINDOWS)

        def scraped() -> str:
            try:
                return httpx2.get(url, headers=headers, timeout=2).text
            except httpx2.HTTPError:
                return ""

        deadline = time.monotonic() + BOOT_SECONDS
        body = ""
        while time.monotonic() < deadline and process.alive():
            body = scraped()
            done = 'outcome="succeeded",task="driftguard.plan_windows"'
            if value(body, "driftguard_worker_tasks_finished_total", done) >= sent:
                break
            time.sleep(0.3)
        assert process.alive(), process.output()[-4000:]
        assert httpx2.get(url, timeout=2).status_code == 401
        task = 'task="driftguard.plan_windows"'
        assert value(body, "driftguard_worker_tasks_started_total", task) == sent, body
        assert value(body, "driftguard_worker_task_queue_wait_seconds_count", task) == sent
        assert value(body, "driftguard_worker_task_duration_seconds_count", task) == sent
        assert not (directory / "counter_1.db").exists()
        # The counts were written by the pool's children, not the main process.
        writers = {f.stem.rsplit("_", 1)[1] for f in directory.glob("counter_*.db")}
        assert writers
        assert str(process.pid) not in writers
    finally:
        process.kill()
        with client.connection_for_write() as connection:
            connection.default_channel.queue_delete(queue)
        runtime.close()


def value(body: str, name: str, labels: str) -> float:
    """The sample of ``name`` with exactly ``labels`` (as rendered, sorted by name)."""
    for line in body.splitlines():
        if line.startswith(f"{name}{{{labels}}} "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
