"""Fairness benchmark: per-group rates and between-group gaps, DriftGuard vs fairlearn.

ROWS binary decisions and outcomes with GROUPS string-labelled groups (numpy ``<U`` array, the
same seeded data for both tools). fairlearn is timed as its users run it: one ``MetricFrame``
with selection rate, TPR, FPR and count, plus the four between-group measures. The values of
both tools are compared and the largest absolute difference is reported.

Run from the peers venv (see benchmarks/README.md)::

    benchmarks/.venv-peers/bin/python benchmarks/fairness.py --rows 10000 100000 1000000
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import emit, measure, project_python, run_worker, table

TOOLS = ["driftguard", "fairlearn"]
MEASURES = [
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equal_opportunity_difference",
    "equalized_odds_difference",
]


def make_data(rows: int, groups: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    names = np.array([f"group-{chr(ord('a') + k)}" for k in range(groups)])
    weights = np.arange(1, groups + 1) / np.sum(np.arange(1, groups + 1))
    g = rng.choice(names, size=rows, p=weights)
    y_true = rng.integers(0, 2, size=rows)
    rate = 0.3 + 0.1 * np.searchsorted(names, g)
    y_pred = (rng.random(rows) < rate).astype(np.int64)
    return y_true, y_pred, g


def worker(tool: str, rows: int, groups: int, repeats: int, budget: float) -> dict[str, Any]:
    warnings.filterwarnings("ignore")
    y_true, y_pred, g = make_data(rows, groups)
    if tool == "driftguard":
        from driftguard.stats import fairness_metrics

        def run() -> Any:
            return fairness_metrics(y_pred, g, y_true=y_true)

        res = run()
        values = {m: getattr(res, m) for m in MEASURES}
    else:
        import fairlearn.metrics as flm

        def run() -> Any:
            frame = flm.MetricFrame(
                metrics={
                    "selection_rate": flm.selection_rate,
                    "tpr": flm.true_positive_rate,
                    "fpr": flm.false_positive_rate,
                    "count": flm.count,
                },
                y_true=y_true,
                y_pred=y_pred,
                sensitive_features=g,
            )
            kw = {"sensitive_features": g}
            return frame, {
                "demographic_parity_difference": flm.demographic_parity_difference(
                    y_true, y_pred, **kw
                ),
                "demographic_parity_ratio": flm.demographic_parity_ratio(y_true, y_pred, **kw),
                "equal_opportunity_difference": flm.equal_opportunity_difference(
                    y_true, y_pred, **kw
                ),
                "equalized_odds_difference": flm.equalized_odds_difference(y_true, y_pred, **kw),
            }

        values = {k: float(v) for k, v in run()[1].items()}
    context = {"tool": tool, "rows": rows, "values": values, "fit_s": None, "note": ""}
    return measure(run, repeats=repeats, budget_s=budget, context=context)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--groups", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--budget", type=float, default=60.0, help="stop repeating after s")
    parser.add_argument("--timeout", type=float, default=600.0, help="kill a tool after s")
    parser.add_argument("--worker", choices=TOOLS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        emit(worker(args.worker, args.rows[0], args.groups, args.repeats, args.budget))
        return
    print(f"# fairness benchmark: {args.groups} groups, {os.cpu_count()} CPUs")
    own = project_python()
    for rows in args.rows:
        runs: list[tuple[str, str | None]] = [("driftguard", own)] if own else []
        runs += [(tool, None) for tool in TOOLS]
        results = []
        for tool, python in runs:
            cmd = ["--worker", tool, "--rows", str(rows), "--groups", str(args.groups)]
            cmd += ["--repeats", str(args.repeats), "--budget", str(args.budget)]
            res = run_worker(os.path.abspath(__file__), cmd, args.timeout, python)
            results.append({"tool": tool, **res})
        ok = [r for r in results if "values" in r]
        worst = max(
            (abs(a["values"][m] - b["values"][m]) for a in ok for b in ok for m in MEASURES),
            default=float("nan"),
        )
        print(f"\n## {rows:,} rows, {args.groups} groups\n")
        print(table(results, baseline="driftguard"))
        print(f"\nlargest |difference| between tools over {len(MEASURES)} measures: {worst:.3g}\n")


if __name__ == "__main__":
    main()
