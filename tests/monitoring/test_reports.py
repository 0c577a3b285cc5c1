"""Report helpers that turn stored columns into the statistics' inputs."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from driftguard import stats
from driftguard.ingest.frames import FeatureSchema, stats_columns
from driftguard.monitoring.reports import group_codes

VALUES = ["north", None, "süd", "a", "a\x00", "", "\x00", "Zürich", "日本", "😀", "north", None]


def test_group_codes_give_the_fairness_of_the_labels_themselves() -> None:
    rng = np.random.default_rng(0)
    picks = rng.integers(0, len(VALUES), 3_000)
    rows = [VALUES[i] for i in picks]
    chunks = [pa.array(rows[:1_000]), pa.array(rows[1_000:]), pa.array([], pa.string())]
    column = pa.chunked_array(chunks)
    y_pred, y_true = rng.integers(0, 2, 3_000), rng.integers(0, 2, 3_000)
    schema = FeatureSchema.from_version([{"name": "g", "type": "categorical", "sensitive": True}])
    labels = stats_columns({"g": column}, schema)["g"]  # missing values as their own category

    by_codes = stats.fairness_metrics(y_pred, group_codes(column), y_true=y_true)

    assert by_codes == stats.fairness_metrics(y_pred, labels, y_true=y_true)
    # Ten distinct values (a missing one among them); "a" and "a\0", "" and "\0" are one group
    # each to NumPy, as they were before.
    assert len(by_codes.groups) == 8
