"""``driftguard backup FILE`` and ``driftguard restore FILE``, each verified.

A restore checks the archive whole (shape, payload checksum) before it touches the target; on
SQLite it also verifies the unpacked copy (integrity, row counts, checksums, audit chain) first.
After the restore the target itself is verified: every table's row count and checksum match the
manifest, the audit chain holds, and the schema is at the backup's migration revision.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from driftguard.cli.errors import exit_on_domain_error
from driftguard.cli.sessions import engine_for
from driftguard.errors import ConflictError, ErrorDetail, InvalidError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from driftguard.audit.keys import AuditKeyring
    from driftguard.db import backup as archive

BackupFile = Annotated[Path, typer.Argument(help="the backup archive", dir_okay=False)]


def verify_database(
    engine: Engine, manifest: archive.Manifest, keyring: AuditKeyring | None = None
) -> list[str]:
    """Everything that does not match the manifest, or an empty list.

    The audit chain is verified when the backup is at the current schema: an older one does not
    have every audit column yet (``driftguard db upgrade``, then ``driftguard audit verify``).
    """
    from driftguard.audit import service as audit
    from driftguard.db import migrate
    from driftguard.db.fingerprint import differences, fingerprint_database
    from driftguard.db.session import build_session_factory, unit_of_work

    with engine.connect() as connection:
        problems = differences(manifest.tables, fingerprint_database(connection))
    revision = migrate.current_revision(engine)
    if revision != manifest.revision:
        problems.append(f"schema at revision {revision}, the backup is at {manifest.revision}")
    if manifest.revision is not None and manifest.revision == migrate.head_revision():
        with unit_of_work(build_session_factory(engine)) as session:
            result = audit.verify(session, keyring=keyring)
        if not result.ok:
            problems.append(f"audit chain broken at seq {result.first_bad_seq}: {result.reason}")
    return problems


def _refuse(message: str, problems: list[str]) -> InvalidError:
    return InvalidError(
        message,
        code="restore_verification_failed",
        details=[ErrorDetail(loc="database", msg=p) for p in problems],
    )


def _check_revision_known(revision: str | None) -> None:
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    from driftguard.db import backup as archive
    from driftguard.db import migrate

    if revision is None:
        return
    try:
        ScriptDirectory.from_config(migrate.alembic_config()).get_revision(revision)
    except CommandError as exc:
        raise archive.bad_backup(
            f"the backup is at migration {revision}, which this DriftGuard does not know "
            "(restore it with the version that made it)"
        ) from exc


def backup(file: BackupFile) -> None:
    """Back up the configured database to FILE (SQLite online backup or pg_dump)."""
    from driftguard.db import backup as archive
    from driftguard.settings import load_settings

    with engine_for(load_settings()) as engine, exit_on_domain_error():
        manifest = archive.write_backup(engine, file.resolve())
    rows = sum(t.rows for t in manifest.tables.values())
    typer.echo(
        f"backup written to {file}: {manifest.backend}, revision {manifest.revision}, "
        f"{len(manifest.tables)} tables, {rows} rows, sha256 {manifest.payload_sha256[:16]}…"
    )


def restore(
    file: Annotated[Path, typer.Argument(help="the backup archive", exists=True, dir_okay=False)],
    replace: Annotated[
        bool, typer.Option("--replace", help="overwrite a database that already has tables")
    ] = False,
) -> None:
    """Restore FILE into the configured database, then verify it. Stop the servers first."""
    from driftguard.audit.keys import AuditKeyring
    from driftguard.db import migrate
    from driftguard.settings import load_settings

    settings = load_settings()
    keyring = AuditKeyring(settings.audit_chain_keys())
    with (
        engine_for(settings) as engine,
        exit_on_domain_error(),
        tempfile.TemporaryDirectory() as work,
    ):
        manifest = _restore(file, engine, Path(work), replace=replace, keyring=keyring)
    head = migrate.head_revision()
    typer.echo(
        f"restored and verified {len(manifest.tables)} tables "
        f"({sum(t.rows for t in manifest.tables.values())} rows), "
        + ("audit chain ok, " if manifest.revision == head else "")
        + f"revision {manifest.revision}"
        + (
            ""
            if manifest.revision == head
            else f"; run `driftguard db upgrade` to reach {head}, then `driftguard audit verify`"
        )
    )


def _restore(
    file: Path, engine: Engine, work: Path, *, replace: bool, keyring: AuditKeyring
) -> archive.Manifest:
    from driftguard.db import backup as archive

    staged = archive.open_backup(file, work)
    manifest = staged.manifest
    target = archive.backend_of(engine)
    if manifest.backend != target:
        raise archive.bad_backup(f"a {manifest.backend} backup cannot restore into {target}")
    _check_revision_known(manifest.revision)
    if manifest.backend == "sqlite":
        with archive.sqlite_file_engine(staged.payload) as copy:
            problems = verify_database(copy, manifest, keyring)
        if problems:
            raise _refuse("the backup does not verify; the target was not touched", problems)
    else:
        archive.check_postgres_payload(engine, staged.payload)
    if not replace and not archive.is_empty(engine):
        raise ConflictError(
            "the target database is not empty; pass --replace to overwrite it",
            code="target_not_empty",
        )
    if manifest.backend == "sqlite":
        archive.restore_sqlite(staged.payload, engine)
    else:
        archive.restore_postgres(staged.payload, engine, replace=replace)
    problems = verify_database(engine, manifest, keyring)
    if problems:
        raise _refuse("the restored database does not match the backup", problems)
    return manifest
