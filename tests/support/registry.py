"""Builders for registry objects, created through the API as a user would."""

from __future__ import annotations

import itertools
from typing import Any

from fastapi.testclient import TestClient

_counter = itertools.count(1)


def model_body(team_id: int, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"team_id": team_id, "name": f"model-{next(_counter)}"}
    body.update(fields)
    return body


def version_body(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "task_type": "binary_classification",
        "features": [
            {"name": "income", "type": "numeric"},
            {"name": "region", "type": "categorical"},
            {"name": "gender", "type": "categorical", "sensitive": True},
        ],
        "target": "default",
        "training_metrics": {"auc": 0.81},
    }
    body.update(fields)
    return body


def create_model(
    client: TestClient, headers: dict[str, str], team_id: int, **fields: Any
) -> dict[str, Any]:
    response = client.post("/api/v1/models", json=model_body(team_id, **fields), headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def create_version(
    client: TestClient, headers: dict[str, str], model_id: int, **fields: Any
) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/models/{model_id}/versions", json=version_body(**fields), headers=headers
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created
