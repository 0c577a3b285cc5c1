"""Uploaded files: prediction files (CSV, Parquet, Arrow IPC) as a block table, checked like JSON
batches, and reference data files (CSV, Parquet) as a table.

A prediction file is read in record batches from a file object (an upload spooled to disk), so
its bytes are never held in memory beside the table. A problem with one value names its row
(0-based, header excluded) and column, ``rows.{i}.{column}``; a problem with a whole column
names the column, ``columns.{column}``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from driftguard.db.base import utcnow
from driftguard.errors import ErrorDetail, InvalidError
from driftguard.ingest.frames import (
    FUTURE_TOLERANCE,
    ID,
    LABEL,
    SCORE,
    TAGS,
    TS,
    FeatureSchema,
    Problems,
    feature_columns_from_table,
)
from driftguard.schemas import EARLIEST, LATEST

FileFormat = Literal["csv", "parquet", "arrow"]
MAX_FILE_ROWS = 1_000_000
READ_BATCH_ROWS = 65_536
MAX_ID_LENGTH, MAX_LABEL_LENGTH = 128, 256
TS_TYPE = pa.timestamp("us", tz="UTC")
_CONTROL = r"[\x00-\x1f\x7f]"


@dataclass(frozen=True, slots=True)
class FileColumns:
    """Which columns of the file hold the id, time, predicted label and score; every other
    column must be a feature of the version."""

    prediction_id: str = "prediction_id"
    timestamp: str = "timestamp"
    label: str = "label"
    score: str = "score"

    def reserved(self) -> tuple[str, str, str, str]:
        """The columns that are not features: prediction id, timestamp, label and score."""
        return (self.prediction_id, self.timestamp, self.label, self.score)


def _file_error(message: str, code: str = "unreadable_file") -> InvalidError:
    return InvalidError(
        f"file: {message}", code=code, details=[ErrorDetail(loc="file", msg=message[:500])]
    )


def detect_format(filename: str | None, content_type: str | None) -> FileFormat:
    """A file's format from its name or content type (Parquet, CSV or Arrow); refused naming the
    field otherwise."""
    name, kind = (filename or "").lower(), (content_type or "").split(";")[0].strip().lower()
    if name.endswith(".parquet") or kind == "application/vnd.apache.parquet":
        return "parquet"
    if name.endswith(".csv") or kind in ("text/csv", "application/csv"):
        return "csv"
    if name.endswith((".arrow", ".arrows", ".feather", ".ipc")) or kind in (
        "application/vnd.apache.arrow.file",
        "application/vnd.apache.arrow.stream",
    ):
        return "arrow"
    raise _file_error(
        "must be a CSV, Parquet or Arrow IPC file (by name or Content-Type)", "unsupported_format"
    )


def read_reference_file(
    file: BinaryIO, filename: str | None, content_type: str | None
) -> tuple[pa.Table, str]:
    """A reference data set's file (CSV or Parquet, by name or Content-Type) as a table with
    the types pyarrow infers, and its format."""
    name = (filename or "").lower()
    try:
        if name.endswith(".parquet") or content_type == "application/vnd.apache.parquet":
            return pq.read_table(file), "parquet"
        if name.endswith(".csv") or content_type in ("text/csv", "application/csv"):
            return pa_csv.read_csv(file), "csv"
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        raise InvalidError(
            f"file: cannot be read: {exc}",
            code="unreadable_file",
            details=[ErrorDetail(loc="file", msg=str(exc)[:500])],
        ) from exc
    raise InvalidError(
        "file: must be a .csv or .parquet file",
        code="unsupported_format",
        details=[ErrorDetail(loc="file", msg="must be a .csv or .parquet file")],
    )


def _batches(
    file: BinaryIO, fmt: FileFormat, schema: FeatureSchema, columns: FileColumns
) -> Iterator[pa.RecordBatch]:
    if fmt == "parquet":
        yield from pq.ParquetFile(file).iter_batches(batch_size=READ_BATCH_ROWS)
    elif fmt == "arrow":
        start = file.tell()
        try:
            reader = pa.ipc.open_file(file)
            for index in range(reader.num_record_batches):
                yield reader.get_batch(index)
        except pa.ArrowInvalid:
            file.seek(start)
            yield from pa.ipc.open_stream(file)
    else:
        # Text in, checked casts after: a bad value is then found by row, not only by column.
        known = {*columns.reserved(), *schema.names}
        yield from pa_csv.open_csv(
            file,
            read_options=pa_csv.ReadOptions(block_size=8 << 20),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.string() for name in known}, strings_can_be_null=True
            ),
        )


def read_table(
    file: BinaryIO,
    fmt: FileFormat,
    schema: FeatureSchema,
    columns: FileColumns,
    *,
    max_rows: int = MAX_FILE_ROWS,
) -> pa.Table:
    """The file's rows as one table (at most ``max_rows``)."""
    batches: list[pa.RecordBatch] = []
    rows = 0
    try:
        for batch in _batches(file, fmt, schema, columns):
            rows += batch.num_rows
            if rows > max_rows:
                raise _file_error(f"has more than {max_rows:,} rows", "too_many_rows")
            batches.append(batch)
        if not batches:
            raise _file_error("has no rows", "empty_file")
        return pa.Table.from_batches(batches)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OSError) as exc:
        raise _file_error(f"cannot be read as {fmt}: {exc}") from exc


def _cast_rows(
    column: pa.Array, target: pa.DataType, name: str, what: str, problems: Problems
) -> pa.Array | None:
    """``column`` cast to ``target``; on failure, the first value that fails names its row
    (found by halving: a few dozen casts, not one per value)."""
    try:
        return column.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            problems.add(f"columns.{name}", f"cannot be read as {what}: {exc}"[:300])
            return None
    low, high = 0, len(column)
    while high - low > 1:
        middle = (low + high) // 2
        try:
            column.slice(low, middle - low).cast(target)
            low = middle
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            high = middle
    problems.add(f"rows.{low}.{name}", f"cannot be read as {what}: {column[low].as_py()!r}"[:300])
    return None


def _text_to_types(
    table: pa.Table, schema: FeatureSchema, columns: FileColumns, problems: Problems
) -> pa.Table:
    """CSV columns are read as text; give numbers and booleans their types, by row."""
    wanted = {columns.score: (pa.float64(), "a number")}
    for feature in schema.features:
        if feature.kind == "numeric":
            wanted[feature.name] = (pa.float64(), "a number")
        elif feature.kind == "boolean":
            wanted[feature.name] = (pa.bool_(), "true or false")
    for name, (target, what) in wanted.items():
        if name in table.column_names:
            cast = _cast_rows(table.column(name).combine_chunks(), target, name, what, problems)
            if cast is not None:
                table = table.set_column(table.column_names.index(name), name, cast)
    return table


def _ids(column: pa.Array, name: str, problems: Problems) -> pa.Array | None:
    if not (
        pa.types.is_string(column.type)
        or pa.types.is_large_string(column.type)
        or pa.types.is_integer(column.type)
    ):
        problems.add(f"columns.{name}", f"expected text or integers, got {column.type}")
        return None
    ids = column.cast(pa.string())
    for row in first_rows(pc.is_null(ids)):
        problems.add(f"rows.{row}.{name}", "is missing")
    length = pc.utf8_length(ids)
    for row in first_rows(pc.or_(pc.equal(length, 0), pc.greater(length, MAX_ID_LENGTH))):
        problems.add(f"rows.{row}.{name}", f"must be 1 to {MAX_ID_LENGTH} characters")
    for row in first_rows(pc.match_substring_regex(ids, _CONTROL)):
        problems.add(f"rows.{row}.{name}", "must not contain control characters")
    order = pc.sort_indices(ids)  # stable: of equal ids, the earlier row comes first
    ordered = ids.take(order)
    repeats = pc.equal(ordered.slice(1), ordered.slice(0, max(len(ordered) - 1, 0)))
    later = sorted(int(order[i + 1].as_py()) for i in first_rows(repeats, 20))
    for row in later[:5]:
        problems.add(f"rows.{row}.{name}", "repeats an earlier row of this file")
    return ids


def _timestamps(column: pa.Array, name: str, problems: Problems) -> pa.Array | None:
    kind = column.type
    if pa.types.is_timestamp(kind) and kind.tz is None:
        problems.add(f"columns.{name}", "timestamps must carry a time zone (e.g. UTC)")
        return None
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        stamps = _cast_rows(column, TS_TYPE, name, "a timestamp with a zone offset", problems)
    elif pa.types.is_timestamp(kind):
        stamps = column.cast(TS_TYPE)
    else:
        problems.add(f"columns.{name}", f"expected timestamps, got {kind}")
        return None
    if stamps is None:
        return None
    for row in first_rows(pc.is_null(stamps)):
        problems.add(f"rows.{row}.{name}", "is missing")
    check_moments(stamps, name, problems)
    return stamps


def check_moments(stamps: pa.Array, name: str, problems: Problems) -> None:
    """Each timestamp between 1970 and 2200 and not in the future (``rows.{i}.{name}``)."""
    early, late = pa.scalar(EARLIEST, TS_TYPE), pa.scalar(LATEST, TS_TYPE)
    for row in first_rows(pc.or_(pc.less(stamps, early), pc.greater_equal(stamps, late))):
        problems.add(f"rows.{row}.{name}", "must be between 1970 and 2200")
    for row in first_rows(pc.greater(stamps, pa.scalar(utcnow() + FUTURE_TOLERANCE, TS_TYPE))):
        problems.add(f"rows.{row}.{name}", "is in the future")


def check_label_or_score(labels: pa.Array, scores: pa.Array, name: str, problems: Problems) -> None:
    """Each row has a predicted label, a score or both (``rows.{i}.{name}``)."""
    for row in first_rows(pc.and_(pc.is_null(labels), pc.is_null(scores))):
        problems.add(f"rows.{row}.{name}", "give the predicted label, the score, or both")


def first_rows(mask: pa.Array | pa.ChunkedArray, count: int = 5) -> list[int]:
    """The first few row indices where ``mask`` is true."""
    flags = pc.fill_null(mask, False).to_numpy(zero_copy_only=False)
    return [int(i) for i in np.flatnonzero(flags)[:count]]


def _labels(column: pa.Array, name: str, problems: Problems) -> pa.Array | None:
    """One spelling per label, as for JSON: true/false, whole numbers without a point."""
    kind = column.type
    if pa.types.is_boolean(kind):
        return pc.if_else(column, "true", "false")
    if pa.types.is_integer(kind) or pa.types.is_null(kind):
        return column.cast(pa.string())
    if pa.types.is_floating(kind):
        whole = pc.equal(pc.floor(column), column)
        for row in first_rows(pc.invert(whole)):
            problems.add(f"rows.{row}.{name}", "a predicted label must be a whole number or text")
        return column.cast(pa.int64(), safe=False).cast(pa.string())
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        labels = column.cast(pa.string())
        for row in first_rows(pc.greater(pc.utf8_length(labels), MAX_LABEL_LENGTH)):
            problems.add(f"rows.{row}.{name}", f"must be at most {MAX_LABEL_LENGTH} characters")
        for row in first_rows(pc.match_substring(labels, "\x00")):
            problems.add(f"rows.{row}.{name}", "must not contain NUL")
        return labels
    problems.add(f"columns.{name}", f"expected labels (text, integers or booleans), got {kind}")
    return None


def _scores(column: pa.Array, name: str, problems: Problems) -> pa.Array | None:
    kind = column.type
    if not (pa.types.is_floating(kind) or pa.types.is_integer(kind) or pa.types.is_null(kind)):
        problems.add(f"columns.{name}", f"expected numbers, got {kind}")
        return None
    scores = column.cast(pa.float64())
    for row in first_rows(pc.or_(pc.is_nan(scores), pc.is_inf(scores))):
        problems.add(f"rows.{row}.{name}", "must be a finite number")
    return scores


def block_table(
    table: pa.Table, schema: FeatureSchema, columns: FileColumns, *, from_text: bool
) -> pa.Table:
    """The file's rows in the block layout, or :class:`InvalidError` naming each problem."""
    problems = Problems()
    names = table.column_names
    for name in (columns.prediction_id, columns.timestamp):
        if name not in names:
            problems.add(f"columns.{name}", "is missing")
    if columns.label not in names and columns.score not in names:
        problems.add(f"columns.{columns.label}", "give a label column, a score column, or both")
    if from_text:
        table = _text_to_types(table, schema, columns, problems)
    features = feature_columns_from_table(
        table.drop_columns([n for n in columns.reserved() if n in names]),
        schema,
        problems=problems,
    )
    problems.raise_if_any("predictions rejected")

    def column(name: str) -> pa.Array:
        return table.column(name).combine_chunks()

    n = table.num_rows
    ids = _ids(column(columns.prediction_id), columns.prediction_id, problems)
    stamps = _timestamps(column(columns.timestamp), columns.timestamp, problems)
    labels = (
        _labels(column(columns.label), columns.label, problems)
        if columns.label in names
        else pa.nulls(n, pa.string())
    )
    scores = (
        _scores(column(columns.score), columns.score, problems)
        if columns.score in names
        else pa.nulls(n, pa.float64())
    )
    if labels is not None and scores is not None:
        check_label_or_score(labels, scores, columns.label, problems)
    problems.raise_if_any("predictions rejected")
    return pa.table(
        {
            ID: ids,
            TS: stamps,
            LABEL: labels,
            SCORE: scores,
            TAGS: pa.nulls(n, pa.string()),
            **features,
        }
    )


def read_predictions(
    file: BinaryIO, fmt: FileFormat, schema: FeatureSchema, columns: FileColumns
) -> pa.Table:
    """An uploaded predictions file as a block table, checked as a whole (every problem names its
    row and column)."""
    table = read_table(file, fmt, schema, columns)
    return block_table(table, schema, columns, from_text=fmt == "csv")
