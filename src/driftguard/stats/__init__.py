"""DriftGuard statistics: drift, fairness, performance and data quality.

A pure library (numpy, scipy and the standard library only). Every statistic is a plain
function with keyword-only options that returns a frozen dataclass with named fields; invalid
input raises :class:`StatsInputError`, a :class:`ValueError` naming the offending argument.
Statistics measure; policies decide: nothing here applies a threshold.

Drift of one feature
    :func:`psi`, :func:`jensen_shannon_distance` (numeric or ``categorical=True``),
    :func:`ks_2samp`, :func:`wasserstein_distance`, :func:`chi_square`.
Many features, fitted once
    :func:`fit_profile` -> :class:`Profile` (``to_bytes`` / ``from_bytes``);
    :func:`score_window` (exact); :func:`count_window` -> :class:`WindowCounts` (mergeable with
    ``+``) -> :func:`score_counts`; :func:`correct_pvalues`.
Fairness, performance, data quality
    :func:`fairness_metrics`, :func:`classification_metrics`, :func:`regression_metrics`,
    :func:`data_quality`.

Formulas, conventions and deliberate differences from scipy, fairlearn and scikit-learn are in
``docs/statistics.md``.

Errors::

    ValueError
     └── StatsInputError      (.argument names the offending argument)
"""

from ._binning import Bins
from ._chi_square import ChiSquareResult, chi_square
from ._counts import (
    FeatureCountsDrift,
    KSApproxResult,
    WindowCounts,
    WindowCountsDrift,
    count_window,
    score_counts,
)
from ._fairness import FairnessResult, GroupCodes, GroupRates, fairness_metrics
from ._jensen_shannon import JensenShannonResult, jensen_shannon_distance
from ._ks import KSResult, ks_2samp
from ._multitest import CorrectedPValues, correct_pvalues
from ._performance import (
    ClassificationMetrics,
    RegressionMetrics,
    classification_metrics,
    regression_metrics,
)
from ._profile import CategoricalFeatureProfile, NumericFeatureProfile, Profile, fit_profile
from ._psi import PSIResult, psi
from ._quality import DataQualityResult, FeatureQuality, data_quality
from ._validation import StatsInputError
from ._wasserstein import WassersteinResult, wasserstein_distance
from ._window import FeatureDrift, WindowDrift, score_window

__all__ = [
    "Bins",
    "CategoricalFeatureProfile",
    "ChiSquareResult",
    "ClassificationMetrics",
    "CorrectedPValues",
    "DataQualityResult",
    "FairnessResult",
    "FeatureCountsDrift",
    "FeatureDrift",
    "FeatureQuality",
    "GroupCodes",
    "GroupRates",
    "JensenShannonResult",
    "KSApproxResult",
    "KSResult",
    "NumericFeatureProfile",
    "PSIResult",
    "Profile",
    "RegressionMetrics",
    "StatsInputError",
    "WassersteinResult",
    "WindowCounts",
    "WindowCountsDrift",
    "WindowDrift",
    "chi_square",
    "classification_metrics",
    "correct_pvalues",
    "count_window",
    "data_quality",
    "fairness_metrics",
    "fit_profile",
    "jensen_shannon_distance",
    "ks_2samp",
    "psi",
    "regression_metrics",
    "score_counts",
    "score_window",
    "wasserstein_distance",
]
