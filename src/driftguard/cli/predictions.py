"""``driftguard predictions``: prediction storage maintenance (partitions ahead, retention)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from driftguard.cli.errors import exit_on_domain_error
from driftguard.cli.groups import command_group

if TYPE_CHECKING:
    from driftguard.ingest import storage_maintenance

predictions_app = command_group("Prediction storage: partitions and retention.")


@predictions_app.command("maintain")
def maintain() -> None:
    """Prepare the time partitions ahead and apply DRIFTGUARD_PREDICTION_RETENTION_DAYS, as the
    maintenance jobs do at start-up and every maintenance interval."""
    from driftguard.cli.sessions import engine_for, session_factory
    from driftguard.ingest import storage_maintenance
    from driftguard.lifecycle import retention
    from driftguard.settings import load_settings

    settings = load_settings()
    with engine_for(settings) as engine, exit_on_domain_error():
        factory = session_factory(engine, settings)
        result = storage_maintenance.run_maintenance(
            factory, settings, hold=retention.prediction_hold
        )
    if result.skipped:
        typer.echo("another process is maintaining prediction storage; nothing done")
        return
    typer.echo(f"partitions created: {', '.join(result.created) or 'none'}")
    if result.purged is not None:
        typer.echo(_purged(result.purged))


@predictions_app.command("purge")
def purge(
    older_than_days: Annotated[
        int, typer.Option(min=1, help="purge raw predictions older than this many days")
    ],
    yes: Annotated[bool, typer.Option("--yes", help="confirm the deletion")] = False,
) -> None:
    """Delete raw predictions (blocks, key rows, labels) older than the given age, rounded
    down to UTC midnight. Reports, runs and per-block counts stay. Audited. Versions of EU AI
    Act high-risk models keep 183 days (Art. 19) unless a retention exception is in force."""
    from driftguard.audit.schemas import SYSTEM
    from driftguard.cli.sessions import engine_for, session_factory
    from driftguard.db.session import unit_of_work
    from driftguard.ingest import storage_maintenance
    from driftguard.lifecycle import retention
    from driftguard.settings import load_settings

    if not yes:
        typer.echo("refusing to delete predictions without --yes", err=True)
        raise typer.Exit(2)
    now = datetime.now(UTC)
    before = now - timedelta(days=older_than_days)
    settings = load_settings()
    with (
        engine_for(settings) as engine,
        exit_on_domain_error(),
        unit_of_work(session_factory(engine, settings)) as session,
    ):
        hold = retention.prediction_hold(session, now)
        result = storage_maintenance.purge(session, before=before, actor=SYSTEM, hold=hold)
    typer.echo(_purged(result))


def _purged(result: storage_maintenance.PurgeResult) -> str:
    return (
        f"purged predictions before {result.before:%Y-%m-%d}: {result.blocks} blocks, "
        f"{result.records} predictions, {result.labels} labels; "
        f"{len(result.partitions_dropped)} partitions dropped; "
        f"{result.blocks_counted} blocks counted against their reference first"
        + (
            f"; kept since {result.held_since:%Y-%m-%d} for {result.held_versions} versions: "
            f"{result.held_reason}"
            if result.held_since is not None
            else ""
        )
    )
