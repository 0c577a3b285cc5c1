"""Path and query parameters shared by the routes, defined once."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from driftguard.schemas import MAX_ID, MAX_PAGE_SIZE

ObjectId = Annotated[int, Path(ge=1, le=MAX_ID)]
VersionNumber = Annotated[int, Path(ge=1, le=2**31 - 1)]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]
LimitQuery = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
OffsetQuery = Annotated[int, Query(ge=0, le=1_000_000_000)]
