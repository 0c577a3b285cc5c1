"""Reference profiles, read and decoded once per process.

A stored reference never changes (replacing one adds a row), but using its profile costs: the
bytes hold the sorted reference values (8 bytes each, 16 MB for 100,000 rows of 20 features),
read from the database and decoded for every ingest batch (to count the new block in the
profile's bins) and every monitoring run. Each process keeps the profiles it used last, up to
``CACHE_BYTES`` in all, so the row's bytes are read only on a miss. The key holds the database,
the reference's id and its creation time, so a reused id (SQLite reuses the highest) or another
database never finds a profile that is not its own.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from driftguard import stats
from driftguard.ingest import repository
from driftguard.ingest.orm import ReferenceDataset

CACHE_BYTES = 256 << 20

_Key = tuple[str, int, datetime]
_lock = threading.Lock()
_cache: OrderedDict[_Key, tuple[stats.Profile, int]] = OrderedDict()
_cached_bytes = 0


def active_profile(session: Session, version_id: int) -> stats.Profile | None:
    """The profile of the version's active reference; None while it has none."""
    reference = repository.active_reference(session, version_id)
    return None if reference is None else profile_of(session, reference)


def profile_of(session: Session, reference: ReferenceDataset) -> stats.Profile:
    """The reference's fitted profile."""
    key = (str(session.get_bind().engine.url), reference.id, reference.created_at)
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit[0]
    data = session.scalar(
        select(ReferenceDataset.profile).where(ReferenceDataset.id == reference.id)
    )
    assert data is not None  # the reference row is in the caller's session
    profile = stats.Profile.from_bytes(data)
    _keep(key, profile, len(data))
    return profile


def _keep(key: _Key, profile: stats.Profile, size: int) -> None:
    global _cached_bytes
    if size > CACHE_BYTES:
        return
    with _lock:
        if key in _cache:
            return
        _cache[key] = (profile, size)
        _cached_bytes += size
        while _cached_bytes > CACHE_BYTES:
            _, (_, dropped) = _cache.popitem(last=False)
            _cached_bytes -= dropped
