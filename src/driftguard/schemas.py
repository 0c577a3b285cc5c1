"""Field types and base classes shared by every domain's Pydantic schemas."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Generic, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)

# No control characters in one-line text; user text is escaped where it is rendered.
_ONE_LINE = r"^[^\x00-\x1f\x7f]*$"

Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128, pattern=_ONE_LINE)
]
# No NUL anywhere: PostgreSQL cannot store it in text.
_NO_NUL = r"^[^\x00]*$"

ShortText = Annotated[str, StringConstraints(max_length=500, pattern=_ONE_LINE)]
LongText = Annotated[str, StringConstraints(max_length=10_000, pattern=_NO_NUL)]
# A search string or other free one-line input that only ever reaches a bound parameter.
SearchText = Annotated[str, StringConstraints(max_length=200, pattern=_ONE_LINE)]

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _in_range(moment: datetime) -> datetime:
    if not EARLIEST <= moment < LATEST:
        raise ValueError("must be between 1970 and 2200")
    return moment


# A timezone-aware moment in a range every backend and clock can hold.
Timestamp = Annotated[AwareDatetime, AfterValidator(_in_range)]

MAX_ID = 2**62
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Tag = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_lower=True, min_length=1, max_length=64, pattern=r"^[\w.:/-]+$"
    ),
]


class CreateSchema(BaseModel):
    """Input that creates something: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class UpdateSchema(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReadSchema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


ItemT = TypeVar("ItemT")


class Page(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    total: int
    limit: int
    offset: int


MAX_PAGE_SIZE = 200
Limit = Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)]
Offset = Annotated[int, Field(ge=0, le=1_000_000_000)]
