from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from driftguard.identity.permissions import Role
from driftguard.registry.orm import ModelTag, ModelVersion, RegisteredModel
from support.identity import auth_headers, make_team, make_user
from support.monitoring import prediction_rows
from support.registry import create_model, create_version, model_body, version_body

MODELS = "/api/v1/models"


@dataclass
class World:
    """Two teams; an engineer, a viewer and an approver in team A; an engineer in team B."""

    team_a: int
    team_b: int
    engineer_a: dict[str, str]
    viewer_a: dict[str, str]
    engineer_b: dict[str, str]
    admin: dict[str, str]
    auditor: dict[str, str]


@pytest.fixture
def world(
    client: TestClient, session_factory: sessionmaker[Session], hasher: PasswordHasher
) -> World:
    a, b = make_team(session_factory), make_team(session_factory)

    def headers(**kwargs: Any) -> dict[str, str]:
        return auth_headers(client, make_user(session_factory, hasher, **kwargs))

    return World(
        team_a=a,
        team_b=b,
        engineer_a=headers(teams={a: Role.ML_ENGINEER}),
        viewer_a=headers(teams={a: Role.VIEWER}),
        engineer_b=headers(teams={b: Role.ML_ENGINEER}),
        admin=headers(platform_role=Role.ADMIN),
        auditor=headers(platform_role=Role.AUDITOR),
    )


def count(session_factory: sessionmaker[Session], table: type[Any]) -> int:
    with session_factory() as s:
        return s.scalar(select(func.count()).select_from(table)) or 0


def test_create_read_update_archive_a_model(client: TestClient, world: World) -> None:
    created = create_model(
        client, world.engineer_a, world.team_a, name="pd-scorecard", tags=["Retail", "eu"]
    )
    assert created["tags"] == ["eu", "retail"]
    assert created["latest_version"] is None
    assert created["materiality"] == "medium"
    url = f"{MODELS}/{created['id']}"
    assert client.get(url, headers=world.viewer_a).json()["name"] == "pd-scorecard"

    patched = client.patch(
        url, json={"description": "PD model", "materiality": "high"}, headers=world.engineer_a
    )
    assert patched.status_code == 200
    assert patched.json()["description"] == "PD model"
    assert patched.json()["materiality"] == "high"
    assert patched.json()["tags"] == ["eu", "retail"]

    archived = client.post(f"{url}/archive", headers=world.engineer_a)
    assert archived.json()["archived_at"] is not None
    listed = client.get(MODELS, headers=world.engineer_a).json()
    assert listed["total"] == 0
    with_archived = client.get(MODELS, params={"include_archived": True}, headers=world.engineer_a)
    assert with_archived.json()["total"] == 1
    new_version = client.post(f"{url}/versions", json=version_body(), headers=world.engineer_a)
    assert new_version.status_code == 409


def test_versions_are_numbered_per_model(client: TestClient, world: World) -> None:
    first = create_model(client, world.engineer_a, world.team_a)
    second = create_model(client, world.engineer_a, world.team_a)
    numbers = [create_version(client, world.engineer_a, first["id"])["number"] for _ in range(3)]
    assert numbers == [1, 2, 3]
    assert create_version(client, world.engineer_a, second["id"])["number"] == 1
    assert (
        client.get(f"{MODELS}/{first['id']}", headers=world.engineer_a).json()["latest_version"]
        == 3
    )
    versions = client.get(f"{MODELS}/{first['id']}/versions", headers=world.engineer_a).json()
    assert [v["number"] for v in versions["items"]] == [3, 2, 1]
    assert versions["total"] == 3
    one = client.get(f"{MODELS}/{first['id']}/versions/2", headers=world.viewer_a).json()
    assert one["features"][2] == {"name": "gender", "type": "categorical", "sensitive": True}


def test_version_update_and_archive(client: TestClient, world: World) -> None:
    model = create_model(client, world.engineer_a, world.team_a)
    create_version(client, world.engineer_a, model["id"])
    url = f"{MODELS}/{model['id']}/versions/1"
    staged = client.patch(url, json={"stage": "staging"}, headers=world.engineer_a)
    assert staged.json()["stage"] == "staging"
    # Production is reached through governance, not by editing a field.
    promoted = client.patch(url, json={"stage": "production"}, headers=world.engineer_a)
    assert promoted.status_code == 403
    assert client.post(f"{url}/archive", headers=world.engineer_a).json()["stage"] == "archived"
    revived = client.patch(url, json={"stage": "staging"}, headers=world.engineer_a)
    assert revived.status_code == 409
    staging = client.get(
        f"{MODELS}/{model['id']}/versions", params={"stage": "archived"}, headers=world.viewer_a
    )
    assert staging.json()["total"] == 1


def test_another_teams_model_is_invisible(client: TestClient, world: World) -> None:
    theirs = create_model(client, world.engineer_b, world.team_b)
    create_version(client, world.engineer_b, theirs["id"])
    url = f"{MODELS}/{theirs['id']}"
    for method, path, body in [
        ("GET", url, None),
        ("PATCH", url, {"description": "mine now"}),
        ("POST", f"{url}/archive", None),
        ("GET", f"{url}/versions", None),
        ("GET", f"{url}/versions/1", None),
        ("POST", f"{url}/versions", version_body()),
        ("PATCH", f"{url}/versions/1", {"description": "x"}),
    ]:
        response = client.request(method, path, json=body, headers=world.engineer_a)
        assert response.status_code == 404, (method, path)
    assert client.get(MODELS, headers=world.engineer_a).json()["total"] == 0
    # Filtering by their team does not reveal anything either.
    filtered = client.get(MODELS, params={"team_id": world.team_b}, headers=world.engineer_a)
    assert filtered.json()["total"] == 0
    # Creating in their team: the team is not found, nothing is written.
    response = client.post(MODELS, json=model_body(world.team_b), headers=world.engineer_a)
    assert response.status_code == 404


def test_admin_and_auditor_see_every_team(client: TestClient, world: World) -> None:
    create_model(client, world.engineer_a, world.team_a)
    create_model(client, world.engineer_b, world.team_b)
    assert client.get(MODELS, headers=world.admin).json()["total"] == 2
    assert client.get(MODELS, headers=world.auditor).json()["total"] == 2
    refused = client.post(MODELS, json=model_body(world.team_a), headers=world.auditor)
    assert refused.status_code == 403


def test_viewer_can_read_but_not_write(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    model = create_model(client, world.engineer_a, world.team_a)
    assert (
        client.post(MODELS, json=model_body(world.team_a), headers=world.viewer_a).status_code
        == 403
    )
    response = client.patch(
        f"{MODELS}/{model['id']}", json={"description": "x"}, headers=world.viewer_a
    )
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"
    assert count(session_factory, RegisteredModel) == 1


def test_duplicate_name_in_a_team_is_409_but_allowed_across_teams(
    client: TestClient, world: World
) -> None:
    create_model(client, world.engineer_a, world.team_a, name="churn")
    again = client.post(
        MODELS, json=model_body(world.team_a, name="churn"), headers=world.engineer_a
    )
    assert again.status_code == 409
    create_model(client, world.engineer_b, world.team_b, name="churn")


def _seed(client: TestClient, world: World) -> None:
    specs = [
        ("alpha-credit", "high", ["retail"], "PD scorecard for retail"),
        ("beta-fraud", "low", ["cards", "retail"], "card fraud"),
        ("gamma-churn", "medium", ["cards"], "churn 100% accurate_model"),
        ("delta-aml", "high", [], "anti money laundering"),
    ]
    for name, materiality, tags, description in specs:
        create_model(
            client,
            world.engineer_a,
            world.team_a,
            name=name,
            materiality=materiality,
            tags=tags,
            description=description,
        )


def names(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [m["name"] for m in response.json()["items"]]


def test_search_filter_sort_paginate(client: TestClient, world: World) -> None:
    _seed(client, world)
    get = lambda **p: client.get(MODELS, params=p, headers=world.viewer_a)  # noqa: E731
    assert names(get()) == ["alpha-credit", "beta-fraud", "delta-aml", "gamma-churn"]
    assert names(get(sort="-name")) == ["gamma-churn", "delta-aml", "beta-fraud", "alpha-credit"]
    assert names(get(sort="-materiality,name")) == [
        "alpha-credit",
        "delta-aml",
        "gamma-churn",
        "beta-fraud",
    ]
    assert names(get(q="RETAIL")) == ["alpha-credit"]
    assert names(get(q="fraud")) == ["beta-fraud"]
    assert names(get(materiality="high")) == ["alpha-credit", "delta-aml"]
    assert names(get(tag="cards")) == ["beta-fraud", "gamma-churn"]
    assert names(get(tag=["cards", "retail"])) == ["beta-fraud"]
    page = get(limit=2, offset=1).json()
    assert [m["name"] for m in page["items"]] == ["beta-fraud", "delta-aml"]
    assert (page["total"], page["limit"], page["offset"]) == (4, 2, 1)


def test_like_metacharacters_are_literal(client: TestClient, world: World) -> None:
    _seed(client, world)
    get = lambda q: client.get(MODELS, params={"q": q}, headers=world.viewer_a)  # noqa: E731
    assert names(get("100%")) == ["gamma-churn"]
    assert names(get("%")) == ["gamma-churn"]
    assert names(get("_")) == ["gamma-churn"]
    assert names(get("' OR 1=1 --")) == []
    assert names(get("'; DROP TABLE registered_models; --")) == []
    assert len(names(client.get(MODELS, headers=world.viewer_a))) == 4


def test_stage_and_owner_filters(client: TestClient, world: World) -> None:
    staged = create_model(client, world.engineer_a, world.team_a, name="staged")
    create_model(client, world.engineer_a, world.team_a, name="plain")
    create_version(client, world.engineer_a, staged["id"], stage="staging")
    assert names(client.get(MODELS, params={"stage": "staging"}, headers=world.viewer_a)) == [
        "staged"
    ]
    owner = staged["owner_id"]
    assert len(names(client.get(MODELS, params={"owner_id": owner}, headers=world.viewer_a))) == 2


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"limit": 0}, "query.limit"),
        ({"limit": 201}, "query.limit"),
        ({"limit": -5}, "query.limit"),
        ({"limit": "ten"}, "query.limit"),
        ({"offset": -1}, "query.offset"),
        ({"offset": 10**20}, "query.offset"),
        ({"sort": "password_hash"}, "query.sort"),
        ({"sort": "name;drop"}, "query.sort"),
        ({"materiality": "extreme"}, "query.materiality"),
        ({"stage": "live"}, "query.stage"),
        ({"q": "x" * 201}, "query.q"),
    ],
)
def test_bad_list_parameters_are_422_naming_the_parameter(
    client: TestClient, world: World, params: dict[str, Any], loc: str
) -> None:
    response = client.get(MODELS, params=params, headers=world.viewer_a)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["details"][0]["loc"] == loc
    assert loc in body["message"]


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"name": ""}, "body.name"),
        ({"name": "x" * 129}, "body.name"),
        ({"name": "bad\nname"}, "body.name"),
        ({"name": 12}, "body.name"),
        ({"team_id": "one"}, "body.team_id"),
        ({"materiality": "extreme"}, "body.materiality"),
        ({"tags": ["ok", "has space"]}, "body.tags.1"),
        ({"tags": ["t"] * 33}, "body.tags"),
        ({"unknown_field": 1}, "body.unknown_field"),
        ({"description": "d" * 10_001}, "body.description"),
    ],
)
def test_bad_model_bodies_are_422_and_write_nothing(
    client: TestClient,
    world: World,
    session_factory: sessionmaker[Session],
    change: dict[str, Any],
    loc: str,
) -> None:
    response = client.post(
        MODELS, json={**model_body(world.team_a), **change}, headers=world.engineer_a
    )
    assert response.status_code == 422, response.text
    assert response.json()["details"][0]["loc"] == loc
    assert count(session_factory, RegisteredModel) == 0
    assert count(session_factory, ModelTag) == 0


@pytest.mark.parametrize(
    "change",
    [
        {"task_type": "clustering"},
        {"features": []},
        {"features": [{"name": "a", "type": "numeric"}, {"name": "a", "type": "numeric"}]},
        {"features": [{"name": "a", "type": "text"}]},
        {"features": [{"name": "a b", "type": "numeric"}]},
        {"target": "income"},
        {"training_metrics": {"auc": "high"}},
        {"training_metrics": {"auc": float("inf")}},
        {"stage": "archived"},
        {"artifact_uri": "s3://has space"},
    ],
)
def test_bad_version_bodies_are_422_and_write_nothing(
    client: TestClient,
    world: World,
    session_factory: sessionmaker[Session],
    change: dict[str, Any],
) -> None:
    model = create_model(client, world.engineer_a, world.team_a)
    body = version_body(**change)
    response = client.post(
        f"{MODELS}/{model['id']}/versions",
        content=__import__("json").dumps(body, allow_nan=True),
        headers={**world.engineer_a, "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["details"]
    assert count(session_factory, ModelVersion) == 0
    # The failed attempt did not consume a version number.
    assert create_version(client, world.engineer_a, model["id"])["number"] == 1


def test_unknown_owner_is_422(client: TestClient, world: World) -> None:
    response = client.post(
        MODELS, json=model_body(world.team_a, owner_id=999_999), headers=world.engineer_a
    )
    assert response.status_code == 422
    assert response.json()["details"][0]["loc"] == "owner_id"


def test_huge_path_ids_are_422_not_500(client: TestClient, world: World) -> None:
    assert client.get(f"{MODELS}/{10**30}", headers=world.viewer_a).status_code == 422
    assert client.get(f"{MODELS}/0", headers=world.viewer_a).status_code == 422


def test_nul_bytes_and_huge_ids_are_422_everywhere(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    for params in ({"q": "a\x00b"}, {"tag": "a\x00"}):
        response = client.get(MODELS, params=params, headers=world.viewer_a)
        assert response.status_code == 422, params
    bodies = [
        model_body(world.team_a, description="nul \x00 inside"),
        model_body(world.team_a, name="nul\x00"),
        model_body(world.team_a, owner_id=2**63),
        model_body(2**63),
    ]
    for body in bodies:
        response = client.post(MODELS, json=body, headers=world.engineer_a)
        assert response.status_code == 422, body
    login = client.post("/api/v1/auth/login", json={"email": "a\x00@x.io", "password": "p" * 20})
    assert login.status_code == 422
    assert count(session_factory, RegisteredModel) == 0


def test_total_is_exact_on_full_short_and_past_the_end_pages(
    client: TestClient, world: World
) -> None:
    _seed(client, world)
    for limit, offset, expected_items in [(2, 0, 2), (4, 0, 4), (3, 2, 2), (2, 4, 0), (2, 9, 0)]:
        page = client.get(
            MODELS, params={"limit": limit, "offset": offset}, headers=world.viewer_a
        ).json()
        assert (len(page["items"]), page["total"]) == (expected_items, 4), (limit, offset)


def test_team_checks_hold_for_a_writer_elsewhere(
    client: TestClient, session_factory: sessionmaker[Session], hasher: PasswordHasher
) -> None:
    """Viewer in team A, ml_engineer in team B: may write in B, never in A."""
    team_a, team_b = make_team(session_factory), make_team(session_factory)
    owner = auth_headers(
        client, make_user(session_factory, hasher, teams={team_a: Role.ML_ENGINEER})
    )
    mixed = auth_headers(
        client,
        make_user(session_factory, hasher, teams={team_a: Role.VIEWER, team_b: Role.ML_ENGINEER}),
    )
    model = create_model(client, owner, team_a)
    create_version(client, owner, model["id"])
    url = f"{MODELS}/{model['id']}"
    attempts = [
        ("POST", MODELS, model_body(team_a)),
        ("PATCH", url, {"description": "x"}),
        ("POST", f"{url}/archive", None),
        ("POST", f"{url}/versions", version_body()),
        ("PATCH", f"{url}/versions/1", {"stage": "staging"}),
        ("POST", f"{url}/versions/1/archive", None),
        ("PUT", f"{url}/versions/1/reference", {"rows": [{"income": 1.0, "region": "n"}]}),
        ("POST", f"{url}/versions/1/predictions", {"rows": prediction_rows(1)}),
        ("POST", f"{url}/versions/1/labels", {"labels": [{"prediction_id": "p", "label": 1}]}),
        (
            "POST",
            f"{url}/versions/1/monitoring/runs",
            {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"},
        ),
        ("POST", f"/api/v1/teams/{team_a}/api-keys", {"name": "k"}),
    ]
    for method, path, body in attempts:
        response = client.request(method, path, json=body, headers=mixed)
        assert response.status_code == 403, (method, path, response.status_code)
    assert client.get(url, headers=mixed).status_code == 200
    assert client.post(MODELS, json=model_body(team_b), headers=mixed).status_code == 201


def test_leaving_production_is_governed(client: TestClient, world: World) -> None:
    model = create_model(client, world.admin, world.team_a)
    create_version(client, world.admin, model["id"], stage="production")
    url = f"{MODELS}/{model['id']}/versions/1"
    assert client.patch(url, json={"stage": "staging"}, headers=world.engineer_a).status_code == 403
    assert client.post(f"{url}/archive", headers=world.engineer_a).status_code == 403
    assert client.post(f"{url}/archive", headers=world.admin).status_code == 200
