"""Signed checkpoints of the chain head, kept outside the database.

A checkpoint is ``{seq, hash, time, key_id, signature}``: the head's sequence number and hash,
signed (HMAC-SHA256 over the canonical JSON of the other fields) with the audit key ``key_id``
names. Kept where the database's writers cannot reach, the newest one proves how long the chain
was: deleting its tail (truncation) or re-sealing records up to it is found by ``verify``.

The directory sink holds one file per checkpoint, ``checkpoint-<seq>-<time>-<nonce>.json``,
written to a temporary name and renamed, so a reader never sees half a file and processes
writing at the same moment never overwrite each other. Checkpoints from before key ids existed
(no ``key_id``) are checked against every key of the ring.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from driftguard.audit import repository
from driftguard.audit.keys import AuditKey, AuditKeyring
from driftguard.audit.service import GENESIS, canonical_json
from driftguard.db.base import utcnow
from driftguard.errors import ErrorDetail, InvalidError

FILE_GLOB = "checkpoint-*.json"


def checkpoint(session: Session, *, keyring: AuditKeyring) -> dict[str, Any]:
    """The chain head, signed with the ring's first key."""
    key = keyring.signing
    if key is None:
        raise InvalidError(
            "no audit key is configured to sign checkpoints",
            code="no_audit_key",
            details=[ErrorDetail(loc="DRIFTGUARD_AUDIT_KEY", msg="is not set")],
        )
    top = repository.head(session)
    body: dict[str, Any] = {
        "seq": top[0] if top else 0,
        "hash": top[1] if top else GENESIS,
        "time": utcnow().isoformat(),
        "key_id": key.key_id,
    }
    return {**body, "signature": _sign(body, key)}


def read_checkpoint(document: Mapping[str, Any], *, keyring: AuditKeyring) -> dict[str, Any]:
    """The checkpoint's fields if its signature holds; :class:`InvalidError` otherwise."""
    fields = ("seq", "hash", "time", "key_id") if "key_id" in document else ("seq", "hash", "time")
    body = {name: document.get(name) for name in fields}
    signature = document.get("signature")
    if (
        isinstance(body["seq"], int)
        and not isinstance(body["seq"], bool)
        and isinstance(body["hash"], str)
        and isinstance(signature, str)
    ):
        named = body.get("key_id")
        candidates = list(keyring) if named is None else [keyring.get(str(named))]
        for key in candidates:
            if key is not None and hmac.compare_digest(_sign(body, key), signature):
                return body
    raise InvalidError(
        "checkpoint signature does not match",
        code="bad_checkpoint",
        details=[ErrorDetail(loc="checkpoint", msg="signature does not match")],
    )


def _sign(body: Mapping[str, Any], key: AuditKey) -> str:
    return hmac.new(key.secret, canonical_json(dict(body)), hashlib.sha256).hexdigest()


def write_to_directory(directory: Path, document: Mapping[str, Any]) -> Path:
    """Store ``document`` in ``directory`` (made if missing) as a new file, durably."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = str(document["time"]).replace(":", "").replace("-", "").replace("+0000", "Z")
    name = f"checkpoint-{int(document['seq']):015d}-{stamp}-{secrets.token_hex(4)}.json"
    temporary = directory / f".{name}.tmp"
    with temporary.open("w", encoding="utf-8") as handle:
        handle.write(json.dumps(dict(document), indent=2) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, directory / name)
    _fsync_directory(directory)
    return directory / name


def _fsync_directory(directory: Path) -> None:
    # The rename is durable only once the directory itself is synced (POSIX).
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def has_checkpoint_at(directory: Path, seq: int) -> bool:
    """Whether a checkpoint of head ``seq`` is already there (an idle chain needs no new one)."""
    return directory.is_dir() and any(directory.glob(f"checkpoint-{seq:015d}-*.json"))


def latest_in_directory(
    directory: Path, *, keyring: AuditKeyring
) -> tuple[Path, dict[str, Any]] | None:
    """The newest checkpoint in ``directory`` (highest seq, then latest time), verified.

    Every file must verify: a checkpoint that does not is reported, never skipped, since it
    means the store outside the database was tampered with or holds another deployment's files.
    """
    if not directory.is_dir():
        raise InvalidError(
            f"audit checkpoint directory {directory} does not exist",
            code="no_checkpoint_dir",
            details=[ErrorDetail(loc="checkpoint_dir", msg="does not exist")],
        )
    newest: tuple[tuple[int, str], Path, dict[str, Any]] | None = None
    for path in directory.glob(FILE_GLOB):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(document, dict):
                raise ValueError("not a JSON object")
            body = read_checkpoint(document, keyring=keyring)
        except (ValueError, InvalidError) as exc:
            raise InvalidError(
                f"audit checkpoint {path.name} is not valid: {exc}",
                code="bad_checkpoint",
                details=[ErrorDetail(loc=f"checkpoint.{path.name}", msg=str(exc))],
            ) from exc
        order = (int(body["seq"]), str(body["time"]))
        if newest is None or order > newest[0]:
            newest = (order, path, body)
    return None if newest is None else (newest[1], newest[2])
