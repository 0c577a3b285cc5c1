"""The stored monitoring reports as typed models: the one contract between the run that writes a
report (``monitoring.runs``) and everything that reads it back (facts, the model page, the
portfolio simulation's replay, the API).

The builders (``monitoring.reports``, ``aggregates``, ``purged``) return these models; a run
serialises each once, when it stores it (:func:`stored_payload`), and hands the same models to
``governance.after_run``. Readers of stored reports parse them with the models.

Versioning. The payloads stored today are ``schema_version`` 1 and do not carry the field: a
payload without it reads as version 1, so reports stored before these models existed read
unchanged, and the writer stores exactly the same JSON as before (:func:`stored_payload` dumps
only the fields a report set, and a builder sets exactly the keys the dict it replaced held). A
future change of shape bumps ``SCHEMA_VERSION`` and stores it explicitly, so a reader can always
tell the two apart.

Unknown keys are kept (``extra="allow"``) rather than refused: a stored report never fails to
read because it holds something this version does not name, and nothing is lost when it is
served back. The writer's reports name every key they hold (tested).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict

SCHEMA_VERSION: Final = 1
Source = Literal["raw", "counts"]


class _Part(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class StoredReport(_Part):
    """What every stored report has: its version, and where its figures came from."""

    schema_version: Literal[1] = SCHEMA_VERSION
    # "raw": every prediction of the window was still stored; "counts": some were purged.
    source: Source | None = None


class LeftOut(_Part):
    blocks: int
    reason: str


class PurgedSummary(_Part):
    """The purged blocks a report over a purged window was computed from (``monitoring.purged``)."""

    blocks: int
    predictions: int
    left_out: list[LeftOut]


class DriftFeature(_Part):
    """One feature's line of a drift report."""

    feature: str
    kind: str
    method: str
    psi: float | None
    jensen_shannon: float | None
    ks_statistic: float | None
    ks_statistic_upper_bound: float | None
    ks_error_bound: float | None
    wasserstein: float | None
    chi_square: float | None
    p_value: float | None
    p_value_adjusted: float | None
    n_reference: int
    n_current: int
    n_missing: int


class SkippedFeature(_Part):
    feature: str
    reason: str


class DriftReport(StoredReport):
    method: str
    correction: str
    features: list[DriftFeature]
    skipped: list[SkippedFeature]
    purged: PurgedSummary | None = None


class QualityFeature(_Part):
    """One feature's data quality. The counts method knows no type violations, out-of-range
    values or unseen categories by name: those fields are absent from its reports."""

    name: str
    kind: str | None = None
    n: int
    n_missing: int
    n_type_violations: int | None = None
    n_out_of_range: int | None = None
    n_unseen: int | None
    unseen_categories: list[str | int | bool] | None = None
    missing_rate: float | None
    type_violation_rate: float | None = None
    out_of_range_rate: float | None
    unseen_rate: float | None


class QualityReport(StoredReport):
    method: str
    features: list[QualityFeature]
    profile_id: str | None = None
    purged: PurgedSummary | None = None


class GroupRates(_Part):
    """Counts and rates of one group (``stats.GroupRates``)."""

    group: str | int | bool
    size: int
    n_selected: int
    selection_rate: float | None
    impact_ratio: float | None
    below_min_group_size: bool
    n_positive: int | None
    n_negative: int | None
    true_positives: int | None
    false_positives: int | None
    tpr: float | None
    fpr: float | None
    ppv: float | None


class AttributeFairness(_Part):
    """Between-group fairness of one sensitive attribute (``stats.FairnessResult``)."""

    demographic_parity_difference: float | None
    demographic_parity_ratio: float | None
    disparate_impact_ratio: float | None
    equal_opportunity_difference: float | None
    equalized_odds_difference: float | None
    groups: list[GroupRates]
    n: int
    min_group_size: int
    undefined_rates: str


class AttributeSkipped(_Part):
    skipped: str


class FairnessReport(StoredReport):
    """Per sensitive attribute; or skipped (decisions not binary), or unavailable (purged)."""

    attributes: dict[str, AttributeFairness | AttributeSkipped] | None = None
    skipped: str | None = None
    unavailable: str | None = None


class PerformanceReport(StoredReport):
    """Classification or regression metrics against the labels that have arrived; or skipped
    (not applicable), or unavailable (purged)."""

    n_labelled: int | None = None
    skipped: str | None = None
    unavailable: str | None = None
    n: int | None = None
    n_positive: int | None = None
    n_predicted_positive: int | None = None
    true_positives: int | None = None
    false_positives: int | None = None
    false_negatives: int | None = None
    true_negatives: int | None = None
    accuracy: float | None = None
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    roc_auc: float | None = None
    log_loss: float | None = None
    brier_score: float | None = None
    mae: float | None = None
    rmse: float | None = None
    r2: float | None = None

    @property
    def measured(self) -> bool:
        """Whether it holds metrics (not skipped, not unavailable)."""
        return self.skipped is None and self.unavailable is None


class OversightReport(StoredReport):
    """Human oversight in the window (EU AI Act Art. 14): how many of its predictions a human
    overrode (``ingest.overrides``, counted by the prediction's time). Stored only for versions
    with at least one override logged."""

    n_predictions: int
    n_overrides: int
    override_rate: float


REPORT_MODELS: Final[Mapping[str, type[StoredReport]]] = {
    "drift": DriftReport,
    "data_quality": QualityReport,
    "fairness": FairnessReport,
    "performance": PerformanceReport,
    "oversight": OversightReport,
}


class RunReports(BaseModel):
    """The reports of one run, by kind (a kind the run did not produce is None)."""

    model_config = ConfigDict(frozen=True)

    drift: DriftReport | None = None
    data_quality: QualityReport | None = None
    fairness: FairnessReport | None = None
    performance: PerformanceReport | None = None
    oversight: OversightReport | None = None

    @classmethod
    def from_payloads(cls, payloads: Mapping[str, Mapping[str, Any]]) -> RunReports:
        """Parse stored payloads keyed by report kind (unknown kinds are ignored)."""
        return cls.model_validate({k: v for k, v in payloads.items() if k in REPORT_MODELS})

    def present(self) -> Iterator[tuple[str, StoredReport]]:
        """The reports the run produced, by kind, in the order of :data:`REPORT_MODELS`."""
        for kind in REPORT_MODELS:
            report: StoredReport | None = getattr(self, kind)
            if report is not None:
                yield kind, report

    def with_source(self, source: Source) -> RunReports:
        """The same reports, each saying where its figures came from."""
        stamped = {kind: r.model_copy(update={"source": source}) for kind, r in self.present()}
        return self.model_copy(update=stamped)


def stored_payload(report: StoredReport) -> dict[str, Any]:
    """The JSON document stored for a report: only the fields it set, so a version 1 report
    stores exactly the shape it had before these models."""
    document: dict[str, Any] = report.model_dump(mode="json", exclude_unset=True)
    return document
