from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    Field,
    Strict,
    StrictBool,
    StrictFloat,
    StrictInt,
    StringConstraints,
    TypeAdapter,
    WithJsonSchema,
)

from driftguard.schemas import CreateSchema, ReadSchema

PredictionId = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")
]
Scalar = StrictBool | StrictInt | StrictFloat | Annotated[str, StringConstraints(max_length=512)]
MAX_BATCH_ROWS = 10_000


_NO_NUL = r"^[^\x00]*$"


# The checks of a logged prediction that look at one value at a time run here, in
# pydantic-core; those across fields or against the version (label or score given, the
# timestamp's range, each feature's type) run column by column on the whole batch
# (``ingest.service``): 10,000 Python calls per batch cost more than the rest of validation.
FiniteScore = Annotated[float, Strict(), Field(allow_inf_nan=False)]
FeatureValues = Annotated[
    dict[str, Any],
    Field(max_length=2000),
    WithJsonSchema(TypeAdapter(dict[str, Scalar | None]).json_schema()),
]


class PredictionOutput(CreateSchema):
    """The predicted label, the score, or both (a row with neither is refused)."""

    label: (
        StrictBool | StrictInt | Annotated[str, StringConstraints(max_length=256, pattern=_NO_NUL)]
    ) | None = None
    score: FiniteScore | None = None


class PredictionIn(CreateSchema):
    prediction_id: PredictionId
    timestamp: AwareDatetime = Field(description="between 1970 and 2200, not in the future")
    features: FeatureValues = Field(
        description="each value a number, a category or a boolean, as the version's schema says"
    )
    prediction: PredictionOutput
    tags: Annotated[
        dict[str, Annotated[str, StringConstraints(max_length=256)]], Field(max_length=20)
    ] = Field(default_factory=dict)


class PredictionBatch(CreateSchema):
    rows: Annotated[list[PredictionIn], Field(min_length=1, max_length=MAX_BATCH_ROWS)]


class IngestResult(ReadSchema):
    received: int
    new: int
    duplicates: int
    first_timestamp: datetime | None
    last_timestamp: datetime | None


class LabelIn(CreateSchema):
    prediction_id: PredictionId
    label: (
        StrictBool
        | StrictInt
        | Annotated[StrictFloat, Field(allow_inf_nan=False)]
        | Annotated[str, StringConstraints(max_length=256, pattern=_NO_NUL)]
    )


class LabelBatch(CreateSchema):
    labels: Annotated[list[LabelIn], Field(min_length=1, max_length=MAX_BATCH_ROWS)]


class LabelResult(ReadSchema):
    received: int
    stored: int
    unknown_prediction_ids: list[str]


class ReferenceRows(CreateSchema):
    rows: Annotated[list[dict[str, Scalar | None]], Field(min_length=1, max_length=100_000)]


class ReferenceRead(ReadSchema):
    id: int
    version_id: int
    row_count: int
    source_format: str
    profile_id: str
    is_active: bool
    created_at: datetime
    replaced_at: datetime | None


# --- human oversight: per-prediction overrides -------------------------------------------------

Decision = (
    StrictBool
    | StrictInt
    | Annotated[StrictFloat, Field(allow_inf_nan=False)]
    | Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=_NO_NUL)]
)


class OverrideIn(CreateSchema):
    """A human's decision in place of the model's, for one logged prediction."""

    prediction_id: PredictionId
    original_decision: Decision = Field(description="what the model decided")
    final_decision: Decision = Field(description="what the human decided instead")
    reason: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=2000, pattern=_NO_NUL),
    ]
    overridden_by: (
        Annotated[
            str,
            StringConstraints(
                strip_whitespace=True, min_length=1, max_length=256, pattern=r"^[^\x00-\x1f\x7f]+$"
            ),
        ]
        | None
    ) = Field(default=None, description="the human who decided, when a machine key logs it")


class OverrideBatch(CreateSchema):
    overrides: Annotated[list[OverrideIn], Field(min_length=1, max_length=MAX_BATCH_ROWS)]


class OverrideResult(ReadSchema):
    received: int
    new: int
    # Already logged with the same content: a retry changes nothing.
    duplicates: int
    # Ids the version has no prediction of: stored, but counted in no monitoring window.
    unmatched_prediction_ids: list[str]


class OverrideRead(ReadSchema):
    prediction_id: str
    prediction_ts: datetime | None
    original_decision: str
    final_decision: str
    reason: str
    overridden_by: str | None
    logged_by_id: int | None
    logged_by_api_key_id: int | None
    created_at: datetime
