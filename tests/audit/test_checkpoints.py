"""Checkpoints written on a schedule to a directory outside the database, and verification
against the newest one: a truncated tail or a chain re-sealed up to it is found."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from driftguard.audit import checkpoints
from driftguard.audit import service as audit
from driftguard.audit.keys import AuditKeyring, keyring_of
from driftguard.audit.orm import AuditRecord
from driftguard.audit.schemas import AuditActor
from driftguard.db.session import unit_of_work
from driftguard.errors import InvalidError
from driftguard.jobs.maintenance import MAINTENANCE_JOBS, run_maintenance
from driftguard.settings import Settings
from support.config import make_settings

JOB = next(job for job in MAINTENANCE_JOBS if job.name == "audit_checkpoint")


@pytest.fixture
def sink(tmp_path: Path) -> Path:
    return tmp_path / "audit-checkpoints"


@pytest.fixture
def sink_settings(settings: Settings, sink: Path) -> Settings:
    return make_settings(settings.database_url, audit_checkpoint_dir=str(sink))


def write(factory: sessionmaker[Session], count: int) -> None:
    for n in range(count):
        with unit_of_work(factory) as session:
            audit.record(session, actor=AuditActor(user_id=n + 1), action="policy.activate")


def scheduled_round(factory: sessionmaker[Session], settings: Settings) -> None:
    assert run_maintenance(factory, settings, jobs=[JOB]) == ["audit_checkpoint"]


def verify_against_latest(factory: sessionmaker[Session], sink: Path) -> audit.Verification:
    with unit_of_work(factory) as session:
        found = checkpoints.latest_in_directory(sink, keyring=keyring_of(session))
        assert found is not None
        return audit.verify(session, checkpoint=found[1])


def test_the_job_signs_the_head_into_the_directory_when_it_moved(
    session_factory: sessionmaker[Session], sink_settings: Settings, sink: Path
) -> None:
    write(session_factory, 3)
    scheduled_round(session_factory, sink_settings)
    scheduled_round(session_factory, sink_settings)  # nothing new: no second file
    assert len(list(sink.glob("checkpoint-*.json"))) == 1
    write(session_factory, 2)
    scheduled_round(session_factory, sink_settings)
    files = sorted(sink.glob("checkpoint-*.json"))
    assert len(files) == 2
    assert not list(sink.glob(".*"))  # no temporary file left behind
    with session_factory() as session:
        keyring = keyring_of(session)
    found = checkpoints.latest_in_directory(sink, keyring=keyring)
    assert found is not None
    path, body = found
    assert (path, body["seq"]) == (files[-1], 5)
    assert keyring.signing is not None
    assert body["key_id"] == keyring.signing.key_id
    assert verify_against_latest(session_factory, sink).ok


def test_without_a_directory_the_job_does_nothing(
    session_factory: sessionmaker[Session], settings: Settings, sink: Path
) -> None:
    write(session_factory, 1)
    scheduled_round(session_factory, settings)
    assert not sink.exists()


def test_a_truncated_tail_is_found_against_the_latest_checkpoint(
    engine: Engine,
    session_factory: sessionmaker[Session],
    sink_settings: Settings,
    sink: Path,
) -> None:
    write(session_factory, 5)
    scheduled_round(session_factory, sink_settings)
    write(session_factory, 2)
    scheduled_round(session_factory, sink_settings)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_records WHERE seq >= 6"))
    with unit_of_work(session_factory) as session:
        assert audit.verify(session).ok  # a shorter chain is still a chain...
    result = verify_against_latest(session_factory, sink)
    assert not result.ok  # ...that no longer reaches the newest checkpoint (seq 7)
    assert result.first_bad_seq == 6
    assert "checkpoint seq 7" in result.reason


def test_a_chain_recomputed_without_the_key_is_found_against_the_latest_checkpoint(
    engine: Engine,
    session_factory: sessionmaker[Session],
    sink_settings: Settings,
    sink: Path,
) -> None:
    write(session_factory, 4)
    scheduled_round(session_factory, sink_settings)
    # The insider edits record 2 and re-seals the whole chain the only way they can: unkeyed,
    # from the start, so no keyed record is left to give them away...
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_records SET actor_user_id = 99 WHERE seq = 2"))
    with unit_of_work(session_factory) as session:
        previous = audit.GENESIS
        for row in session.scalars(select(AuditRecord).order_by(AuditRecord.seq)):
            row.prev_hash, row.key_id = previous, None
            row.hash = previous = audit.record_hash(row)
    with unit_of_work(session_factory) as session:
        assert audit.verify(session).ok
    # ...but the head no longer matches the checkpoint held outside the database.
    result = verify_against_latest(session_factory, sink)
    assert (result.ok, result.first_bad_seq) == (False, 4)
    assert "checkpoint" in result.reason


def test_a_tampered_checkpoint_file_is_reported_not_skipped(
    session_factory: sessionmaker[Session], sink_settings: Settings, sink: Path
) -> None:
    write(session_factory, 2)
    scheduled_round(session_factory, sink_settings)
    (path,) = sink.glob("checkpoint-*.json")
    (sink / ".checkpoint-half-written.json.tmp").write_text("{")  # ignored: not a checkpoint
    keyring = AuditKeyring(sink_settings.audit_chain_keys())
    assert checkpoints.latest_in_directory(sink, keyring=keyring) is not None
    document = json.loads(path.read_text())
    forged = sink / "checkpoint-999999999999999-forged.json"
    forged.write_text(json.dumps({**document, "seq": 999999999999999}))
    with pytest.raises(InvalidError, match=forged.name):
        checkpoints.latest_in_directory(sink, keyring=keyring)
    forged.write_text("[]")
    with pytest.raises(InvalidError, match="not a JSON object"):
        checkpoints.latest_in_directory(sink, keyring=keyring)
    with pytest.raises(InvalidError, match="does not exist"):
        checkpoints.latest_in_directory(sink / "nowhere", keyring=keyring)


def test_a_checkpoint_needs_a_key(session_factory: sessionmaker[Session]) -> None:
    with unit_of_work(session_factory) as session, pytest.raises(InvalidError, match="audit key"):
        checkpoints.checkpoint(session, keyring=AuditKeyring())
