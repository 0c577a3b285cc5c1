"""``driftguard worker`` and ``driftguard scheduler``: Celery worker and beat processes."""

from __future__ import annotations

from typing import Annotated

import typer

from driftguard.logs import configure_logging
from driftguard.settings import Settings, load_settings


def _configured() -> Settings:
    settings = load_settings()
    if settings.broker_url is None:
        typer.echo(
            "DRIFTGUARD_BROKER_URL is not set: without a broker, each server process runs "
            "scheduled work itself (embedded mode)",
            err=True,
        )
        raise typer.Exit(78)  # EX_CONFIG
    configure_logging(settings)
    return settings


def worker(
    concurrency: Annotated[
        int, typer.Option(min=1, max=64, help="tasks run at once [default: 1]")
    ] = 1,
    pool: Annotated[
        str, typer.Option(help="prefork (processes), threads or solo (this process only)")
    ] = "prefork",
) -> None:
    """Run a task worker: scheduled monitoring runs, webhook delivery, maintenance."""
    from driftguard.worker.app import build_celery

    if pool not in ("prefork", "solo", "threads"):
        raise typer.BadParameter("prefork, threads or solo", param_hint="--pool")
    settings = _configured()
    app, _ = build_celery(settings)
    app.worker_main(
        [
            "worker", f"--concurrency={concurrency}", f"--pool={pool}",
            f"--loglevel={settings.log_level}", "--without-gossip", "--without-mingle",
        ]
    )  # fmt: skip


def scheduler() -> None:
    """Run the scheduler (Celery beat). Run exactly one; a second one by mistake wastes work
    but never runs a window twice."""
    from driftguard.worker.app import build_celery

    settings = _configured()
    app, _ = build_celery(settings, tasks=False)
    app.start(["beat", f"--loglevel={settings.log_level}"])
