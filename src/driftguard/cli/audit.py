"""``driftguard audit``: verify the chain, export a signed checkpoint, purge old records."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from driftguard.audit import service as audit
from driftguard.cli.errors import exit_on_domain_error
from driftguard.db.engine import build_engine
from driftguard.db.session import build_session_factory, unit_of_work
from driftguard.settings import load_settings

audit_app = typer.Typer(help="The audit trail: verify, checkpoint, purge.", no_args_is_help=True)

EXIT_BROKEN_CHAIN = 8


@audit_app.command("verify")
def verify(
    checkpoint: Annotated[
        Path | None, typer.Option(help="a file from `audit checkpoint`; detects truncation")
    ] = None,
) -> None:
    """Check every record's hash and link. Exit 0 if the chain holds; 8 with the first bad seq."""
    settings = load_settings()
    engine = build_engine(settings)
    try:
        with exit_on_domain_error():
            expected: dict[str, Any] | None = None
            if checkpoint is not None:
                document = json.loads(checkpoint.read_text())
                expected = audit.read_checkpoint(document, key=settings.audit_signing_key())
            with unit_of_work(build_session_factory(engine, read_only=True)) as session:
                result = audit.verify(session, checkpoint=expected)
    finally:
        engine.dispose()
    if not result.ok:
        typer.echo(
            f"audit chain broken at seq {result.first_bad_seq}: {result.reason} "
            f"({result.checked} records verified before it)",
            err=True,
        )
        raise typer.Exit(EXIT_BROKEN_CHAIN)
    typer.echo(
        f"audit chain ok: {result.checked} records, seq {result.first_seq}..{result.head_seq}"
    )


@audit_app.command("checkpoint")
def checkpoint(
    out: Annotated[Path, typer.Option(help="where to write the signed checkpoint (JSON)")],
) -> None:
    """Export the chain head {seq, hash, time}, signed; keep it somewhere the database is not."""
    settings = load_settings()
    engine = build_engine(settings)
    try:
        with (
            exit_on_domain_error(),
            unit_of_work(build_session_factory(engine, read_only=True)) as session,
        ):
            document = audit.checkpoint(session, key=settings.audit_signing_key())
    finally:
        engine.dispose()
    out.write_text(json.dumps(document, indent=2) + "\n")
    typer.echo(f"checkpoint at seq {document['seq']} written to {out}")


def _parse_date(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@audit_app.command("purge")
def purge(
    before: Annotated[
        datetime, typer.Option(parser=_parse_date, help="delete records older than this (UTC)")
    ],
    yes: Annotated[bool, typer.Option("--yes", help="confirm the deletion")] = False,
) -> None:
    """Delete audit records older than BEFORE. Records its own audit event; the chain still
    verifies from the oldest remaining record."""
    if not yes:
        typer.echo("refusing to delete audit records without --yes", err=True)
        raise typer.Exit(2)
    engine = build_engine(load_settings())
    try:
        with unit_of_work(build_session_factory(engine)) as session:
            result = audit.purge(session, before=before)
    finally:
        engine.dispose()
    typer.echo(f"purged {result.deleted} audit records (through seq {result.through_seq})")
