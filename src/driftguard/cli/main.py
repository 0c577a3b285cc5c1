from __future__ import annotations

import getpass
import os
from typing import TYPE_CHECKING, Annotated

import typer

from driftguard.cli.audit import audit_app
from driftguard.cli.backup import backup, restore
from driftguard.cli.cards import card_app
from driftguard.cli.errors import exit_on_domain_error
from driftguard.cli.evidence import evidence_app
from driftguard.cli.gate import gate_app
from driftguard.cli.groups import command_group
from driftguard.cli.keys import secrets_app
from driftguard.cli.log import log_app
from driftguard.cli.predictions import predictions_app
from driftguard.cli.worker import scheduler, worker

if TYPE_CHECKING:
    from driftguard.settings import Settings

app = command_group("DriftGuard: ML model governance and monitoring.", name="driftguard")
db_app = command_group("Database schema migrations.")
users_app = command_group("User administration.")
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(log_app, name="log")
app.add_typer(audit_app, name="audit")
app.add_typer(gate_app, name="gate")
app.add_typer(predictions_app, name="predictions")
app.add_typer(secrets_app, name="secrets")
app.add_typer(card_app, name="card")
app.add_typer(evidence_app, name="evidence")
app.command()(backup)
app.command()(restore)
app.command()(worker)
app.command()(scheduler)


def run_server(settings: Settings, *, host: str, port: int) -> None:
    """Serve the app with uvicorn, behind the protocol that enforces the header deadline and the
    per-address connection cap."""
    import uvicorn

    from driftguard.api.asgi import serving_app
    from driftguard.api.http_protocol import guarded_protocol

    # DriftGuard writes its own JSON access line per request (api/observe.py).
    uvicorn.run(
        serving_app(settings),
        host=host,
        port=port,
        log_level="info",
        proxy_headers=False,
        access_log=False,
        timeout_keep_alive=settings.http_keep_alive_seconds,
        # Deadlines for request headers and a cap on connections per address (slow clients).
        http=guarded_protocol(settings),
    )


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="bind address [default: DRIFTGUARD_HOST]")
    ] = None,
    port: Annotated[int | None, typer.Option(help="port [default: DRIFTGUARD_PORT]")] = None,
) -> None:
    """Serve the API (migrate first with `driftguard db upgrade`)."""
    from driftguard.settings import load_settings

    settings = load_settings()
    run_server(settings, host=host or settings.host, port=port or settings.port)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Migrate the configured database to REVISION (default: the latest)."""
    from driftguard.cli.sessions import engine_for
    from driftguard.db import migrate
    from driftguard.settings import load_settings

    settings = load_settings()
    with engine_for(settings) as engine:
        migrate.upgrade(engine, revision, settings=settings)
        typer.echo(f"database at revision {migrate.current_revision(engine)}")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument()]) -> None:
    """Migrate the configured database back to REVISION, before rolling back to the release
    that knows no later one (docs/deployment.md, upgrade notes). Back up first."""
    from driftguard.cli.sessions import engine_for
    from driftguard.db import migrate
    from driftguard.settings import load_settings

    settings = load_settings()
    with engine_for(settings) as engine:
        migrate.downgrade(engine, revision, settings=settings)
        typer.echo(f"database at revision {migrate.current_revision(engine)}")


@db_app.command("current")
def db_current() -> None:
    """Print the database's revision and the latest one this version knows."""
    from driftguard.cli.sessions import engine_for
    from driftguard.db import migrate
    from driftguard.settings import load_settings

    with engine_for(load_settings()) as engine:
        typer.echo(f"current: {migrate.current_revision(engine)}  head: {migrate.head_revision()}")


@users_app.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(help="the administrator's email (their login)")],
    name: Annotated[str, typer.Option(help="display name")] = "Administrator",
) -> None:
    """Create an administrator. The password is read from DRIFTGUARD_ADMIN_PASSWORD or a prompt."""
    from driftguard.cli.sessions import engine_for, session_factory
    from driftguard.db.session import unit_of_work
    from driftguard.identity import service as identity_service
    from driftguard.identity.passwords import build_hasher
    from driftguard.settings import load_settings

    password = os.environ.get("DRIFTGUARD_ADMIN_PASSWORD") or getpass.getpass("Password: ")
    settings = load_settings()
    with engine_for(settings) as engine:
        with exit_on_domain_error(), unit_of_work(session_factory(engine, settings)) as session:
            user = identity_service.bootstrap_admin(
                session,
                email=email,
                display_name=name,
                password=password,
                hasher=build_hasher(settings),
            )
        typer.echo(f"created administrator {user.email} (id {user.id})")


@app.command()
def demo(
    database: Annotated[str, typer.Option(help="SQLite file for the demo")] = "driftguard-demo.db",
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    models: Annotated[int, typer.Option(min=1, max=10_000, help="how many models to seed")] = 50,
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve")] = True,
) -> None:
    """Create a fresh demo database with three teams and seeded models, then serve it."""
    from driftguard.cli.demo import seed_demo
    from driftguard.cli.sessions import engine_for, session_factory
    from driftguard.db import migrate
    from driftguard.db.session import unit_of_work
    from driftguard.encryption import derived_key, new_key
    from driftguard.identity.passwords import build_hasher
    from driftguard.settings import load_settings

    settings = load_settings(database_url=f"sqlite:///{database}")
    if not settings.secrets_key and derived_key(settings) is None:
        # A fresh database every run: a key of its own lets its webhooks keep their secrets.
        settings = load_settings(database_url=f"sqlite:///{database}", secrets_key=new_key())
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(database + suffix):
            os.remove(database + suffix)
    with engine_for(settings) as engine:
        migrate.upgrade(engine)
        with unit_of_work(session_factory(engine, settings)) as session:
            credentials = seed_demo(
                session,
                hasher=build_hasher(settings),
                model_count=models,
                prediction_retention_days=settings.prediction_retention_days,
            )
    typer.echo(f"Demo database: {database}. Demo users and their passwords (shown only now):")
    for email, role, password in credentials:
        typer.echo(f"  {email:<44} {role:<34} {password}")
    base = f"http://{host}:{port}"
    typer.echo(
        f"Web UI: {base}/   API docs: {base}/docs   API sign-in: POST {base}/api/v1/auth/login"
    )
    if serve_after:
        run_server(settings, host=host, port=port)
