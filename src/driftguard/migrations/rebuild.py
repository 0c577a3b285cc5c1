"""What migrations that alter the prediction tables share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from alembic import op


@contextmanager
def labels_kept() -> Iterator[None]:
    """SQLite rebuilds a table to alter it, and dropping the old ``prediction_records`` (with
    foreign keys on) would cascade to the labels: keep a copy and put it back."""
    if op.get_context().dialect.name != "sqlite":
        yield
        return
    op.execute("CREATE TEMPORARY TABLE labels_kept AS SELECT * FROM prediction_labels")
    yield
    op.execute("DELETE FROM prediction_labels")
    op.execute("INSERT INTO prediction_labels SELECT * FROM labels_kept")
    op.execute("DROP TABLE labels_kept")
