from __future__ import annotations

import math

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from driftguard.db.session import unit_of_work
from driftguard.governance import risk
from driftguard.identity.permissions import Role
from driftguard.identity.principal import Principal

from .conftest import Org, monitor


def test_the_risk_index_is_stored_with_its_breakdown_and_history(
    client: TestClient, org: Org
) -> None:
    unscored = client.get(f"{org.url}/risk", headers=org.viewer).json()
    assert (unscored["id"], unscored["trigger"]) == (None, "computed_now")
    assert {c["evidence"] for c in unscored["components"]} >= {"missing"}
    monitor(client, org)  # a completed run scores the version
    calm = client.get(f"{org.url}/risk", headers=org.viewer).json()
    assert calm["id"] is not None
    assert calm["trigger"] == "monitoring_run"
    assert math.isclose(sum(c["contribution"] for c in calm["components"]), calm["score"])
    drift = {c["name"]: c for c in calm["components"]}["drift"]
    assert drift["evidence"] == "measured"
    assert math.isclose(
        drift["contribution"], 100 * 0.8 * drift["weight"] * drift["value"]
    )  # tier 2
    monitor(client, org, drifted=True, day=1)
    drifted = client.get(f"{org.url}/risk", headers=org.viewer).json()
    assert drifted["score"] > calm["score"]
    assert {c["name"]: c for c in drifted["components"]}["drift"]["value"] == 1.0
    history = client.get(f"{org.url}/risk/history", headers=org.viewer).json()
    assert [h["id"] for h in history["items"]] == [calm["id"], drifted["id"]]
    assert client.get(f"{org.url}/risk", headers=org.stranger).status_code == 404


def test_rescoring_on_request_needs_the_right_to_run_monitoring(
    client: TestClient, org: Org
) -> None:
    assert client.post(f"{org.url}/risk", headers=org.viewer).status_code == 403
    assert client.post(f"{org.url}/risk", headers=org.stranger).status_code == 404
    scored = client.post(f"{org.url}/risk", headers=org.engineer)
    assert (scored.status_code, scored.json()["trigger"]) == (201, "requested")


def test_history_can_start_from_the_newest(
    client: TestClient, org: Org, session_factory: sessionmaker[Session]
) -> None:
    ids = [client.post(f"{org.url}/risk", headers=org.engineer).json()["id"] for _ in range(3)]
    admin = Principal(user_id=None, platform_role=Role.ADMIN)
    with unit_of_work(session_factory) as session:
        page = risk.history(
            session,
            principal=admin,
            model_id=org.model_id,
            number=1,
            start=None,
            end=None,
            limit=2,
            offset=0,
            newest_first=True,
        )
    assert [s.id for s in page.items] == ids[:0:-1]
    assert page.total == 3
