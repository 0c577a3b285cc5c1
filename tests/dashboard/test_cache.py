"""The cache's own rules: expiry, generations, a bounded memory, and outages."""

from __future__ import annotations

from redis.exceptions import ConnectionError as RedisConnectionError

from driftguard.dashboard.cache import MAX_MEMORY_ENTRIES, DashboardCache, MemoryStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_after_their_ttl() -> None:
    clock = Clock()
    cache = DashboardCache(MemoryStore(clock), ttl_seconds=60, prefix="t")
    builds: list[int] = []

    def build() -> str:
        builds.append(1)
        return f"v{len(builds)}"

    assert cache.fetch("doc", build) == "v1"
    clock.now += 59
    assert cache.fetch("doc", build) == "v1"
    clock.now += 2
    assert cache.fetch("doc", build) == "v2"


def test_invalidate_makes_every_entry_stale() -> None:
    cache = DashboardCache(MemoryStore(), ttl_seconds=60, prefix="t")
    cache.fetch("a", lambda: "old-a")
    cache.fetch("b", lambda: "old-b")
    cache.invalidate()
    assert cache.fetch("a", lambda: "new-a") == "new-a"
    assert cache.fetch("b", lambda: "new-b") == "new-b"


def test_a_zero_ttl_turns_caching_off() -> None:
    cache = DashboardCache(MemoryStore(), ttl_seconds=0, prefix="t")
    cache.fetch("a", lambda: "one")
    assert cache.fetch("a", lambda: "two") == "two"


def test_memory_is_bounded() -> None:
    store = MemoryStore()
    for index in range(MAX_MEMORY_ENTRIES * 2):
        store.put(f"k{index}", "v", 60)
    assert len(store._entries) <= MAX_MEMORY_ENTRIES


class BrokenStore(MemoryStore):
    def generation(self) -> int:
        raise RedisConnectionError("down")

    def bump(self) -> None:
        raise RedisConnectionError("down")


def test_a_broken_store_is_skipped_not_raised() -> None:
    fallbacks: list[int] = []
    cache = DashboardCache(
        BrokenStore(), ttl_seconds=60, prefix="t", on_fallback=lambda: fallbacks.append(1)
    )
    assert cache.fetch("a", lambda: "computed") == "computed"
    cache.invalidate()
    assert cache.fallbacks >= 1
    assert fallbacks
    # While it is down, documents are computed without trying the store again.
    assert cache.fetch("a", lambda: "again") == "again"
