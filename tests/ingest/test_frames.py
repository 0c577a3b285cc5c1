"""Feature columns from JSON rows: the one-conversion path agrees with the value-by-value one."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from driftguard.ingest import frames
from driftguard.ingest.frames import FeatureSchema, Problems, feature_columns_from_rows

SCHEMA = FeatureSchema.from_version(
    [
        {"name": "income", "type": "numeric"},
        {"name": "region", "type": "categorical"},
        {"name": "active", "type": "boolean"},
        {"name": "gender", "type": "categorical", "sensitive": True},
    ]
)
ROW = {"income": 1.5, "region": "n", "active": None, "gender": None}
NUMBERS = FeatureSchema.from_version([{"name": f"f{i}", "type": "numeric"} for i in range(3)])

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=3),
    st.sampled_from(["x" * 513, [1], {"a": 1}]),
)


PLAIN = {
    "numeric": st.one_of(
        st.none(), st.integers(min_value=-(2**60), max_value=2**60), st.floats(width=64)
    ),
    "categorical": st.one_of(st.none(), st.text(max_size=3)),
    "boolean": st.one_of(st.none(), st.booleans()),
}


def _rows(schema: FeatureSchema) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Batches of rows: of the schema's kinds (mostly taken in one go), or anything at all."""
    names = [*schema.names, "unknown"]
    anything = st.dictionaries(st.sampled_from(names), values, max_size=len(names))
    full = st.fixed_dictionaries(dict.fromkeys(schema.names, values))
    plain = st.fixed_dictionaries({f.name: PLAIN[f.kind] for f in schema.features})
    return st.one_of(
        st.lists(plain, min_size=1, max_size=6),
        st.lists(st.one_of(plain, full, anything), min_size=1, max_size=6),
    )


def _both(
    rows: list[dict[str, Any]], schema: FeatureSchema
) -> tuple[tuple[dict[str, list[Any]], list[Any]], tuple[dict[str, list[Any]], list[Any]]]:
    def outcome(plain_allowed: bool) -> tuple[dict[str, list[Any]], list[Any]]:
        problems = Problems()
        saved = frames._plain_columns
        if not plain_allowed:
            frames._plain_columns = lambda _rows, _schema: None  # type: ignore[assignment]
        try:
            columns = feature_columns_from_rows(rows, schema, loc="rows.{i}", problems=problems)
        finally:
            frames._plain_columns = saved
        details = [(d.loc, d.msg) for d in problems.details]
        return ({} if details else {k: v.to_pylist() for k, v in columns.items()}), details

    return outcome(True), outcome(False)


@settings(max_examples=300, deadline=None)
@given(_rows(SCHEMA))
def test_the_one_conversion_path_agrees_with_the_value_by_value_path(rows: list[Any]) -> None:
    fast, slow = _both(rows, SCHEMA)
    assert fast == slow


@settings(max_examples=200, deadline=None)
@given(_rows(NUMBERS))
def test_agreement_on_an_all_numeric_schema(rows: list[Any]) -> None:
    fast, slow = _both(rows, NUMBERS)
    assert fast == slow


def test_a_plain_batch_is_converted_in_one_go() -> None:
    rows = [{"income": 1.5, "region": "n", "active": None, "gender": None}, {**ROW, "income": 2}]
    columns = frames._plain_columns(rows, SCHEMA)
    assert columns is not None
    assert columns["income"].to_pylist() == [1.5, 2.0]
    assert columns["income"].type == pa.float64()
    # A boolean anywhere, with number columns beside it: could be in one of them, so no.
    assert frames._plain_columns([{**ROW, "active": True}], SCHEMA) is None


def test_a_boolean_among_numbers_is_not_taken_for_one() -> None:
    rows = [{"f0": True, "f1": 1.0, "f2": 2.0}]
    assert frames._plain_columns(rows, NUMBERS) is None
    problems = Problems()
    feature_columns_from_rows(rows, NUMBERS, loc="rows.{i}", problems=problems)
    assert [(d.loc, d.msg) for d in problems.details] == [
        ("rows.0.f0", "expected a number, got a boolean")
    ]


def test_an_unknown_key_in_place_of_a_known_one_is_reported() -> None:
    rows = [{"f0": 1.0, "f1": 1.0, "f9": 2.0}, {"f0": 1.0, "f1": 1.0, "f2": 2.0}]
    assert frames._plain_columns(rows, NUMBERS) is None
    problems = Problems()
    feature_columns_from_rows(rows, NUMBERS, loc="rows.{i}", problems=problems)
    assert {d.loc for d in problems.details} == {"rows.0.f9", "rows.0.f2"}
