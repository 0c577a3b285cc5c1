from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from driftguard.audit import service as audit
from driftguard.audit.orm import AuditRecord
from driftguard.cli.main import app
from driftguard.db.engine import build_engine
from driftguard.db.session import build_session_factory
from support.config import make_settings

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    for key, value in {
        "DRIFTGUARD_DATABASE_URL": url,
        "DRIFTGUARD_AUDIT_KEY": "cli-audit-key-" + "k" * 32,
        "DRIFTGUARD_ARGON2_TIME_COST": "1",
        "DRIFTGUARD_ARGON2_MEMORY_COST_KIB": "1024",
        "DRIFTGUARD_ARGON2_PARALLELISM": "1",
    }.items():
        monkeypatch.setenv(key, value)
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    for n in range(3):
        monkeypatch.setenv("DRIFTGUARD_ADMIN_PASSWORD", "granite-kestrel-orchid-lumen")
        created = runner.invoke(app, ["users", "create-admin", "--email", f"a{n}@bank.example"])
        assert created.exit_code == 0, created.output
    return url


def _execute(url: str, statement: str) -> None:
    engine = build_engine(make_settings(url))
    with engine.begin() as connection:
        connection.execute(text(statement))
    engine.dispose()


def test_verify_passes_then_names_the_first_bad_seq(env: str) -> None:
    ok = runner.invoke(app, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "3 records" in ok.output
    _execute(env, "UPDATE audit_records SET object_id = '99' WHERE seq = 2")
    broken = runner.invoke(app, ["audit", "verify"])
    assert broken.exit_code == 8
    assert "seq 2" in broken.output


def test_a_checkpoint_reveals_truncation(env: str, tmp_path: Path) -> None:
    out = tmp_path / "checkpoint.json"
    written = runner.invoke(app, ["audit", "checkpoint", "--out", str(out)])
    assert written.exit_code == 0, written.output
    document = json.loads(out.read_text())
    assert set(document) == {"seq", "hash", "time", "key_id", "signature"}
    assert runner.invoke(app, ["audit", "verify", "--checkpoint", str(out)]).exit_code == 0
    _execute(env, "DELETE FROM audit_records WHERE seq = 3")
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0
    truncated = runner.invoke(app, ["audit", "verify", "--checkpoint", str(out)])
    assert truncated.exit_code == 8
    assert "seq 3" in truncated.output
    out.write_text(json.dumps({**document, "seq": 2}))
    forged = runner.invoke(app, ["audit", "verify", "--checkpoint", str(out)])
    assert forged.exit_code == 3
    assert "signature" in forged.output


def test_purge_needs_yes_and_keeps_the_chain_verifiable(env: str) -> None:
    refused = runner.invoke(app, ["audit", "purge", "--before", "2999-01-01"])
    assert refused.exit_code == 2
    purged = runner.invoke(app, ["audit", "purge", "--before", "2999-01-01", "--yes"])
    assert purged.exit_code == 0, purged.output
    assert "purged 3" in purged.output
    engine = build_engine(make_settings(env))
    with build_session_factory(engine)() as s:
        rows = s.scalars(select(AuditRecord)).all()
    engine.dispose()
    assert [(r.seq, r.action) for r in rows] == [(4, "audit.purge")]
    verified = runner.invoke(app, ["audit", "verify"])
    assert verified.exit_code == 0, verified.output


def test_verify_uses_the_newest_checkpoint_of_the_configured_directory(
    env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = tmp_path / "checkpoints"
    unset = runner.invoke(app, ["audit", "checkpoint"])
    assert unset.exit_code == 3
    assert "DRIFTGUARD_AUDIT_CHECKPOINT_DIR" in unset.output
    monkeypatch.setenv("DRIFTGUARD_AUDIT_CHECKPOINT_DIR", str(sink))
    empty = runner.invoke(app, ["audit", "verify"])
    assert empty.exit_code == 3  # the directory is configured but missing: say so
    assert "does not exist" in empty.output
    written = runner.invoke(app, ["audit", "checkpoint"])
    assert written.exit_code == 0, written.output
    (path,) = sink.glob("checkpoint-*.json")
    ok = runner.invoke(app, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert f"against checkpoint {path}" in ok.output
    _execute(env, "DELETE FROM audit_records WHERE seq = 3")
    truncated = runner.invoke(app, ["audit", "verify"])
    assert truncated.exit_code == 8
    assert "checkpoint seq 3" in truncated.output
    explicit = runner.invoke(app, ["audit", "verify", "--checkpoint", str(sink)])
    assert explicit.exit_code == 8


def test_verify_finds_a_record_resealed_without_the_key(env: str) -> None:
    engine = build_engine(make_settings(env))
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_records SET object_id = '99' WHERE seq = 2"))
    with build_session_factory(engine)() as session:
        rows = session.scalars(select(AuditRecord).order_by(AuditRecord.seq)).all()
        previous = rows[0].hash
        for row in rows[1:]:  # re-link and re-hash from the edited record on, without the key
            row.prev_hash, row.key_id = previous, None
            row.hash = previous = audit.record_hash(row)
        session.commit()
    engine.dispose()
    broken = runner.invoke(app, ["audit", "verify"])
    assert broken.exit_code == 8
    assert "seq 2" in broken.output
    assert "not keyed" in broken.output
