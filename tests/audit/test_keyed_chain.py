"""The keyed chain: someone who can write to the database but does not hold the audit key cannot
alter a record and re-seal the chain after it; keys rotate and old records still verify."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from driftguard.audit import service as audit
from driftguard.audit.keys import AuditKey, AuditKeyring, bind_keyring, derive_key, keyring_of
from driftguard.audit.orm import AuditRecord
from driftguard.audit.schemas import AuditActor
from driftguard.db.session import build_session_factory, unit_of_work

OLD_KEY = b"audit-key-2025-" + b"o" * 32
NEW_KEY = b"audit-key-2026-" + b"n" * 32


def keyed(engine: Engine, *secrets: bytes) -> sessionmaker[Session]:
    return bind_keyring(build_session_factory(engine), AuditKeyring(secrets))


def write(factory: sessionmaker[Session], count: int, *, start: int = 1) -> None:
    for n in range(start, start + count):
        with unit_of_work(factory) as session:
            audit.record(
                session,
                actor=AuditActor(user_id=n),
                action="deployment.approve",
                object_type="deployment",
                object_id=n,
                after={"approved": True},
            )


def check(factory: sessionmaker[Session]) -> audit.Verification:
    with unit_of_work(factory) as session:
        return audit.verify(session)


def reseal_from(session: Session, seq: int, *, seal: str, through: int | None = None) -> None:
    """What an insider with write access can do: re-link and re-hash the records from ``seq``
    (through ``through``, or to the end), as unkeyed records (plain SHA-256) or under the key id
    they name with a key of the insider's own."""
    rows = session.scalars(select(AuditRecord).order_by(AuditRecord.seq)).all()
    own_key = derive_key(b"the insider's own key").chain_key
    previous = next((r.hash for r in rows if r.seq == seq - 1), audit.GENESIS)
    for row in rows:
        if row.seq < seq or (through is not None and row.seq > through):
            continue
        row.prev_hash = previous
        if seal == "unkeyed":
            row.key_id = None
            row.hash = audit.record_hash(row)
        else:  # the key id the record named, with a key that is not the configured one
            assert row.key_id is not None
            row.hash = audit.record_hash(row, AuditKey(key_id=row.key_id, chain_key=own_key))
        previous = row.hash
    session.flush()


def test_records_are_sealed_with_the_key_they_name(engine: Engine) -> None:
    factory = keyed(engine, NEW_KEY)
    write(factory, 3)
    (key,) = AuditKeyring([NEW_KEY])
    with factory() as s:
        rows = s.scalars(select(AuditRecord).order_by(AuditRecord.seq)).all()
    assert [r.key_id for r in rows] == [key.key_id] * 3
    assert all(r.hash == audit.record_hash(r, key) for r in rows)
    # The key id names the key without revealing it, and differs from a plain SHA-256 seal.
    assert key.key_id not in (NEW_KEY.hex(), hashlib.sha256(NEW_KEY).hexdigest()[:16])
    result = check(factory)
    assert (result.ok, result.checked, result.unkeyed, result.keyed_from) == (True, 3, 0, 1)


@pytest.mark.parametrize("seal", ["unkeyed", "own-key"])
def test_an_altered_record_resealed_without_the_key_is_found(engine: Engine, seal: str) -> None:
    factory = keyed(engine, NEW_KEY)
    write(factory, 5)
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_records SET actor_user_id = 99 WHERE seq = 3"))
    with unit_of_work(factory) as session:
        reseal_from(session, 3, seal=seal)
    result = check(factory)
    assert not result.ok
    assert result.first_bad_seq == 3, result.reason


def test_the_chain_cannot_be_turned_back_into_an_unkeyed_one(engine: Engine) -> None:
    factory = keyed(engine, NEW_KEY)
    write(factory, 4)
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_records SET object_id = '7' WHERE seq = 4"))
    with unit_of_work(factory) as session:
        reseal_from(session, 4, seal="unkeyed")
    result = check(factory)
    assert (result.ok, result.first_bad_seq) == (False, 4)
    assert "not keyed" in result.reason


def test_a_record_from_before_the_keyed_part_cannot_be_resealed(engine: Engine) -> None:
    # Records written before a key was configured: plain SHA-256, no key id.
    write(build_session_factory(engine), 2)
    factory = keyed(engine, NEW_KEY)
    write(factory, 2, start=3)
    result = check(factory)
    assert (result.ok, result.unkeyed, result.keyed_from) == (True, 2, 3)
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_records SET actor_user_id = 42 WHERE seq = 1"))
    with unit_of_work(factory) as session:
        reseal_from(session, 1, seal="unkeyed", through=2)
        # Record 3 must link to the new hash of record 2, and its seal covers that link.
        third = session.get(AuditRecord, 3)
        second = session.get(AuditRecord, 2)
        assert third is not None
        assert second is not None
        third.prev_hash = second.hash
    result = check(factory)
    assert (result.ok, result.first_bad_seq) == (False, 3), result.reason


def test_rotation_keeps_old_records_verifiable_with_the_retired_key(engine: Engine) -> None:
    write(keyed(engine, OLD_KEY), 2)
    rotated = keyed(engine, NEW_KEY, OLD_KEY)
    write(rotated, 2, start=3)
    old_id, new_id = (derive_key(k).key_id for k in (OLD_KEY, NEW_KEY))
    with rotated() as s:
        ids = s.scalars(select(AuditRecord.key_id).order_by(AuditRecord.seq)).all()
    assert ids == [old_id, old_id, new_id, new_id]
    assert check(rotated).ok
    # Drop the retired key too early and its records can no longer be checked.
    result = check(keyed(engine, NEW_KEY))
    assert (result.ok, result.first_bad_seq) == (False, 1)
    assert old_id in result.reason


def test_the_keyring_travels_with_the_factory(engine: Engine) -> None:
    factory = keyed(engine, NEW_KEY)
    with factory() as session:
        assert keyring_of(session).signing == derive_key(NEW_KEY)
    with build_session_factory(engine)() as session:
        assert keyring_of(session).signing is None
    assert "n" * 8 not in repr(AuditKeyring([NEW_KEY])) + repr(derive_key(NEW_KEY))


def test_unkeyed_records_of_a_rolling_upgrade_are_accepted_only_where_vouched_for(
    engine: Engine,
) -> None:
    factory, previous_release = keyed(engine, NEW_KEY), build_session_factory(engine)
    write(factory, 2)
    write(previous_release, 2, start=3)  # an old replica still serving during the rollout
    write(factory, 1, start=5)
    with unit_of_work(factory) as session:
        refused = audit.verify(session)
        vouched = audit.verify(session, unkeyed_through=4)
        too_short = audit.verify(session, unkeyed_through=3)
    assert (refused.ok, refused.first_bad_seq) == (False, 3)
    assert (vouched.ok, vouched.unkeyed, vouched.keyed_from) == (True, 2, 1)
    assert (too_short.ok, too_short.first_bad_seq) == (False, 4)
