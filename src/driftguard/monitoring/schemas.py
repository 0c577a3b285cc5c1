from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Self

from pydantic import Field, model_validator

from driftguard.schemas import CreateSchema, ReadSchema, Timestamp

MAX_WINDOW = 400  # days


RunMethod = Literal["counts", "exact"]


class RunRequest(CreateSchema):
    start: Timestamp
    end: Timestamp
    method: RunMethod = Field(
        default="counts",
        description="counts: merge per-block counts (KS bracketed within a stated bound); "
        "exact: read every value (exact KS, Wasserstein, out-of-range rates)",
    )

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if (self.end - self.start).days > MAX_WINDOW:
            raise ValueError(f"a window may span at most {MAX_WINDOW} days")
        return self


class ReportRead(ReadSchema):
    id: int
    run_id: int
    kind: str
    window_start: datetime
    window_end: datetime
    payload: dict[str, Any]
    created_at: datetime


class RunRead(ReadSchema):
    id: int
    version_id: int
    window_start: datetime
    window_end: datetime
    trigger: str
    status: str
    n_predictions: int
    n_labelled: int
    error: str | None
    created_at: datetime
    reports: dict[str, dict[str, Any]]
