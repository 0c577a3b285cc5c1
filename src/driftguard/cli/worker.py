"""``driftguard worker`` and ``driftguard scheduler``: Celery worker and beat processes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from driftguard.settings import Settings


def _configured() -> Settings:
    from driftguard.logs import configure_logging
    from driftguard.settings import load_settings

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
    metrics_port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            help="serve Prometheus metrics of every process of this worker on this port "
            "(needs PROMETHEUS_MULTIPROC_DIR)",
        ),
    ] = None,
    metrics_host: Annotated[
        str, typer.Option(help="address the metrics port listens on")
    ] = "127.0.0.1",
) -> None:
    """Run a task worker: scheduled monitoring runs, webhook delivery, maintenance."""
    if pool not in ("prefork", "solo", "threads"):
        raise typer.BadParameter("prefork, threads or solo", param_hint="--pool")
    settings = _configured()
    if metrics_port is not None:
        _serve_metrics(settings, host=metrics_host, port=metrics_port)

    from driftguard.worker.app import build_celery

    app, _ = build_celery(settings)
    app.worker_main(
        [
            "worker",
            f"--concurrency={concurrency}",
            f"--pool={pool}",
            f"--loglevel={settings.log_level}",
            "--without-gossip",
            "--without-mingle",
        ]
    )


def _serve_metrics(settings: Settings, *, host: str, port: int) -> None:
    """Serve the metrics of every process of this worker. prometheus_client picks its
    multiprocess mode from PROMETHEUS_MULTIPROC_DIR when first imported, so the variable must
    be in the environment the worker starts with."""
    from driftguard.settings import Environment
    from driftguard.worker.telemetry import MULTIPROC_DIR, prepare_multiprocess_dir, serve_metrics

    token = settings.metrics_token
    if token is None and settings.environment is Environment.PRODUCTION:
        typer.echo("--metrics-port in production needs DRIFTGUARD_METRICS_TOKEN", err=True)
        raise typer.Exit(78)  # EX_CONFIG
    try:
        directory = prepare_multiprocess_dir()
    except (ValueError, OSError) as exc:
        typer.echo(f"--metrics-port: {exc} (a directory of its own per worker)", err=True)
        raise typer.Exit(78) from exc  # EX_CONFIG
    try:
        serve_metrics(
            directory,
            host=host,
            port=port,
            token=None if token is None else token.get_secret_value(),
        )
    except OSError as exc:
        typer.echo(f"--metrics-port: cannot listen on {host}:{port}: {exc.strerror}", err=True)
        raise typer.Exit(78) from exc
    typer.echo(f"worker metrics on http://{host}:{port}/metrics ({MULTIPROC_DIR}={directory})")


def scheduler() -> None:
    """Run the scheduler (Celery beat). Run exactly one; a second one by mistake wastes work
    but never runs a window twice."""
    from driftguard.worker.app import build_celery

    settings = _configured()
    app, _ = build_celery(settings, tasks=False)
    app.start(["beat", f"--loglevel={settings.log_level}"])
