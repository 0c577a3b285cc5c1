from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from driftguard.db import migrate
from driftguard.db.base import Base
from driftguard.db.engine import build_engine
from driftguard.encryption import new_key, secret_cipher
from driftguard.errors import ErrorKind, UnavailableError
from driftguard.governance.orm import ModelRisk, RiskScore, RiskTrend
from driftguard.identity.orm import Team
from driftguard.monitoring.orm import VersionFacts
from driftguard.registry.orm import ModelVersion, RegisteredModel, TaskType
from driftguard.rules.portfolio import summarise
from driftguard.tables import import_all_tables
from support.config import make_settings


def test_upgrade_downgrade_upgrade_round_trip(database_url: str) -> None:
    # A scratch database of the same backend, so the shared test schema is untouched.
    url = database_url.replace("driftguard.db", "roundtrip.db")
    on_postgres = url == database_url
    if on_postgres:
        url = _fresh_postgres(database_url)
    engine = build_engine(make_settings(url))
    try:
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
        assert "registered_models" in inspect(engine).get_table_names()
        migrate.downgrade(engine, "base")
        assert migrate.current_revision(engine) is None
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
        _portfolio_columns_are_backfilled(engine)
    finally:
        engine.dispose()
        if on_postgres:
            _drop_postgres(database_url, url)


def _portfolio_columns_are_backfilled(engine: Engine) -> None:
    """Revision 0007 fills its new columns from the rows already there."""
    facts = {"drift.psi": {"age": 0.1, "income": 0.4}, "performance.accuracy": {"": 0.9}}
    features = [
        {"name": "age", "sensitive": True},
        {"name": "income"},
        {"name": "sex", "sensitive": True},
    ]
    with Session(engine) as session, session.begin():
        team = Team(name="migrating")
        session.add(team)
        session.flush()
        model = RegisteredModel(team_id=team.id, name="scorecard")
        session.add(model)
        session.flush()
        version = ModelVersion(
            model_id=model.id,
            number=1,
            task_type=TaskType.REGRESSION,
            features=features,
            target="y",
        )
        session.add(version)
        session.flush()
        now = datetime.now(UTC)
        session.add(
            VersionFacts(
                version_id=version.id, window_end=now, measured_at=now, facts=facts, summary=None
            )
        )
        for score, driver in ((10.0, "drift"), (30.0, "alerts")):  # the last one is current
            session.add(
                RiskScore(
                    version_id=version.id,
                    model_id=model.id,
                    team_id=team.id,
                    score=score,
                    band="low",
                    tier=2,
                    policy_hash="h",
                    trigger="t",
                    computed_at=now,
                    components=[
                        {"name": "drift", "contribution": score / 3},
                        {"name": driver, "contribution": score / 2},
                    ],
                )
            )
            session.flush()
    migrate.downgrade(engine, "0006")
    migrate.upgrade(engine)
    with Session(engine) as session:
        assert session.scalars(select(ModelVersion.sensitive_attributes)).one() == 2
        # The summary of revision 0007's day, which the live function still writes.
        written = {
            "drift.psi": [0.4, "income", 0.1, "age"],
            "performance.accuracy": [0.9, "", 0.9, ""],
        }
        assert session.scalars(select(VersionFacts.summary)).one() == written == summarise(facts)
        current = session.scalars(select(ModelRisk)).one()
        assert (current.score, current.main_driver) == (30.0, "alerts")
        trend = session.scalars(select(RiskTrend)).one()
        assert (trend.day, trend.score_sum, trend.scores) == (now.date(), 40.0, 2)


def _drop_postgres(admin_url: str, url: str) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def _fresh_postgres(database_url: str) -> str:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    name = make_url(database_url).database + "_rt"
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(database_url).set(database=name).render_as_string(hide_password=False)


def test_migrations_match_the_orm(migrated_engine: Engine) -> None:
    import_all_tables()
    with migrated_engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": migrate.include_name}
        )
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_sqlite_runs_with_wal_full_sync_foreign_keys_and_busy_timeout(tmp_sqlite_url: str) -> None:
    engine = build_engine(make_settings(tmp_sqlite_url, sqlite_busy_timeout_ms=4321))
    try:
        with engine.connect() as connection:
            pragma = lambda name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
            assert pragma("journal_mode") == "wal"
            assert pragma("synchronous") == 2  # FULL
            assert pragma("foreign_keys") == 1
            assert pragma("busy_timeout") == 4321
    finally:
        engine.dispose()


def test_postgres_pool_settings_are_applied() -> None:
    settings = make_settings(
        "postgresql+psycopg://nobody@127.0.0.1:9/none",
        db_pool_size=7,
        db_max_overflow=3,
        db_pool_timeout_seconds=2.5,
        db_statement_timeout_ms=1234,
    )
    engine = build_engine(settings)
    pool = engine.pool
    assert pool.size() == 7  # type: ignore[attr-defined]
    assert pool._max_overflow == 3  # type: ignore[attr-defined]
    assert pool._timeout == 2.5  # type: ignore[attr-defined]
    assert pool._pre_ping is True
    engine.dispose()


def test_statement_timeout_reaches_postgres(migrated_engine: Engine) -> None:
    if migrated_engine.dialect.name != "postgresql":
        # SQLite has no statement timeout; its busy timeout is checked above.
        assert migrated_engine.dialect.name == "sqlite"
        return
    with migrated_engine.connect() as connection:
        assert connection.execute(text("SHOW statement_timeout")).scalar() == "30s"


def test_sqlite_readers_do_not_queue_behind_a_writer(tmp_sqlite_url: str) -> None:
    from sqlalchemy import select

    from driftguard.db.session import build_session_factory, unit_of_work
    from driftguard.identity.orm import Team

    settings = make_settings(tmp_sqlite_url, sqlite_busy_timeout_ms=200)
    engine = build_engine(settings)
    migrate.upgrade(engine)
    try:
        with unit_of_work(build_session_factory(engine)) as writer:
            writer.add(Team(name="held", description=""))
            writer.flush()  # the write lock is held until this block ends
            with unit_of_work(build_session_factory(engine, read_only=True)) as reader:
                assert reader.scalars(select(Team)).all() == []  # WAL: the last committed state
            # A second writer waits for the lock (here: past its short busy timeout).
            with (
                pytest.raises(OperationalError, match="locked"),
                unit_of_work(build_session_factory(engine)) as other,
            ):
                other.execute(text("SELECT 1"))
    finally:
        engine.dispose()


def test_webhook_secrets_are_encrypted_by_the_upgrade_and_decrypted_by_the_downgrade(
    scratch_database_url: str,
) -> None:
    settings = make_settings(scratch_database_url, secrets_key=new_key())
    engine = build_engine(settings)
    plain = "whsec_" + "A" * 43 + "="
    try:
        migrate.upgrade(engine, "0011", settings=settings)
        with Session(engine) as session, session.begin():
            session.add(Team(name="hooked"))
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO webhook_endpoints (team_id, description, url, format, secret, "
                    "enabled, created_at, updated_at) SELECT id, '', 'https://h.example/x', "
                    "'standard', :secret, true, :now, :now FROM teams"
                ),
                {"secret": plain, "now": datetime.now(UTC)},
            )
        migrate.upgrade(engine, settings=settings)
        with engine.connect() as connection:
            [token] = connection.execute(text("SELECT secret_encrypted FROM webhook_endpoints"))
        assert plain not in token[0]
        assert secret_cipher(settings).decrypt(token[0]) == plain
        # Without the key the upgraded rows cannot be read back: the downgrade refuses, intact.
        keyless = make_settings(scratch_database_url, secrets_key=new_key())
        with pytest.raises(UnavailableError) as refused:
            migrate.downgrade(engine, "0011", settings=keyless)
        assert (refused.value.kind, refused.value.code) == (
            ErrorKind.UNAVAILABLE,
            "secrets_key_mismatch",
        )
        assert migrate.current_revision(engine) == migrate.head_revision()
        migrate.downgrade(engine, "0011", settings=settings)
        with engine.connect() as connection:
            [row] = connection.execute(text("SELECT secret FROM webhook_endpoints"))
        assert row[0] == plain
    finally:
        engine.dispose()
