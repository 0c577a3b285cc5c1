"""Incidents (EU AI Act Art. 73): deadlines, lateness, transitions, the timeline, links, scope,
and the job that announces late incidents once."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from driftguard.audit.orm import AuditRecord
from driftguard.db.session import unit_of_work
from driftguard.errors import ConflictError
from driftguard.governance.incident_alerts import LATE_EVENT, LATE_RULE, announce_late
from driftguard.governance.orm import Alert
from driftguard.identity.permissions import Role
from driftguard.identity.principal import Principal
from driftguard.jobs.maintenance import MAINTENANCE_JOBS, run_maintenance
from driftguard.lifecycle import incidents
from driftguard.lifecycle.incident_schemas import IncidentCreate, IncidentReport
from driftguard.lifecycle.orm import Incident, IncidentEntry
from driftguard.registry.orm import ModelVersion
from driftguard.settings import Settings, load_settings
from driftguard.webhooks.orm import WebhookDelivery
from support.config import make_settings
from support.identity import auth_headers, make_team, make_user
from support.registry import create_model, create_version

Headers = dict[str, str]
THREADS = 20
DAY = timedelta(days=1)
INCIDENT_JOB = next(job for job in MAINTENANCE_JOBS if job.name == "incident_deadlines")


@pytest.fixture
def settings(engine: Engine) -> Settings:
    # Each test signs in more people than the login limit lets one address per minute.
    return make_settings(
        engine.url.render_as_string(hide_password=False), rate_limit_login="1000/minute"
    )


@dataclass
class Org:
    team: int
    other_team: int
    engineer: Headers
    approver: Headers
    validator: Headers
    viewer: Headers
    stranger: Headers  # an engineer of another team
    model_id: int
    other_model_id: int  # the other team's model


@pytest.fixture
def org(client: TestClient, session_factory: sessionmaker[Session], hasher: PasswordHasher) -> Org:
    team, other = make_team(session_factory), make_team(session_factory)

    def user(teams: dict[int, Role]) -> Headers:
        return auth_headers(client, make_user(session_factory, hasher, teams=teams))

    engineer = user({team: Role.ML_ENGINEER})
    stranger = user({other: Role.ML_ENGINEER})
    model = create_model(client, engineer, team)
    create_version(client, engineer, model["id"])
    create_version(client, engineer, model["id"])
    other_model = create_model(client, stranger, other)
    create_version(client, stranger, other_model["id"])
    return Org(
        team=team,
        other_team=other,
        engineer=engineer,
        approver=user({team: Role.APPROVER}),
        validator=user({team: Role.VALIDATOR}),
        viewer=user({team: Role.VIEWER}),
        stranger=stranger,
        model_id=model["id"],
        other_model_id=other_model["id"],
    )


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def body(org: Org, **fields: Any) -> dict[str, Any]:
    aware = _now() - timedelta(hours=1)
    values: dict[str, Any] = {
        "model_id": org.model_id,
        "version": 1,
        "title": "credit limits doubled for one branch",
        "severity": "high",
        "occurred_at": (aware - timedelta(hours=2)).isoformat(),
        "became_aware_at": aware.isoformat(),
    }
    values.update(fields)
    return values


def post(client: TestClient, headers: Headers, **fields: Any) -> Any:
    return client.post("/api/v1/incidents", json=fields, headers=headers)


def create(client: TestClient, org: Org, **fields: Any) -> dict[str, Any]:
    response = post(client, org.engineer, **body(org, **fields))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def act(client: TestClient, headers: Headers, incident_id: int, verb: str, **fields: Any) -> Any:
    return client.post(f"/api/v1/incidents/{incident_id}/{verb}", json=fields, headers=headers)


def engineer_of(team: int) -> Principal:
    return Principal(user_id=None, team_roles={team: Role.ML_ENGINEER})


def create_direct(
    factory: sessionmaker[Session],
    org: Org,
    *,
    aware: datetime,
    category: str = "other_serious",
    deadline_days: dict[str, int] | None = None,
) -> int:
    """A serious incident recorded through the service, aware at ``aware``."""
    data = IncidentCreate(
        model_id=org.model_id,
        version=1,
        title="scores shifted",
        severity="critical",
        serious=True,
        category=category,  # type: ignore[arg-type]
        occurred_at=aware - timedelta(hours=1),
        became_aware_at=aware,
    )
    with unit_of_work(factory) as session:
        return incidents.create(
            session,
            principal=engineer_of(org.team),
            data=data,
            deadline_days=deadline_days or Settings().incident_deadline_days(),
        ).id


# --- deadlines --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "days"),
    [
        ("death_or_serious_harm_to_health", 10),
        ("widespread_infringement", 2),
        ("critical_infrastructure_disruption", 2),
        ("other_serious", 15),
    ],
)
def test_a_serious_incident_is_due_by_its_category_from_awareness(
    client: TestClient, org: Org, category: str, days: int
) -> None:
    aware = _now() - timedelta(hours=3)
    created = create(
        client, org, serious=True, category=category, became_aware_at=aware.isoformat()
    )
    assert created["status"] == "open"
    assert created["serious"] is True
    assert created["category"] == category
    assert datetime.fromisoformat(created["reporting_deadline"]) == aware + timedelta(days=days)
    assert created["late"] is False
    read = client.get(f"/api/v1/incidents/{created['id']}", headers=org.viewer).json()
    assert read["reporting_deadline"] == created["reporting_deadline"]


def test_deadlines_are_configurable(
    org: Org, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRIFTGUARD_INCIDENT_DEADLINE_DAYS_OTHER_SERIOUS", "30")
    monkeypatch.setenv("DRIFTGUARD_INCIDENT_DEADLINE_DAYS_WIDESPREAD_INFRINGEMENT", "1")
    configured = load_settings().incident_deadline_days()
    assert configured["other_serious"] == 30
    assert configured["widespread_infringement"] == 1
    assert configured["death_or_serious_harm_to_health"] == 10
    aware = _now() - DAY
    for category, days in (("other_serious", 30), ("widespread_infringement", 1)):
        incident_id = create_direct(
            session_factory, org, aware=aware, category=category, deadline_days=configured
        )
        with unit_of_work(session_factory) as session:
            stored = session.get(Incident, incident_id)
            assert stored is not None
            assert stored.reporting_deadline == aware + timedelta(days=days)


def test_an_incident_that_is_not_serious_has_no_deadline_and_may_close_at_once(
    client: TestClient, org: Org
) -> None:
    created = create(client, org, severity="low")
    assert created["serious"] is False
    assert created["category"] is None
    assert created["reporting_deadline"] is None
    closed = act(client, org.approver, created["id"], "close", resolution="threshold restored")
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"
    assert closed.json()["resolution"] == "threshold restored"


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"serious": True}, "category"),
        ({"serious": False, "category": "other_serious"}, "category"),
        ({"became_aware_at": (_now() + timedelta(hours=1)).isoformat()}, "became_aware_at"),
        (
            {
                "occurred_at": (_now() - DAY).isoformat(),
                "became_aware_at": (_now() - 2 * DAY).isoformat(),
            },
            "became_aware_at",
        ),
        ({"severity": "catastrophic"}, "severity"),
        ({"serious": True, "category": "embarrassing"}, "category"),
        ({"occurred_at": "2026-01-01T00:00:00"}, "occurred_at"),  # no time zone
    ],
)
def test_bad_input_is_refused_naming_the_field(
    client: TestClient, org: Org, fields: dict[str, Any], field: str
) -> None:
    response = post(client, org.engineer, **body(org, **fields))
    assert response.status_code == 422, response.text
    assert any(field in d["loc"] for d in response.json()["details"]), response.json()
    assert client.get("/api/v1/incidents", headers=org.engineer).json()["total"] == 0


def test_unknown_fields_are_refused_naming_them(client: TestClient, org: Org) -> None:
    response = post(client, org.engineer, **body(org, reporter="me"))
    assert response.status_code == 422
    assert "reporter" in response.json()["message"]
    created = create(client, org)
    response = act(client, org.engineer, created["id"], "timeline", kind="note", text="x", pin=1)
    assert response.status_code == 422
    assert "pin" in response.json()["message"]


# --- transitions ------------------------------------------------------------------------------


def test_a_serious_incident_is_reported_before_it_closes(client: TestClient, org: Org) -> None:
    created = create(client, org, serious=True, category="death_or_serious_harm_to_health")
    early = act(client, org.engineer, created["id"], "close", resolution="patched")
    assert early.status_code == 409
    assert "open" in early.json()["message"]
    assert "closed" in early.json()["message"]
    reported = act(client, org.validator, created["id"], "report", authority_reference="MSA-1")
    assert reported.status_code == 200, reported.text
    assert reported.json()["status"] == "reported"
    assert reported.json()["authority_reference"] == "MSA-1"
    assert reported.json()["reported_at"] is not None
    assert reported.json()["late"] is False
    again = act(client, org.engineer, created["id"], "report", authority_reference="MSA-2")
    assert again.status_code == 409
    assert "reported" in again.json()["message"]
    closed = act(client, org.engineer, created["id"], "close", resolution="model retrained")
    assert closed.status_code == 200
    assert closed.json()["status"] == "closed"
    twice = act(client, org.engineer, created["id"], "close", resolution="again")
    assert twice.status_code == 409
    assert "closed" in twice.json()["message"]
    late_report = act(client, org.engineer, created["id"], "report", authority_reference="x")
    assert late_report.status_code == 409
    assert "closed" in late_report.json()["message"]
    assert "reported" in late_report.json()["message"]


def test_a_report_needs_a_reference_and_a_time_that_is_neither_future_nor_before_awareness(
    client: TestClient, org: Org
) -> None:
    created = create(client, org, serious=True, category="other_serious")
    for fields, field in (
        ({}, "authority_reference"),
        ({"authority_reference": "  "}, "authority_reference"),
        (
            {"authority_reference": "A", "reported_at": (_now() + DAY).isoformat()},
            "reported_at",
        ),
        (
            {"authority_reference": "A", "reported_at": (_now() - 3 * DAY).isoformat()},
            "reported_at",
        ),
    ):
        response = act(client, org.engineer, created["id"], "report", **fields)
        assert response.status_code == 422, (fields, response.text)
        assert any(field in d["loc"] for d in response.json()["details"])
    closing = act(client, org.engineer, created["id"], "close")
    assert closing.status_code == 422
    assert client.get(f"/api/v1/incidents/{created['id']}", headers=org.engineer).json()[
        "status"
    ] == ("open")


def test_twenty_concurrent_reports_take_effect_once(
    org: Org, session_factory: sessionmaker[Session]
) -> None:
    incident_id = create_direct(session_factory, org, aware=_now() - DAY)
    principal = engineer_of(org.team)

    def report_it(n: int) -> Callable[[Session], object]:
        return lambda s: incidents.report(
            s,
            principal=principal,
            incident_id=incident_id,
            data=IncidentReport(authority_reference=f"MSA-{n}"),
        )

    outcomes = race(session_factory, [report_it(n) for n in range(THREADS)])
    assert outcomes.count("ok") == 1, outcomes
    assert set(outcomes) <= {"ok", "invalid_transition", "concurrent_change"}
    with unit_of_work(session_factory) as session:
        assert entries(session, incident_id, "reported") == 1
        assert audited(session, "incident.report") == 1
        stored = session.get(Incident, incident_id)
        assert stored is not None
        assert stored.status == "reported"


def test_twenty_concurrent_closes_take_effect_once(
    client: TestClient, org: Org, session_factory: sessionmaker[Session]
) -> None:
    incident_id = create(client, org)["id"]
    principal = engineer_of(org.team)
    outcomes = race(
        session_factory,
        [
            lambda s: incidents.close(
                s, principal=principal, incident_id=incident_id, resolution="done"
            )
        ]
        * THREADS,
    )
    assert outcomes.count("ok") == 1, outcomes
    assert set(outcomes) <= {"ok", "invalid_transition", "concurrent_change"}
    with unit_of_work(session_factory) as session:
        assert entries(session, incident_id, "closed") == 1
        assert audited(session, "incident.close") == 1


def race(factory: sessionmaker[Session], calls: list[Callable[[Session], object]]) -> list[str]:
    """Each call in its own transaction, all at once; each outcome: ok or the conflict's code."""

    def attempt(call: Callable[[Session], object]) -> str:
        try:
            with unit_of_work(factory) as session:
                call(session)
            return "ok"
        except ConflictError as exc:
            return exc.code

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(attempt, calls))


def entries(session: Session, incident_id: int, kind: str) -> int:
    return (
        session.scalar(
            select(func.count()).where(
                IncidentEntry.incident_id == incident_id, IncidentEntry.kind == kind
            )
        )
        or 0
    )


def audited(session: Session, action: str) -> int:
    return session.scalar(select(func.count()).where(AuditRecord.action == action)) or 0


# --- the timeline -----------------------------------------------------------------------------


def test_the_timeline_is_ordered_and_append_only(
    client: TestClient, org: Org, session_factory: sessionmaker[Session], engine: Engine
) -> None:
    created = create(client, org, serious=True, category="widespread_infringement")
    incident_id = created["id"]
    url = f"/api/v1/incidents/{incident_id}/timeline"
    for kind, words in (
        ("investigation", "branch rules changed"),
        ("mitigation", "model paused"),
    ):
        response = act(client, org.engineer, incident_id, "timeline", kind=kind, text=words)
        assert response.status_code == 201, response.text
        assert response.json()["kind"] == kind
    act(client, org.engineer, incident_id, "report", authority_reference="MSA-9")
    act(client, org.validator, incident_id, "timeline", kind="communication", text="ack'd")
    act(client, org.engineer, incident_id, "close", resolution="rules reverted")
    timeline = client.get(url, headers=org.viewer).json()
    assert [e["kind"] for e in timeline["items"]] == [
        "created",
        "investigation",
        "mitigation",
        "reported",
        "communication",
        "closed",
    ]
    ids = [e["id"] for e in timeline["items"]]
    assert ids == sorted(ids)
    assert timeline["items"][3]["from_status"] == "open"
    assert timeline["items"][3]["to_status"] == "reported"
    # Closed: no more entries. No route edits or deletes one.
    after = act(client, org.engineer, incident_id, "timeline", kind="note", text="late note")
    assert after.status_code == 409
    entry_url = f"{url}/{ids[1]}"
    assert client.put(entry_url, json={"text": "x"}, headers=org.engineer).status_code in (404, 405)
    assert client.delete(entry_url, headers=org.engineer).status_code in (404, 405)
    assert client.delete(url, headers=org.engineer).status_code == 405
    assert client.patch(url, json={}, headers=org.engineer).status_code == 405
    with unit_of_work(session_factory) as session:
        assert audited(session, "incident.timeline") == 3
    # The database refuses an edit (both backends) and a delete (PostgreSQL) of an entry.
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(
            text("UPDATE incident_timeline SET text = 'rewritten' WHERE id = :id"),
            {"id": ids[1]},
        )
    if engine.dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text("DELETE FROM incident_timeline WHERE id = :id"), {"id": ids[1]})
    assert client.get(url, headers=org.viewer).json()["items"][1]["text"] == (
        "branch rules changed"
    )
    # What the guard lets through: the cascade from a deleted incident (hence model) to its entries.
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM incidents WHERE id = :id"), {"id": incident_id})
    with unit_of_work(session_factory) as session:
        left = select(func.count()).where(IncidentEntry.incident_id == incident_id)
        assert session.scalar(left) == 0


# --- links ------------------------------------------------------------------------------------


def _alert(factory: sessionmaker[Session], org: Org, number: int) -> int:
    """An alert of version ``number`` of the org's model."""
    with unit_of_work(factory) as session:
        version_id = session.scalar(
            select(ModelVersion.id).where(
                ModelVersion.model_id == org.model_id, ModelVersion.number == number
            )
        )
        assert version_id is not None
        alert = Alert(
            team_id=org.team,
            model_id=org.model_id,
            version_id=version_id,
            rule="psi",
            subject="income",
            fact="drift.psi",
            severity="critical",
            status="open",
            observed=0.4,
            operator=">",
            threshold=0.2,
            message="income: drifted",
            window_end=_now(),
        )
        session.add(alert)
        session.flush()
        return alert.id


def _deployment(client: TestClient, headers: Headers, model_id: int, number: int) -> int:
    response = client.post(
        "/api/v1/deployments",
        json={"model_id": model_id, "version": number, "environment": "staging"},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    deployment_id: int = response.json()["id"]
    return deployment_id


def test_links_must_be_alerts_and_deployments_of_the_same_version(
    client: TestClient, org: Org, session_factory: sessionmaker[Session]
) -> None:
    alert_v1, alert_v2 = _alert(session_factory, org, 1), _alert(session_factory, org, 2)
    deployment_v1 = _deployment(client, org.engineer, org.model_id, 1)
    deployment_v2 = _deployment(client, org.engineer, org.model_id, 2)
    foreign = _deployment(client, org.stranger, org.other_model_id, 1)
    linked = create(client, org, alert_ids=[alert_v1, alert_v1], deployment_ids=[deployment_v1])
    assert linked["alert_ids"] == [alert_v1]
    assert linked["deployment_ids"] == [deployment_v1]
    for fields, field, wrong in (
        ({"alert_ids": [alert_v1, alert_v2]}, "alert_ids", alert_v2),
        ({"deployment_ids": [deployment_v2]}, "deployment_ids", deployment_v2),
        ({"deployment_ids": [foreign]}, "deployment_ids", foreign),
        ({"alert_ids": [10**9]}, "alert_ids", 10**9),
    ):
        response = post(client, org.engineer, **body(org, **fields))
        assert response.status_code == 422, response.text
        detail = response.json()["details"][0]
        assert detail["loc"] == field
        assert str(wrong) in detail["msg"]
    assert client.get("/api/v1/incidents", headers=org.engineer).json()["total"] == 1


# --- scope and permissions --------------------------------------------------------------------


def test_another_teams_incidents_are_invisible(client: TestClient, org: Org) -> None:
    mine = create(client, org, serious=True, category="other_serious")
    path = f"/api/v1/incidents/{mine['id']}"
    assert client.get(path, headers=org.stranger).status_code == 404
    assert client.get(f"{path}/timeline", headers=org.stranger).status_code == 404
    for verb, fields in (
        ("report", {"authority_reference": "x"}),
        ("close", {"resolution": "x"}),
        ("timeline", {"kind": "note", "text": "x"}),
    ):
        assert act(client, org.stranger, mine["id"], verb, **fields).status_code == 404
    assert client.get("/api/v1/incidents", headers=org.stranger).json()["total"] == 0
    listed = client.get(
        "/api/v1/incidents", params={"model_id": org.model_id}, headers=org.stranger
    ).json()
    assert listed["items"] == []
    # Nor may anyone record an incident of a model they cannot see.
    response = post(client, org.stranger, **body(org))
    assert response.status_code == 404
    theirs = post(client, org.engineer, **body(org, model_id=org.other_model_id))
    assert theirs.status_code == 404
    assert client.get(path, headers=org.engineer).json()["status"] == "open"


def test_a_viewer_reads_but_may_not_write(client: TestClient, org: Org) -> None:
    created = create(client, org)
    assert post(client, org.viewer, **body(org)).status_code == 403
    assert act(client, org.viewer, created["id"], "close", resolution="x").status_code == 403
    assert act(
        client, org.viewer, created["id"], "timeline", kind="note", text="x"
    ).status_code == (403)
    assert client.get("/api/v1/incidents", headers=org.viewer).json()["total"] == 1
    # Approvers and validators record incidents too.
    assert post(client, org.approver, **body(org)).status_code == 201
    assert post(client, org.validator, **body(org)).status_code == 201


# --- lateness ---------------------------------------------------------------------------------


def _late_ids(factory: sessionmaker[Session], org: Org, now: datetime, late: bool) -> list[int]:
    with unit_of_work(factory) as session:
        page = incidents.list_incidents(
            session,
            principal=engineer_of(org.team),
            statuses=None,
            serious=None,
            late_only=late,
            model_id=None,
            limit=50,
            offset=0,
            now=now,
        )
        return [i.id for i in page.items]


def test_late_starts_one_second_after_the_deadline(
    org: Org, session_factory: sessionmaker[Session]
) -> None:
    aware = _now() - 20 * DAY
    incident_id = create_direct(session_factory, org, aware=aware)  # other_serious: 15 days
    deadline = aware + 15 * DAY
    assert _late_ids(session_factory, org, deadline, late=True) == []
    assert _late_ids(session_factory, org, deadline, late=False) == [incident_id]
    second = deadline + timedelta(seconds=1)
    assert _late_ids(session_factory, org, second, late=True) == [incident_id]
    assert _late_ids(session_factory, org, second, late=False) == []
    with unit_of_work(session_factory) as session:
        assert [i.id for i in incidents.late(session, deadline)] == []
        assert [i.id for i in incidents.late(session, second)] == [incident_id]


def test_a_report_after_the_deadline_stays_late_and_one_at_it_is_in_time(
    client: TestClient, org: Org, session_factory: sessionmaker[Session]
) -> None:
    aware = _now() - 20 * DAY
    in_time = create_direct(session_factory, org, aware=aware)
    too_late = create_direct(session_factory, org, aware=aware)
    deadline = aware + 15 * DAY
    principal = engineer_of(org.team)
    with unit_of_work(session_factory) as session:
        for incident_id, at in ((in_time, deadline), (too_late, deadline + timedelta(seconds=1))):
            incidents.report(
                session,
                principal=principal,
                incident_id=incident_id,
                data=IncidentReport(authority_reference="MSA", reported_at=at),
            )
    assert _late_ids(session_factory, org, _now(), late=True) == [too_late]
    listed = client.get("/api/v1/incidents", params={"late": "true"}, headers=org.viewer).json()
    assert [i["id"] for i in listed["items"]] == [too_late]
    assert listed["items"][0]["late"] is True
    on_time = client.get(f"/api/v1/incidents/{in_time}", headers=org.viewer).json()
    assert on_time["late"] is False
    assert on_time["status"] == "reported"


def test_the_list_filters_by_status_seriousness_lateness_and_model(
    client: TestClient, org: Org, session_factory: sessionmaker[Session]
) -> None:
    overdue = create_direct(session_factory, org, aware=_now() - 16 * DAY)
    fresh = create(client, org, serious=True, category="other_serious")["id"]
    minor = create(client, org)["id"]
    act(client, org.engineer, minor, "close", resolution="fine")

    def ids(**params: Any) -> list[int]:
        response = client.get("/api/v1/incidents", params=params, headers=org.viewer)
        assert response.status_code == 200, response.text
        return sorted(i["id"] for i in response.json()["items"])

    assert ids() == sorted([overdue, fresh, minor])
    assert ids(late="true") == [overdue]
    assert ids(late="false") == sorted([fresh, minor])
    assert ids(serious="true") == sorted([overdue, fresh])
    assert ids(serious="false") == [minor]
    assert ids(status="closed") == [minor]
    assert ids(status=["open", "reported"], serious="true", late="true") == [overdue]
    assert ids(model_id=org.other_model_id) == []
    assert (
        client.get("/api/v1/incidents", params={"status": "lost"}, headers=org.viewer).status_code
        == 422
    )


def test_late_incidents_are_announced_once(
    client: TestClient,
    org: Org,
    session_factory: sessionmaker[Session],
    settings: Settings,
) -> None:
    hook = client.post(
        f"/api/v1/teams/{org.team}/webhooks",
        json={"url": "https://hooks.example.com/incidents"},
        headers=org.engineer,
    )
    assert hook.status_code == 201, hook.text
    overdue = create_direct(session_factory, org, aware=_now() - 16 * DAY)
    in_time = create_direct(session_factory, org, aware=_now() - DAY)
    reported_late = create_direct(session_factory, org, aware=_now() - 16 * DAY)
    act(client, org.engineer, reported_late, "report", authority_reference="MSA-3")

    for _ in range(3):
        ran = run_maintenance(session_factory, settings, jobs=[INCIDENT_JOB])
        assert ran == ["incident_deadlines"]
    with unit_of_work(session_factory) as session:
        alerts = session.scalars(select(Alert).where(Alert.rule == LATE_RULE)).all()
        assert [(a.subject, a.status, a.severity) for a in alerts] == [
            (f"incident {overdue}", "open", "critical")
        ]
        deliveries = session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.event_type == LATE_EVENT)
        ).all()
        assert len(deliveries) == 1
        assert f'"id":{overdue}' in deliveries[0].body
        assert deliveries[0].alert_id == alerts[0].id
        assert entries(session, overdue, "deadline_missed") == 1
        assert entries(session, in_time, "deadline_missed") == 0
        assert entries(session, reported_late, "deadline_missed") == 0
        assert audited(session, "incident.late") == 1
    # The alert shows with the others.
    listed = client.get("/api/v1/alerts", headers=org.viewer).json()
    assert [a["subject"] for a in listed["items"]] == [f"incident {overdue}"]
    # Reported at last: the next rounds resolve its alert, once.
    act(client, org.engineer, overdue, "report", authority_reference="MSA-4")
    for _ in range(2):
        run_maintenance(session_factory, settings, jobs=[INCIDENT_JOB])
    with unit_of_work(session_factory) as session:
        alert = session.scalars(select(Alert).where(Alert.rule == LATE_RULE)).one()
        assert alert.status == "resolved"
        assert alert.resolution is not None
        assert alert.resolution.startswith("incident reported at")
        kinds = session.scalars(select(WebhookDelivery.event_type)).all()
        assert sorted(kinds) == ["alert.resolved", LATE_EVENT]
        assert entries(session, overdue, "deadline_missed") == 1
    assert client.get("/api/v1/alerts", headers=org.viewer).json()["items"] == []
    assert client.get(f"/api/v1/incidents/{overdue}", headers=org.viewer).json()["late"] is True


def test_processes_announcing_at_once_announce_each_late_incident_once(
    org: Org, session_factory: sessionmaker[Session]
) -> None:
    overdue = create_direct(session_factory, org, aware=_now() - 16 * DAY)

    def announce() -> list[int]:
        with unit_of_work(session_factory) as session:
            return announce_late(session, _now())

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: announce(), range(4)))
    assert sorted(i for announced in results for i in announced) == [overdue]
    with unit_of_work(session_factory) as session:
        assert session.scalar(select(func.count()).where(Alert.rule == LATE_RULE)) == 1
