"""Bounds on the shape of a JSON body, checked before anything is built from it.

Parsing builds one object per JSON value, and a failed validation copies the offending input
into Python for its error: a 15 MB body of five million empty objects in ``rows`` cost 8.7 s and
0.7 GB to be refused. A body is therefore measured first, without building anything:

- three ``bytes.count`` calls give upper bounds on its containers (``{`` and ``[``) and values
  (containers + commas + 1: every value but the first of its container follows a comma). A body
  within both bounds goes straight on; its parse and its errors are bounded by them.
- otherwise it is scanned as a stream of events (ijson, a C parser) that stops at the first
  limit passed: too many containers (the bound counts braces inside strings too, so the scan
  tells), nesting too deep, or a list field with more items than the model allows. A hostile
  body is refused after at most that many events, never read whole.
- a body over the value bound is refused even if the first 50,000 values (and as many more
  as the longest list field allows) of the scan found nothing to name: counting them exactly
  would mean reading it whole. A comma inside a string counts; a legitimate batch that large
  is a few rows per request too many (or a file upload).

Refusals are :class:`ShapeError`; the route answers 413, like a body over the byte limit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import ijson
from pydantic import BaseModel

# What a body within these costs is bounded by them (pydantic-core's tree is about 32 bytes a
# value, the Python copies of what fails validation about 110): benchmarks/hostile_bodies.py.
# A batch of 10,000 predictions of 20 features is about 260,000 values and 40,000 containers.
MAX_VALUES = 1_000_000
MAX_CONTAINERS = 200_000
# Batches nest four deep (body, rows, row, features); other bodies less.
MAX_DEPTH = 16
# Values a body over MAX_VALUES is scanned for before it is refused (about 0.05 s), and as many
# more as the longest list field allows.
_NAMING_SCAN = 50_000


@runtime_checkable
class _MaxLength(Protocol):
    max_length: int


_SCALAR_EVENTS = frozenset({"null", "boolean", "integer", "double", "number", "string"})


class ShapeError(ValueError):
    """The body passes one of the limits; ``message`` names the field (or ``body``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class JsonShape:
    """The limits one route's body is held to. ``item_limits``: the most items of the array
    in each top-level field (from the model's ``max_length``)."""

    item_limits: Mapping[str, int] = field(default_factory=dict)
    max_values: int = MAX_VALUES
    max_containers: int = MAX_CONTAINERS
    max_depth: int = MAX_DEPTH

    @classmethod
    def of(cls, model: type[BaseModel] | None) -> JsonShape:
        """The limits for a body of ``model`` (generic ones when there is no model)."""
        limits: dict[str, int] = {}
        for name, info in (model.model_fields if model is not None else {}).items():
            lengths = [m.max_length for m in info.metadata if isinstance(m, _MaxLength)]
            if lengths:
                limits[info.alias or name] = min(lengths)
        return cls(item_limits=limits)

    def check(self, body: bytes) -> None:
        """Raise :class:`ShapeError` if ``body`` passes a limit; malformed JSON that the scan
        meets is ``json.JSONDecodeError``."""
        if len(body) <= self.max_containers:
            return  # every container takes two bytes, every value one
        containers = body.count(b"{") + body.count(b"[")
        values = containers + body.count(b",") + 1
        if containers <= self.max_containers and values <= self.max_values:
            return
        try:
            # Over the value bound the body is refused whatever the scan finds: a short scan
            # only looks for a problem to name (a hostile body shows its own at once).
            naming = _NAMING_SCAN + max(self.item_limits.values(), default=0)
            self._scan(body, stop_after=naming if values > self.max_values else None)
        except ijson.JSONError as exc:
            # The scan cannot skip what it cannot read, and the parser after it might accept
            # it (NaN): a large body must be plain JSON.
            raise json.JSONDecodeError(str(exc), body.decode(errors="replace"), 0) from None
        if values > self.max_values:
            raise ShapeError(
                f"body: at most {self.max_values} JSON values (each comma, bracket and brace "
                "counts); send fewer rows per request, or the rows as a CSV or Parquet file to the "
                "route's /upload"
            )

    def _scan(self, body: bytes, *, stop_after: int | None) -> None:
        # One frame per open container: [items so far, the most allowed (0: no limit), name].
        stack: list[list[Any]] = []
        key: str | None = None
        values = containers = 0
        for event, value in ijson.basic_parse(body, use_float=True):
            if event == "map_key":
                key = value
                continue
            if event in ("end_map", "end_array"):
                stack.pop()
                continue
            values += 1
            if stop_after is not None and values > stop_after:
                return
            if stack:
                parent = stack[-1]
                parent[0] += 1
                if parent[1] and parent[0] > parent[1]:
                    raise ShapeError(f"{parent[2]}: at most {parent[1]} items")
            if event in _SCALAR_EVENTS:
                continue
            containers += 1
            if containers > self.max_containers:
                raise ShapeError(f"body: at most {self.max_containers} JSON objects and arrays")
            if len(stack) >= self.max_depth:
                raise ShapeError(f"body: nested at most {self.max_depth} levels deep")
            top_field = len(stack) == 1 and event == "start_array" and key is not None
            limit = self.item_limits.get(key, 0) if top_field and key is not None else 0
            stack.append([0, limit, key])
