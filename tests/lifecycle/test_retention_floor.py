"""The EU AI Act retention floor (Art. 12, 19(1), 26(6)): the purges keep 183 days of a
high-risk model's raw predictions and audit records; a card cannot classify a model high while
the retention is shorter; an admin's audited exception lifts the floor until it expires."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from driftguard.app import create_app
from driftguard.audit import service as audit
from driftguard.audit.orm import AuditRecord
from driftguard.audit.schemas import SYSTEM
from driftguard.cli.main import app as cli
from driftguard.db import partitions as pg
from driftguard.db.base import utcnow
from driftguard.db.session import unit_of_work
from driftguard.errors import ConflictError, NotFoundError
from driftguard.identity.orm import User
from driftguard.identity.permissions import Role
from driftguard.identity.principal import Principal
from driftguard.ingest import storage_maintenance
from driftguard.ingest.orm import PredictionRecord
from driftguard.lifecycle import retention
from driftguard.lifecycle.schemas import RetentionExceptionCreate
from driftguard.settings import Settings
from support.config import TEST_SECRET, make_settings
from support.identity import auth_headers, make_team, make_user
from support.monitoring import prediction_rows
from support.registry import create_model, create_version

Headers = dict[str, str]
DAY = timedelta(days=1)
THREADS = 20
RETENTION = 30  # the bank's setting: far below the floor


@pytest.fixture
def settings(engine: Engine) -> Settings:
    return make_settings(
        engine.url.render_as_string(hide_password=False),
        rate_limit_login="100/minute",
        prediction_retention_days=RETENTION,
    )


@pytest.fixture(autouse=True)
def _no_dated_partitions(engine: Engine) -> Iterator[None]:
    """Each test starts with the DEFAULT partitions only (partitions outlive a TRUNCATE)."""
    _drop_dated_partitions(engine)
    yield
    _drop_dated_partitions(engine)


def _drop_dated_partitions(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        return
    with Session(engine) as s, s.begin():
        for table in pg.partitioned_tables():
            for part in pg.partitions(s, table.name):
                if not part.is_default:
                    pg.drop_partition(s, table.name, part.name)


@dataclass
class Bank:
    team_id: int
    engineer: Headers
    engineer_id: int
    admin: Headers
    admin_id: int
    stranger: Headers  # an engineer of another team
    high: int  # a model to be classified high (credit decisions, Annex III 5(b))
    high_version: int
    minimal: int  # a model classified minimal
    minimal_version: int

    def exception_url(self, model_id: int | None = None) -> str:
        return f"/api/v1/models/{model_id or self.high}/retention-exception"

    @property
    def admin_principal(self) -> Principal:
        return Principal(user_id=self.admin_id, platform_role=Role.ADMIN)


def _user_id(factory: sessionmaker[Session], email: str) -> int:
    with unit_of_work(factory) as session:
        user_id = session.scalar(select(User.id).where(User.email == email))
    assert user_id is not None
    return user_id


def card(owner_id: int, ai_act_class: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "owner_id": owner_id,
        "business_use": "Consumer credit decisions.",
        "intended_use": "Retail credit desk.",
        "out_of_scope_uses": "Business loans.",
        "known_limitations": "Thin files.",
        "data_sources": ["core banking ledger"],
        "ai_act_class": ai_act_class,
    }
    if ai_act_class == "high":
        body["annex_iii_area"] = "essential_services"
    return body


@pytest.fixture
def bank(
    client: TestClient, session_factory: sessionmaker[Session], hasher: PasswordHasher
) -> Bank:
    team_id, other = make_team(session_factory), make_team(session_factory)
    engineer = make_user(session_factory, hasher, teams={team_id: Role.ML_ENGINEER})
    admin = make_user(session_factory, hasher, platform_role=Role.ADMIN)
    engineer_headers = auth_headers(client, engineer)
    # The minimal-risk model first: its audit records come before the high-risk model's.
    minimal = create_model(client, engineer_headers, team_id)
    minimal_version = create_version(client, engineer_headers, minimal["id"])
    engineer_id = _user_id(session_factory, engineer)
    put = client.put(
        f"/api/v1/models/{minimal['id']}/card",
        json=card(engineer_id, "minimal"),
        headers=engineer_headers,
    )
    assert put.status_code == 200, put.text
    high = create_model(client, engineer_headers, team_id)
    high_version = create_version(client, engineer_headers, high["id"])
    return Bank(
        team_id=team_id,
        engineer=engineer_headers,
        engineer_id=engineer_id,
        admin=auth_headers(client, admin),
        admin_id=_user_id(session_factory, admin),
        stranger=auth_headers(
            client, make_user(session_factory, hasher, teams={other: Role.ML_ENGINEER})
        ),
        high=high["id"],
        high_version=high_version["id"],
        minimal=minimal["id"],
        minimal_version=minimal_version["id"],
    )


def in_days(days: float) -> str:
    return (utcnow() + timedelta(days=days)).isoformat()


def grant(client: TestClient, bank: Bank, *, days: float = 90, **extra: Any) -> Any:
    body = {"reason": "Deployer keeps the decision logs in the core banking archive.", **extra}
    body.setdefault("expires_at", in_days(days))
    return client.post(bank.exception_url(), json=body, headers=bank.admin)


def classify_high(client: TestClient, bank: Bank) -> None:
    """Classify the model high the way a bank with a short retention must: under an exception,
    which is then withdrawn, so the floor holds for the model from then on."""
    assert grant(client, bank).status_code == 201
    response = client.put(
        f"/api/v1/models/{bank.high}/card",
        json=card(bank.engineer_id, "high"),
        headers=bank.engineer,
    )
    assert response.status_code == 200, response.text
    assert client.delete(bank.exception_url(), headers=bank.admin).status_code == 200


def log_days_ago(client: TestClient, bank: Bank, model_id: int, days: int, first: int) -> datetime:
    """Four predictions ``days`` ago, ten minutes apart; returns the first one's time."""
    rows = prediction_rows(4, start=first)
    moment = utcnow() - days * DAY
    for index, row in enumerate(rows):
        row["timestamp"] = (moment + index * timedelta(minutes=10)).isoformat()
    response = client.post(
        f"/api/v1/models/{model_id}/versions/1/predictions",
        json={"rows": rows},
        headers=bank.engineer,
    )
    assert response.status_code == 200, response.text
    return moment


def stored(factory: sessionmaker[Session], version_id: int) -> int:
    with factory() as s:
        return (
            s.scalar(
                select(func.count())
                .select_from(PredictionRecord)
                .where(PredictionRecord.version_id == version_id)
            )
            or 0
        )


def maintain(factory: sessionmaker[Session], settings: Settings, now: datetime) -> Any:
    with unit_of_work(factory) as s:
        return storage_maintenance.maintain(s, settings, now, hold=retention.prediction_hold)


def changes(factory: sessionmaker[Session], action: str) -> list[AuditRecord]:
    with factory() as s:
        return list(
            s.scalars(
                select(AuditRecord).where(AuditRecord.action == action).order_by(AuditRecord.seq)
            )
        )


# --- raw predictions ------------------------------------------------------------------------------


def test_a_high_risk_models_predictions_younger_than_the_floor_survive_a_30_day_purge(
    client: TestClient, bank: Bank, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    classify_high(client, bank)
    for model_id in (bank.high, bank.minimal):
        held_day = log_days_ago(client, bank, model_id, 60, first=0)  # within the floor
        log_days_ago(client, bank, model_id, 200, first=100)  # past the floor too
    free_day = log_days_ago(client, bank, bank.minimal, 90, first=200)  # no high-risk rows
    now = utcnow()
    # Partitions for the backfilled days (PostgreSQL), nothing purged yet.
    maintain(session_factory, settings.model_copy(update={"prediction_retention_days": 0}), now)
    assert (
        stored(session_factory, bank.high_version),
        stored(session_factory, bank.minimal_version),
    ) == (8, 12)

    result = maintain(session_factory, settings, now)
    assert result.purged is not None
    if session_factory.kw["bind"].dialect.name == "postgresql":
        # A day without held rows is still dropped whole; one with them is emptied row by row.
        assert f"prediction_blocks_p{free_day:%Y%m%d}" in result.purged.partitions_dropped
        assert f"prediction_blocks_p{held_day:%Y%m%d}" not in result.purged.partitions_dropped
    # The minimal-risk model keeps 30 days: both days go. The high-risk one keeps 183 days.
    assert stored(session_factory, bank.minimal_version) == 0
    assert stored(session_factory, bank.high_version) == 4
    with session_factory() as s:
        kept = s.scalars(
            select(PredictionRecord.ts).where(PredictionRecord.version_id == bank.high_version)
        ).all()
    assert all(ts > now - 61 * DAY for ts in kept)
    (record,) = changes(session_factory, "predictions.purge")
    assert record.after is not None
    assert record.after["held_versions"] == 1
    assert "EU AI Act Art. 19" in record.after["held_reason"]
    # Nothing more is purgeable: the next round does nothing (no audit record every interval).
    assert maintain(session_factory, settings, now).purged is None


def test_an_exception_in_force_lets_the_shorter_retention_apply(
    client: TestClient, bank: Bank, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    classify_high(client, bank)
    log_days_ago(client, bank, bank.high, 60, first=0)
    assert maintain(session_factory, settings, utcnow()).purged is None  # held: nothing to do
    assert stored(session_factory, bank.high_version) == 4
    assert grant(client, bank).status_code == 201
    result = maintain(session_factory, settings, utcnow())
    assert result.purged is not None
    assert result.purged.held_versions == 0
    assert stored(session_factory, bank.high_version) == 0


def test_an_expired_exception_no_longer_applies(
    client: TestClient, bank: Bank, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    classify_high(client, bank)
    granted = grant(client, bank, days=10)
    assert granted.status_code == 201
    expires = datetime.fromisoformat(granted.json()["expires_at"])
    with session_factory() as s:
        # In force up to the instant before it expires; at its expiry the floor holds again.
        assert retention.prediction_hold(s, expires - timedelta(microseconds=1)) is None
        hold = retention.prediction_hold(s, expires)
        assert hold is not None
        assert hold.version_ids == {bank.high_version}
    log_days_ago(client, bank, bank.high, 60, first=0)
    maintain(session_factory, settings, expires)
    assert stored(session_factory, bank.high_version) == 4  # kept: the exception has lapsed
    maintain(session_factory, settings, expires - timedelta(microseconds=1))
    assert stored(session_factory, bank.high_version) == 0  # the instant before: it applied
    status = client.get(bank.exception_url(), headers=bank.engineer).json()
    assert status["exception"] is not None  # still in force now, 10 days before it lapses
    assert status["effective_prediction_retention_days"] == RETENTION


# --- audit records --------------------------------------------------------------------------------


def test_the_audit_purge_keeps_a_high_risk_models_records_younger_than_the_floor(
    client: TestClient, bank: Bank, session_factory: sessionmaker[Session]
) -> None:
    classify_high(client, bank)
    now = utcnow()
    with session_factory() as s:
        first_high = s.scalar(
            select(func.min(AuditRecord.seq)).where(
                AuditRecord.object_type == "model", AuditRecord.object_id == str(bank.high)
            )
        )
        last_minimal = s.scalar(
            select(func.max(AuditRecord.seq)).where(
                AuditRecord.object_type == "model", AuditRecord.object_id == str(bank.minimal)
            )
        )
    assert first_high is not None
    assert last_minimal is not None
    assert last_minimal < first_high
    with unit_of_work(session_factory) as s:
        hold = retention.audit_hold(s, now)
        assert hold is not None
        assert hold.keep_from_seq == first_high
        # Asked to purge everything (a retention of zero): the floor stops it.
        result = audit.purge(s, before=now + DAY, actor=SYSTEM, hold=hold)
    assert result.through_seq == first_high - 1
    assert result.held_from_seq == first_high
    assert result.held_reason is not None
    assert "EU AI Act Art. 19" in result.held_reason
    with session_factory() as s:
        assert s.scalar(select(func.min(AuditRecord.seq))) == first_high
        kept = s.scalars(
            select(AuditRecord.action).where(
                AuditRecord.object_type == "model", AuditRecord.object_id == str(bank.high)
            )
        ).all()
        assert "retention.exception" in kept
        gone = s.scalar(
            select(func.count()).where(
                AuditRecord.object_type == "model", AuditRecord.object_id == str(bank.minimal)
            )
        )
        assert gone == 0  # the minimal-risk model's records were purged
        assert audit.verify(s).ok
    (purge,) = changes(session_factory, "audit.purge")
    assert purge.after is not None
    assert purge.after["held_from_seq"] == first_high


def test_the_audit_floor_ends_after_183_days_and_with_an_exception(
    client: TestClient, bank: Bank, session_factory: sessionmaker[Session]
) -> None:
    classify_high(client, bank)
    with session_factory() as s:
        now = utcnow()
        assert retention.audit_hold(s, now + 182 * DAY) is not None
        # Seen 184 days on, every record is older than the floor: nothing is held.
        assert retention.audit_hold(s, now + 184 * DAY) is None
    assert grant(client, bank).status_code == 201
    with unit_of_work(session_factory) as s:
        assert retention.audit_hold(s, utcnow()) is None
        result = audit.purge(s, before=utcnow() + DAY, actor=SYSTEM, hold=None)
    assert result.held_from_seq is None
    assert result.deleted > 0


# --- the card -------------------------------------------------------------------------------------


def test_classifying_high_with_a_short_retention_is_refused_naming_setting_and_article(
    client: TestClient, bank: Bank
) -> None:
    url = f"/api/v1/models/{bank.high}/card"
    response = client.put(url, json=card(bank.engineer_id, "high"), headers=bank.engineer)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "retention_below_floor"
    assert "DRIFTGUARD_PREDICTION_RETENTION_DAYS is 30" in body["message"]
    assert "EU AI Act Art. 19" in body["message"]
    assert body["details"][0]["loc"] == "ai_act_class"
    assert client.get(url, headers=bank.engineer).status_code == 404  # nothing written
    # Minimal is fine; so is high once an exception is recorded.
    assert (
        client.put(url, json=card(bank.engineer_id, "minimal"), headers=bank.engineer).status_code
        == 200
    )
    assert grant(client, bank).status_code == 201
    allowed = client.put(url, json=card(bank.engineer_id, "high"), headers=bank.engineer)
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["ai_act_class"] == "high"


def test_a_retention_at_the_floor_or_forever_allows_high(
    bank: Bank, settings: Settings, engine: Engine
) -> None:
    url = f"/api/v1/models/{bank.high}/card"
    for days in (retention.FLOOR_DAYS, 0):
        changed = settings.model_copy(update={"prediction_retention_days": days})
        with TestClient(create_app(changed, engine=engine)) as other:
            response = other.put(url, json=card(bank.engineer_id, "high"), headers=bank.engineer)
            assert response.status_code == 200, response.text
            other.put(url, json=card(bank.engineer_id, "minimal"), headers=bank.engineer)


def test_start_up_warns_naming_setting_and_article(
    client: TestClient,
    bank: Bank,
    settings: Settings,
    engine: Engine,
    session_factory: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert not retention.warn_if_below_floor(session_factory, settings)  # no high model yet
    classify_high(client, bank)
    with (
        caplog.at_level(logging.WARNING, logger="driftguard.retention"),
        TestClient(create_app(settings, engine=engine)),
    ):
        pass
    (warning,) = [r for r in caplog.records if r.name == "driftguard.retention"]
    assert "DRIFTGUARD_PREDICTION_RETENTION_DAYS=30" in warning.getMessage()
    assert "EU AI Act Art. 19" in warning.getMessage()


# --- the exception --------------------------------------------------------------------------------


def test_an_exception_is_audited_shown_and_withdrawn(
    client: TestClient, bank: Bank, session_factory: sessionmaker[Session]
) -> None:
    granted = grant(client, bank, days=30)
    assert granted.status_code == 201, granted.text
    exception = granted.json()
    assert exception["status"] == "in_force"
    assert exception["created_by_id"] == bank.admin_id
    (record,) = changes(session_factory, "retention.exception")
    assert (record.object_type, record.object_id, record.actor_user_id) == (
        "model",
        str(bank.high),
        bank.admin_id,
    )
    assert record.after is not None
    assert record.after["reason"] == exception["reason"]
    assert datetime.fromisoformat(record.after["expires_at"]) == datetime.fromisoformat(
        exception["expires_at"]
    )
    shown = client.get(bank.exception_url(), headers=bank.engineer).json()
    assert shown["exception"]["id"] == exception["id"]
    assert shown["effective_prediction_retention_days"] == RETENTION
    # A second one while the first is in force: 409.
    again = grant(client, bank)
    assert again.status_code == 409, again.text

    withdrawn = client.delete(bank.exception_url(), headers=bank.admin)
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["status"] == "withdrawn"
    (record,) = changes(session_factory, "retention.exception.withdraw")
    assert record.actor_user_id == bank.admin_id
    assert record.after is not None
    assert record.after["status"] == "withdrawn"
    shown = client.get(bank.exception_url(), headers=bank.engineer).json()
    assert shown["exception"] is None
    assert [h["status"] for h in shown["history"]] == ["withdrawn"]
    twice = client.delete(bank.exception_url(), headers=bank.admin)
    assert twice.status_code == 409
    assert "withdrawn, not in_force" in twice.json()["message"]


def test_the_floor_shows_on_a_high_risk_model(client: TestClient, bank: Bank) -> None:
    classify_high(client, bank)
    shown = client.get(bank.exception_url(), headers=bank.engineer).json()
    assert (shown["high_risk"], shown["floor_applies"]) == (True, True)
    assert shown["effective_prediction_retention_days"] == retention.FLOOR_DAYS
    minimal = client.get(bank.exception_url(bank.minimal), headers=bank.engineer).json()
    assert (minimal["high_risk"], minimal["effective_prediction_retention_days"]) == (
        False,
        RETENTION,
    )


def test_only_admins_record_or_withdraw_exceptions(client: TestClient, bank: Bank) -> None:
    body = {"reason": "Deployer keeps the logs elsewhere.", "expires_at": in_days(30)}
    assert client.post(bank.exception_url(), json=body, headers=bank.engineer).status_code == 403
    assert grant(client, bank).status_code == 201
    assert client.delete(bank.exception_url(), headers=bank.engineer).status_code == 403


def test_another_teams_model_is_not_found(client: TestClient, bank: Bank) -> None:
    assert grant(client, bank).status_code == 201
    response = client.get(bank.exception_url(), headers=bank.stranger)
    assert response.status_code == 404
    assert "exception" not in response.text
    missing = client.post(
        "/api/v1/models/999999/retention-exception",
        json={"reason": "Deployer keeps the logs elsewhere.", "expires_at": in_days(30)},
        headers=bank.admin,
    )
    assert missing.status_code == 404
    assert client.delete(bank.exception_url(bank.minimal), headers=bank.admin).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
        ({"expires_at": None}, "expires_at"),
        ({"expires_at": "2026-13-01"}, "expires_at"),
        ({"expires_at": "in a year"}, "expires_at"),
        ({"reason": ""}, "reason"),
        ({"approved_by": "cro"}, "approved_by"),
    ],
)
def test_bad_input_is_422_naming_the_field(
    client: TestClient,
    bank: Bank,
    session_factory: sessionmaker[Session],
    body: dict[str, Any],
    field: str,
) -> None:
    response = grant(client, bank, **body)
    assert response.status_code == 422, response.text
    assert field in response.json()["message"]
    assert changes(session_factory, "retention.exception") == []


def test_an_expiry_more_than_a_year_ahead_is_refused(client: TestClient, bank: Bank) -> None:
    response = grant(client, bank, days=400)
    assert response.status_code == 422
    assert response.json()["details"][0]["loc"] == "expires_at"


def test_an_expiry_is_required(client: TestClient, bank: Bank) -> None:
    response = client.post(
        bank.exception_url(), json={"reason": "Deployer keeps the logs."}, headers=bank.admin
    )
    assert response.status_code == 422
    assert "expires_at" in response.json()["message"]


# --- concurrency ----------------------------------------------------------------------------------


def race(factory: sessionmaker[Session], calls: list[Callable[[Session], object]]) -> list[str]:
    def attempt(call: Callable[[Session], object]) -> str:
        try:
            with unit_of_work(factory) as session:
                call(session)
            return "ok"
        except (ConflictError, NotFoundError) as exc:
            return exc.code

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(attempt, calls))


def test_twenty_concurrent_exceptions_one_wins_the_others_409(
    bank: Bank, session_factory: sessionmaker[Session]
) -> None:
    data = RetentionExceptionCreate(
        reason="Deployer keeps the decision logs elsewhere.", expires_at=utcnow() + 30 * DAY
    )
    outcomes = race(
        session_factory,
        [
            lambda s: retention.record_exception(
                s, principal=bank.admin_principal, model_id=bank.high, data=data
            )
            for _ in range(THREADS)
        ],
    )
    assert outcomes.count("ok") == 1, outcomes
    assert set(outcomes) == {"ok", "retention_exception_in_force"}, outcomes
    assert len(changes(session_factory, "retention.exception")) == 1


def test_twenty_concurrent_withdrawals_one_wins_the_others_409(
    client: TestClient, bank: Bank, session_factory: sessionmaker[Session]
) -> None:
    assert grant(client, bank).status_code == 201
    outcomes = race(
        session_factory,
        [
            lambda s: retention.withdraw_exception(
                s, principal=bank.admin_principal, model_id=bank.high
            )
            for _ in range(THREADS)
        ],
    )
    assert outcomes.count("ok") == 1, outcomes
    assert set(outcomes) == {"ok", "retention_exception_not_in_force"}, outcomes
    assert len(changes(session_factory, "retention.exception.withdraw")) == 1


# --- the commands ---------------------------------------------------------------------------------


@pytest.fixture
def cli_env(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI on the test database, sealing with the test settings' audit key."""
    monkeypatch.setenv("DRIFTGUARD_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("DRIFTGUARD_ENVIRONMENT", "test")
    monkeypatch.setenv("DRIFTGUARD_JWT_SECRET", TEST_SECRET)


@pytest.mark.usefixtures("cli_env")
def test_the_purge_commands_keep_the_floor_and_say_why(
    client: TestClient, bank: Bank, session_factory: sessionmaker[Session]
) -> None:
    classify_high(client, bank)
    log_days_ago(client, bank, bank.high, 60, first=0)
    log_days_ago(client, bank, bank.minimal, 60, first=0)
    runner = CliRunner()
    purged = runner.invoke(cli, ["predictions", "purge", "--older-than-days", "30", "--yes"])
    assert purged.exit_code == 0, purged.output
    assert "for 1 versions" in purged.output
    assert "EU AI Act Art. 19" in purged.output
    assert (
        stored(session_factory, bank.high_version),
        stored(session_factory, bank.minimal_version),
    ) == (4, 0)

    audited = runner.invoke(cli, ["audit", "purge", "--before", "2999-01-01", "--yes"])
    assert audited.exit_code == 0, audited.output
    assert "kept: record" in audited.output
    assert "EU AI Act Art. 19" in audited.output
    with session_factory() as s:
        assert "retention.exception" in s.scalars(select(AuditRecord.action)).all()
        assert audit.verify(s).ok
