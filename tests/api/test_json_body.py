"""Large-body routes: one model validated straight from the bytes, other bodies (and bodies
that fail) as FastAPI does, after the route's dependencies."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, Body, Depends, FastAPI, HTTPException
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from driftguard.api.json_body import FastJsonRoute


class Batch(BaseModel):
    rows: list[int] = Field(max_length=3)


@pytest.fixture(scope="module")
def client() -> TestClient:
    router = APIRouter(route_class=FastJsonRoute)

    @router.post("/model")
    def model(body: Batch) -> int:
        return sum(body.rows)

    @router.post("/embedded")
    def embedded(batch: Batch = Body(embed=True), factor: int = Body(embed=True)) -> int:
        return sum(batch.rows) * factor

    def forbidden() -> None:
        raise HTTPException(403, "no")

    @router.post("/guarded", dependencies=[Depends(forbidden)])
    def guarded(body: Batch) -> int:
        return sum(body.rows)

    @router.post("/list")
    def numbers(body: list[int]) -> int:
        return sum(body)

    app = FastAPI()
    app.include_router(router)
    return TestClient(app)


def test_each_body_shape_is_read(client: TestClient) -> None:
    assert client.post("/model", json={"rows": [1, 2, 3]}).json() == 6
    assert client.post("/embedded", json={"batch": {"rows": [1, 2]}, "factor": 3}).json() == 9
    assert client.post("/list", json=[4, 5]).json() == 9


@pytest.mark.parametrize("path", ["/model", "/embedded", "/list"])
def test_malformed_json_is_json_invalid(client: TestClient, path: str) -> None:
    response = client.post(
        path, content=b'{"rows": [1,', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422  # FastAPI's json_invalid (DriftGuard's app maps it to 400)
    assert response.json()["detail"][0]["type"] == "json_invalid"


def test_an_invalid_model_body_names_the_field_under_body(client: TestClient) -> None:
    response = client.post("/model", json={"rows": [1, "x"]})
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "rows", 1]]
    too_many = client.post("/model", json={"rows": [1, 2, 3, 4]})
    assert too_many.json()["detail"][0]["loc"] == ["body", "rows"]


def test_the_routes_dependencies_come_before_the_bodys_problems(client: TestClient) -> None:
    assert client.post("/guarded", json={"rows": [1, "x"]}).status_code == 403
    assert client.post("/guarded", json={"rows": [1]}).status_code == 403
