"""When reviews fall due: the cadence of the policy in force per tier, the clock's start (last
review, else first production deployment, else registration), the due-soon and overdue lists
scoped to the caller's teams, the overdue alert, the review facts, the MRI's staleness and the
dashboard's count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from driftguard.dashboard.service import build_executive
from driftguard.db.base import utcnow
from driftguard.db.session import unit_of_work
from driftguard.governance import reviews_due
from driftguard.governance.facts import Subject, gather, with_risk
from driftguard.governance.orm import Alert, Deployment
from driftguard.identity.permissions import Role
from driftguard.identity.principal import Principal
from driftguard.jobs.maintenance import MAINTENANCE_JOBS, run_maintenance
from driftguard.registry.orm import ModelVersion, RegisteredModel
from driftguard.rules.default import DEFAULT_POLICY
from driftguard.rules.document import PolicyDocument, PolicyError, content_hash, parse_policy
from driftguard.rules.facts import FACTS
from driftguard.settings import Settings
from support.identity import auth_headers, make_user
from support.registry import create_model, create_version
from support.reviews import ReviewTeam, attest, go_live, make_review_team, registered_at
from support.web import web_sign_in

ADMIN = Principal(user_id=None, platform_role=Role.ADMIN)
REVIEW_JOBS = [job for job in MAINTENANCE_JOBS if job.name == "review_alerts"]
START = datetime(2025, 1, 31, 12, 0, tzinfo=UTC)


@pytest.fixture
def rt(
    client: TestClient, session_factory: sessionmaker[Session], hasher: PasswordHasher
) -> ReviewTeam:
    return make_review_team(client, session_factory, hasher)  # tier 2 (medium, medium)


def live_since(factory: sessionmaker[Session], rt: ReviewTeam, at: datetime) -> None:
    go_live(factory, team_id=rt.id, model_id=rt.model_id, version_id=rt.version_id, at=at)


# --- the cadence in the policy --------------------------------------------------------------------


# A policy as stored before the review cadence (and rule preconditions) existed, with the hash
# the code of that time computed for it.
STORED_BEFORE_CADENCE = """
description: a stored policy from before the review cadence
rules:
  - {name: reference_data, fact: reference.rows, operator: ">", threshold: 0, severity: block}
  - {name: feature_drift, fact: drift.psi, operator: "<", threshold: 0.25, severity: block,
     environments: [production]}
approvals:
  - {environments: [production], required: 2, roles: [approver], separation_of_duties: true}
"""
HASH_BEFORE_CADENCE = "df1191409361d3e6e222a749cd4fdbf43862ea2b33c27ff8b5a3c9f3767e267a"


def test_documents_without_a_cadence_keep_their_hash() -> None:
    before = parse_policy(STORED_BEFORE_CADENCE)
    assert content_hash(before) == HASH_BEFORE_CADENCE
    assert before.reviews is None
    assert DEFAULT_POLICY.reviews is None
    assert [DEFAULT_POLICY.review_cadence.months(t) for t in (1, 2, 3)] == [12, 24, 36]
    # A document as stored (its model_dump) parses back to the same hash, with or without the
    # key the new field dumps as.
    stored = before.model_dump(mode="json")
    assert content_hash(PolicyDocument.model_validate(stored)) == HASH_BEFORE_CADENCE
    stored.pop("reviews")
    assert content_hash(PolicyDocument.model_validate(stored)) == HASH_BEFORE_CADENCE
    # Setting the cadence (even to the defaults) is a different policy.
    explicit = parse_policy({**stored, "reviews": {"tier_1": 12}})
    assert explicit.review_cadence.months(1) == 12
    assert content_hash(explicit) != HASH_BEFORE_CADENCE
    with pytest.raises(PolicyError) as refused:
        parse_policy({"reviews": {"tier_2": 0}})
    assert refused.value.problems[0][0] == "reviews.tier_2"


def test_review_facts_are_in_the_catalogue() -> None:
    assert {"review.overdue", "review.days_until_due"} <= FACTS.keys()


# --- due dates ------------------------------------------------------------------------------------


def test_due_dates_per_tier_at_the_boundary(
    client: TestClient, rt: ReviewTeam, session_factory: sessionmaker[Session]
) -> None:
    tiers = {1: ("high", "high"), 2: ("medium", "medium"), 3: ("low", "low")}
    versions = {}
    for tier, (materiality, criticality) in tiers.items():
        model = create_model(
            client, rt.owner.headers, rt.id, materiality=materiality, criticality=criticality
        )
        version = create_version(client, rt.owner.headers, model["id"])
        go_live(
            session_factory, team_id=rt.id, model_id=model["id"], version_id=version["id"], at=START
        )
        versions[tier] = version["id"]
    expected = {
        1: datetime(2026, 1, 31, 12, tzinfo=UTC),
        2: datetime(2027, 1, 31, 12, tzinfo=UTC),
        3: datetime(2028, 1, 31, 12, tzinfo=UTC),
    }
    with unit_of_work(session_factory) as session:
        clocks = {c.version_id: c for c in reviews_due.production_clocks(session, visible=None)}
        for tier, due in expected.items():
            clock = clocks[versions[tier]]
            assert (clock.tier, clock.months, clock.since, clock.due_at) == (
                tier,
                12 * tier,
                "production",
                due,
            )

            def listed(now: datetime, status: reviews_due.DueStatus) -> set[int]:
                page = reviews_due.list_due(
                    session, principal=ADMIN, status=status, limit=200, offset=0, now=now
                )
                return {r.version_id for r in page.items}

            version_id = versions[tier]
            # Due on the moment itself, late a microsecond after; due soon 30 days before.
            assert version_id in listed(due, "due_soon")
            assert version_id not in listed(due, "overdue")
            assert version_id in listed(due + timedelta(microseconds=1), "overdue")
            assert version_id in listed(due - timedelta(days=30), "due_soon")
            assert version_id not in listed(due - timedelta(days=30, seconds=1), "due_soon")


def test_a_month_end_start_is_clamped() -> None:
    assert reviews_due.add_months(datetime(2024, 1, 31, tzinfo=UTC), 1) == datetime(
        2024, 2, 29, tzinfo=UTC
    )
    assert reviews_due.add_months(datetime(2024, 11, 30, tzinfo=UTC), 3) == datetime(
        2025, 2, 28, tzinfo=UTC
    )


def test_the_clock_runs_from_the_review_else_production_else_registration(
    client: TestClient, rt: ReviewTeam, session_factory: sessionmaker[Session]
) -> None:
    now = utcnow()
    registered_at(session_factory, rt.version_id, now - timedelta(days=800))

    def read() -> tuple[dict[str, float | None], float]:
        with unit_of_work(session_factory) as session:
            model = session.get(RegisteredModel, rt.model_id)
            version = session.get(ModelVersion, rt.version_id)
            assert model is not None
            assert version is not None
            facts = gather(session, [Subject.of(model, version)], now=utcnow())[version.id]
        values = {
            f: facts.value(f)
            for f in ("review.overdue", "review.days_until_due", "validation.days_since")
        }
        _, risk = with_risk(facts, DEFAULT_POLICY.mri)
        staleness = next(c for c in risk.components if c.name == "staleness")
        return values, staleness.contribution

    # Never deployed: from registration, 800 days ago; tier 2 is due after 24 months.
    registered, stale = read()
    assert registered["review.overdue"] == 1.0
    assert -72 < (registered["review.days_until_due"] or 0) < -68
    assert (registered["validation.days_since"] or 0) == pytest.approx(800, abs=0.1)

    live_since(session_factory, rt, now - timedelta(days=10))
    produced, _ = read()
    assert produced["review.overdue"] == 0.0
    assert 715 < (produced["review.days_until_due"] or 0) < 722

    opened = attest(client, rt.owner, rt.reviews, "satisfactory").json()
    done = attest(client, rt.validator, f"{rt.reviews}/{opened['id']}/attest", "satisfactory")
    assert done.status_code == 200, done.text
    reviewed, fresh = read()
    assert reviewed["review.overdue"] == 0.0
    assert 729 < (reviewed["review.days_until_due"] or 0) <= 731
    # The MRI's staleness now runs from the review: near zero instead of 800 days (capped).
    days_since = reviewed["validation.days_since"]
    assert days_since is not None
    assert days_since < 0.01
    assert stale > 0
    assert fresh < stale / 100


def test_the_cadence_of_the_policy_in_force(
    client: TestClient,
    rt: ReviewTeam,
    session_factory: sessionmaker[Session],
    hasher: PasswordHasher,
) -> None:
    live_since(session_factory, rt, utcnow() - timedelta(days=100))
    with unit_of_work(session_factory) as session:
        assert (
            reviews_due.list_due(
                session, principal=ADMIN, status="overdue", limit=10, offset=0
            ).total
            == 0
        )
    admin = auth_headers(client, make_user(session_factory, hasher, platform_role=Role.ADMIN))
    source = f"scope: {{teams: [{rt.id}]}}\nreviews: {{tier_2: 3}}\n"
    created = client.post(
        "/api/v1/policies", json={"name": "quarterly", "source": source}, headers=admin
    )
    assert created.status_code == 201, created.text
    policy_id = created.json()["id"]
    activated = client.post(f"/api/v1/policies/{policy_id}/versions/1/activate", headers=admin)
    assert activated.status_code == 200, activated.text
    overdue = client.get("/api/v1/reviews?status=overdue", headers=rt.viewer.headers).json()
    assert [(r["version_id"], r["cadence_months"]) for r in overdue["items"]] == [
        (rt.version_id, 3)
    ]


# --- the lists ------------------------------------------------------------------------------------


def test_due_soon_and_overdue_lists_are_scoped_to_the_callers_teams(
    client: TestClient, session_factory: sessionmaker[Session], hasher: PasswordHasher
) -> None:
    now = utcnow()
    mine = make_review_team(client, session_factory, hasher)
    theirs = make_review_team(client, session_factory, hasher)
    live_since(session_factory, mine, now - timedelta(days=3 * 365))
    live_since(session_factory, theirs, now - timedelta(days=3 * 365))
    soon = create_version(client, mine.owner.headers, mine.model_id)
    # Version 2 went live in staging only: not listed; version 1 stays live in production.
    go_live(
        session_factory,
        team_id=mine.id,
        model_id=mine.model_id,
        version_id=soon["id"],
        at=now - timedelta(days=3 * 365),
        environment="staging",
    )
    late = client.get("/api/v1/reviews?status=overdue", headers=mine.viewer.headers)
    assert late.status_code == 200, late.text
    body = late.json()
    assert (body["total"], [r["version_id"] for r in body["items"]]) == (1, [mine.version_id])
    item = body["items"][0]
    assert (item["status"], item["since"], item["tier"], item["cadence_months"]) == (
        "overdue",
        "production",
        2,
        24,
    )
    assert item["days_until_due"] < -300
    their_view = client.get("/api/v1/reviews?status=overdue", headers=theirs.viewer.headers)
    assert [r["version_id"] for r in their_view.json()["items"]] == [theirs.version_id]

    # A model live for 24 months less 10 days is due soon within 30 days, not within 5.
    fresh = make_review_team(client, session_factory, hasher)
    went_live = reviews_due.add_months(now, -24) + timedelta(days=10)
    live_since(session_factory, fresh, went_live)
    url = "/api/v1/reviews?status=due_soon"
    assert [
        r["version_id"] for r in client.get(url, headers=fresh.viewer.headers).json()["items"]
    ] == [fresh.version_id]
    narrow = client.get(f"{url}&window_days=5", headers=fresh.viewer.headers).json()
    assert narrow["total"] == 0
    for bad in (
        "?status=late",
        "?status=due_soon&window_days=0",
        "?status=due_soon&window_days=366",
        "",
    ):
        response = client.get(f"/api/v1/reviews{bad}", headers=fresh.viewer.headers)
        assert response.status_code == 422, bad


# --- the alert, the dashboard ---------------------------------------------------------------------


def test_an_overdue_review_raises_one_alert_resolved_by_the_review(
    client: TestClient,
    rt: ReviewTeam,
    session_factory: sessionmaker[Session],
    settings: Settings,
) -> None:
    live_since(session_factory, rt, utcnow() - timedelta(days=800))

    def alerts() -> list[tuple[str, str, str]]:
        with unit_of_work(session_factory) as session:
            return [
                (a.rule, a.status, a.severity)
                for a in session.scalars(select(Alert).where(Alert.version_id == rt.version_id))
            ]

    assert run_maintenance(session_factory, settings, jobs=REVIEW_JOBS) == ["review_alerts"]
    run_maintenance(session_factory, settings, jobs=REVIEW_JOBS)  # idempotent
    assert alerts() == [("review_overdue", "open", "warning")]
    listed = client.get("/api/v1/alerts", headers=rt.viewer.headers).json()
    assert [a["rule"] for a in listed["items"]] == ["review_overdue"]
    with unit_of_work(session_factory) as session:
        assert build_executive(session, visible=frozenset({rt.id})).governance.overdue_reviews == 1
        assert (
            build_executive(session, visible=frozenset({rt.other})).governance.overdue_reviews == 0
        )

    opened = attest(client, rt.validator, rt.reviews, "satisfactory").json()
    assert alerts() == [("review_overdue", "open", "warning")]  # an open review is not a review
    done = attest(client, rt.owner, f"{rt.reviews}/{opened['id']}/attest", "satisfactory")
    assert done.status_code == 200, done.text
    assert alerts() == [("review_overdue", "resolved", "warning")]
    run_maintenance(session_factory, settings, jobs=REVIEW_JOBS)
    assert alerts() == [("review_overdue", "resolved", "warning")]
    with unit_of_work(session_factory) as session:
        assert build_executive(session, visible=frozenset({rt.id})).governance.overdue_reviews == 0


def test_the_alert_resolves_when_the_version_leaves_production_and_tier_one_is_critical(
    client: TestClient,
    session_factory: sessionmaker[Session],
    hasher: PasswordHasher,
    settings: Settings,
) -> None:
    rt = make_review_team(client, session_factory, hasher, materiality="high", criticality="high")
    deployment_id = go_live(
        session_factory,
        team_id=rt.id,
        model_id=rt.model_id,
        version_id=rt.version_id,
        at=utcnow() - timedelta(days=400),
    )
    run_maintenance(session_factory, settings, jobs=REVIEW_JOBS)
    with unit_of_work(session_factory) as session:
        alert = session.scalar(select(Alert).where(Alert.version_id == rt.version_id))
        assert alert is not None
        assert (alert.severity, alert.fact, alert.status) == (
            "critical",
            "review.days_until_due",
            "open",
        )
        deployment = session.get(Deployment, deployment_id)
        assert deployment is not None
        deployment.status = "superseded"
    run_maintenance(session_factory, settings, jobs=REVIEW_JOBS)
    with unit_of_work(session_factory) as session:
        alert = session.scalar(select(Alert).where(Alert.version_id == rt.version_id))
        assert alert is not None
        assert alert.status == "resolved"


def test_the_overview_page_shows_the_overdue_reviews_of_the_callers_teams(
    client: TestClient, session_factory: sessionmaker[Session], hasher: PasswordHasher
) -> None:
    mine = make_review_team(client, session_factory, hasher)
    theirs = make_review_team(client, session_factory, hasher)
    for rt in (mine, theirs):
        live_since(session_factory, rt, utcnow() - timedelta(days=800))
    web_sign_in(client, mine.viewer.email)
    page = client.get("/")
    assert page.status_code == 200
    assert "1 periodic review overdue" in page.text
