"""``driftguard audit``: verify the chain (against the newest checkpoint), export a signed
checkpoint, purge old records."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from driftguard.cli.errors import exit_on_domain_error
from driftguard.cli.groups import command_group
from driftguard.errors import ErrorDetail, InvalidError

if TYPE_CHECKING:
    from driftguard.audit.keys import AuditKeyring
    from driftguard.settings import Settings

audit_app = command_group("The audit trail: verify, checkpoint, purge.")

EXIT_BROKEN_CHAIN = 8


def _expected_checkpoint(
    given: Path | None, settings: Settings, keyring: AuditKeyring
) -> tuple[str, dict[str, Any] | None]:
    """The checkpoint to verify against, and where it came from: the file given, the newest in
    the directory given, or the newest in DRIFTGUARD_AUDIT_CHECKPOINT_DIR."""
    from driftguard.audit import checkpoints

    source = given if given is not None else settings.audit_checkpoint_dir
    if source is None:
        return "no checkpoint (truncation of the tail cannot be detected)", None
    if given is None or source.is_dir():
        found = checkpoints.latest_in_directory(source, keyring=keyring)
        if found is None:
            return f"no checkpoint in {source} yet", None
        return f"checkpoint {found[0]}", found[1]
    try:
        document = json.loads(source.read_text())
    except (OSError, ValueError) as exc:
        raise InvalidError(
            f"cannot read the checkpoint {source}: {exc}",
            code="bad_checkpoint",
            details=[ErrorDetail(loc="checkpoint", msg="not a readable JSON file")],
        ) from exc
    if not isinstance(document, dict):
        raise InvalidError(
            f"the checkpoint {source} is not a JSON object",
            code="bad_checkpoint",
            details=[ErrorDetail(loc="checkpoint", msg="not a JSON object")],
        )
    return f"checkpoint {source}", checkpoints.read_checkpoint(document, keyring=keyring)


@audit_app.command("verify")
def verify(
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            help="a checkpoint file, or a directory of them (the newest is used); default: "
            "DRIFTGUARD_AUDIT_CHECKPOINT_DIR. Detects truncation and re-sealing up to it"
        ),
    ] = None,
    unkeyed_through: Annotated[
        int,
        typer.Option(
            min=0,
            help="accept records without a key id up to this seq even after keyed ones (written "
            "by the previous release during the upgrade that introduced keys)",
        ),
    ] = 0,
) -> None:
    """Check every record's seal and link. Exit 0 if the chain holds; 8 with the first bad seq."""
    from driftguard.audit import service as audit
    from driftguard.audit.keys import AuditKeyring
    from driftguard.cli.sessions import engine_for, session_factory
    from driftguard.db.session import unit_of_work
    from driftguard.settings import load_settings

    settings = load_settings()
    keyring = AuditKeyring(settings.audit_chain_keys())
    with engine_for(settings) as engine, exit_on_domain_error():
        against, expected = _expected_checkpoint(checkpoint, settings, keyring)
        factory = session_factory(engine, settings, read_only=True)
        with unit_of_work(factory) as session:
            result = audit.verify(session, checkpoint=expected, unkeyed_through=unkeyed_through)
    if not result.ok:
        typer.echo(
            f"audit chain broken at seq {result.first_bad_seq}: {result.reason} "
            f"({result.checked} records verified before it; against {against})",
            err=True,
        )
        raise typer.Exit(EXIT_BROKEN_CHAIN)
    typer.echo(
        f"audit chain ok: {result.checked} records, seq {result.first_seq}..{result.head_seq}, "
        f"against {against}"
    )
    if result.unkeyed:
        typer.echo(
            f"note: {result.unkeyed} records are sealed without a key (written before "
            "DRIFTGUARD_AUDIT_KEY was set, or without it); only a checkpoint protects those",
            err=True,
        )


@audit_app.command("checkpoint")
def checkpoint(
    out: Annotated[
        Path | None,
        typer.Option(
            help="where to write the signed checkpoint (JSON); default: a new file in "
            "DRIFTGUARD_AUDIT_CHECKPOINT_DIR"
        ),
    ] = None,
) -> None:
    """Export the chain head, signed; keep it somewhere the database's writers cannot reach."""
    from driftguard.audit import checkpoints
    from driftguard.audit.keys import AuditKeyring
    from driftguard.cli.sessions import engine_for, session_factory
    from driftguard.db.session import unit_of_work
    from driftguard.settings import load_settings

    settings = load_settings()
    keyring = AuditKeyring(settings.audit_chain_keys())
    with engine_for(settings) as engine, exit_on_domain_error():
        if out is None and settings.audit_checkpoint_dir is None:
            raise InvalidError(
                "give --out or set DRIFTGUARD_AUDIT_CHECKPOINT_DIR",
                code="no_checkpoint_target",
                details=[ErrorDetail(loc="out", msg="is required")],
            )
        factory = session_factory(engine, settings, read_only=True)
        with unit_of_work(factory) as session:
            document = checkpoints.checkpoint(session, keyring=keyring)
    if out is None:
        assert settings.audit_checkpoint_dir is not None
        out = checkpoints.write_to_directory(settings.audit_checkpoint_dir, document)
    else:
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
    verifies from the oldest remaining record. Records of EU AI Act high-risk models younger
    than 183 days (Art. 19) are kept, and with them every later record (the chain is cut as a
    prefix), unless a retention exception is in force for the model."""
    from driftguard.audit import service as audit
    from driftguard.cli.sessions import engine_for, session_factory
    from driftguard.db.base import utcnow
    from driftguard.db.session import unit_of_work
    from driftguard.lifecycle import retention
    from driftguard.settings import load_settings

    if not yes:
        typer.echo("refusing to delete audit records without --yes", err=True)
        raise typer.Exit(2)
    settings = load_settings()
    with engine_for(settings) as engine, unit_of_work(session_factory(engine, settings)) as session:
        hold = retention.audit_hold(session, utcnow())
        result = audit.purge(session, before=before, hold=hold)
    typer.echo(f"purged {result.deleted} audit records (through seq {result.through_seq})")
    if result.held_reason is not None:
        typer.echo(f"kept: {result.held_reason}", err=True)
