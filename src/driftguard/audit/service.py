"""Writing and checking the audit chain. Functions flush, never commit: a record is written in the
transaction of the change it describes, so both land or neither does.

Each record's ``hash`` is HMAC-SHA256, under the audit key named by its ``key_id`` (see
:mod:`driftguard.audit.keys`), over the canonical JSON (sorted keys, no spaces) of its fields,
``key_id`` and ``prev_hash``; records written before the chain was keyed (no ``key_id``) have a
plain SHA-256 over the same fields without ``key_id``. Once a keyed record is in the chain, every
later one must be keyed too: nobody can turn the chain back into one that anybody can re-seal.
The first record's ``prev_hash`` is :data:`GENESIS`. After a retention purge the oldest remaining
record's ``prev_hash`` is the hash of the last purged one, kept in ``audit_purges``, and
verification starts from there. Deleting the newest records (truncation) leaves a valid shorter
chain: only a checkpoint kept outside the database reveals it (:mod:`driftguard.audit.checkpoints`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import event
from sqlalchemy.orm import Session

from driftguard.audit import repository
from driftguard.audit.keys import AuditKey, AuditKeyring, keyring_of
from driftguard.audit.orm import AuditPurge, AuditRecord
from driftguard.audit.schemas import (
    SYSTEM,
    Actor,
    AuditFilter,
    PurgeHold,
    PurgeResult,
    RequestFacts,
    Verification,
)
from driftguard.db.base import utcnow

GENESIS = "0" * 64
# Never stored, whatever a caller passes in a before/after snapshot.
SECRET_KEYS = frozenset(
    {
        "password",
        "password_hash",
        "token",
        "access_token",
        "refresh_token",
        "token_hash",
        "key",
        "key_hash",
        "secret",
    }
)
HASHED_FIELDS = (
    "seq",
    "recorded_at",
    "kind",
    "action",
    "actor_user_id",
    "actor_api_key_id",
    "object_type",
    "object_id",
    "before",
    "after",
    "method",
    "route",
    "status",
    "latency_ms",
    "client_addr",
    "request_id",
    "prev_hash",
)


def canonical_json(value: object) -> bytes:
    """The JSON that is hashed: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(record: AuditRecord, key: AuditKey | None = None) -> str:
    """The record's seal: HMAC under ``key`` (whose id the record names), or for a record
    without a key id, the plain SHA-256 of the chain before it was keyed."""
    fields: dict[str, Any] = {name: getattr(record, name) for name in HASHED_FIELDS}
    fields["recorded_at"] = record.recorded_at.isoformat()
    if record.key_id is None:
        return hashlib.sha256(canonical_json(fields)).hexdigest()
    if key is None or key.key_id != record.key_id:
        raise ValueError(f"record {record.seq} is sealed with key {record.key_id}")
    fields["key_id"] = record.key_id
    return hmac.new(key.chain_key, canonical_json(fields), hashlib.sha256).hexdigest()


def _snapshot(value: Mapping[str, object] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    plain = to_jsonable_python(dict(value))
    assert isinstance(plain, dict)
    return {k: v for k, v in plain.items() if k.lower() not in SECRET_KEYS}


_PENDING = "driftguard.audit_pending"


def _append(session: Session, record: AuditRecord) -> AuditRecord:
    """Queue the record on the session; it joins the chain when the transaction commits."""
    session.info.setdefault(_PENDING, []).append(record)
    return record


# Records are chained at commit, not when they are written: the chain lock is then held only for
# the commit itself, in the thread that commits. Holding it from the write to the commit would
# span the request's hand-over to the thread that finishes it, and with every worker thread busy
# waiting for the lock, the holder could never get one to commit (a deadlock under load).
@event.listens_for(Session, "before_commit")
def _chain_pending(session: Session) -> None:
    pending: list[AuditRecord] = session.info.pop(_PENDING, [])
    if not pending:
        return
    key = keyring_of(session).signing
    repository.lock_chain(session)
    top = repository.head(session)
    seq, prev_hash = top if top is not None else (0, GENESIS)
    for record in pending:
        seq += 1
        record.seq, record.prev_hash = seq, prev_hash
        record.key_id = None if key is None else key.key_id
        # Microseconds survive both backends; the hash is computed from what will be read back.
        record.recorded_at = utcnow()
        record.hash = prev_hash = record_hash(record, key)
        session.add(record)
    session.flush()


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    object_type: str | None = None,
    object_id: int | str | None = None,
    before: Mapping[str, object] | None = None,
    after: Mapping[str, object] | None = None,
) -> AuditRecord:
    """Append a state-change record in the caller's transaction: it is chained (sequence
    number, previous hash, hash) when the transaction commits, and dropped if it rolls back."""
    return _append(
        session,
        AuditRecord(
            kind="change",
            action=action,
            actor_user_id=actor.user_id,
            actor_api_key_id=actor.api_key_id,
            object_type=object_type,
            object_id=None if object_id is None else str(object_id),
            before=_snapshot(before),
            after=_snapshot(after),
        ),
    )


def record_request(session: Session, *, facts: RequestFacts) -> AuditRecord:
    """Append the record of one API call (written in its own short transaction)."""
    return _append(
        session,
        AuditRecord(
            kind="request",
            action="api.request",
            actor_user_id=facts.actor.user_id,
            actor_api_key_id=facts.actor.api_key_id,
            method=facts.method,
            route=facts.route[:256],
            status=facts.status,
            latency_ms=round(facts.latency_ms, 3),
            client_addr=None if facts.client_addr is None else facts.client_addr[:64],
            request_id=facts.request_id,
        ),
    )


def list_records(
    session: Session, *, flt: AuditFilter, limit: int, offset: int
) -> tuple[list[AuditRecord], int]:
    """A page of audit records matching the filter, newest first, and how many match."""
    rows, total = repository.list_records(session, flt=flt, limit=limit, offset=offset)
    return list(rows), total


def verify(
    session: Session,
    *,
    keyring: AuditKeyring | None = None,
    checkpoint: Mapping[str, Any] | None = None,
    unkeyed_through: int = 0,
) -> Verification:
    """Walk the chain from its oldest record; stop at the first record that does not hold.

    ``keyring`` holds the keys the records name (by default the one bound to the session).
    ``checkpoint`` is a verified checkpoint document (``checkpoints.read_checkpoint``): the chain
    must still reach its ``seq`` with the same ``hash``. Unkeyed records after keyed ones are
    refused, except up to ``unkeyed_through``: an operator vouches for those (a release from
    before keys was still writing during a rolling upgrade).
    """
    keys = keyring if keyring is not None else keyring_of(session)
    expected_prev: str | None = None
    previous_seq: int | None = None
    first_seq: int | None = None
    keyed_from: int | None = None
    head: tuple[int, str] | None = None
    checked = unkeyed = 0
    checkpoint_seen = False
    # Where a purge cut the chain; the purge's own record, further on, must vouch for the cut.
    cut: tuple[int, str] | None = None

    def result(bad_seq: int | None = None, reason: str = "") -> Verification:
        return Verification(
            ok=bad_seq is None,
            checked=checked,
            first_seq=first_seq,
            head_seq=head[0] if head else None,
            head_hash=head[1] if head else None,
            first_bad_seq=bad_seq,
            reason=reason,
            unkeyed=unkeyed,
            keyed_from=keyed_from,
        )

    for row in repository.chain(session):
        if first_seq is None:
            first_seq = row.seq
            if row.seq == 1:
                expected_prev = GENESIS
            else:
                boundary = repository.boundary_before(session, row.seq)
                if boundary is None:
                    return result(row.seq, f"records before seq {row.seq} are missing")
                expected_prev = boundary.last_hash
                cut = (boundary.last_seq, boundary.last_hash)
        elif row.seq != (previous_seq or 0) + 1:
            return result((previous_seq or 0) + 1, "record is missing (gap in the sequence)")
        if row.prev_hash != expected_prev:
            return result(row.seq, "prev_hash does not match the previous record")
        key: AuditKey | None = None
        if row.key_id is None:
            if keyed_from is not None and row.seq > unkeyed_through:
                reason = f"record is not keyed, yet the chain is keyed from seq {keyed_from}"
                return result(row.seq, reason)
            unkeyed += 1
        else:
            key = keys.get(row.key_id)
            if key is None:
                reason = f"record is sealed with audit key {row.key_id}, which is not configured"
                return result(row.seq, reason)
            keyed_from = row.seq if keyed_from is None else keyed_from
        if not hmac.compare_digest(record_hash(row, key), row.hash):
            return result(row.seq, "record was altered (hash mismatch)")
        if cut is not None and _vouches_for(row, cut):
            cut = None
        if checkpoint is not None and row.seq == checkpoint["seq"]:
            if row.hash != checkpoint["hash"]:
                return result(row.seq, "record differs from the checkpoint")
            checkpoint_seen = True
        expected_prev, previous_seq = row.hash, row.seq
        head = (row.seq, row.hash)
        checked += 1
    if cut is not None:
        return result(first_seq, f"records through seq {cut[0]} are gone, but no purge recorded it")
    if checkpoint is not None and not checkpoint_seen:
        cp_seq = int(checkpoint["seq"])
        if first_seq is None or cp_seq >= first_seq:
            return result((previous_seq or 0) + 1, f"chain ends before checkpoint seq {cp_seq}")
    return result()


def _vouches_for(row: AuditRecord, cut: tuple[int, str]) -> bool:
    """Whether ``row`` is the ``audit.purge`` record of the purge that cut the chain at ``cut``.

    Purge records from before ``last_hash`` was recorded name the seq only."""
    if row.action != "audit.purge" or not isinstance(row.after, dict):
        return False
    last_hash = row.after.get("last_hash")
    return row.after.get("through_seq") == cut[0] and last_hash in (None, cut[1])


def purge(
    session: Session, *, before: datetime, actor: Actor = SYSTEM, hold: PurgeHold | None = None
) -> PurgeResult:
    """Delete the records older than ``before`` (a prefix of the chain) and record that it did.

    The cut is stored in ``audit_purges`` so the remaining chain still verifies from its start.
    ``hold`` keeps the records from its seq on (the lifecycle's retention floor): the cut stops
    before it, and the purge's record says so.
    """
    repository.lock_chain(session)
    through = repository.last_seq_before(session, before)
    held_from: int | None = None
    if hold is not None and through is not None and hold.keep_from_seq <= through:
        held_from = hold.keep_from_seq
        through = held_from - 1 if held_from > 1 else None
        if through is not None and repository.get_record(session, through) is None:
            through = None  # already purged up to there
    deleted = 0
    last_hash: str | None = None
    if through is not None:
        last = repository.get_record(session, through)
        assert last is not None
        last_hash = last.hash
        deleted = repository.delete_through(session, through)
        session.add(
            AuditPurge(purged_before=before, last_seq=through, last_hash=last_hash, deleted=deleted)
        )
        session.flush()
    record(
        session,
        actor=actor,
        action="audit.purge",
        object_type="audit",
        # Verification finds this record to vouch for the cut (an insider could delete a prefix
        # and add a row to audit_purges, but not a keyed record).
        after={
            "before": before,
            "deleted": deleted,
            "through_seq": through,
            "last_hash": last_hash,
            **(
                {}
                if hold is None or held_from is None
                else {"held_from_seq": held_from, "held_reason": hold.reason}
            ),
        },
    )
    return PurgeResult(
        deleted=deleted,
        through_seq=through,
        held_from_seq=held_from,
        held_reason=None if held_from is None or hold is None else hold.reason,
    )
