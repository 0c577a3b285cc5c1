"""Prediction logging, late labels and reference data. Functions flush; callers commit."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.orm import Session

from driftguard import stats
from driftguard.audit import service as audit
from driftguard.errors import ConflictError, ErrorDetail, InvalidError, NotFoundError
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.ingest import repository
from driftguard.ingest.block_writer import blocks, store_blocks
from driftguard.ingest.blocks import decision_columns, decode_block, in_window
from driftguard.ingest.frames import (
    ID,
    LABEL,
    SCORE,
    TAGS,
    TS,
    FeatureSchema,
    Problems,
    feature_columns_from_rows,
    feature_columns_from_table,
    stats_columns,
)
from driftguard.ingest.orm import ReferenceDataset
from driftguard.ingest.schemas import (
    IngestResult,
    LabelBatch,
    LabelResult,
    PredictionBatch,
    ReferenceRead,
)
from driftguard.ingest.uploads import (
    TS_TYPE,
    FileColumns,
    FileFormat,
    check_label_or_score,
    check_moments,
    read_predictions,
)
from driftguard.registry import service as registry_service
from driftguard.registry.orm import ModelVersion, Stage


def _checked_version(
    session: Session, *, principal: Principal, model_id: int, number: int
) -> ModelVersion:
    model, version = registry_service.resolve_version(
        session, principal=principal, model_id=model_id, number=number
    )
    principal.require_in_team(Permission.PREDICTIONS_WRITE, model.team_id)
    if version.stage is Stage.ARCHIVED or model.archived_at is not None:
        raise ConflictError(f"version {number} is archived; it takes no new data", code="archived")
    return version


def check_writable(session: Session, *, principal: Principal, model_id: int, number: int) -> None:
    """Raise unless the caller may log data to the version (no lock taken)."""
    _checked_version(session, principal=principal, model_id=model_id, number=number)


def _writable_version(
    session: Session, *, principal: Principal, model_id: int, number: int
) -> ModelVersion:
    version = _checked_version(session, principal=principal, model_id=model_id, number=number)
    repository.lock_version(session, version.id)
    return version


def _canonical_label(value: object) -> str:
    """One spelling per label: true/false, and whole numbers without a decimal point (pandas
    turns an integer column with gaps into floats, 1 and 1.0 are the same outcome)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def _batch_table(batch: PredictionBatch, schema: FeatureSchema) -> pa.Table:
    """The batch in the block layout, checked column by column (see ``ingest.schemas``)."""
    problems = Problems()
    rows = batch.rows
    ids = [r.prediction_id for r in rows]
    if len(set(ids)) < len(ids):
        seen: set[str] = set()
        for index, prediction_id in enumerate(ids):
            if prediction_id in seen:
                problems.add(f"rows.{index}.prediction_id", "repeats an earlier row of this batch")
            seen.add(prediction_id)
    stamps = pa.array([r.timestamp for r in rows], type=TS_TYPE)
    check_moments(stamps, "timestamp", problems)
    outputs = [r.prediction for r in rows]
    labels = pa.array(
        [None if o.label is None else _canonical_label(o.label) for o in outputs], pa.string()
    )
    scores = pa.array([o.score for o in outputs], pa.float64())
    check_label_or_score(labels, scores, "prediction", problems)
    features = feature_columns_from_rows(
        [r.features for r in rows], schema, loc="rows.{i}.features", problems=problems
    )
    problems.raise_if_any("predictions rejected")
    columns: dict[str, pa.Array] = {
        ID: pa.array(ids, type=pa.string()),
        TS: stamps,
        LABEL: labels,
        SCORE: scores,
        TAGS: pa.array([json.dumps(r.tags, sort_keys=True) if r.tags else None for r in rows]),
        **features,
    }
    return pa.table(columns)


def log_predictions(
    session: Session,
    *,
    principal: Principal,
    model_id: int,
    number: int,
    batch: PredictionBatch,
    idempotency_key: str | None = None,
) -> IngestResult:
    """Store a batch whole or not at all; rows whose ``prediction_id`` is known are skipped."""
    version = _writable_version(session, principal=principal, model_id=model_id, number=number)
    # Only a keyed request is ever compared with another (serialising 10,000 rows costs).
    request_hash = (
        ""
        if idempotency_key is None
        else hashlib.sha256(batch.model_dump_json().encode()).hexdigest()
    )
    replay = _replay(session, version.id, idempotency_key, request_hash)
    if replay is not None:
        return replay
    table = _batch_table(batch, FeatureSchema.from_version(version.features))
    return _store(session, principal, version, table, idempotency_key, request_hash)


def log_prediction_file(
    session: Session,
    *,
    principal: Principal,
    model_id: int,
    number: int,
    file: BinaryIO,
    file_format: FileFormat,
    columns: FileColumns,
    request_hash: str,
    idempotency_key: str | None = None,
) -> IngestResult:
    """Store a file of up to 1,000,000 predictions whole or not at all, as JSON batches are.

    ``request_hash`` identifies the request (the file's bytes and ``columns``) for the
    ``Idempotency-Key``. The caller's right to write is checked before the file is read.
    """
    version = _writable_version(session, principal=principal, model_id=model_id, number=number)
    replay = _replay(session, version.id, idempotency_key, request_hash)
    if replay is not None:
        return replay
    schema = FeatureSchema.from_version(version.features)
    table = read_predictions(file, file_format, schema, columns)
    return _store(session, principal, version, table, idempotency_key, request_hash)


def _replay(
    session: Session, version_id: int, idempotency_key: str | None, request_hash: str
) -> IngestResult | None:
    """The first response to a request retried with its ``Idempotency-Key``."""
    if idempotency_key is None:
        return None
    receipt = repository.get_receipt(session, version_id, idempotency_key)
    if receipt is None:
        return None
    if receipt.request_hash != request_hash:
        raise ConflictError(
            "Idempotency-Key was already used for a different request",
            code="idempotency_key_reused",
        )
    return IngestResult.model_validate_json(receipt.response)


def _store(
    session: Session,
    principal: Principal,
    version: ModelVersion,
    table: pa.Table,
    idempotency_key: str | None,
    request_hash: str,
) -> IngestResult:
    """Store the rows not stored yet, in time-ordered blocks, with the receipt and audit."""
    ids = table.column(ID).to_pylist()
    known = repository.existing_prediction_ids(session, version.id, ids)
    if known:
        table = table.filter(pa.array([i not in known for i in ids]))
    result = IngestResult(
        received=len(ids),
        new=table.num_rows,
        duplicates=len(ids) - table.num_rows,
        first_timestamp=None,
        last_timestamp=None,
    )
    if table.num_rows:
        span = pc.min_max(table.column(TS)).as_py()
        store_blocks(session, version, list(blocks(table, span["min"], span["max"])))
        result.first_timestamp, result.last_timestamp = span["min"], span["max"]
    if idempotency_key is not None:
        repository.add_receipt(
            session,
            version_id=version.id,
            key=idempotency_key,
            request_hash=request_hash,
            response=result.model_dump_json(),
        )
    session.flush()
    if result.new:
        audit.record(
            session,
            actor=principal,
            action="predictions.log",
            object_type="model_version",
            object_id=version.id,
            after=result.model_dump(),
        )
    return result


def log_labels(
    session: Session, *, principal: Principal, model_id: int, number: int, batch: LabelBatch
) -> LabelResult:
    """Attach outcomes to logged predictions. Unknown ids are reported back, not stored."""
    version = _writable_version(session, principal=principal, model_id=model_id, number=number)
    problems = Problems()
    seen: set[str] = set()
    for index, item in enumerate(batch.labels):
        if item.prediction_id in seen:
            problems.add(f"labels.{index}.prediction_id", "repeats an earlier label of this batch")
        seen.add(item.prediction_id)
    problems.raise_if_any("labels rejected")
    labels = {item.prediction_id: _canonical_label(item.label) for item in batch.labels}
    known = repository.prediction_times(session, version.id, list(labels))
    with_label = repository.existing_labels(session, version.id, known)
    new = {p: (v, known[p]) for p, v in labels.items() if p in known and p not in with_label}
    changed = {p: (v, known[p]) for p, v in labels.items() if p in with_label}
    repository.save_labels(session, version_id=version.id, new=new, changed=changed)
    session.flush()
    result = LabelResult(
        received=len(labels),
        stored=len(new) + len(changed),
        unknown_prediction_ids=[p for p in labels if p not in known],
    )
    if result.stored:
        audit.record(
            session,
            actor=principal,
            action="labels.log",
            object_type="model_version",
            object_id=version.id,
            after={"received": result.received, "new": len(new), "changed": len(changed)},
        )
    return result


def set_reference(
    session: Session,
    *,
    principal: Principal,
    model_id: int,
    number: int,
    table: pa.Table | None = None,
    rows: Sequence[Mapping[str, object]] | None = None,
    source_format: str,
) -> ReferenceRead:
    """Validate reference data (an uploaded ``table`` or JSON ``rows``) against the schema, fit
    its profile and make it active. The caller's right to write is checked before the data.

    A replaced reference is kept (inactive, with ``replaced_at``), so reports stay explainable.
    """
    version = _writable_version(session, principal=principal, model_id=model_id, number=number)
    if table is None:
        table = _reference_rows_table(rows or [], version.features, version.target)
    schema = FeatureSchema.from_version(version.features)
    problems = Problems()
    if table.num_rows == 0:
        problems.add("rows", "the reference data set is empty")
    columns = feature_columns_from_table(
        table, schema, problems=problems, allow_extra=[version.target]
    )
    problems.raise_if_any("reference rejected")
    try:
        profile = stats.fit_profile(
            stats_columns(columns, schema),
            categorical=[f.name for f in schema.features if f.kind != "numeric"],
            nan_policy="omit",
        )
    except stats.StatsInputError as exc:
        raise InvalidError(
            f"reference rejected: {exc}",
            code="invalid_reference",
            details=[ErrorDetail(loc=f"columns.{exc.argument}", msg=str(exc))],
        ) from exc
    reference = ReferenceDataset(
        version_id=version.id,
        is_active=True,
        row_count=table.num_rows,
        source_format=source_format,
        profile=profile.to_bytes(),
        profile_id=profile.profile_id,
        created_by_id=principal.user_id,
    )
    repository.replace_reference(session, reference)
    read = ReferenceRead.model_validate(reference)
    audit.record(
        session,
        actor=principal,
        action="reference.set",
        object_type="reference_dataset",
        object_id=reference.id,
        after=read.model_dump(),
    )
    return read


def _reference_rows_table(
    rows: Sequence[Mapping[str, object]], features: Sequence[Mapping[str, Any]], target: str
) -> pa.Table:
    """JSON reference rows as a table; the target column, if sent, is allowed and ignored."""
    schema = FeatureSchema.from_version(features)
    problems = Problems()
    stripped = [{k: v for k, v in row.items() if k != target} for row in rows]
    columns = feature_columns_from_rows(stripped, schema, loc="rows.{i}", problems=problems)
    problems.raise_if_any("reference rejected")
    return pa.table(columns)


def get_reference(
    session: Session, *, principal: Principal, model_id: int, number: int
) -> ReferenceDataset:
    """The active reference data set of a version the principal can see; ``NotFoundError`` when
    it has none."""
    _, version = registry_service.resolve_version(
        session, principal=principal, model_id=model_id, number=number
    )
    reference = repository.active_reference(session, version.id)
    if reference is None:
        raise NotFoundError(f"version {number} has no reference data yet")
    return reference


def load_window(
    session: Session,
    *,
    version_id: int,
    start: datetime,
    end: datetime,
    columns: Sequence[str] | None = None,
) -> pa.Table:
    """Every logged prediction of a version with ``start <= timestamp < end``, as one table
    (only ``columns``, plus the id and timestamp, when given). Blocks' features are fetched
    only when a column asked for is among them."""
    wanted = None if columns is None else list(dict.fromkeys([ID, TS, *columns]))
    version = session.get(ModelVersion, version_id)
    assert version is not None  # callers resolved it
    decided = decision_columns(FeatureSchema.from_version(version.features))
    features = wanted is None or not set(wanted) <= set(decided)
    tables = [
        in_window(decode_block(decisions, rest, wanted), start, end)
        for decisions, rest in repository.blocks_overlapping(
            session, version_id, start, end, features=features
        )
    ]
    if not tables:
        return pa.table(
            {ID: pa.array([], pa.string()), TS: pa.array([], pa.timestamp("us", tz="UTC"))}
        )
    return pa.concat_tables(tables, promote_options="default")
