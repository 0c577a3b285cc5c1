from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from driftguard.audit.orm import AuditRecord
from driftguard.cli.main import app
from driftguard.identity.permissions import Role
from driftguard.ingest.orm import PredictionBlock, PredictionRecord
from support.identity import auth_headers, make_team, make_user
from support.monitoring import prediction_rows
from support.registry import create_model, create_version

runner = CliRunner()


@pytest.fixture
def env(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTGUARD_DATABASE_URL", engine.url.render_as_string(hide_password=False))


def test_purge_needs_yes_then_deletes_old_predictions_audited(
    env: None,
    client: TestClient,
    session_factory: sessionmaker[Session],
    hasher: PasswordHasher,
) -> None:
    team = make_team(session_factory)
    headers = auth_headers(
        client, make_user(session_factory, hasher, teams={team: Role.ML_ENGINEER})
    )
    model = create_model(client, headers, team)
    create_version(client, headers, model["id"])
    old, recent = prediction_rows(3), prediction_rows(2, start=10)
    now = datetime.now(UTC)
    for row in old:
        row["timestamp"] = (now - timedelta(days=30)).isoformat()
    for row in recent:
        row["timestamp"] = (now - timedelta(days=1)).isoformat()
    url = f"/api/v1/models/{model['id']}/versions/1/predictions"
    assert client.post(url, json={"rows": old + recent}, headers=headers).status_code == 200

    refused = runner.invoke(app, ["predictions", "purge", "--older-than-days", "1"])
    assert refused.exit_code == 2
    purged = runner.invoke(app, ["predictions", "purge", "--older-than-days", "10", "--yes"])
    assert purged.exit_code == 0, purged.output
    assert "3 predictions" in purged.output
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(PredictionRecord)) == 2
        assert s.scalar(select(func.count()).select_from(PredictionBlock)) == 1
        purges = s.scalars(
            select(AuditRecord.after).where(AuditRecord.action == "predictions.purge")
        ).all()
    assert [p["records"] for p in purges if p is not None] == [3]


def test_maintain_reports_what_it_did(env: None) -> None:
    result = runner.invoke(app, ["predictions", "maintain"])
    assert result.exit_code == 0, result.output
    assert "partitions created:" in result.output
