from __future__ import annotations

from sqlalchemy import Engine, text


def test_postgres_stores_blocks_without_recompressing_them(migrated_engine: Engine) -> None:
    if migrated_engine.dialect.name != "postgresql":
        assert migrated_engine.dialect.name == "sqlite"  # no storage strategies there
        return
    with migrated_engine.connect() as connection:
        storage = connection.execute(
            text(
                "SELECT c.relname, a.attname, a.attstorage FROM pg_attribute a "
                "JOIN pg_class c ON c.oid = a.attrelid "
                "WHERE c.relname LIKE 'prediction_blocks%' AND c.relkind IN ('r', 'p') "
                "AND a.attname IN ('decisions', 'features')"
            )
        ).all()
    tables = {name for name, _, _ in storage}
    assert {"prediction_blocks", "prediction_blocks_default"} <= tables
    assert len(storage) == 2 * len(tables)  # both parts, in the table and every partition
    # EXTERNAL: out of line, not compressed again
    assert {s for _, _, s in storage} == {"e"}, storage
