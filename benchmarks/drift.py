"""Drift benchmark: exact PSI + KS for every feature of a window, DriftGuard vs peers.

Reference and current windows of ROWS x FEATURES numeric values (same seeded data for every
tool). DriftGuard scores a window against an already fitted profile (fit timed separately).
Peers are timed as their users run them:

* driftguard-counts: the same through mergeable window counts (``count_window`` +
  ``score_counts``): PSI and JS exact, KS bracketed on a 2,048-cell reference-quantile grid,
  the analogue of the binned/sketched KS of NannyML and whylogs;
* numpy-sort: ``np.sort(current, axis=0)``, the floor any exact KS must pay once;
* scipy: ``scipy.stats.ks_2samp`` per feature + a numpy PSI loop on pre-computed edges;
* alibi-detect: ``KSDrift(reference).predict(current)`` (KS only);
* nannyml: ``UnivariateDriftCalculator(kolmogorov_smirnov + jensen_shannon)``,
  fitted on the reference, ``calculate(current)`` timed (no PSI in NannyML);
* evidently: ``Report([ValueDrift(method="ks"), ValueDrift(method="psi")] per column).run``;
* whylogs: ``why.log(current)`` + ``calculate_drift_scores`` against a reference profile
  (KS on KLL sketches: approximate).

Run from the peers venv (see benchmarks/README.md)::

    benchmarks/.venv-peers/bin/python benchmarks/drift.py --rows 10000 100000 1000000
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import emit, measure, project_python, run_worker, table

TOOLS = [
    "driftguard",
    "driftguard-counts",
    "numpy-sort",
    "scipy",
    "alibi-detect",
    "nannyml",
    "evidently",
    "whylogs",
]
# Run also under the project's own venv (numpy 2.x) when the peers venv pins an older numpy.
PROJECT_TOOLS = ["driftguard", "driftguard-counts", "numpy-sort", "scipy"]


def make_data(rows: int, features: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mixed shapes (normal, lognormal, exponential, uniform, integer counts); half drifted."""
    rng = np.random.default_rng(seed)
    ref = np.empty((rows, features))
    cur = np.empty((rows, features))
    for j in range(features):
        shift = 0.0 if j < features // 2 else 0.005 * (j - features // 2 + 1)
        kind = j % 5
        for out, s in ((ref, 0.0), (cur, shift)):
            if kind == 0:
                out[:, j] = rng.normal(s, 1.0, rows)
            elif kind == 1:
                out[:, j] = rng.lognormal(s, 0.5, rows)
            elif kind == 2:
                out[:, j] = rng.exponential(1.0 + s, rows)
            elif kind == 3:
                out[:, j] = rng.uniform(s, 1.0 + s, rows)
            else:
                out[:, j] = rng.poisson(20.0 * (1.0 + s), rows)  # ties
    return ref, cur


def numpy_psi(ref_counts: np.ndarray, cur: np.ndarray, edges: np.ndarray) -> float:
    cur_counts = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=len(edges) + 1)
    p = np.maximum(ref_counts / ref_counts.sum(), 1e-4)
    q = np.maximum(cur_counts / cur_counts.sum(), 1e-4)
    return float(np.sum((p - q) * np.log(p / q)))


def worker(tool: str, rows: int, features: int, repeats: int, budget: float) -> dict[str, Any]:
    warnings.filterwarnings("ignore")
    ref, cur = make_data(rows, features)
    cols = [f"x{j}" for j in range(features)]
    fit_s = None
    note = ""
    if tool == "driftguard":
        from driftguard.stats import fit_profile, score_window

        start = time.perf_counter()
        profile = fit_profile(ref, feature_names=cols)
        fit_s = time.perf_counter() - start

        def run() -> object:
            return score_window(profile, cur, wasserstein=False)

        note = "PSI + JS + exact KS; threads over features from 50k rows"
    elif tool == "driftguard-counts":
        from driftguard.stats import count_window, fit_profile, score_counts

        start = time.perf_counter()
        profile = fit_profile(ref, feature_names=cols)
        fit_s = time.perf_counter() - start

        def run() -> object:
            return score_counts(profile, count_window(profile, cur))

        note = "mergeable counts: PSI + JS exact, KS bracketed (2,048-cell grid)"
    elif tool == "numpy-sort":

        def run() -> object:
            return np.sort(cur, axis=0)

    elif tool == "scipy":
        import scipy.stats

        start = time.perf_counter()
        qs = np.linspace(0, 1, 11)[1:-1]
        edges = [np.unique(np.quantile(ref[:, j], qs)) for j in range(features)]
        ref_counts = [
            np.bincount(np.searchsorted(e, ref[:, j], side="right"), minlength=len(e) + 1)
            for j, e in enumerate(edges)
        ]
        fit_s = time.perf_counter() - start

        def run() -> object:
            return [
                (
                    scipy.stats.ks_2samp(ref[:, j], cur[:, j]),
                    numpy_psi(ref_counts[j], cur[:, j], edges[j]),
                )
                for j in range(features)
            ]

    elif tool == "alibi-detect":
        from alibi_detect.cd import KSDrift

        start = time.perf_counter()
        detector = KSDrift(ref, p_val=0.05)
        fit_s = time.perf_counter() - start

        def run() -> object:
            return detector.predict(cur)

        note = "KS only"
    elif tool == "nannyml":
        import nannyml as nml
        import pandas as pd

        ref_df, cur_df = pd.DataFrame(ref, columns=cols), pd.DataFrame(cur, columns=cols)
        calc = nml.UnivariateDriftCalculator(
            column_names=cols,
            continuous_methods=["kolmogorov_smirnov", "jensen_shannon"],
            chunk_number=1,
        )
        start = time.perf_counter()
        calc.fit(ref_df)
        fit_s = time.perf_counter() - start

        def run() -> object:
            return calc.calculate(cur_df)

        note = "KS + JS (no PSI)"
    elif tool == "evidently":
        import pandas as pd
        from evidently import DataDefinition, Dataset, Report
        from evidently.metrics import ValueDrift

        definition = DataDefinition(numerical_columns=cols)
        ref_ds = Dataset.from_pandas(pd.DataFrame(ref, columns=cols), data_definition=definition)
        cur_ds = Dataset.from_pandas(pd.DataFrame(cur, columns=cols), data_definition=definition)
        metrics = [ValueDrift(column=c, method="ks") for c in cols]
        metrics += [ValueDrift(column=c, method="psi") for c in cols]

        def run() -> object:
            return Report(metrics).run(current_data=cur_ds, reference_data=ref_ds).dict()

    elif tool == "whylogs":
        import pandas as pd
        import whylogs as why
        from whylogs.viz.drift.column_drift_algorithms import calculate_drift_scores

        cur_df = pd.DataFrame(cur, columns=cols)
        start = time.perf_counter()
        ref_view = why.log(pd.DataFrame(ref, columns=cols)).view()
        fit_s = time.perf_counter() - start

        def run() -> object:
            view = why.log(cur_df).view()
            return calculate_drift_scores(target_view=view, reference_view=ref_view)

        note = "approximate KS (sketches)"
    else:
        raise SystemExit(f"unknown tool {tool}")
    context = {"tool": tool, "rows": rows, "fit_s": fit_s, "note": note}
    context["input_bytes"] = ref.nbytes + cur.nbytes
    return measure(run, repeats=repeats, budget_s=budget, context=context)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per tool (median)")
    parser.add_argument("--budget", type=float, default=60.0, help="stop repeating after s")
    parser.add_argument("--timeout", type=float, default=900.0, help="kill a tool after s")
    parser.add_argument("--tools", nargs="+", default=TOOLS, choices=TOOLS)
    parser.add_argument(
        "--no-project-env", action="store_true", help="skip the extra runs under .venv"
    )
    parser.add_argument("--worker", choices=TOOLS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        emit(worker(args.worker, args.rows[0], args.features, args.repeats, args.budget))
        return
    print(
        f"# drift benchmark: {args.features} features, python {sys.version.split()[0]}, "
        f"numpy {np.__version__}, {os.cpu_count()} CPUs, "
        f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}"
    )
    own = None if args.no_project_env else project_python()
    for rows in args.rows:
        results = []
        runs: list[tuple[str, str | None]] = [(t, own) for t in PROJECT_TOOLS if own]
        runs = [r for r in runs if r[0] in args.tools] + [(t, None) for t in args.tools]
        for tool, python in runs:
            cmd = ["--worker", tool, "--rows", str(rows), "--features", str(args.features)]
            cmd += ["--repeats", str(args.repeats), "--budget", str(args.budget)]
            res = run_worker(os.path.abspath(__file__), cmd, args.timeout, python)
            results.append({"tool": tool, **res})
            shown = res.get("median_s", res.get("error"))
            print(f"  {rows} rows {tool} (numpy {res.get('numpy', '?')}): {shown}", flush=True)
        size = 2 * rows * args.features * 8 / 2**20
        print(f"\n## {rows:,} rows x {args.features} features (inputs {size:.0f} MiB)\n")
        print(table(results, baseline="driftguard"))
        print(flush=True)


if __name__ == "__main__":
    main()
