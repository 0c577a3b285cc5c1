"""Monitoring a window whose raw predictions retention has purged.

A purge deletes blocks (and their key rows and labels) but keeps each block's counts in the
reference profile's bins (``prediction_block_counts``), so drift and data quality over a purged
window still come from the counts: PSI, Jensen-Shannon and chi-square exactly as from the raw
rows, KS bracketed within the bound ``stats.score_counts`` states. What needs each prediction
(fairness: decisions by group; performance: outcomes) is reported unavailable, with the reason.

Counts are whole blocks: a purged block that straddles an edge of the window cannot be split,
and a block purged before it was counted against the active reference has no counts to offer.
Both are left out and said so in the report (``purged.left_out``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy.orm import Session

from driftguard import stats
from driftguard.ingest import repository
from driftguard.ingest.counts import merged, rows_counted, window_counts
from driftguard.ingest.frames import FeatureSchema
from driftguard.monitoring.aggregates import counts_drift_report, counts_quality_report
from driftguard.monitoring.report_models import (
    FairnessReport,
    LeftOut,
    PerformanceReport,
    PurgedSummary,
    RunReports,
)

RAW: Final = "raw"
COUNTS: Final = "counts"
FAIRNESS_UNAVAILABLE = (
    "raw predictions of this window were purged by retention; fairness needs each "
    "prediction's decision and group"
)
PERFORMANCE_UNAVAILABLE = (
    "raw predictions and labels of this window were purged by retention; performance needs "
    "each prediction's outcome"
)
EDGE = "purged blocks that straddle an edge of the window: their counts cover time outside it"
UNCOUNTED = "purged blocks that were never counted against the active reference"


@dataclass(frozen=True, slots=True)
class PurgedPart:
    """The purged blocks that overlapped a window, and what their stored counts give."""

    counts: stats.WindowCounts | None  # merged, of the purged blocks wholly inside the window
    blocks: int
    predictions: int
    edge_blocks: int
    uncounted_blocks: int

    @property
    def found(self) -> bool:
        """Whether any purged block overlapped the window (then every report comes from counts)."""
        return bool(self.blocks or self.edge_blocks or self.uncounted_blocks)

    def describe(self) -> PurgedSummary:
        """The ``purged`` part of a report: what was counted, and what was left out and why."""
        left_out = [
            LeftOut(blocks=n, reason=reason)
            for n, reason in ((self.edge_blocks, EDGE), (self.uncounted_blocks, UNCOUNTED))
            if n
        ]
        return PurgedSummary(blocks=self.blocks, predictions=self.predictions, left_out=left_out)


def purged_part(
    session: Session, *, version_id: int, profile: stats.Profile, start: datetime, end: datetime
) -> PurgedPart:
    """The window's purged blocks: counted spans whose block is no longer stored."""
    stored = {span[0] for span in repository.block_spans(session, version_id, start, end)}
    spans: dict[int, tuple[datetime, datetime]] = {}
    with_profile: set[int] = set()
    for block_id, profile_id, first, last in repository.counted_spans(
        session, version_id, start, end
    ):
        if block_id in stored:
            continue
        spans[block_id] = (first, last)
        if profile_id == profile.profile_id:
            with_profile.add(block_id)
    inside = sorted(b for b in with_profile if spans[b][0] >= start and spans[b][1] < end)
    cached = repository.cached_counts(session, inside, profile.profile_id)
    counts = merged([stats.WindowCounts.from_bytes(data) for data in cached.values()])
    return PurgedPart(
        counts=counts,
        blocks=len(inside),
        predictions=0 if counts is None else rows_counted(counts),
        edge_blocks=len(with_profile) - len(inside),
        uncounted_blocks=len(spans) - len(with_profile),
    )


def purged_reports(
    session: Session,
    *,
    version_id: int,
    profile: stats.Profile,
    schema: FeatureSchema,
    purged: PurgedPart,
    start: datetime,
    end: datetime,
) -> RunReports | None:
    """Every report of a window with purged blocks, from counts (whatever method was asked:
    the values an exact run reads are gone); None when there are no counts at all."""
    live = window_counts(
        session, version_id=version_id, profile=profile, schema=schema, start=start, end=end
    )
    counts = merged([c for c in (live, purged.counts) if c is not None])
    if counts is None:
        return None
    described = {"purged": purged.describe()}
    return RunReports(
        drift=counts_drift_report(profile, counts).model_copy(update=described),
        data_quality=counts_quality_report(profile, counts).model_copy(update=described),
        fairness=FairnessReport(unavailable=FAIRNESS_UNAVAILABLE),
        performance=PerformanceReport(unavailable=PERFORMANCE_UNAVAILABLE),
    )


def nothing_counted(purged: PurgedPart) -> str:
    """Why a window whose raw rows were purged has no reports."""
    reasons = "; ".join(f"{p.blocks} {p.reason}" for p in purged.describe().left_out)
    return f"the raw predictions of this window were purged and no stored counts fit it: {reasons}"
