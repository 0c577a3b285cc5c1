"""Dead letters: who may read them, what they show, and the metric that counts them."""

from __future__ import annotations

from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from driftguard.db.session import unit_of_work
from driftguard.identity.permissions import Role
from driftguard.jobs import dead_letters
from support.identity import auth_headers, make_team, make_user

URL = "/api/v1/dead-letters"


def _record(factory: sessionmaker[Session], task_id: str, name: str) -> None:
    with unit_of_work(factory) as session:
        dead_letters.record(
            session,
            task_id=task_id,
            task_name=name,
            arguments=[1, 2],
            error="OperationalError: database went away",
            attempts=6,
        )


def test_admins_and_auditors_read_dead_letters_others_may_not(
    client: TestClient, session_factory: sessionmaker[Session], hasher: PasswordHasher
) -> None:
    _record(session_factory, "a", "driftguard.run_window")
    _record(session_factory, "b", "driftguard.maintenance")
    # The same task dying again is recorded once.
    _record(session_factory, "a", "driftguard.run_window")
    team = make_team(session_factory)
    for role in (Role.ADMIN, Role.AUDITOR):
        headers = auth_headers(client, make_user(session_factory, hasher, platform_role=role))
        page = client.get(URL, headers=headers)
        assert page.status_code == 200, page.text
        assert page.json()["total"] == 2
        assert [i["task_id"] for i in page.json()["items"]] == ["b", "a"]  # newest first
        only = client.get(URL, params={"task_name": "driftguard.run_window"}, headers=headers)
        assert [i["task_id"] for i in only.json()["items"]] == ["a"]
        assert only.json()["items"][0]["attempts"] == 6
    for role in (Role.ML_ENGINEER, Role.APPROVER, Role.VIEWER):
        headers = auth_headers(client, make_user(session_factory, hasher, teams={team: role}))
        refused = client.get(URL, headers=headers)
        assert refused.status_code == 403, (role, refused.text)
    assert client.get(URL).status_code == 401


def test_a_bad_filter_is_a_422_naming_it(
    client: TestClient, session_factory: sessionmaker[Session], hasher: PasswordHasher
) -> None:
    headers = auth_headers(client, make_user(session_factory, hasher, platform_role=Role.ADMIN))
    response = client.get(URL, params={"task_name": "x; drop"}, headers=headers)
    assert response.status_code == 422
    assert "task_name" in response.text


def test_the_metric_counts_dead_letters_from_the_database(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    assert "driftguard_task_dead_letters 0.0" in client.get("/metrics").text
    _record(session_factory, "a", "driftguard.run_window")
    _record(session_factory, "b", "driftguard.run_window")
    assert "driftguard_task_dead_letters 2.0" in client.get("/metrics").text
