from __future__ import annotations

from sqlalchemy import Engine, text


def test_postgres_stores_blocks_without_recompressing_them(migrated_engine: Engine) -> None:
    if migrated_engine.dialect.name != "postgresql":
        assert migrated_engine.dialect.name == "sqlite"  # no storage strategies there
        return
    with migrated_engine.connect() as connection:
        storage = connection.scalar(
            text(
                "SELECT attstorage FROM pg_attribute WHERE attrelid = "
                "'prediction_blocks'::regclass AND attname = 'columns'"
            )
        )
    assert storage == "e"  # EXTERNAL: out of line, not compressed again
