"""The AutoML agent's holdout score vs FLAML, HistGradientBoosting and a linear model, same budget.

Datasets (all local, nothing downloaded): scikit-learn's ``load_breast_cancer`` (binary
classification, ROC AUC), ``load_diabetes`` (regression, R²) and the demo sales table
``layers/core/analystack/samples/sales.csv`` loaded with ``load_table`` (regression on revenue, R²).

* analystack: ``functions.automl.search.train_model(frame, target=..., task=...,
  time_budget_s=budget)``; the score is ``result.holdout[result.metric]``.
* FLAML defaults: ``flaml.AutoML().fit(X_train, y_train, task=..., time_budget=budget,
  verbose=0)``. FLAML's default estimator list includes LightGBM, which this venv does not
  have (the ``bench`` extra installs FLAML with xgboost only), and ``fit`` then fails with
  ``TypeError: 'NoneType' object is not callable``; so FLAML gets its default list minus the
  missing libraries (rf, xgboost, extra_tree, xgb_limitdepth, sgd, and lrl1 for classification).
* scikit-learn HistGradientBoosting with default parameters.
* A regularised linear model: median imputation + scaling + ``RidgeCV`` (13 alphas, 1e-3..1e3)
  or ``LogisticRegressionCV``.

Same holdout for everyone: ``train_model`` has no holdout override, it splits the rows itself
(20 % held out, ``train_test_split(..., random_state=0)``, stratified for classification, after
dropping rows without a usable target). This script replicates that rule (read from
``functions/automl/search.py``: ``_prepare_target`` and ``_holdout_split``), checks it against
the result (row counts and the holdout's first actual values) and fits the others on the same
training rows. Their features are a plain encoding prepared with pandas: numeric columns as
they are, dates as year/month/day/weekday numbers, text with at most 50 distinct values one-hot
(``pandas.get_dummies``), other text (identifiers such as ``order_id``) dropped.

Verdict: ok when analystack >= the best of the others - 0.005, else BEHIND. The details line
also shows how analystack chose (the one-standard-error rule: the top CV mean ± its SE and the
simpler model chosen within it) and its time against the budget.

Large tables (``--large 1000000``): the AutoML skill's compute on the demo sales table generated
with that many rows (``scripts/make_sample_sales.py``'s ``build(rows, 7)``, as
``bench_journey.py`` does), written as CSV and read back with ``load_table`` like an upload:
``resolve_target`` + ``infer_task`` + ``train_model`` + ``serialize_model`` with
``--large-budget`` seconds (default 20). Each size runs twice, each time in a fresh process
(imports done and the table loaded before any clock or counter starts):

* **time**: seconds per phase (from the progress messages: target, features, search, refit,
  holdout, importance, save) against the budget and its slack, the rows each phase used, and
  the growth of RSS (psutil, sampled every 20 ms) over the baseline with the table loaded;
* **memory**: the peak of ``tracemalloc`` (Python and numpy allocations; Arrow's own memory
  pool is not traced) over the same call, the agent's working set (tracing slows Python code,
  so this run may fit fewer candidates in the same budget).

Both figures are compared with the table's in-memory Arrow size (``pyarrow.csv.read_csv``,
as ``bench_journey.py``); the platform's target is peak memory <= 3x that.

Run: .venv/bin/python bench/bench_automl.py [--budget 10] [--quick] [--large 1000000 [--large-budget 20]]
     (--large-only skips the three small datasets)
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import io
import json
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rss import RssSampler  # bench/rss.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
SALES = ROOT / "layers" / "core" / "analystack" / "samples" / "sales.csv"
TOLERANCE = 0.005
MAX_ONE_HOT_LEVELS = 50
SEED = 0
LARGE_SEED = 7  # bench_journey.py's table seed
LARGE_REQUEST = "analyze the sales data and build a prediction model"
MEMORY_TARGET = 3.0
MB = 1024 * 1024


@dataclass
class Dataset:
    name: str
    frame: pd.DataFrame
    target: str
    task: str  # "classification" | "regression"

    @property
    def metric(self) -> str:
        return "roc_auc" if self.task == "classification" else "r2"


def datasets() -> list[Dataset]:
    from sklearn.datasets import load_breast_cancer, load_diabetes

    from functions.ingestion.loaders import load_table

    cancer = load_breast_cancer(as_frame=True).frame
    diabetes = load_diabetes(as_frame=True).frame
    sales = load_table(SALES.read_bytes(), SALES.name).frame
    return [
        Dataset("breast_cancer", cancer, "target", "classification"),
        Dataset("diabetes", diabetes, "target", "regression"),
        Dataset("sales (revenue)", sales, "revenue", "regression"),
    ]


# --------------------------------------------------------------------------------------------
# The platform's holdout split, replicated
# --------------------------------------------------------------------------------------------


def platform_split(data: Dataset) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """(labelled rows, y, train positions, holdout positions) as ``train_model`` makes them."""
    from sklearn.model_selection import train_test_split

    from functions.automl.features import coerce_numeric
    from functions.automl.search import HOLDOUT_SHARE, MIN_CLASS_ROWS

    raw = data.frame[data.target]
    if data.task == "classification":
        counts = raw.value_counts()
        mask = raw.notna() & ~raw.isin(counts[counts < MIN_CLASS_ROWS].index)
        labelled = data.frame.loc[mask].reset_index(drop=True)
        y = labelled[data.target].to_numpy()
    else:
        numbers = coerce_numeric(raw)
        mask = numbers.notna() & np.isfinite(numbers.fillna(0.0))
        labelled = data.frame.loc[mask].reset_index(drop=True)
        y = numbers[mask].to_numpy(dtype="float64")
    train, hold = train_test_split(
        np.arange(len(labelled)),
        test_size=HOLDOUT_SHARE,
        random_state=SEED,
        stratify=y if data.task == "classification" else None,
    )
    return labelled, y, np.sort(train), np.sort(hold)


def check_split(result: Any, y: np.ndarray, train: np.ndarray, hold: np.ndarray) -> str:
    """'same' when the replicated split matches what ``train_model`` reported."""
    if (result.rows.train, result.rows.holdout) != (len(train), len(hold)):
        return f"DIFFERENT (rows {result.rows.train}/{result.rows.holdout} vs {len(train)}/{len(hold)})"
    actual = np.asarray([float(s.actual) for s in result.sample_predictions])
    if not np.allclose(actual, y[hold][: len(actual)].astype(float)):
        return "DIFFERENT (holdout rows)"
    return "same"


# --------------------------------------------------------------------------------------------
# Contenders
# --------------------------------------------------------------------------------------------


def encode(frame: pd.DataFrame, target: str) -> pd.DataFrame:
    """A plain numeric encoding: numbers as is, dates as parts, low-cardinality text one-hot."""
    parts = []
    for name in frame.columns:
        if name == target:
            continue
        column = frame[name]
        if pd.api.types.is_bool_dtype(column.dtype) or pd.api.types.is_numeric_dtype(column.dtype):
            parts.append(column.astype("float64").rename(name))
        elif pd.api.types.is_datetime64_any_dtype(column.dtype):
            dates = column.dt
            parts += [
                dates.year.astype("float64").rename(f"{name}_year"),
                dates.month.astype("float64").rename(f"{name}_month"),
                dates.day.astype("float64").rename(f"{name}_day"),
                dates.day_of_week.astype("float64").rename(f"{name}_weekday"),
            ]
        elif column.nunique() <= MAX_ONE_HOT_LEVELS:
            parts.append(pd.get_dummies(column.astype("string"), prefix=name, dtype="float64"))
    encoded = pd.concat(parts, axis=1)
    # xgboost (inside FLAML) refuses '[', ']' and '<' in feature names.
    encoded.columns = [f"f{i}" for i in range(encoded.shape[1])]
    return encoded


def score(task: str, y_true: np.ndarray, model: Any, X: pd.DataFrame) -> float:
    from sklearn.metrics import r2_score, roc_auc_score

    if task == "classification":
        return float(roc_auc_score(y_true, model.predict_proba(X)[:, 1]))
    return float(r2_score(y_true, model.predict(X)))


def flaml_estimators(task: str) -> list[str]:
    """FLAML's default ('auto') estimator list for a pandas frame, minus the estimators whose
    library is missing: FLAML keeps 'lgbm' in it even without LightGBM and then fails."""
    names = ["rf", "xgboost", "extra_tree", "xgb_limitdepth", "sgd"]
    for name, module in (("lgbm", "lightgbm"), ("catboost", "catboost")):
        if importlib.util.find_spec(module) is not None:
            names.append(name)
    return [*names, "lrl1"] if task == "classification" else names


def fit_flaml(task: str, X: pd.DataFrame, y: np.ndarray, budget: float) -> Any:
    from flaml import AutoML

    automl = AutoML()
    automl.fit(
        X, y, task=task, time_budget=budget, verbose=0, seed=SEED, estimator_list=flaml_estimators(task)
    )
    return automl


def fit_hgb(task: str, X: pd.DataFrame, y: np.ndarray, budget: float) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    model = HistGradientBoostingClassifier if task == "classification" else HistGradientBoostingRegressor
    return model(random_state=SEED).fit(X, y)


def fit_linear(task: str, X: pd.DataFrame, y: np.ndarray, budget: float) -> Any:
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegressionCV, RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    estimator = (
        LogisticRegressionCV(max_iter=5000)
        if task == "classification"
        else RidgeCV(alphas=np.logspace(-3, 3, 13))
    )
    return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), estimator).fit(X, y)


def flaml_available() -> str | None:
    """None when ``flaml.AutoML`` imports, else why not."""
    try:
        from flaml import AutoML  # noqa: F401
    except Exception as exc:  # FLAML's AutoML needs xgboost (DESIGN.md section 5)
        return f"{type(exc).__name__}: {exc}"
    return None


def run(data: Dataset, budget: float, flaml_error: str | None) -> dict[str, Any]:
    from functions.automl.search import train_model

    labelled, y, train, hold = platform_split(data)
    started = time.perf_counter()
    result, _ = train_model(
        data.frame, target=data.target, task=data.task, time_budget_s=budget, random_state=SEED
    )
    pick = result.selection
    out: dict[str, Any] = {
        "analystack": (result.holdout[result.metric], time.perf_counter() - started),
        "model": result.best_model,
        "split": check_split(result, y, train, hold),
        "rows": (len(train), len(hold)),
        "selection": (
            f"top CV mean {pick.top_model} {pick.top_cv_score:.4f} ± {pick.top_cv_se:.4f} SE, "
            f"chosen {pick.chosen_model} {pick.chosen_cv_score:.4f} of "
            f"{sum(e.within_one_se for e in result.cv_leaderboard)} within 1 SE "
            f"({len(result.cv_leaderboard)} candidates); {result.budget.used_s:.1f} s of {result.budget.allowed_s:g} s"
        ),
    }
    if result.metric != data.metric:
        out["split"] += f"; platform metric {result.metric}"
    X = encode(labelled, data.target)
    out["features"] = X.shape[1]
    if data.task == "regression":  # how much of R² rides on a few extreme rows
        squares = np.sort((y[hold] - y[hold].mean()) ** 2)[::-1]
        top = max(1, len(squares) // 100)
        out["concentration"] = (top, float(squares[:top].sum() / squares.sum()))
    X_train, X_hold, y_train, y_hold = X.iloc[train], X.iloc[hold], y[train], y[hold]
    fits: dict[str, Callable[[str, pd.DataFrame, np.ndarray, float], Any]] = {
        "HGB": fit_hgb,
        "linear": fit_linear,
    }
    if flaml_error is None:
        fits = {"FLAML": fit_flaml, **fits}
    for name, fit in fits.items():
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = fit(data.task, X_train, y_train, budget)
        out[name] = (score(data.task, y_hold, model, X_hold), time.perf_counter() - started)
        if name == "FLAML":
            out["flaml_model"] = model.best_estimator
    return out


# --------------------------------------------------------------------------------------------
# Large tables: budget, rows used and memory of the AutoML compute
# --------------------------------------------------------------------------------------------

#: Progress message prefixes that end each phase, in order, for a ``train_model`` whose result
#: has no ``budget.phases`` (the refit phase then includes scoring the holdout).
PHASE_ENDS = (
    ("features", "split "),
    ("search", "refitting "),
    ("refit", "holdout "),
    ("holdout", "computing permutation importance"),
    ("importance", "done: "),
)


def large_child(csv: Path, budget: float, mode: str) -> dict[str, Any]:
    """One measured run in this (fresh) process: ``time`` (phases, rows, RSS) or ``memory``."""
    import tracemalloc

    from functions.automl.search import serialize_model, train_model
    from functions.automl.target import infer_task, resolve_target
    from functions.ingestion.loaders import load_table

    frame = load_table(csv.read_bytes(), csv.name).frame
    events: list[tuple[float, str]] = []

    def call() -> tuple[Any, float, float, int, float]:
        began = time.perf_counter()
        choice = resolve_target(frame, requested=None, request_text=LARGE_REQUEST)
        task = infer_task(frame, choice.column, request_text=LARGE_REQUEST)
        targeted = time.perf_counter()
        result, pipeline = train_model(
            frame,
            target=choice.column,
            task=task,
            time_budget_s=budget,
            random_state=SEED,
            progress=lambda _fraction, message: events.append((time.perf_counter(), message)),
        )
        trained = time.perf_counter()
        blob = serialize_model(pipeline)
        return result, targeted - began, time.perf_counter() - trained, len(blob), began

    gc.collect()
    if mode == "memory":
        tracemalloc.start()
        start_bytes = tracemalloc.get_traced_memory()[0]
        result, *_ = call()
        peak = tracemalloc.get_traced_memory()[1] - start_bytes
        tracemalloc.stop()
        return {"traced_peak": peak, "best_model": result.best_model}
    with RssSampler(interval=0.02) as rss:
        result, target_s, save_s, model_bytes, began = call()
    phases = {"target": target_s}
    budget_phases = getattr(getattr(result, "budget", None), "phases", None)
    if budget_phases:  # train_model's own accounting
        phases.update(budget_phases)
    else:  # a train_model without it: phases from its progress messages
        last = began + target_s
        for name, prefix in PHASE_ENDS:
            at = next((t for t, m in events if m.startswith(prefix)), None)
            if at is not None:
                phases[name] = at - last
                last = at
    phases["save"] = save_s
    rows = getattr(result, "rows", None)
    return {
        "phases": phases,
        "total": sum(phases.values()),
        "rows": rows.model_dump()
        if rows is not None
        else {"train": result.rows_train, "holdout": result.rows_holdout},
        "best_model": result.best_model,
        "metric": result.metric,
        "score": result.holdout[result.metric],
        "model_mib": model_bytes / MB,
        "rss_baseline": rss.baseline,
        "rss_peak": rss.peak,
        "leaderboard": [(e.model, e.cv_score, e.fit_seconds) for e in result.cv_leaderboard],
    }


def large(rows: int, budget: float) -> None:
    import pyarrow.csv

    from functions.automl.search import budget_slack_s

    spec = importlib.util.spec_from_file_location(
        "make_sample_sales", ROOT / "scripts" / "make_sample_sales.py"
    )
    assert spec is not None
    assert spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    with tempfile.TemporaryDirectory(prefix="bench-automl-") as folder:
        csv = Path(folder) / "sales.csv"
        generator.build(rows, LARGE_SEED).to_csv(csv, index=False)
        arrow = int(pyarrow.csv.read_csv(io.BytesIO(csv.read_bytes())).nbytes)
        runs = {}
        for mode in ("time", "memory"):
            done = subprocess.run(
                [sys.executable, __file__, "--child", mode, "--csv", str(csv), "--large-budget", str(budget)],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            )
            runs[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    timed, traced = runs["time"], runs["memory"]
    slack = budget_slack_s(budget)
    total = timed["total"]
    verdict = "ok" if total <= budget + slack else "OVER"
    print()
    print(
        f"== large table: {rows:,} rows x 11 columns (demo sales), Arrow {arrow / MB:.0f} MiB; "
        f"AutoML budget {budget:g} s (slack {slack:g} s)"
    )
    print(
        "seconds: "
        + ", ".join(f"{name} {seconds:.2f}" for name, seconds in timed["phases"].items())
        + f"; total {total:.1f} s of {budget:g} s  {verdict}"
    )
    print("rows used: " + ", ".join(f"{name} {count:,}" for name, count in timed["rows"].items()))
    print(
        f"model: {timed['best_model']} holdout {timed['metric']} {timed['score']:.4f}; "
        f"saved model {timed['model_mib']:.1f} MiB; candidates: "
        + ", ".join(f"{name} {score:.3f} ({fit:.1f} s)" for name, score, fit in timed["leaderboard"])
    )
    grown = timed["rss_peak"] - timed["rss_baseline"]
    peak = traced["traced_peak"]
    print(
        f"memory: tracemalloc peak {peak / MB:.0f} MiB = {peak / arrow:.2f}x Arrow "
        f"{'ok' if peak / arrow <= MEMORY_TARGET else 'OVER'} (target <= {MEMORY_TARGET:g}x); "
        f"RSS baseline {timed['rss_baseline'] / MB:.0f} MiB with the table loaded, peak "
        f"{timed['rss_peak'] / MB:.0f} MiB, growth {grown / MB:.0f} MiB = {grown / arrow:.2f}x Arrow "
        "(RSS growth undercounts when loading the table left freed memory to reuse)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--budget", type=float, default=10.0, help="seconds for analystack and FLAML each")
    parser.add_argument("--quick", action="store_true", help="smoke test: 2 s budget")
    parser.add_argument(
        "--large", default="", help="comma-separated row counts for the large-table run (e.g. 1000000)"
    )
    parser.add_argument("--large-budget", type=float, default=20.0, help="AutoML budget for --large (s)")
    parser.add_argument("--large-only", action="store_true", help="skip the three small datasets")
    parser.add_argument("--child", choices=["time", "memory"], help=argparse.SUPPRESS)
    parser.add_argument("--csv", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(large_child(args.csv, args.large_budget, args.child)))
        return
    if args.quick:
        args.budget = 2.0
    if not args.large_only:
        small(args)
    for rows in [int(r) for r in args.large.split(",") if r.strip()]:
        large(rows, args.large_budget)


def small(args: argparse.Namespace) -> None:
    flaml_error = flaml_available()
    import functions.automl.search  # noqa: F401  (imports before any clock starts)

    print(
        f"time budget {args.budget:g} s (analystack and FLAML); holdout 20 %, random_state {SEED}, "
        "the platform's own split replicated for the others"
    )
    if flaml_error:
        print(f"FLAML: not available ({flaml_error})")
    else:
        print(
            "FLAML estimators (its defaults minus missing libraries): "
            + ", ".join(flaml_estimators("classification"))
            + " (lrl1 for classification only)"
        )
    header = f"{'dataset':<17}{'metric':<9}{'analystack':>11}{'FLAML':>9}{'HGB':>9}{'linear':>9}  verdict"
    print(header)
    details = []
    for data in datasets():
        out = run(data, args.budget, flaml_error)
        ours = out["analystack"][0]
        others = [out[n][0] for n in ("FLAML", "HGB", "linear") if n in out]
        best = max(others)
        verdict = "ok" if ours >= best - TOLERANCE else "BEHIND"
        cells = "".join(
            f"{out[n][0]:>9.4f}" if n in out else f"{'n/a':>9}" for n in ("FLAML", "HGB", "linear")
        )
        print(f"{data.name:<17}{data.metric:<9}{ours:>11.4f}{cells}  {verdict} ({ours - best:+.4f} vs best)")
        seconds = ", ".join(
            f"{n} {out[n][1]:.1f}" for n in ("analystack", "FLAML", "HGB", "linear") if n in out
        )
        details.append(
            f"  {data.name}: {out['rows'][0]:,} train / {out['rows'][1]:,} holdout rows, split {out['split']}; "
            f"analystack chose {out['model']}"
            + (f", FLAML chose {out['flaml_model']}" if "flaml_model" in out else "")
            + f"; others on {out['features']} encoded features; seconds: {seconds}"
        )
        details.append(f"    analystack selection: {out['selection']}")
        if "concentration" in out:
            top, share = out["concentration"]
            details.append(
                f"    the {top} holdout row(s) farthest from the mean (top 1 %) hold {share:.0%} of its variance"
            )
    print("\n".join(details))


if __name__ == "__main__":
    main()
