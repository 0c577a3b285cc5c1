from __future__ import annotations

import math
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Self

from pydantic import Field, StringConstraints, field_validator, model_validator

from driftguard.registry.orm import Level, Stage, TaskType
from driftguard.schemas import (
    CreateSchema,
    Id,
    LongText,
    Name,
    ReadSchema,
    ShortText,
    Tag,
    UpdateSchema,
)

FeatureName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=128, pattern=r"^[\w.\-]+$"),
]
MetricName = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[\w.\-]+$")]
Tags = Annotated[list[Tag], Field(max_length=32)]
MonitoringInterval = Annotated[
    int, Field(ge=5, le=10_080, description="minutes between scheduled monitoring windows")
]
Uri = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2048, pattern=r"^\S*$")]
Framework = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=64, pattern=r"^[\w.+\- ]*$")
]


class FeatureType(StrEnum):
    NUMERIC = "numeric"
    CATEGORICAL = "categorical"
    BOOLEAN = "boolean"


class FeatureSpec(CreateSchema):
    name: FeatureName
    type: FeatureType
    sensitive: bool = False


class RegisteredModelCreate(CreateSchema):
    team_id: Id
    name: Name
    description: LongText = ""
    use_case: ShortText = ""
    materiality: Level = Level.MEDIUM
    criticality: Level = Level.MEDIUM
    tags: Tags = Field(default_factory=list)
    owner_id: Id | None = Field(default=None, description="defaults to the caller")
    monitoring_interval_minutes: MonitoringInterval | None = None


class RegisteredModelUpdate(UpdateSchema):
    name: Name | None = None
    description: LongText | None = None
    use_case: ShortText | None = None
    materiality: Level | None = None
    criticality: Level | None = None
    tags: Tags | None = None
    owner_id: Id | None = None
    monitoring_interval_minutes: MonitoringInterval | None = None


class RegisteredModelRead(ReadSchema):
    id: int
    team_id: int
    name: str
    description: str
    use_case: str
    materiality: Level
    criticality: Level
    tags: list[str]
    owner_id: int | None
    monitoring_interval_minutes: int | None
    latest_version: int | None
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ModelVersionCreate(CreateSchema):
    description: LongText = ""
    artifact_uri: Uri = ""
    framework: Framework = ""
    task_type: TaskType
    features: Annotated[list[FeatureSpec], Field(min_length=1, max_length=2000)]
    target: FeatureName
    training_metrics: Annotated[dict[MetricName, float], Field(max_length=100)] = Field(
        default_factory=dict
    )
    stage: Stage = Stage.NONE

    @field_validator("training_metrics")
    @classmethod
    def _finite(cls, metrics: dict[str, float]) -> dict[str, float]:
        for key, value in metrics.items():
            if not math.isfinite(value):
                raise ValueError(f"metric {key!r} must be a finite number")
        return metrics

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        names = [f.name for f in self.features]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"feature names must be unique; repeated: {', '.join(duplicates)}")
        if self.target in names:
            raise ValueError(f"target {self.target!r} must not also be a feature")
        if self.stage is Stage.ARCHIVED:
            raise ValueError("a new version cannot start archived")
        return self


class ModelVersionUpdate(UpdateSchema):
    description: LongText | None = None
    artifact_uri: Uri | None = None
    stage: Stage | None = None


class ModelVersionRead(ReadSchema):
    id: int
    model_id: int
    number: int
    description: str
    artifact_uri: str
    framework: str
    task_type: TaskType
    features: list[FeatureSpec]
    target: str
    training_metrics: dict[str, float]
    stage: Stage
    created_by_id: int | None
    created_at: datetime
    updated_at: datetime
