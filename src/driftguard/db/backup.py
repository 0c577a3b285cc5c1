"""Backup archives: one tar file holding ``manifest.json`` and the database payload.

The payload is an SQLite copy taken with the online backup API, or a ``pg_dump`` custom-format
dump taken in an exported snapshot; the manifest records the backend, the migration revision,
the payload's SHA-256 and every table's row count and checksum, all from that same snapshot.
Reading an archive checks its shape and the payload checksum before anything else happens.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, Engine, create_engine, inspect
from sqlalchemy.engine import make_url

from driftguard import __version__
from driftguard.db.budget import BUDGET_OPTION, Budget
from driftguard.db.fingerprint import TableFingerprint, fingerprint_database
from driftguard.errors import ErrorDetail, InvalidError

FORMAT = "driftguard-backup"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
PAYLOAD_NAMES = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Manifest:
    backend: str
    revision: str | None
    created_at: str
    driftguard_version: str
    payload_sha256: str
    payload_bytes: int
    tables: dict[str, TableFingerprint]

    def to_json(self) -> bytes:
        """The manifest as the JSON stored beside a backup's payload, with its format and
        version."""
        body = {"format": FORMAT, "format_version": FORMAT_VERSION, **asdict(self)}
        return json.dumps(body, indent=2, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        """A manifest read back; anything else is refused as not a DriftGuard backup."""
        try:
            body: dict[str, Any] = json.loads(raw)
            if body.pop("format") != FORMAT or body.pop("format_version") != FORMAT_VERSION:
                raise ValueError("unknown format")
            tables = {
                str(name): TableFingerprint(rows=int(t["rows"]), sha256=str(t["sha256"]))
                for name, t in body.pop("tables").items()
            }
            manifest = cls(tables=tables, **body)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise bad_backup(f"the manifest is not a DriftGuard backup manifest ({exc})") from exc
        if manifest.backend not in PAYLOAD_NAMES:
            raise bad_backup(f"unknown backend {manifest.backend!r} in the manifest")
        return manifest


@dataclass(frozen=True, slots=True)
class StagedBackup:
    """An archive unpacked into a work directory, its payload checksum verified."""

    manifest: Manifest
    payload: Path


def bad_backup(message: str) -> InvalidError:
    """The error for a backup file that cannot be used, naming the file."""
    return InvalidError(message, code="bad_backup", details=[ErrorDetail(loc="FILE", msg=message)])


def backend_of(engine: Engine) -> str:
    """The engine's backend if backups support it (SQLite, PostgreSQL); refused otherwise."""
    name = engine.dialect.name
    if name not in PAYLOAD_NAMES:
        raise InvalidError(f"backups support SQLite and PostgreSQL, not {name}")
    return name


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while block := source.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


# --- writing -----------------------------------------------------------------------------------


def write_backup(engine: Engine, path: Path) -> Manifest:
    """Back up ``engine``'s database to ``path`` (written to a temporary name, then renamed)."""
    backend = backend_of(engine)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".driftguard-backup-") as work:
        payload = Path(work) / PAYLOAD_NAMES[backend]
        if backend == "sqlite":
            revision, tables = _dump_sqlite(engine, payload)
        else:
            revision, tables = _dump_postgres(engine, payload)
        manifest = Manifest(
            backend=backend,
            revision=revision,
            created_at=datetime.now(UTC).isoformat(),
            driftguard_version=__version__,
            payload_sha256=_sha256(payload),
            payload_bytes=payload.stat().st_size,
            tables=tables,
        )
        archive = Path(work) / "backup.tar"
        with tarfile.open(archive, "w") as tar:
            info = tarfile.TarInfo(MANIFEST_NAME)
            raw = manifest.to_json()
            info.size = len(raw)
            with tempfile.TemporaryFile() as buffer:
                buffer.write(raw)
                buffer.seek(0)
                tar.addfile(info, buffer)
            tar.add(payload, arcname=payload.name)
        os.replace(archive, path)
    return manifest


def _dump_sqlite(engine: Engine, payload: Path) -> tuple[str | None, dict[str, TableFingerprint]]:
    source = engine.raw_connection()
    try:
        target = sqlite3.connect(payload)
        try:
            # One step: the copy is a consistent snapshot even while others write.
            source.driver_connection.backup(target)  # type: ignore[union-attr]
        finally:
            target.close()
    finally:
        source.close()
    with sqlite_file_engine(payload) as copy, copy.connect() as connection:
        return _revision(connection), fingerprint_database(connection)


def _dump_postgres(engine: Engine, payload: Path) -> tuple[str | None, dict[str, TableFingerprint]]:
    # The dump and the fingerprints read the same exported snapshot, so they describe one state.
    with engine.connect() as base:
        # Unbounded: the snapshot must outlive pg_dump, and the fingerprints read every row.
        connection = base.execution_options(
            isolation_level="REPEATABLE READ",
            postgresql_readonly=True,
            **{BUDGET_OPTION: Budget.UNBOUNDED},
        )
        with connection.begin():
            snapshot = connection.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
            _run_pg(
                "pg_dump",
                ["--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}"],
                engine,
                ["--file", str(payload)],
            )
            return _revision(connection), fingerprint_database(connection)


def _revision(connection: Connection) -> str | None:
    if "alembic_version" not in inspect(connection).get_table_names():
        return None
    value = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    return None if value is None else str(value)


# --- reading and restoring ---------------------------------------------------------------------


def open_backup(path: Path, work: Path) -> StagedBackup:
    """Unpack ``path`` into ``work`` and check it whole: a truncated or corrupt archive, or one
    whose payload does not match the manifest's checksum, is refused here."""
    try:
        with tarfile.open(path, "r:") as tar:
            names = tar.getnames()
            if not names or names[0] != MANIFEST_NAME or len(names) != 2:
                raise bad_backup(f"expected {MANIFEST_NAME} and one payload, found {names}")
            manifest = Manifest.from_json(_read_member(tar, MANIFEST_NAME).read())
            expected = PAYLOAD_NAMES[manifest.backend]
            if names[1] != expected:
                raise bad_backup(f"expected payload {expected}, found {names[1]}")
            payload = work / expected
            with payload.open("wb") as out:
                shutil.copyfileobj(_read_member(tar, expected), out, _CHUNK)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise bad_backup(f"the file is truncated or not a backup archive ({exc})") from exc
    if payload.stat().st_size != manifest.payload_bytes or _sha256(payload) != (
        manifest.payload_sha256
    ):
        raise bad_backup("the payload does not match the manifest's checksum: the file is corrupt")
    return StagedBackup(manifest=manifest, payload=payload)


def _read_member(tar: tarfile.TarFile, name: str) -> IO[bytes]:
    member = tar.extractfile(name)
    if member is None:
        raise bad_backup(f"{name} is not a regular file")
    return member


@contextmanager
def sqlite_file_engine(path: Path) -> Iterator[Engine]:
    """A plain engine on a standalone SQLite file (a payload), disposed on exit."""
    engine = create_engine(f"sqlite:///{path}")
    try:
        yield engine
    finally:
        engine.dispose()


def is_empty(engine: Engine) -> bool:
    """Whether the database has no tables at all."""
    with engine.connect() as connection:
        return not inspect(connection).get_table_names()


def check_postgres_payload(engine: Engine, payload: Path) -> None:
    """``pg_restore --list`` reads the whole table of contents: a damaged dump fails here."""
    _run_pg("pg_restore", ["--list"], engine, [str(payload)], connect=False)


def restore_sqlite(payload: Path, engine: Engine) -> None:
    """Copy the payload over the target page by page, under the target's write lock."""
    source = sqlite3.connect(payload)
    target = engine.raw_connection()
    try:
        source.backup(target.driver_connection)  # type: ignore[arg-type]
    finally:
        target.close()
        source.close()


def restore_postgres(payload: Path, engine: Engine, *, replace: bool) -> None:
    """``pg_restore`` in one transaction: it lands whole or not at all."""
    options = ["--single-transaction", "--exit-on-error", "--no-owner", "--no-privileges"]
    if replace:
        options += ["--clean", "--if-exists"]
    _run_pg("pg_restore", options, engine, [str(payload)])


def _run_pg(
    program: str, options: list[str], engine: Engine, tail: list[str], *, connect: bool = True
) -> None:
    if shutil.which(program) is None:
        raise InvalidError(
            f"{program} is not installed (Debian: apt-get install postgresql-client)",
            code="missing_tool",
        )
    env = dict(os.environ)
    arguments = [program, *options]
    if connect:
        conninfo, password = libpq_conninfo(engine)
        arguments += ["--dbname", conninfo]
        if password is not None:
            env["PGPASSWORD"] = password  # never on the command line, where `ps` would show it
    completed = subprocess.run(  # noqa: S603 - fixed program, arguments built here
        [*arguments, *tail], env=env, capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        lines = [line for line in completed.stderr.splitlines() if line.strip()][:5]
        raise InvalidError(
            f"{program} failed: " + " / ".join(lines),
            code=f"{program.replace('_', '')}_failed",
        )


def libpq_conninfo(engine: Engine) -> tuple[str, str | None]:
    """The engine's URL as a libpq keyword string, and the password apart from it."""
    url = make_url(engine.url.render_as_string(hide_password=False))
    fields: dict[str, object] = {
        "host": url.host,
        "port": url.port,
        "user": url.username,
        "dbname": url.database,
        **dict(url.query),
    }

    def quoted(value: object) -> str:
        text = str(value).replace("\\", "\\\\").replace("'", "\\'")
        return f"'{text}'"

    conninfo = " ".join(f"{k}={quoted(v)}" for k, v in fields.items() if v is not None)
    return conninfo, url.password
