"""The chain: every record links to the one before, writers never fork it, tampering is found."""

from __future__ import annotations

import itertools
import threading
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from driftguard.audit import checkpoints
from driftguard.audit import service as audit
from driftguard.audit.keys import AuditKeyring, keyring_of
from driftguard.audit.orm import AuditRecord
from driftguard.audit.schemas import SYSTEM, AuditActor
from driftguard.db.base import utcnow
from driftguard.db.session import unit_of_work
from driftguard.errors import InvalidError
from support.config import TEST_SECRET

KEY = b"audit-test-key"
RING = AuditKeyring([KEY])


def write(factory: sessionmaker[Session], count: int) -> None:
    for i in range(count):
        with unit_of_work(factory) as session:
            audit.record(
                session,
                actor=AuditActor(user_id=i + 1),
                action="model.create",
                object_type="model",
                object_id=i + 1,
                after={"name": f"m{i}", "password": "never-stored", "score": 0.1 * i},
            )


def check(factory: sessionmaker[Session], **kwargs: object) -> audit.Verification:
    with unit_of_work(factory) as session:
        return audit.verify(session, **kwargs)  # type: ignore[arg-type]


def test_records_link_into_a_chain_that_verifies(session_factory: sessionmaker[Session]) -> None:
    write(session_factory, 5)
    with session_factory() as s:
        rows = s.scalars(select(AuditRecord).order_by(AuditRecord.seq)).all()
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
    (key,) = AuditKeyring([TEST_SECRET.encode()])
    assert all(r.key_id == key.key_id for r in rows)
    assert all(r.hash == audit.record_hash(r, key) for r in rows)
    assert rows[0].after is not None
    assert "password" not in rows[0].after
    result = check(session_factory)
    assert (result.ok, result.checked, result.head_seq) == (True, 5, 5)


def test_a_change_and_its_record_share_one_transaction(
    session_factory: sessionmaker[Session],
) -> None:
    def failing_change() -> None:
        with unit_of_work(session_factory) as session:
            audit.record(session, actor=SYSTEM, action="team.create")
            raise RuntimeError("the change fails")

    with pytest.raises(RuntimeError):
        failing_change()
    with session_factory() as s:
        assert s.scalars(select(AuditRecord)).all() == []


def test_twenty_concurrent_writers_never_fork_the_chain(
    session_factory: sessionmaker[Session],
) -> None:
    writers = 20
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            barrier.wait()
            with unit_of_work(session_factory) as session:
                audit.record(session, actor=AuditActor(user_id=n), action="team.create")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n + 1,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with session_factory() as s:
        seqs = s.scalars(select(AuditRecord.seq).order_by(AuditRecord.seq)).all()
        actors = set(s.scalars(select(AuditRecord.actor_user_id)).all())
    assert seqs == list(range(1, writers + 1))
    assert actors == set(range(1, writers + 1))
    assert check(session_factory).ok


@pytest.mark.parametrize(
    ("tamper", "first_bad"),
    [
        ("UPDATE audit_records SET action = 'nothing.happened' WHERE seq = 3", 3),
        ("UPDATE audit_records SET after = NULL WHERE seq = 4", 4),
        ("DELETE FROM audit_records WHERE seq = 3", 3),
        # Reorder: records 2 and 3 swap places.
        (
            "UPDATE audit_records SET seq = 1000 WHERE seq = 2;"
            "UPDATE audit_records SET seq = 2 WHERE seq = 3;"
            "UPDATE audit_records SET seq = 3 WHERE seq = 1000",
            2,
        ),
        ("DELETE FROM audit_records WHERE seq <= 2", 3),
    ],
    ids=["edited", "edited-json", "deleted", "reordered", "oldest-deleted"],
)
def test_tampering_is_found_at_the_first_bad_record(
    engine: Engine, session_factory: sessionmaker[Session], tamper: str, first_bad: int
) -> None:
    write(session_factory, 5)
    with engine.begin() as connection:
        for statement in tamper.split(";"):
            connection.execute(text(statement))
    result = check(session_factory)
    assert not result.ok
    assert result.first_bad_seq == first_bad, result.reason


def test_truncation_is_found_only_against_a_checkpoint(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    write(session_factory, 4)
    with unit_of_work(session_factory) as session:
        document = checkpoints.checkpoint(session, keyring=RING)
    assert document["seq"] == 4
    expected = checkpoints.read_checkpoint(document, keyring=RING)
    assert check(session_factory, checkpoint=expected).ok
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_records WHERE seq >= 3"))
    assert check(session_factory).ok  # a shorter chain is still a chain...
    result = check(session_factory, checkpoint=expected)
    assert not result.ok  # ...that no longer reaches the checkpoint
    assert result.first_bad_seq == 3


@pytest.mark.parametrize("with_key_id", [True, False], ids=["current", "before-key-ids"])
def test_a_forged_checkpoint_is_refused(with_key_id: bool) -> None:
    (key,) = RING
    document: dict[str, object] = {"seq": 9, "hash": "a" * 64, "time": utcnow().isoformat()}
    if with_key_id:
        document["key_id"] = key.key_id
    good = {**document, "signature": checkpoints._sign(document, key)}
    assert checkpoints.read_checkpoint(good, keyring=RING)["seq"] == 9
    for forged in ({**good, "seq": 10}, {**good, "signature": "0" * 64}, document):
        with pytest.raises(InvalidError, match="signature"):
            checkpoints.read_checkpoint(forged, keyring=RING)
    with pytest.raises(InvalidError):
        checkpoints.read_checkpoint(good, keyring=AuditKeyring([b"another key"]))


def test_purge_keeps_the_rest_verifiable_and_records_itself(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    write(session_factory, 6)
    with engine.begin() as connection:
        old = utcnow() - timedelta(days=400)
        connection.execute(
            text("UPDATE audit_records SET recorded_at = :old WHERE seq <= 4"), {"old": old}
        )
    # The timestamps were edited to make them old: re-seal those rows as if written then.
    with unit_of_work(session_factory) as session:
        _reseal(session)
    assert check(session_factory).ok
    with unit_of_work(session_factory) as session:
        result = audit.purge(session, before=utcnow() - timedelta(days=365))
    assert (result.deleted, result.through_seq) == (4, 4)
    with session_factory() as s:
        seqs = s.scalars(select(AuditRecord.seq).order_by(AuditRecord.seq)).all()
        last = s.get(AuditRecord, 7)
    assert seqs == [5, 6, 7]
    assert last is not None
    assert last.action == "audit.purge"
    verified = check(session_factory)
    assert (verified.ok, verified.first_seq, verified.checked) == (True, 5, 3)
    # Without the stored boundary, the missing start is an error.
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_purges"))
    assert check(session_factory).first_bad_seq == 5


def test_a_prefix_deleted_behind_a_forged_purge_boundary_is_found(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    write(session_factory, 3)
    with engine.begin() as connection:
        old = utcnow() - timedelta(days=400)
        connection.execute(
            text("UPDATE audit_records SET recorded_at = :old WHERE seq <= 1"), {"old": old}
        )
    with unit_of_work(session_factory) as session:
        _reseal(session)
    with unit_of_work(session_factory) as session:
        audit.purge(session, before=utcnow() - timedelta(days=365))  # seq 1 cut, seq 4 records it
    write(session_factory, 2)
    assert check(session_factory).ok
    with session_factory() as s:
        last_deleted = s.get(AuditRecord, 5)
        assert last_deleted is not None
        cut_hash = last_deleted.hash
    # The insider deletes records 2..5 and stores a purge boundary that makes the rest link up:
    # the chain starts at 6, whose prev_hash is the hash of 5 ...
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_records WHERE seq <= 5"))
        connection.execute(
            text(
                "INSERT INTO audit_purges (purged_at, purged_before, last_seq, last_hash, deleted)"
                " VALUES (:now, :now, 5, :hash, 4)"
            ),
            {"now": utcnow(), "hash": cut_hash},
        )
    # ... but no (keyed) audit.purge record names that cut.
    result = check(session_factory)
    assert (result.ok, result.first_bad_seq) == (False, 6)
    assert "no purge recorded it" in result.reason


def _reseal(session: Session) -> None:
    """Re-seal the whole chain with the keys: what only someone holding them can do."""
    keyring = keyring_of(session)
    previous = audit.GENESIS
    for row in session.scalars(select(AuditRecord).order_by(AuditRecord.seq)):
        row.prev_hash = previous
        row.hash = audit.record_hash(row, None if row.key_id is None else keyring.get(row.key_id))
        previous = row.hash
    session.flush()
