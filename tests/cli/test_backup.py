"""`driftguard backup` / `restore` round-trip a populated database on each backend, and refuse a
damaged archive before touching the target."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from driftguard.app import create_app
from driftguard.audit import service as audit
from driftguard.audit.keys import AuditKeyring
from driftguard.cli.main import app as cli
from driftguard.db import migrate
from driftguard.db.backup import MANIFEST_NAME
from driftguard.db.engine import build_engine
from driftguard.db.fingerprint import fingerprint_database
from driftguard.db.session import build_session_factory, unit_of_work
from driftguard.identity.permissions import Role
from driftguard.settings import Settings
from support.config import TEST_SECRET, make_settings
from support.identity import auth_headers, make_team, make_user
from support.monitoring import prediction_rows, reference_rows
from support.registry import create_model, create_version

runner = CliRunner()


def _populate(client: TestClient, factory: sessionmaker[Session], hasher: PasswordHasher) -> str:
    team = make_team(factory)
    email = make_user(factory, hasher, teams={team: Role.ML_ENGINEER})
    headers = auth_headers(client, email)
    model = create_model(client, headers, team)
    create_version(client, headers, model["id"])
    url = f"/api/v1/models/{model['id']}/versions/1"
    put = client.put(f"{url}/reference", json={"rows": reference_rows(50)}, headers=headers)
    assert put.status_code == 200, put.text
    created = client.post(f"{url}/predictions", json={"rows": prediction_rows(40)}, headers=headers)
    assert created.status_code == 200, created.text
    return email


def _use(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("DRIFTGUARD_DATABASE_URL", url)
    # The audit records were sealed with the test secret: a restore verifies them with it.
    monkeypatch.setenv("DRIFTGUARD_JWT_SECRET", TEST_SECRET)


def test_round_trip_of_a_populated_database(
    client: TestClient,
    engine: Engine,
    settings: Settings,
    session_factory: sessionmaker[Session],
    hasher: PasswordHasher,
    scratch_database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    email = _populate(client, session_factory, hasher)
    archive = tmp_path / "driftguard.backup"
    _use(monkeypatch, settings.database_url)
    made = runner.invoke(cli, ["backup", str(archive)])
    assert made.exit_code == 0, made.output

    _use(monkeypatch, scratch_database_url)
    restored = runner.invoke(cli, ["restore", str(archive)])
    assert restored.exit_code == 0, restored.output
    assert "audit chain ok" in restored.output

    target = build_engine(make_settings(scratch_database_url))
    try:
        with engine.connect() as a, target.connect() as b:
            source_tables, target_tables = fingerprint_database(a), fingerprint_database(b)
        assert source_tables == target_tables
        assert source_tables["registered_models"].rows == 1
        assert source_tables["audit_records"].rows > 5
        assert migrate.current_revision(target) == migrate.head_revision()
        with unit_of_work(build_session_factory(target)) as s:
            assert audit.verify(s, keyring=AuditKeyring(settings.audit_chain_keys())).ok
        # The restored database serves: the same user signs in and sees the same model.
        app = create_app(make_settings(scratch_database_url), engine=target)
        with TestClient(app) as restored_client:
            headers = auth_headers(restored_client, email)
            models = restored_client.get("/api/v1/models", headers=headers)
            assert models.json()["total"] == 1
    finally:
        target.dispose()


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_a_payload_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-20_000] ^= 0xFF  # inside the payload, which follows the small manifest
    path.write_bytes(bytes(data))


def _not_an_archive(path: Path) -> None:
    path.write_text("hello")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_truncate, "truncated or not a backup archive"),
        (_flip_a_payload_byte, "does not match the manifest's checksum"),
        (_not_an_archive, "truncated or not a backup archive"),
    ],
)
def test_a_damaged_backup_is_refused_without_touching_the_target(
    client: TestClient,
    session_factory: sessionmaker[Session],
    hasher: PasswordHasher,
    settings: Settings,
    scratch_database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    damage: Callable[[Path], None],
    message: str,
) -> None:
    _populate(client, session_factory, hasher)
    archive = tmp_path / "driftguard.backup"
    _use(monkeypatch, settings.database_url)
    assert runner.invoke(cli, ["backup", str(archive)]).exit_code == 0
    damage(archive)

    target = build_engine(make_settings(scratch_database_url))
    try:
        migrate.upgrade(target)
        make_team(build_session_factory(target), name="already-here")
        with target.connect() as connection:
            before = fingerprint_database(connection)
        _use(monkeypatch, scratch_database_url)
        refused = runner.invoke(cli, ["restore", "--replace", str(archive)])
        assert refused.exit_code == 3, refused.output
        assert message in refused.output
        with target.connect() as connection:
            assert fingerprint_database(connection) == before
    finally:
        target.dispose()


def test_restore_into_a_database_with_tables_needs_replace(
    settings: Settings, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "driftguard.backup"
    _use(monkeypatch, settings.database_url)
    assert runner.invoke(cli, ["backup", str(archive)]).exit_code == 0
    refused = runner.invoke(cli, ["restore", str(archive)])
    assert refused.exit_code == 5, refused.output
    assert "--replace" in refused.output


def test_a_consistent_looking_but_tampered_sqlite_backup_fails_verification(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite only: the payload is re-packed by hand, which a pg_dump archive does not allow.
    source_url = f"sqlite:///{tmp_path / 'source.db'}"
    source = build_engine(make_settings(source_url))
    try:
        migrate.upgrade(source)
        make_team(build_session_factory(source))  # writes audit record seq 1
    finally:
        source.dispose()
    archive = tmp_path / "driftguard.backup"
    _use(monkeypatch, source_url)
    assert runner.invoke(cli, ["backup", str(archive)]).exit_code == 0
    _rewrite_audit_record(archive, tmp_path / "unpacked")

    target_file = tmp_path / "target.db"
    _use(monkeypatch, f"sqlite:///{target_file}")
    refused = runner.invoke(cli, ["restore", str(archive)])
    assert refused.exit_code == 3, refused.output
    assert "the target was not touched" in refused.output
    assert "audit_records: content checksum differs" in refused.output
    assert "audit chain broken at seq 1" in refused.output
    assert not target_file.exists() or target_file.stat().st_size == 0


def _rewrite_audit_record(archive: Path, work: Path) -> None:
    """Edit one audit record in the payload and re-pack with a matching payload checksum, as
    someone who knows the format would."""
    work.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(work, filter="data")
    payload = work / "database.sqlite3"
    connection = sqlite3.connect(payload)
    with connection:
        connection.execute("UPDATE audit_records SET action = 'nothing.happened' WHERE seq = 1")
    connection.close()  # folds the write-ahead log back into the file
    manifest = json.loads((work / MANIFEST_NAME).read_text())
    manifest["payload_sha256"] = hashlib.sha256(payload.read_bytes()).hexdigest()
    manifest["payload_bytes"] = payload.stat().st_size
    (work / MANIFEST_NAME).write_text(json.dumps(manifest))
    with tarfile.open(archive, "w") as tar:
        tar.add(work / MANIFEST_NAME, arcname=MANIFEST_NAME)
        tar.add(payload, arcname=payload.name)
