"""Reference profiles: everything drift needs from the reference, fitted once, storable."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._binning import Binning, Bins, check_n_bins, counts_sorted, fit_edges, population_std
from ._columns import NanPolicy, Table, label_column, map_columns, numeric_column, split_columns
from ._validation import StatsInputError, check_choice

__all__ = ["CategoricalFeatureProfile", "NumericFeatureProfile", "Profile", "fit_profile"]

_FORMAT = "driftguard.stats.profile"
_VERSION = 1


def _frozen(arr: NDArray[Any]) -> NDArray[Any]:
    arr.flags.writeable = False
    return arr


@dataclass(frozen=True, slots=True, eq=False)
class NumericFeatureProfile:
    """What drift needs to know about one numeric reference feature.

    Attributes
    ----------
    name : str
    n : int
        Reference size (non-missing values).
    n_missing : int
        Missing values dropped from the reference.
    sorted_values : ndarray
        The sorted reference (read-only): exact KS and Wasserstein need nothing else.
    bins : Bins
        PSI / Jensen-Shannon bins; ``bin_counts`` are the reference counts in them.
    grid_edges, grid_counts : ndarray
        A fine reference-quantile grid and its counts, for KS over merged windows.
    std : float
        Population standard deviation of the reference.
    """

    name: str
    n: int
    n_missing: int
    sorted_values: NDArray[np.float64]
    bins: Bins
    bin_counts: NDArray[np.int64]
    grid_edges: NDArray[np.float64]
    grid_counts: NDArray[np.int64]
    std: float

    kind = "numeric"

    @property
    def edges(self) -> NDArray[np.float64]:
        return np.asarray(self.bins.edges, dtype=np.float64)


@dataclass(frozen=True, slots=True, eq=False)
class CategoricalFeatureProfile:
    """Reference categories (sorted) and their counts for one categorical feature."""

    name: str
    n: int
    n_missing: int
    categories: NDArray[Any]
    bins: Bins
    bin_counts: NDArray[np.int64]

    kind = "categorical"


FeatureProfile = NumericFeatureProfile | CategoricalFeatureProfile


@dataclass(frozen=True, slots=True, eq=False)
class Profile:
    """A fitted reference profile. Build with :func:`fit_profile`; store with :meth:`to_bytes`.

    Attributes
    ----------
    features : tuple of NumericFeatureProfile or CategoricalFeatureProfile
    n_bins : int
        Bins requested for PSI / Jensen-Shannon.
    binning : str
        ``"quantile"`` or ``"uniform"``.
    ks_grid_size : int
        Cells requested for the fine quantile grid behind merged-window KS.
    profile_id : str
        A content hash; window counts remember it so that only compatible counts are merged.
    """

    features: tuple[FeatureProfile, ...]
    n_bins: int
    binning: str
    ks_grid_size: int
    profile_id: str

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    def feature(self, name: str) -> FeatureProfile:
        for f in self.features:
            if f.name == name:
                return f
        raise StatsInputError("name", f"no feature {name!r} in the profile")

    def to_bytes(self) -> bytes:
        """Serialise to a self-describing ``.npz`` (numpy arrays + a JSON header, no pickle)."""
        header: dict[str, Any] = {
            "format": _FORMAT,
            "version": _VERSION,
            "n_bins": self.n_bins,
            "binning": self.binning,
            "ks_grid_size": self.ks_grid_size,
            "profile_id": self.profile_id,
            "features": [],
        }
        arrays: dict[str, Any] = {}
        for k, f in enumerate(self.features):
            entry: dict[str, Any] = {"name": f.name, "kind": f.kind, "n_missing": f.n_missing}
            arrays[f"f{k}_bin_counts"] = f.bin_counts
            if isinstance(f, NumericFeatureProfile):
                entry["n_requested"] = f.bins.n_requested
                entry["std"] = f.std.hex()
                arrays[f"f{k}_sorted"] = f.sorted_values
                arrays[f"f{k}_edges"] = f.edges
                arrays[f"f{k}_grid_edges"] = f.grid_edges
                arrays[f"f{k}_grid_counts"] = f.grid_counts
            else:
                arrays[f"f{k}_categories"] = f.categories
            header["features"].append(entry)
        raw = json.dumps(header, sort_keys=True).encode()
        buffer = io.BytesIO()
        arrays["header"] = np.frombuffer(raw, dtype=np.uint8)
        np.savez(buffer, **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Profile:
        """Load a profile written by :meth:`to_bytes`; never unpickles anything."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                arrays = {key: npz[key] for key in npz.files}
            header = json.loads(arrays.pop("header").tobytes().decode())
        except (OSError, ValueError, KeyError) as exc:
            raise StatsInputError("data", f"is not a serialised profile ({exc})") from None
        if header.get("format") != _FORMAT or header.get("version") != _VERSION:
            raise StatsInputError("data", "is not a version-1 DriftGuard profile")
        features: list[FeatureProfile] = []
        for k, entry in enumerate(header["features"]):
            counts = _frozen(arrays[f"f{k}_bin_counts"])
            if entry["kind"] == "numeric":
                edges = arrays[f"f{k}_edges"]
                sorted_values = _frozen(arrays[f"f{k}_sorted"])
                features.append(
                    NumericFeatureProfile(
                        name=entry["name"],
                        n=int(sorted_values.shape[0]),
                        n_missing=entry["n_missing"],
                        sorted_values=sorted_values,
                        bins=Bins(
                            kind=header["binning"],
                            edges=tuple(edges.tolist()),
                            n_requested=entry["n_requested"],
                        ),
                        bin_counts=counts,
                        grid_edges=_frozen(arrays[f"f{k}_grid_edges"]),
                        grid_counts=_frozen(arrays[f"f{k}_grid_counts"]),
                        std=float.fromhex(entry["std"]),
                    )
                )
            else:
                categories = _frozen(arrays[f"f{k}_categories"])
                features.append(_categorical(entry["name"], categories, counts, entry["n_missing"]))
        return cls(
            features=tuple(features),
            n_bins=header["n_bins"],
            binning=header["binning"],
            ks_grid_size=header["ks_grid_size"],
            profile_id=header["profile_id"],
        )


def _categorical(
    name: str, categories: NDArray[Any], counts: NDArray[np.int64], n_missing: int
) -> CategoricalFeatureProfile:
    return CategoricalFeatureProfile(
        name=name,
        n=int(counts.sum()),
        n_missing=n_missing,
        categories=categories,
        bins=Bins(kind="categorical", categories=tuple(categories.tolist())),
        bin_counts=counts,
    )


def fit_profile(
    reference: Table,
    *,
    feature_names: Sequence[str] | None = None,
    categorical: Sequence[str] = (),
    n_bins: int = 10,
    binning: Binning = "quantile",
    ks_grid_size: int = 2048,
    nan_policy: NanPolicy = "raise",
    n_jobs: int | None = None,
) -> Profile:
    """Fit a reference profile once, to score any number of windows against it.

    Parameters
    ----------
    reference : mapping of str to array_like, or array_like of shape (n, k)
        Reference columns. String (or object-of-string) columns are categorical.
    feature_names : sequence of str, optional
        Names of the columns of a 2-D array (default ``x0, x1, ...``).
    categorical : sequence of str, default ()
        Names of integer or boolean columns to treat as categories.
    n_bins, binning
        PSI / Jensen-Shannon bins, as in :func:`driftguard.stats.psi`.
    ks_grid_size : int, default 2048
        Cells of the fine reference-quantile grid used for KS over merged window counts; the
        approximation error is at most the largest cell mass (about ``1 / ks_grid_size`` of
        the reference, more with ties), see :func:`driftguard.stats.score_counts`.
    nan_policy : {"raise", "omit"}, default "raise"
        Reject NaN in numeric reference columns, or drop them (counted in ``n_missing``).
    n_jobs : int, optional
        Threads used across features (default: all CPUs).

    Returns
    -------
    Profile

    Raises
    ------
    StatsInputError
        Empty or ragged input, unknown names in ``categorical``, bad dtypes, NaN with
        ``nan_policy="raise"``, bad options.

    Examples
    --------
    >>> profile = fit_profile({"age": [23.0, 35.0, 41.0, 52.0], "plan": ["a", "b", "a", "a"]},
    ...                       n_bins=2)
    >>> profile.feature_names
    ('age', 'plan')
    >>> profile.feature("age").bins.edges, profile.feature("plan").bins.categories
    ((38.0,), ('a', 'b'))
    >>> Profile.from_bytes(profile.to_bytes()).profile_id == profile.profile_id
    True
    """
    check_choice(binning, name="binning", choices=("quantile", "uniform"))
    n_bins = check_n_bins(n_bins)
    ks_grid_size = check_n_bins(ks_grid_size, name="ks_grid_size")
    check_choice(nan_policy, name="nan_policy", choices=("raise", "omit"))
    columns = split_columns(reference, name="reference", feature_names=feature_names)
    unknown = [c for c in categorical if c not in columns]
    if unknown:
        raise StatsInputError("categorical", f"names unknown columns: {unknown}")

    def fit_one(item: tuple[str, NDArray[Any]]) -> FeatureProfile:
        name, values = item
        arg = f"reference[{name!r}]"
        if name in categorical or values.dtype.kind in "UO":
            labels = label_column(values, name=arg)
            categories, counts = np.unique(labels, return_counts=True)
            return _categorical(
                name, _frozen(categories), _frozen(np.append(counts, 0).astype(np.int64)), 0
            )
        ref, n_missing = numeric_column(values, name=arg, nan_policy=nan_policy, copy=True)
        ref.sort()
        edges = fit_edges(ref, n_bins=n_bins, binning=binning)
        grid = fit_edges(ref, n_bins=ks_grid_size, binning="quantile")
        return NumericFeatureProfile(
            name=name,
            n=int(ref.shape[0]),
            n_missing=n_missing,
            sorted_values=_frozen(ref),
            bins=Bins(kind=binning, edges=tuple(edges.tolist()), n_requested=n_bins),
            bin_counts=_frozen(counts_sorted(ref, edges)),
            grid_edges=_frozen(grid),
            grid_counts=_frozen(counts_sorted(ref, grid)),
            std=population_std(ref),
        )

    rows = max(col.shape[0] for col in columns.values())
    features = tuple(map_columns(fit_one, list(columns.items()), n_jobs=n_jobs, rows=rows))
    digest = hashlib.sha256(f"{n_bins}|{binning}|{ks_grid_size}".encode())
    for f in features:
        digest.update(f"{f.name}|{f.kind}|{f.n}".encode())
        digest.update(f.bin_counts.tobytes())
        if isinstance(f, NumericFeatureProfile):
            digest.update(f.edges.tobytes())
            digest.update(f.grid_edges.tobytes())
        else:
            digest.update(repr(f.bins.categories).encode())
    return Profile(
        features=features,
        n_bins=n_bins,
        binning=binning,
        ks_grid_size=ks_grid_size,
        profile_id=digest.hexdigest()[:32],
    )
