"""Per-prediction human overrides: all or nothing, idempotent, kept even for unknown ids."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from driftguard.audit.orm import AuditRecord
from driftguard.db.session import unit_of_work
from driftguard.ingest.orm import PredictionOverride
from support.monitoring import BASE_TIME, prediction_rows
from support.versions import Setup


def override(prediction_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "prediction_id": prediction_id,
        "original_decision": 1,
        "final_decision": 0,
        "reason": "income verified by phone",
        **extra,
    }


def post(client: TestClient, setup: Setup, rows: list[dict[str, Any]], headers: Any = None) -> Any:
    return client.post(
        f"{setup.url}/overrides", json={"overrides": rows}, headers=headers or setup.engineer
    )


def stored(client: TestClient, setup: Setup) -> list[dict[str, Any]]:
    page = client.get(f"{setup.url}/overrides", headers=setup.viewer).json()
    return page["items"]  # type: ignore[no-any-return]


def log_predictions(client: TestClient, setup: Setup, count: int = 20) -> None:
    rows = prediction_rows(count)
    response = client.post(f"{setup.url}/predictions", json={"rows": rows}, headers=setup.engineer)
    assert response.status_code == 200, response.text


def test_a_batch_is_stored_and_a_retry_changes_nothing(
    client: TestClient, setup: Setup, session_factory: sessionmaker[Session]
) -> None:
    log_predictions(client, setup)
    batch = [override("p-1"), override("p-2", final_decision="refer"), override("never-logged")]
    first = post(client, setup, batch)
    assert first.status_code == 200, first.text
    assert first.json() == {
        "received": 3,
        "new": 3,
        "duplicates": 0,
        "unmatched_prediction_ids": ["never-logged"],
    }
    retry = post(client, setup, batch)
    assert retry.json() == {
        "received": 3,
        "new": 0,
        "duplicates": 3,
        "unmatched_prediction_ids": ["never-logged"],
    }
    rows = {r["prediction_id"]: r for r in stored(client, setup)}
    assert set(rows) == {"p-1", "p-2", "never-logged"}
    # The prediction's own time is kept (p-1 was made one minute after BASE_TIME).
    assert rows["p-1"]["prediction_ts"].startswith("2026-11-01T00:01:00")
    assert rows["never-logged"]["prediction_ts"] is None
    assert (rows["p-2"]["original_decision"], rows["p-2"]["final_decision"]) == ("1", "refer")
    assert rows["p-1"]["reason"] == "income verified by phone"
    assert rows["p-1"]["logged_by_id"] is not None
    with unit_of_work(session_factory) as session:
        audited = session.scalars(
            select(AuditRecord).where(AuditRecord.action == "overrides.log")
        ).all()
    assert len(audited) == 1  # the retry changed nothing, so it recorded nothing
    assert audited[0].after == {"received": 3, "new": 3, "duplicates": 0, "unmatched": 1}


def test_a_bad_or_conflicting_batch_stores_nothing(
    client: TestClient, setup: Setup, session_factory: sessionmaker[Session]
) -> None:
    log_predictions(client, setup)
    assert post(client, setup, [override("p-1")]).status_code == 200

    changed = post(
        client, setup, [override("p-3"), override("p-1", final_decision=1, original_decision=0)]
    )
    assert (changed.status_code, changed.json()["error"]) == (409, "override_conflict")
    assert "p-1" in changed.json()["message"]

    same = post(client, setup, [override("p-4"), override("p-5", final_decision=1)])
    assert same.status_code == 422
    assert same.json()["details"][0]["loc"] == "overrides.1.final_decision"

    repeated = post(client, setup, [override("p-6"), override("p-6")])
    assert repeated.status_code == 422
    assert repeated.json()["details"][0]["loc"] == "overrides.1.prediction_id"

    unknown = post(client, setup, [override("p-7"), override("p-8", decided_by="Ann")])
    assert unknown.status_code == 422
    assert "decided_by" in unknown.text

    no_reason = [override("p-9"), {k: v for k, v in override("p-10").items() if k != "reason"}]
    assert "reason" in post(client, setup, no_reason).text
    assert post(client, setup, no_reason).status_code == 422
    blank = post(client, setup, [override("p-11", reason="   ")])
    assert blank.status_code == 422
    assert "reason" in blank.text
    assert post(client, setup, []).status_code == 422

    assert [r["prediction_id"] for r in stored(client, setup)] == ["p-1"]
    with unit_of_work(session_factory) as session:
        count = session.scalar(select(func.count()).select_from(PredictionOverride))
    assert count == 1


def test_who_may_log_overrides_and_who_is_recorded(client: TestClient, setup: Setup) -> None:
    log_predictions(client, setup)
    assert post(client, setup, [override("p-1")], setup.viewer).status_code == 403
    assert post(client, setup, [override("p-1")], setup.outsider).status_code == 404
    assert client.get(f"{setup.url}/overrides", headers=setup.outsider).status_code == 404
    team_id = client.get(f"/api/v1/models/{setup.model_id}", headers=setup.engineer).json()[
        "team_id"
    ]
    key = client.post(
        f"/api/v1/teams/{team_id}/api-keys", json={"name": "case-tool"}, headers=setup.engineer
    ).json()
    machine = {"X-API-Key": key["key"]}
    logged = post(
        client, setup, [override("p-2", overridden_by="A. Officer (credit desk)")], machine
    )
    assert logged.status_code == 200, logged.text
    (row,) = stored(client, setup)
    assert row["overridden_by"] == "A. Officer (credit desk)"
    assert row["logged_by_id"] is None
    assert row["logged_by_api_key_id"] == key["id"]
    assert row["created_at"] >= BASE_TIME.isoformat()
