"""The facts policies judge: one catalogue, so a policy naming an unknown fact is refused.

A fact is a number measured about one model version. Some are measured per *subject* (a feature
or a sensitive attribute): a rule over such a fact judges every subject and reports the worst.
``None`` means "not measured" (no reference, no labels, no run yet), never zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# Facts whose subject is the version itself carry this subject.
WHOLE = ""


# --- lifecycle fact codes ---
# Facts are numbers (rules compare numbers; the portfolio engine judges float arrays), so the
# lifecycle's states are encoded as ordinals, here and nowhere else: a higher code is further
# along (a validation: better; a model: later in its life).
VALIDATION_STATUS_CODES: Mapping[str, int] = {
    "approved": 2,
    "approved_with_conditions": 1,
    "rejected": 0,
}
LIFECYCLE_CODES: Mapping[str, int] = {
    "development": 0,
    "validation": 1,
    "approved": 2,
    "production": 3,
    "retired": 4,
}


def _codes(codes: Mapping[str, int]) -> str:
    """``codes`` as text for fact descriptions: ``2 approved, 1 approved_with_conditions, …``."""
    return ", ".join(f"{code} {name}" for name, code in codes.items())


# --- end of lifecycle fact codes ---


@dataclass(frozen=True, slots=True)
class FactSpec:
    name: str
    per_subject: bool
    description: str
    # For a fact encoding states as ordinals: state -> code (see the lifecycle fact codes).
    codes: Mapping[str, int] | None = None


_SPECS = (
    FactSpec("drift.psi", True, "population stability index of a feature, latest window"),
    FactSpec("drift.jensen_shannon", True, "Jensen-Shannon distance of a feature (base 2)"),
    FactSpec(
        "drift.p_value_adjusted",
        True,
        "KS or chi-square p-value of a feature, Benjamini-Hochberg corrected across features",
    ),
    FactSpec("fairness.disparate_impact_ratio", True, "lowest / highest group selection rate"),
    FactSpec("fairness.demographic_parity_difference", True, "highest minus lowest selection rate"),
    FactSpec("fairness.equal_opportunity_difference", True, "largest gap in true-positive rates"),
    FactSpec("data_quality.missing_rate", True, "share of missing values of a feature"),
    FactSpec("data_quality.out_of_range_rate", True, "share outside the reference range"),
    FactSpec("data_quality.unseen_rate", True, "share of categories unseen in the reference"),
    FactSpec("performance.accuracy", False, "accuracy on the labelled predictions"),
    FactSpec("performance.precision", False, "precision on the labelled predictions"),
    FactSpec("performance.recall", False, "recall on the labelled predictions"),
    FactSpec("performance.f1", False, "F1 score on the labelled predictions"),
    FactSpec("performance.roc_auc", False, "ROC AUC on the labelled predictions"),
    FactSpec("performance.mae", False, "mean absolute error (regression)"),
    FactSpec("performance.rmse", False, "root mean squared error (regression)"),
    FactSpec(
        "performance.degradation",
        False,
        "relative loss of the primary metric against the version's training metric, 0..1",
    ),
    FactSpec("performance.n_labelled", False, "labelled predictions in the latest window"),
    FactSpec("monitoring.hours_since_last_run", False, "hours since the latest completed run"),
    FactSpec("monitoring.n_predictions", False, "predictions in the latest monitored window"),
    FactSpec("reference.rows", False, "rows of the active reference data set"),
    FactSpec("alerts.open", False, "open or acknowledged alerts of the version"),
    FactSpec("alerts.open_critical", False, "open or acknowledged critical alerts"),
    FactSpec("model.tier", False, "inherent risk tier: 1 (highest) to 3"),
    FactSpec("model.sensitive_attributes", False, "sensitive attributes the schema declares"),
    FactSpec(
        "validation.days_since",
        False,
        "days since the version's last completed periodic review; without one, since it was "
        "last approved for deployment, or since it was registered",
    ),
    FactSpec("mri.score", False, "Model Risk Index, 0-100"),
    # Periodic review (SR 11-7, PRA SS1/23): the cadence of the version's tier in the policy.
    FactSpec(
        "review.days_until_due",
        False,
        "days until the version's next periodic review is due (negative: overdue by that many)",
    ),
    FactSpec("review.overdue", False, "1 when the version's periodic review is overdue, else 0"),
    # Human oversight (EU AI Act Art. 14).
    FactSpec(
        "oversight.override_rate",
        False,
        "share of the latest window's predictions a human overrode (versions logging overrides)",
    ),
    # --- lifecycle facts: cards, validation, findings ---
    FactSpec(
        "validation.status",
        False,
        "outcome of the version's latest decided validation: "
        + _codes(VALIDATION_STATUS_CODES)
        + "; missing when never decided",
        VALIDATION_STATUS_CODES,
    ),
    FactSpec(
        "model.lifecycle",
        False,
        "lifecycle status on the model's card: "
        + _codes(LIFECYCLE_CODES)
        + "; missing when the model has no card",
        LIFECYCLE_CODES,
    ),
    *(
        FactSpec(name, False, description)
        for name, description in (
            ("findings.open_high", "validation findings of severity high not yet closed"),
            ("findings.open_critical", "validation findings of severity critical not yet closed"),
            ("findings.overdue", "validation findings not yet closed and past their due date"),
            (
                "card.complete",
                "1 when the model's card and the version's card are written with every required"
                " field, else 0",
            ),
            (
                "model.eu_high_risk",
                "1 when the model's card classifies it high-risk under the EU AI Act, else 0",
            ),
        )
    ),
)
FACTS: Mapping[str, FactSpec] = {spec.name: spec for spec in _SPECS}
# The facts a monitoring rule may watch: those a single run measures per subject.
MONITORING_FACTS = frozenset(
    name for name in FACTS if name.split(".")[0] in {"drift", "fairness", "data_quality"}
)


_EMPTY: Mapping[str, float | None] = {}


class Facts:
    """Measured facts of one version: ``fact -> {subject: value}``.

    >>> facts = Facts({"drift.psi": {"income": 0.4, "age": 0.01}, "model.tier": {"": 1.0}})
    >>> facts.value("model.tier"), sorted(facts.subjects("drift.psi"))
    (1.0, ['age', 'income'])
    """

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Mapping[str, float | None]] | None = None) -> None:
        self._values: dict[str, dict[str, float | None]] = {
            fact: dict(by_subject) for fact, by_subject in (values or {}).items()
        }

    @classmethod
    def wrap(cls, values: dict[str, dict[str, float | None]]) -> Facts:
        """Facts over ``values`` without copying them; the caller hands them over."""
        facts = cls.__new__(cls)
        facts._values = values
        return facts

    def subjects(self, fact: str) -> Mapping[str, float | None]:
        """The values of ``fact`` by subject (a read-only view)."""
        return self._values.get(fact, _EMPTY)

    def value(self, fact: str) -> float | None:
        """The whole-version value of ``fact``, or None when not measured."""
        return self._values.get(fact, {}).get(WHOLE)

    def with_value(self, fact: str, value: float | None, subject: str = WHOLE) -> Facts:
        """A copy with one value replaced (what-if overrides). The inner mappings are never
        mutated, so the copy shares all but the one it changes."""
        changed = Facts.__new__(Facts)
        changed._values = dict(self._values)
        changed._values[fact] = {**self._values.get(fact, {}), subject: value}
        return changed

    def as_dict(self) -> dict[str, dict[str, float | None]]:
        """Every value, by fact then subject, facts sorted (the stored snapshot's shape)."""
        return {fact: dict(by_subject) for fact, by_subject in sorted(self._values.items())}
