"""Query strings and form fields parsed with Pydantic, each error kept beside its field; the
page count of a paged list."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TypeVar

from pydantic import BaseModel, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)
FieldErrors = dict[str, str]


def parse_fields(model: type[ModelT], raw: Mapping[str, object]) -> tuple[ModelT, FieldErrors]:
    """``model`` from the submitted fields (empty ones left out); a field that does not validate
    is reported in the errors and dropped, so the page still renders with the rest. Every field
    of ``model`` has a default."""
    data = {k: v for k, v in raw.items() if k in model.model_fields and v not in ("", None)}
    try:
        return model.model_validate(data), {}
    except ValidationError as exc:
        errors: FieldErrors = {}
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "form"
            errors.setdefault(name, _message(error["msg"]))
        kept = {k: v for k, v in data.items() if k not in errors}
        return model.model_validate(kept), errors


def page_count(total: int, page_size: int) -> int:
    """How many pages ``total`` items fill: at least one, so an empty list still has its page."""
    return max(1, math.ceil(total / page_size))


def _message(text: str) -> str:
    # Pydantic's "Value error, ..." prefix means nothing to a person filling in a form.
    return text.removeprefix("Value error, ")
