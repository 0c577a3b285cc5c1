from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from driftguard.cli.main import app
from driftguard.db.engine import build_engine
from driftguard.db.session import build_session_factory
from driftguard.governance.orm import Deployment, RiskScore
from driftguard.identity.orm import Team, User
from driftguard.identity.permissions import Role
from driftguard.ingest.orm import PredictionLabel
from driftguard.lifecycle.orm import ModelCard, Validation
from driftguard.monitoring.orm import MonitoringReport, MonitoringRun
from driftguard.registry.orm import ModelVersion, RegisteredModel
from support.config import make_settings

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    for key, value in {
        "DRIFTGUARD_DATABASE_URL": url,
        "DRIFTGUARD_ARGON2_TIME_COST": "1",
        "DRIFTGUARD_ARGON2_MEMORY_COST_KIB": "1024",
        "DRIFTGUARD_ARGON2_PARALLELISM": "1",
    }.items():
        monkeypatch.setenv(key, value)
    return url


def test_db_upgrade_then_create_admin(env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    upgraded = runner.invoke(app, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert "database at revision" in upgraded.output
    monkeypatch.setenv("DRIFTGUARD_ADMIN_PASSWORD", "granite-kestrel-orchid-lumen")
    created = runner.invoke(app, ["users", "create-admin", "--email", "Root@Bank.example"])
    assert created.exit_code == 0, created.output
    assert "granite" not in created.output
    engine = build_engine(make_settings(env))
    with build_session_factory(engine)() as s:
        user = s.scalar(select(User))
        assert user is not None
        assert (user.email, user.platform_role) == ("root@bank.example", Role.ADMIN)
    engine.dispose()
    again = runner.invoke(app, ["users", "create-admin", "--email", "root@bank.example"])
    assert again.exit_code == 5  # conflict
    assert "already exists" in again.output


def test_db_downgrade_then_upgrade_again(env: str) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    down = runner.invoke(app, ["db", "downgrade", "0013"])
    assert down.exit_code == 0, down.output
    assert "database at revision 0013" in down.output
    assert "current: 0013" in runner.invoke(app, ["db", "current"]).output
    up = runner.invoke(app, ["db", "upgrade"])
    assert up.exit_code == 0, up.output
    assert "current: 0013" not in runner.invoke(app, ["db", "current"]).output


def test_create_admin_refuses_a_weak_password(env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    runner.invoke(app, ["db", "upgrade"])
    monkeypatch.setenv("DRIFTGUARD_ADMIN_PASSWORD", "admin123")
    result = runner.invoke(app, ["users", "create-admin", "--email", "root@bank.example"])
    assert result.exit_code == 3
    assert "at least 15 characters" in result.output


def test_demo_seeds_three_teams_and_the_requested_models(
    tmp_path: Path, env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["demo", "--no-serve", "--models", "12", "--database", "demo.db"])
    assert result.exit_code == 0, result.output
    assert "admin@driftguard.example" in result.output
    engine = build_engine(make_settings(f"sqlite:///{tmp_path / 'demo.db'}"))
    with build_session_factory(engine)() as s:
        assert s.scalar(select(func.count()).select_from(Team)) == 3
        assert s.scalar(select(func.count()).select_from(RegisteredModel)) == 12
        assert (s.scalar(select(func.count()).select_from(ModelVersion)) or 0) >= 12
        # Monitored demo models come with two weeks of daily reports, drift and a biased model.
        runs = s.scalar(select(func.count()).select_from(MonitoringRun)) or 0
        assert runs > 0
        assert runs % 14 == 0
        assert (s.scalar(select(func.count()).select_from(PredictionLabel)) or 0) > 0
        last_drift = s.scalars(
            select(MonitoringReport.payload)
            .where(MonitoringReport.kind == "drift")
            .order_by(MonitoringReport.window_start.desc())
        ).first()
        assert last_drift is not None
        assert max(f["psi"] for f in last_drift["features"]) > 0.25
        # The replayed fortnight is not re-scored window by window (each score would be
        # stamped now and weigh in today's team trend): the seed scores each version itself.
        triggers = set(s.scalars(select(RiskScore.trigger).distinct()))
        assert "demo" in triggers
        assert "monitoring_run" not in triggers
        # Lifecycle: cards for the models asked for production, approved validations for all
        # but one tier-1 model, which the default policy blocks for want of one.
        assert (s.scalar(select(func.count()).select_from(ModelCard)) or 0) > 0
        assert set(s.scalars(select(Validation.status).distinct())) == {"approved"}
        production = s.scalars(select(Deployment).where(Deployment.environment == "production"))
        unvalidated = [
            d.model_id
            for d in production
            if any(
                r["rule"] == "independent_validation" and not r["passed"]
                for r in d.decision["rules"]
            )
        ]
        assert len(unvalidated) == 1
        assert not s.scalars(select(Validation).where(Validation.model_id == unvalidated[0])).all()
    engine.dispose()
