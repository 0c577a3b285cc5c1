"""Turning client data (JSON rows or uploaded tables) into typed Arrow columns, checked against
a model version's feature schema. Every problem names the row and the column."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from itertools import chain
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from driftguard.errors import ErrorDetail, InvalidError

MAX_DETAILS = 20
MAX_CATEGORY_LENGTH = 512
# Clocks drift: a prediction timestamp up to this far ahead of ours is accepted.
FUTURE_TOLERANCE = timedelta(minutes=5)
# Reserved block columns; ':' cannot occur in a feature name, so they never collide.
ID, TS, LABEL, SCORE, TAGS = ":id", ":ts", ":label", ":score", ":tags"


@dataclass(frozen=True, slots=True)
class Feature:
    name: str
    kind: str  # numeric | categorical | boolean
    sensitive: bool

    @property
    def arrow_type(self) -> pa.DataType:
        """The Arrow type a feature's column is stored as: float64, bool, or string for
        categories."""
        return {"numeric": pa.float64(), "boolean": pa.bool_()}.get(self.kind, pa.string())


@dataclass(frozen=True, slots=True)
class FeatureSchema:
    features: tuple[Feature, ...]

    @classmethod
    def from_version(cls, features: Sequence[Mapping[str, Any]]) -> FeatureSchema:
        """The schema from a version's stored feature list (name, type, sensitive)."""
        return cls(
            tuple(
                Feature(str(f["name"]), str(f["type"]), bool(f.get("sensitive", False)))
                for f in features
            )
        )

    @property
    def names(self) -> tuple[str, ...]:
        """Every feature's name, in the version's order."""
        return tuple(f.name for f in self.features)

    def sensitive(self) -> tuple[str, ...]:
        """The sensitive attributes' names (the groups fairness is measured over)."""
        return tuple(f.name for f in self.features if f.sensitive)

    def required(self) -> tuple[str, ...]:
        """Model inputs must always be sent; sensitive attributes may be absent."""
        return tuple(f.name for f in self.features if not f.sensitive)


class Problems:
    """Collects input problems and raises them together (up to ``MAX_DETAILS``)."""

    def __init__(self) -> None:
        self.details: list[ErrorDetail] = []
        self.count = 0

    def add(self, loc: str, msg: str) -> None:
        """Note one problem at ``loc``; only the first ``MAX_DETAILS`` are kept, all are counted."""
        self.count += 1
        if len(self.details) < MAX_DETAILS:
            self.details.append(ErrorDetail(loc=loc, msg=msg))

    def raise_if_any(self, what: str) -> None:
        """Raise one ``InvalidError`` naming the first problem and how many more there are, if
        any was noted."""
        if self.details:
            first = self.details[0]
            more = f" (and {self.count - 1} more problems)" if self.count > 1 else ""
            raise InvalidError(
                f"{what}: {first.loc}: {first.msg}{more}", code="invalid_rows", details=self.details
            )


def _finite(value: float) -> float | None:
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _cell(feature: Feature, value: object, loc: str, problems: Problems) -> object:
    if value is None:
        return None
    if feature.kind == "numeric":
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.add(loc, f"expected a number, got {_kind(value)}")
            return None
        number = _finite(value)
        if number is None:
            problems.add(loc, "must be a finite number within the range of a double")
        return number
    if feature.kind == "boolean":
        if not isinstance(value, bool):
            problems.add(loc, f"expected true or false, got {_kind(value)}")
            return None
        return value
    if not isinstance(value, str | int):  # a float too: 1.5 is not a category
        problems.add(loc, f"expected a category (string, integer or boolean), got {_kind(value)}")
        return None
    if isinstance(value, str) and len(value) > MAX_CATEGORY_LENGTH:
        problems.add(loc, f"must be at most {MAX_CATEGORY_LENGTH} characters")
        return None
    return str(value).lower() if isinstance(value, bool) else str(value)


_KINDS = {
    str: "a string",
    int: "an integer",
    float: "a float",
    bool: "a boolean",
    dict: "an object",
    list: "an array",
}


def _kind(value: object) -> str:
    """A value's type as JSON names it."""
    return _KINDS.get(type(value), type(value).__name__)


def feature_columns_from_rows(
    rows: Sequence[Mapping[str, object]], schema: FeatureSchema, *, loc: str, problems: Problems
) -> dict[str, pa.Array]:
    """Columns from row dicts; ``loc`` is the location prefix, e.g. ``"rows.{i}.features"``."""
    plain = _plain_columns(rows, schema)
    if plain is not None:
        return plain
    known = frozenset(schema.names)
    required = frozenset(schema.required())
    for index, row in enumerate(rows):
        unknown, missing = row.keys() - known, required - row.keys()
        if unknown or missing:
            where = loc.format(i=index)
            for key in sorted(unknown):
                problems.add(f"{where}.{key}", "is not a feature of this model version")
            for name in sorted(missing):
                problems.add(f"{where}.{name}", "is missing")
    columns: dict[str, pa.Array] = {}
    for feature in schema.features:
        values = [row.get(feature.name) for row in rows]
        column = _fast_column(feature, values)
        if column is None:  # something to fix or to report: go value by value
            cells = [
                _cell(feature, raw, f"{loc.format(i=index)}.{feature.name}", problems)
                for index, raw in enumerate(values)
            ]
            column = pa.array(cells, type=feature.arrow_type)
        columns[feature.name] = column
    return columns


_NONE = type(None)
_PLAIN = {
    "numeric": frozenset({int, float, _NONE}),
    "boolean": frozenset({bool, _NONE}),
    "categorical": frozenset({str, _NONE}),
}


def _plain_columns(
    rows: Sequence[Mapping[str, object]], schema: FeatureSchema
) -> dict[str, pa.Array] | None:
    """Every column in one conversion, when each row has exactly the schema's features and each
    value is plainly acceptable (the usual batch: a third of the time of a column at a time);
    None otherwise, and the rows are checked one by one.

    Arrow's conversion to the schema's struct refuses every value that :data:`_PLAIN` does not
    allow but one: a boolean in a number column (it would take it as 0 or 1). Unknown keys it
    would ignore, and a missing key would read as null: hence the checks before it."""
    width = len(schema.features)
    if not rows or not width or any(len(row) != width for row in rows):
        return None
    if set().union(*rows) != set(schema.names):
        return None
    kinds = set(map(type, chain.from_iterable(row.values() for row in rows)))
    if not kinds <= frozenset().union(*(_PLAIN[f.kind] for f in schema.features)):
        return None
    if bool in kinds and any(f.kind == "numeric" for f in schema.features):
        return None
    struct = pa.struct([pa.field(f.name, f.arrow_type) for f in schema.features])
    try:
        array = pa.array(rows, type=struct)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return None  # a value of another column's kind, an integer beyond a double's range
    columns = {f.name: array.field(f.name) for f in schema.features}
    if not all(_acceptable(f, columns[f.name]) for f in schema.features):
        return None
    return columns


def _fast_column(feature: Feature, values: list[object]) -> pa.Array | None:
    """The column in one conversion when every value is plainly acceptable; else None."""
    if not set(map(type, values)) <= _PLAIN.get(feature.kind, _PLAIN["categorical"]):
        return None
    try:
        column = pa.array(values, type=feature.arrow_type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return None  # e.g. an integer beyond a double's exact range
    return column if _acceptable(feature, column) else None


def _acceptable(feature: Feature, column: pa.Array) -> bool:
    """Numbers finite, categories not too long (for a column converted in one go)."""
    if feature.kind == "numeric":
        return pc.all(pc.is_finite(column)).as_py() is not False  # None: every value missing
    if feature.kind == "categorical":
        longest = pc.max(pc.utf8_length(column)).as_py()  # None when every value is missing
        return longest is None or longest <= MAX_CATEGORY_LENGTH
    return True


def feature_columns_from_table(
    table: pa.Table, schema: FeatureSchema, *, problems: Problems, allow_extra: Sequence[str] = ()
) -> dict[str, pa.Array]:
    """Columns from an uploaded table, cast to each feature's type; problems name the column."""
    names = table.column_names
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.add(f"columns.{name}", "appears more than once")
    if len(set(names)) != len(names):
        return {}
    present = set(names)
    for name in present - set(schema.names) - set(allow_extra):
        problems.add(f"columns.{name}", "is not a feature of this model version")
    for name in schema.required():
        if name not in present:
            problems.add(f"columns.{name}", "is missing")
    columns: dict[str, pa.Array] = {}
    for feature in schema.features:
        if feature.name not in present:
            columns[feature.name] = pa.nulls(table.num_rows, type=feature.arrow_type)
            continue
        column = table.column(feature.name).combine_chunks()
        cast = _cast(column, feature, problems)
        if cast is not None:
            columns[feature.name] = cast
    return columns


def _cast(column: pa.Array, feature: Feature, problems: Problems) -> pa.Array | None:
    try:
        return _cast_checked(column, feature, problems)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        problems.add(f"columns.{feature.name}", f"cannot be read as {feature.kind}: {exc}"[:300])
        return None


_CATEGORY_TYPES = (pa.types.is_string, pa.types.is_large_string, pa.types.is_integer)


def _cast_checked(column: pa.Array, feature: Feature, problems: Problems) -> pa.Array | None:
    loc = f"columns.{feature.name}"
    kind = column.type
    if feature.kind == "numeric":
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_null(kind)):
            problems.add(loc, f"expected numbers, got {kind}")
            return None
        floats = column.cast(pa.float64())
        # Missing values are fine (they are counted); NaN and infinities are not numbers.
        bad = pc.fill_null(pc.or_(pc.is_nan(floats), pc.is_inf(floats)), False)
        bad = bad.to_numpy(zero_copy_only=False)
        if bad.any():
            problems.add(f"rows.{int(bad.argmax())}.{feature.name}", "must be a finite number")
            return None
        return floats
    if feature.kind == "boolean":
        if not (pa.types.is_boolean(kind) or pa.types.is_null(kind)):
            problems.add(loc, f"expected true/false values, got {kind}")
            return None
        return column.cast(pa.bool_())
    if pa.types.is_floating(kind):
        problems.add(loc, "expected categories (strings or integers), got floats")
        return None
    if pa.types.is_boolean(kind):
        return pc.if_else(column, "true", "false").cast(pa.string())
    if pa.types.is_dictionary(kind):
        column, kind = column.cast(kind.value_type), kind.value_type
    if not (pa.types.is_null(kind) or any(check(kind) for check in _CATEGORY_TYPES)):
        problems.add(loc, f"expected categories (strings or integers), got {kind}")
        return None
    return column.cast(pa.string())


# How the statistics see a missing category (its own category, never dropped).
MISSING_CATEGORY = "<missing>"


def stats_columns(
    columns: Mapping[str, pa.Array], schema: FeatureSchema
) -> dict[str, NDArray[Any]]:
    """Feature columns in the form the statistics take: floats with NaN for missing numbers,
    strings for categories and booleans with missing values as their own category."""
    data: dict[str, NDArray[Any]] = {}
    for feature in schema.features:
        column = columns[feature.name]
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        if feature.kind == "numeric":
            data[feature.name] = column.to_numpy(zero_copy_only=False).astype(np.float64)
        else:
            filled = pc.fill_null(column.cast(pa.string()), MISSING_CATEGORY)
            data[feature.name] = np.asarray(filled.to_pylist(), dtype=object)
    return data
