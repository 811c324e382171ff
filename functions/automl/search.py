"""Budgeted model search, evaluation and model card for the AutoML agent (scikit-learn only).

Why scikit-learn and not FLAML: ``flaml.AutoML`` needs xgboost, and ``flaml[automl]`` drags
~800 MB of CUDA libraries into an image that must stay small (DESIGN.md section 5); a short,
explicit search over well-understood estimators is enough for the tables this agent sees, and
tables too large for a Lambda go to SageMaker Autopilot instead (:mod:`functions.automl.autopilot`).

:func:`train_model` is the whole agent step:

1. Check the target (missing, constant, too few rows or classes -> typed errors, no training).
2. Plan features with the leakage guard (:func:`functions.automl.features.build_features`).
3. Hold out 20 % of the rows (stratified for classification, the latest 20 % for forecasts).
4. Cross-validate candidates on the rest within ``time_budget_s``: the baseline, a regularised
   linear model and a default HistGradientBoosting always run; small forests, other
   HistGradientBoosting settings and (for classification) other C values run while budget
   remains, then randomised HistGradientBoosting settings until it is spent.
5. Refit the best candidate on all training rows, score it and the baseline on the holdout,
   and refuse (:class:`~analystack.errors.UnlearnableTargetError`) when the model does not beat
   the baseline by a meaningful margin - a model that predicts the mean is no insight.
6. Explain: permutation importance on the holdout in terms of the *original* columns.

The result is a JSON-safe pydantic :class:`TrainingResult`; the fitted pipeline is returned
separately (:func:`serialize_model` turns it into bytes for the hub). Pure logic: no AWS,
HTTP, A2A or environment access (DESIGN.md section 3).
"""

from __future__ import annotations

import contextlib
import io
import math
import re
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import joblib
import numpy as np
import pandas as pd
from pandas.api import types as ptypes
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from sklearn.base import clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    get_scorer,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)
from sklearn.model_selection import KFold, StratifiedKFold, TimeSeriesSplit, train_test_split
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from analystack.errors import EmptyDataError, InvalidInputError, UnknownColumnError, UnlearnableTargetError
from analystack.numbers import finite_or_none
from functions.automl.features import (
    NUMERIC_TEXT_SHARE,
    FeaturePlan,
    Task,
    build_features,
    coerce_numeric,
    make_pipeline,
    numeric_text_share,
    parse_dates,
)

__all__ = [
    "HOLDOUT_SHARE",
    "MIN_IMPROVEMENT",
    "MIN_REGRESSION_R2",
    "SEARCH_SHARE",
    "FeatureImportance",
    "LeaderboardEntry",
    "SamplePrediction",
    "TrainingResult",
    "deserialize_model",
    "model_card_markdown",
    "serialize_model",
    "train_model",
]

ProgressFn = Callable[[float, str], None]
JsonScalar = str | int | float | bool | None

# --------------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------------

#: Share of rows held out for the final, untouched evaluation.
HOLDOUT_SHARE = 0.2
#: A regression/forecast model must reach a holdout R² above this to be reported (the mean
#: baseline scores ~0); a classifier must beat the baseline's primary metric by more than
#: ``MIN_IMPROVEMENT`` (ROC AUC 0.5 for the prior baseline).
MIN_REGRESSION_R2 = 0.02
MIN_IMPROVEMENT = 0.02
#: Classifiers must also beat chance by this many standard errors (see ``_required_score``).
CHANCE_Z = 2.0
#: Share of the time budget for the candidate search; the rest pays for the refit on all
#: training rows, the holdout evaluation and permutation importance.
SEARCH_SHARE = 0.7
#: An optional candidate already running is abandoned once the search overshoots its share
#: by this fraction of the budget (checked between folds).
OVERSHOOT_SHARE = 0.1
#: Cross-validation runs on at most this many training rows (a fixed random or, for forecasts,
#: the latest sample); the winner is refitted on all of them.
SEARCH_MAX_ROWS = 50_000
#: Permutation importance runs on at most this many holdout rows, with up to this many repeats.
IMPORTANCE_MAX_ROWS = 2_000
IMPORTANCE_MAX_REPEATS = 5
TOP_FEATURES = 20
MAX_SAMPLE_PREDICTIONS = 50
#: Fewer labelled rows than this cannot support a holdout plus cross-validation.
MIN_ROWS = 30
#: Classes with fewer rows are dropped (noted): they can be neither learnt nor evaluated.
MIN_CLASS_ROWS = 5
#: More classes than this is not a classification the agent can do well in a Lambda.
MAX_CLASSES = 50
#: Tables up to this many rows train with one thread (see ``_thread_limit``).
SINGLE_THREAD_MAX_ROWS = 20_000
#: Randomised HistGradientBoosting settings tried at most (the budget usually stops earlier).
MAX_RANDOM_CANDIDATES = 30

_METRIC_LABELS = {"r2": "R²", "roc_auc": "ROC AUC", "f1_macro": "macro F1"}
_FAMILY_COST_FACTOR = {"baseline": 0.1, "linear": 0.5, "hgb": 1.0, "forest": 1.5}


# --------------------------------------------------------------------------------------------
# Result models
# --------------------------------------------------------------------------------------------


def _json_scalar(value: Any) -> JsonScalar:
    """A JSON-safe Python scalar: numpy types unwrapped, NaN/inf -> None, others as text."""
    if value is None or isinstance(value, str):
        return value
    value = finite_or_none(value)  # the numeric cases, shared with every report model
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)


def _finite(value: Any) -> float:
    number = float(value)
    return number if math.isfinite(number) else 0.0


Scalar = Annotated[JsonScalar, BeforeValidator(_json_scalar)]
Finite = Annotated[float, BeforeValidator(_finite)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LeaderboardEntry(_Model):
    """One cross-validated candidate: mean and std of the primary metric over the folds."""

    model: str
    params: dict[str, Scalar] = Field(default_factory=dict)
    cv_score: Finite
    cv_std: Finite
    fit_seconds: Finite


class FeatureImportance(_Model):
    """Drop in the holdout's primary metric when the original column is shuffled (mean, std)."""

    feature: str
    importance: Finite
    std: Finite


class SamplePrediction(_Model):
    actual: Scalar
    predicted: Scalar


class TrainingResult(_Model):
    """What the AutoML agent reports: metrics against the baseline, leaderboard, explanation.

    ``holdout`` and ``baseline`` map metric names (``r2``, ``rmse``, ``mae`` /
    ``roc_auc``, ``f1_macro``, ``accuracy``, ``balanced_accuracy``) to holdout scores of the
    refitted best model and of the dummy baseline; ``metric`` names the primary one.
    ``cv_leaderboard`` is sorted best first. ``features`` is the
    :class:`~functions.automl.features.FeaturePlan` as a dict (dropped columns with reasons).
    Everything is JSON-safe: ``json.dumps(result.model_dump(), allow_nan=False)`` succeeds.
    """

    task: Task
    target: str
    metric: str
    holdout: dict[str, float]
    baseline: dict[str, float]
    beats_baseline: bool
    cv_leaderboard: list[LeaderboardEntry]
    best_model: str
    best_params: dict[str, Scalar] = Field(default_factory=dict)
    classes: list[Scalar] = Field(default_factory=list)
    feature_importance: list[FeatureImportance]
    sample_predictions: list[SamplePrediction]
    features: dict[str, Any]
    rows_train: int
    rows_holdout: int
    time_budget_s: float
    elapsed_s: float
    notes: list[str] = Field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Candidates
# --------------------------------------------------------------------------------------------


@dataclass
class _Candidate:
    name: str
    family: str
    params: dict[str, JsonScalar]
    estimator: Any
    scale: bool
    required: bool = False
    log_numeric: bool = False


@dataclass
class _Scored:
    candidate: _Candidate
    mean: float
    std: float
    seconds: float


def _exp_clipped(values: np.ndarray) -> np.ndarray:
    """Inverse of the log target; clipped so a wild extrapolation stays a finite number."""
    return np.exp(np.clip(values, -700.0, 700.0))


def _positive_skewed(y: np.ndarray) -> bool:
    """True for strictly positive, right-skewed targets (sample skewness > 1): log-log candidates."""
    if len(y) < 3 or not bool(np.all(y > 0)):
        return False
    skew = pd.Series(y).skew()
    return bool(math.isfinite(skew) and skew > 1.0)


def _candidates(task: Task, random_state: int, *, log_log: bool) -> Iterator[_Candidate]:
    """Candidates in the order they are tried: required ones first, then by expected value.

    ``log_log`` adds a Ridge on log features with a log target (positive skewed targets):
    multiplicative relations such as revenue = price x quantity are linear on that scale.
    """
    classify = task == "classification"
    if classify:
        yield _Candidate(
            "Baseline", "baseline", {"strategy": "prior"}, DummyClassifier(strategy="prior"), False, True
        )
        yield _Candidate(
            "LogisticRegression",
            "linear",
            {"C": 1.0},
            LogisticRegression(C=1.0, max_iter=2000, random_state=random_state),
            True,
            True,
        )
    else:
        yield _Candidate(
            "Baseline", "baseline", {"strategy": "mean"}, DummyRegressor(strategy="mean"), False, True
        )
        alphas = np.logspace(-3, 3, 13)
        yield _Candidate(
            "Ridge", "linear", {"alphas": "1e-3..1e3 (13, internal CV)"}, RidgeCV(alphas=alphas), True, True
        )
    hgb: Any = HistGradientBoostingClassifier if classify else HistGradientBoostingRegressor
    yield _Candidate(
        "HistGradientBoosting",
        "hgb",
        {"learning_rate": 0.1, "max_leaf_nodes": 31, "min_samples_leaf": 20, "max_iter": 200},
        hgb(random_state=random_state),
        False,
        True,
    )
    if log_log:
        yield _Candidate(
            "Ridge (log-log)",
            "linear",
            {"alphas": "1e-3..1e3 (13, internal CV)", "log_target": True, "log_features": True},
            TransformedTargetRegressor(
                RidgeCV(alphas=np.logspace(-3, 3, 13)),
                func=np.log,
                inverse_func=_exp_clipped,
                check_inverse=False,
            ),
            True,
            # Required: with skewed targets (a few huge orders) the plain models can fall below the
            # baseline on the holdout, and a short budget must not skip the model that fits them.
            required=True,
            log_numeric=True,
        )
    forest_features: float | str = "sqrt" if classify else 0.5
    forest_params: dict[str, JsonScalar] = {
        "n_estimators": 60,
        "min_samples_leaf": 2,
        "max_features": forest_features,
    }
    rf: Any = RandomForestClassifier if classify else RandomForestRegressor
    et: Any = ExtraTreesClassifier if classify else ExtraTreesRegressor
    for name, cls in (("RandomForest", rf), ("ExtraTrees", et)):
        yield _Candidate(
            name,
            "forest",
            dict(forest_params),
            cls(
                n_estimators=60,
                min_samples_leaf=2,
                max_features=forest_features,
                random_state=random_state,
            ),
            False,
        )
    fixed: list[dict[str, Any]] = [
        {
            "learning_rate": 0.05,
            "max_leaf_nodes": 15,
            "min_samples_leaf": 20,
            "max_iter": 400,
            "l2_regularization": 1.0,
        },
        {
            "learning_rate": 0.1,
            "max_leaf_nodes": 63,
            "min_samples_leaf": 10,
            "max_iter": 200,
            "l2_regularization": 0.0,
        },
    ]
    for params in fixed:
        yield _Candidate(
            "HistGradientBoosting", "hgb", params, hgb(random_state=random_state, **params), False
        )
    if classify:
        for c in (0.1, 10.0):
            yield _Candidate(
                "LogisticRegression",
                "linear",
                {"C": c},
                LogisticRegression(C=c, max_iter=2000, random_state=random_state),
                True,
            )
    rng = np.random.default_rng(random_state)
    for _ in range(MAX_RANDOM_CANDIDATES):
        params = {
            "learning_rate": round(float(10 ** rng.uniform(-1.7, -0.5)), 4),
            "max_leaf_nodes": int(rng.choice([7, 15, 31, 63])),
            "min_samples_leaf": int(rng.choice([5, 10, 20, 50])),
            "max_iter": int(rng.choice([100, 200, 400])),
            "l2_regularization": float(rng.choice([0.0, 0.1, 1.0, 10.0])),
            "max_features": float(rng.choice([0.5, 0.8, 1.0])),
        }
        yield _Candidate(
            "HistGradientBoosting", "hgb", params, hgb(random_state=random_state, **params), False
        )


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


class _Progress:
    """Monotone progress reports; ``None`` callback means silent."""

    def __init__(self, callback: ProgressFn | None) -> None:
        self.callback = callback
        self.last = 0.0

    def __call__(self, fraction: float, message: str) -> None:
        if self.callback is None:
            return
        self.last = max(self.last, min(max(fraction, 0.0), 1.0))
        self.callback(self.last, message)


def _primary_metric(task: Task, n_classes: int) -> str:
    if task != "classification":
        return "r2"
    return "roc_auc" if n_classes == 2 else "f1_macro"


def _metrics(
    task: Task, y_true: np.ndarray, model: Any, X: pd.DataFrame, classes: np.ndarray
) -> dict[str, float]:
    """Holdout metrics of a fitted pipeline; non-finite values are left out (JSON-safe)."""
    predicted = model.predict(X)
    out: dict[str, float] = {}
    if task != "classification":
        out["r2"] = float(r2_score(y_true, predicted))
        out["rmse"] = float(math.sqrt(mean_squared_error(y_true, predicted)))
        out["mae"] = float(mean_absolute_error(y_true, predicted))
    else:
        out["accuracy"] = float(accuracy_score(y_true, predicted))
        out["balanced_accuracy"] = float(balanced_accuracy_score(y_true, predicted))
        out["f1_macro"] = float(f1_score(y_true, predicted, average="macro", labels=classes, zero_division=0))
        if len(classes) == 2:
            proba = model.predict_proba(X)
            positive = list(model.classes_).index(classes[1])
            out["roc_auc"] = float(roc_auc_score(y_true == classes[1], proba[:, positive]))
    return {k: round(v, 6) for k, v in out.items() if math.isfinite(v)}


def _class_labels(values: pd.Series) -> np.ndarray:
    """Class labels as a plain numpy array: bools, ints (integral floats too) or strings."""
    if ptypes.is_bool_dtype(values.dtype):
        return values.astype(bool).to_numpy()
    if ptypes.is_numeric_dtype(values.dtype):
        numbers_ = values.astype("float64").to_numpy()
        if np.all(np.mod(numbers_, 1.0) == 0.0):
            return numbers_.astype(np.int64)
        return numbers_
    return np.asarray([str(v) for v in values], dtype=object)


def _split_names(task: Task) -> str:
    return {
        "classification": "stratified random",
        "regression": "random",
        "forecast": "time-ordered (latest rows held out)",
    }[task]


def _fmt(value: float) -> str:
    return f"{value:.3f}"


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------


def train_model(
    frame: pd.DataFrame,
    *,
    target: str,
    task: Task,
    time_budget_s: float = 30,
    cv_folds: int = 5,
    random_state: int = 0,
    progress: ProgressFn | None = None,
) -> tuple[TrainingResult, Pipeline]:
    """Search, evaluate and explain a model for ``target`` within a wall-time budget.

    The budget is approximate by design: the required candidates (baseline, linear, default
    HistGradientBoosting) always run, and the refit plus importance run after the search;
    :data:`SEARCH_SHARE` of the budget goes to the search so the total usually stays close.

    Args:
        frame: The table (raw: numeric text and ISO date strings are fine).
        target: Target column (exact name, e.g. from :func:`~functions.automl.target.resolve_target`).
        task: ``regression``, ``classification`` or ``forecast`` (see ``infer_task``).
        time_budget_s: Wall-time budget in seconds for the whole call (> 0).
        cv_folds: Cross-validation folds (2-20; fewer when rows or rare classes require it).
        random_state: Seed for splits and estimators (the search is reproducible given time).
        progress: ``progress(fraction, message)`` called as work advances; must not raise.

    Returns:
        ``(result, pipeline)``: the JSON-safe result and the fitted scikit-learn pipeline,
        which accepts raw tables with the original column names.

    Raises:
        EmptyDataError: No rows.
        UnknownColumnError: ``target`` is not a column.
        InvalidInputError: Bad arguments, too few labelled rows, non-numeric regression target,
            or a forecast without a date column.
        UnlearnableTargetError: Constant or all-missing target, no usable feature, too many
            classes, or no model beats the baseline by the required margin (numbers in the
            message and details).
    """
    started = time.perf_counter()
    if task not in ("regression", "classification", "forecast"):
        raise InvalidInputError(f"Unknown task '{task}'.", details={"task": str(task)})
    if not (isinstance(time_budget_s, int | float) and math.isfinite(time_budget_s) and time_budget_s > 0):
        raise InvalidInputError("time_budget_s must be a positive number of seconds.")
    if not 2 <= cv_folds <= 20:
        raise InvalidInputError("cv_folds must be between 2 and 20.")
    if frame.shape[0] == 0:
        raise EmptyDataError("The table has no rows to learn from.")
    frame = frame.set_axis([str(c) for c in frame.columns], axis=1)
    if target not in frame.columns:
        raise UnknownColumnError(
            f"The target column '{target}' is not in the table.", details={"column": target}
        )
    with _thread_limit(len(frame)):
        return _train(
            frame, target, task, float(time_budget_s), cv_folds, random_state, _Progress(progress), started
        )


@contextlib.contextmanager
def _thread_limit(rows: int) -> Iterator[None]:
    """One OpenMP/BLAS thread for small tables, the library defaults for large ones.

    Why: below :data:`SINGLE_THREAD_MAX_ROWS` rows thread start-up costs more than it saves,
    and OpenMP's spin-waiting slows fits 5-30x when the vCPUs are shared with another process
    (measured here: a 0.3 s HistGradientBoosting fit took up to 11 s with two threads).
    """
    if rows > SINGLE_THREAD_MAX_ROWS:
        yield
        return
    with threadpool_limits(limits=1):
        yield


def _train(
    frame: pd.DataFrame,
    target: str,
    task: Task,
    time_budget_s: float,
    cv_folds: int,
    random_state: int,
    report: _Progress,
    started: float,
) -> tuple[TrainingResult, Pipeline]:
    """:func:`train_model` after argument checks (see there)."""
    notes: list[str] = []

    data, y, classes = _prepare_target(frame, target, task, notes)
    report(0.02, f"checked target '{target}': {len(data):,} labelled rows")
    plan = build_features(data, target, task)
    if not plan.feature_columns:
        reasons = "; ".join(f"{c}: {r}" for c, r in list(plan.dropped.items())[:10])
        raise UnlearnableTargetError(
            f"No usable feature column is left to predict '{target}' ({reasons or 'the table has only the target'}).",
            details={"target": target},
        )
    leaks = [c for c, r in plan.dropped.items() if r.startswith("target leakage")]
    if leaks:
        notes.append(f"Dropped {len(leaks)} column(s) that leak the target: {', '.join(leaks[:10])}.")
    report(0.05, f"planned {len(plan.feature_columns)} features, dropped {len(plan.dropped)} columns")

    X = data[plan.feature_columns]
    train_idx, hold_idx = _holdout_split(data, y, task, plan, random_state)
    X_train, X_hold = X.iloc[train_idx], X.iloc[hold_idx]
    y_train, y_hold = y[train_idx], y[hold_idx]
    report(0.07, f"split {len(train_idx):,} training / {len(hold_idx):,} holdout rows ({_split_names(task)})")

    search_idx = _search_subset(y_train, task, random_state, notes)
    X_search, y_search = X_train.iloc[search_idx], y_train[search_idx]
    folds = _folds(X_search, y_search, task, cv_folds, random_state, notes)
    metric = _primary_metric(task, len(classes))
    scorer = get_scorer(metric)

    board = _search(
        plan=plan,
        task=task,
        classes=classes,
        X=X_search,
        y=y_search,
        folds=folds,
        scorer=scorer,
        metric=metric,
        started=started,
        budget=time_budget_s,
        random_state=random_state,
        report=report,
        notes=notes,
    )
    models = [s for s in board if s.candidate.family != "baseline"]
    if not models:
        raise UnlearnableTargetError(
            f"No model could be fitted to predict '{target}'; see the data quality report.",
            details={"target": target},
        )
    best = max(models, key=lambda s: s.mean)  # first on ties: the simpler, earlier candidate
    report(0.85, f"refitting {best.candidate.name} on all {len(train_idx):,} training rows")
    with _quiet():
        chosen = best.candidate
        pipeline = make_pipeline(
            plan, clone(chosen.estimator), scale=chosen.scale, log_numeric=chosen.log_numeric
        )
        pipeline.fit(X_train, y_train)
        dummy: Any = DummyClassifier(strategy="prior") if task == "classification" else DummyRegressor()
        baseline_model = make_pipeline(plan, dummy, scale=False).fit(X_train, y_train)
        holdout = _metrics(task, y_hold, pipeline, X_hold, classes)
        baseline = _metrics(task, y_hold, baseline_model, X_hold, classes)

    _check_learnable(task, metric, target, best.candidate.name, holdout, baseline, y_hold, classes)
    report(
        0.9,
        f"holdout {_METRIC_LABELS[metric]} {_fmt(holdout[metric])} vs baseline {_fmt(baseline.get(metric, 0.0))}",
    )

    importance = _importance(
        pipeline, X_hold, y_hold, scorer, started, time_budget_s, random_state, notes, report
    )
    predicted = pipeline.predict(X_hold.iloc[:MAX_SAMPLE_PREDICTIONS])
    samples = [
        SamplePrediction(actual=a, predicted=p)
        for a, p in zip(y_hold[:MAX_SAMPLE_PREDICTIONS], predicted, strict=False)
    ]
    board_sorted = sorted(board, key=lambda s: -s.mean)
    leaderboard = [
        LeaderboardEntry(
            model=s.candidate.name,
            params=s.candidate.params,
            cv_score=round(s.mean, 6),
            cv_std=round(s.std, 6),
            fit_seconds=round(s.seconds, 3),
        )
        for s in board_sorted
    ]
    elapsed = time.perf_counter() - started
    if elapsed > time_budget_s:
        notes.append(
            f"Took {elapsed:.1f} s for a {time_budget_s:g} s budget: the required candidates, refit and "
            "evaluation always run."
        )
    if task == "forecast":
        notes.append(
            "Forecast = regression on calendar features and days since start, validated on the latest "
            "rows; it has no lag features, so it captures trend and seasonality, not recent shocks."
        )
    result = TrainingResult(
        task=task,
        target=target,
        metric=metric,
        holdout=holdout,
        baseline=baseline,
        beats_baseline=True,
        cv_leaderboard=leaderboard,
        best_model=best.candidate.name,
        best_params=best.candidate.params,
        classes=[_json_scalar(c) for c in classes] if task == "classification" else [],
        feature_importance=importance,
        sample_predictions=samples,
        features=plan.model_dump(),
        rows_train=len(train_idx),
        rows_holdout=len(hold_idx),
        time_budget_s=time_budget_s,
        elapsed_s=round(elapsed, 3),
        notes=notes,
    )
    report(1.0, f"done: {best.candidate.name} with holdout {_METRIC_LABELS[metric]} {_fmt(holdout[metric])}")
    return result, pipeline


def _prepare_target(
    frame: pd.DataFrame, target: str, task: Task, notes: list[str]
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Labelled rows, the target as a numpy array, and the classes (empty for regression)."""
    raw = frame[target]
    if raw.notna().sum() == 0:
        raise UnlearnableTargetError(
            f"The target '{target}' has no values (all {len(raw):,} are missing).", details={"target": target}
        )
    if task == "classification":
        mask = raw.notna()
        values = raw[mask]
        if int(values.nunique()) <= 1:
            raise UnlearnableTargetError(
                f"The target '{target}' is constant ({values.iloc[0]!s:.40}); there is nothing to learn.",
                details={"target": target},
            )
        counts = values.value_counts()
        rare = counts[counts < MIN_CLASS_ROWS]
        if len(rare):
            mask &= ~raw.isin(rare.index)
            notes.append(
                f"Dropped {int(rare.sum())} row(s) of {len(rare)} class(es) with fewer than {MIN_CLASS_ROWS} rows."
            )
        kept = raw[mask]
        n_classes = int(kept.nunique())
        if n_classes > MAX_CLASSES:
            raise UnlearnableTargetError(
                f"The target '{target}' has {n_classes} classes (at most {MAX_CLASSES} are supported); "
                "group rare classes or pick another target.",
                details={"target": target, "classes": str(n_classes)},
            )
        if n_classes < 2:
            raise UnlearnableTargetError(
                f"The target '{target}' has fewer than two classes with at least {MIN_CLASS_ROWS} rows each.",
                details={"target": target},
            )
        data = frame.loc[mask].reset_index(drop=True)
        y = _class_labels(data[target])
        classes = np.unique(y)
    else:
        numeric = ptypes.is_numeric_dtype(raw.dtype) or ptypes.is_bool_dtype(raw.dtype)
        if not numeric and numeric_text_share(raw) < NUMERIC_TEXT_SHARE:
            raise InvalidInputError(
                f"The target '{target}' is not numeric, so it cannot be a {task} target; use classification.",
                details={"target": target},
            )
        numbers_ = coerce_numeric(raw)
        mask = numbers_.notna() & np.isfinite(numbers_.fillna(0.0))
        if int(numbers_[mask].nunique()) <= 1:
            constant = numbers_[mask].iloc[0] if mask.any() else "missing"
            raise UnlearnableTargetError(
                f"The target '{target}' is constant ({constant}); there is nothing to learn.",
                details={"target": target},
            )
        data = frame.loc[mask].reset_index(drop=True)
        y = numbers_[mask].to_numpy(dtype="float64")
        classes = np.asarray([])
    unusable = int(raw.isna().sum()) if task == "classification" else len(frame) - len(data)
    if unusable:
        notes.append(f"Ignored {unusable:,} row(s) without a usable target value.")
    if len(data) < MIN_ROWS:
        raise InvalidInputError(
            f"Only {len(data)} rows have a target value; at least {MIN_ROWS} are needed to train and evaluate.",
            details={"target": target, "rows": str(len(data))},
        )
    duplicates = int(data.duplicated().sum()) if len(data) <= 1_000_000 else 0
    if duplicates:
        notes.append(
            f"{duplicates:,} fully duplicated row(s): copies across the holdout split can flatter scores."
        )
    return data, y, classes


def _holdout_split(
    data: pd.DataFrame, y: np.ndarray, task: Task, plan: FeaturePlan, random_state: int
) -> tuple[np.ndarray, np.ndarray]:
    positions = np.arange(len(data))
    if task == "forecast":
        if plan.time_column is None:
            raise InvalidInputError(
                "A forecast needs a date column (datetime or ISO text such as 2024-01-31); none was found.",
                details={"target": plan.target},
            )
        moments = parse_dates(data[plan.time_column])
        order = np.argsort(moments.to_numpy(dtype="datetime64[ns]"), kind="stable")  # NaT sorts last
        n_hold = max(1, round(len(order) * HOLDOUT_SHARE))
        return order[:-n_hold], order[-n_hold:]
    stratify = y if task == "classification" else None
    train, hold = train_test_split(
        positions, test_size=HOLDOUT_SHARE, random_state=random_state, stratify=stratify
    )
    return np.sort(train), np.sort(hold)


def _search_subset(y_train: np.ndarray, task: Task, random_state: int, notes: list[str]) -> np.ndarray:
    positions = np.arange(len(y_train))
    if len(positions) <= SEARCH_MAX_ROWS:
        return positions
    notes.append(
        f"Cross-validated on {SEARCH_MAX_ROWS:,} of {len(positions):,} training rows; the winner was refitted on all."
    )
    if task == "forecast":
        return positions[-SEARCH_MAX_ROWS:]  # training rows are time-ordered: keep the latest
    stratify = y_train if task == "classification" else None
    subset, _ = train_test_split(
        positions, train_size=SEARCH_MAX_ROWS, random_state=random_state, stratify=stratify
    )
    return np.sort(subset)


def _folds(
    X: pd.DataFrame,
    y: np.ndarray,
    task: Task,
    cv_folds: int,
    random_state: int,
    notes: list[str],
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The same folds for every candidate, so their scores compare like for like."""
    n_splits = min(cv_folds, max(2, len(y) // 10))
    if task == "classification":
        smallest = int(pd.Series(y).value_counts().min())
        n_splits = max(2, min(n_splits, smallest))
        splitter: Any = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    elif task == "forecast":
        splitter = TimeSeriesSplit(n_splits=n_splits)
    else:
        splitter = KFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    if n_splits != cv_folds:
        notes.append(f"Used {n_splits} cross-validation folds instead of {cv_folds} (rows or class sizes).")
    return list(splitter.split(X, y))


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence convergence, unknown-category and numeric warnings during search: all expected."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", message=".*unknown categor.*")
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        yield


def _search(
    *,
    plan: FeaturePlan,
    task: Task,
    classes: np.ndarray,
    X: pd.DataFrame,
    y: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    scorer: Any,
    metric: str,
    started: float,
    budget: float,
    random_state: int,
    report: _Progress,
    notes: list[str],
) -> list[_Scored]:
    """Cross-validate candidates until the search share of the budget is spent.

    Wall time is checked before each optional candidate (skipped when its estimated cost,
    from the last run of its family, would overrun) and between its folds (abandoned once the
    overshoot allowance is exceeded). Required candidates always run to completion.
    """
    deadline = started + SEARCH_SHARE * budget
    abandon_at = deadline + OVERSHOOT_SHARE * budget
    label = _METRIC_LABELS[metric]
    costs: dict[str, float] = {}
    board: list[_Scored] = []
    skipped = 0
    best: _Scored | None = None
    log_log = task != "classification" and _positive_skewed(y)
    for candidate in _candidates(task, random_state, log_log=log_log):
        now = time.perf_counter()
        if not candidate.required:
            if now >= deadline:
                break
            known = [v for k, v in costs.items() if k != "baseline"]
            estimate = costs.get(
                candidate.family, (max(known) if known else 0.0) * _FAMILY_COST_FACTOR[candidate.family]
            )
            if now + estimate > deadline:
                skipped += 1
                continue
        scored = _cross_validate(
            candidate, plan, X, y, folds, scorer, None if candidate.required else abandon_at
        )
        if scored is None:
            notes.append(f"Stopped {candidate.name} {candidate.params} early: the time budget ran out.")
            skipped += 1
            continue
        if isinstance(scored, str):
            notes.append(f"{candidate.name} {candidate.params} failed and was skipped: {scored}")
            continue
        costs[candidate.family] = scored.seconds
        board.append(scored)
        is_best = candidate.family != "baseline" and (best is None or scored.mean > best.mean)
        if is_best:
            best = scored
        fraction = 0.1 + 0.7 * min(1.0, (time.perf_counter() - started) / max(deadline - started, 1e-9))
        if candidate.family == "baseline":
            message = f"fitted the baseline (cv {label} {_fmt(scored.mean)})"
        elif is_best:
            message = f"fitted {candidate.name} (cv {label} {_fmt(scored.mean)}); best so far"
        else:
            assert best is not None
            message = (
                f"fitted {candidate.name} (cv {label} {_fmt(scored.mean)}); best so far is "
                f"{best.candidate.name} ({_fmt(best.mean)})"
            )
        report(fraction, message)
    notes.append(
        f"Cross-validated {len(board)} candidate(s) in {time.perf_counter() - started:.1f} s"
        + (f"; {skipped} other planned candidate(s) did not fit in the time budget." if skipped else ".")
    )
    return board


def _cross_validate(
    candidate: _Candidate,
    plan: FeaturePlan,
    X: pd.DataFrame,
    y: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    scorer: Any,
    abandon_at: float | None,
) -> _Scored | str | None:
    """Mean/std of the score over the folds; a message if fitting failed; None if abandoned."""
    began = time.perf_counter()
    scores: list[float] = []
    for train, valid in folds:
        model = make_pipeline(
            plan, clone(candidate.estimator), scale=candidate.scale, log_numeric=candidate.log_numeric
        )
        try:
            with _quiet():
                model.fit(X.iloc[train], y[train])
                score = float(scorer(model, X.iloc[valid], y[valid]))
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
            return _short(str(exc))
        scores.append(score if math.isfinite(score) else 0.0)
        if abandon_at is not None and time.perf_counter() > abandon_at:
            return None
    return _Scored(candidate, float(np.mean(scores)), float(np.std(scores)), time.perf_counter() - began)


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _required_score(
    task: Task, metric: str, baseline: dict[str, float], y_hold: np.ndarray, classes: np.ndarray
) -> tuple[float, str]:
    """The holdout score the best model must exceed to count as learnt, and why that much.

    Regression and forecast: R² above :data:`MIN_REGRESSION_R2` (the mean baseline scores ~0).
    Classification: the baseline's primary metric plus :data:`MIN_IMPROVEMENT`, and also
    :data:`CHANCE_Z` standard errors above chance, because a small holdout makes a noise
    target look learnt surprisingly often (a pure-noise binary target scored ROC AUC 0.59 on
    120 holdout rows here). Binary: chance is AUC 0.5 with the Mann-Whitney null standard
    error ``sqrt((n0 + n1 + 1) / (12 n0 n1))``. Multiclass: chance macro F1 is ``1/k`` (what
    guessing with the class proportions scores), with the binomial standard error of a
    ``1/k`` hit rate as an approximation - the prior baseline predicts one class only, so its
    macro F1 alone would be far too easy to beat.
    """
    if task != "classification":
        return MIN_REGRESSION_R2, f"an R² above {MIN_REGRESSION_R2}"
    base = baseline.get(metric, 0.5 if metric == "roc_auc" else 0.0)
    rows = len(y_hold)
    if metric == "roc_auc":
        positives = int(np.sum(y_hold == classes[1]))
        negatives = rows - positives
        se = math.sqrt((rows + 1) / (12.0 * max(positives, 1) * max(negatives, 1)))
        chance = 0.5
    else:
        chance = 1.0 / len(classes)
        se = math.sqrt(chance * (1.0 - chance) / max(rows, 1))
    need = max(base + MIN_IMPROVEMENT, chance + max(MIN_IMPROVEMENT, CHANCE_Z * se))
    why = (
        f"more than {need:.3f} (the baseline + {MIN_IMPROVEMENT}, and {CHANCE_Z:g} standard errors above "
        f"chance level {chance:.3f} for {rows:,} holdout rows)"
    )
    return need, why


def _check_learnable(
    task: Task,
    metric: str,
    target: str,
    model: str,
    holdout: dict[str, float],
    baseline: dict[str, float],
    y_hold: np.ndarray,
    classes: np.ndarray,
) -> None:
    """Refuse a model that does not beat the baseline by a meaningful margin (with numbers)."""
    score = holdout.get(metric, float("nan"))
    base = baseline.get(metric, float("nan"))
    need, why = _required_score(task, metric, baseline, y_hold, classes)
    if score > need:
        return
    label = _METRIC_LABELS[metric]
    raise UnlearnableTargetError(
        f"'{target}' could not be learnt from the other columns: the best model ({model}) reaches a holdout "
        f"{label} of {score:.3f} against {base:.3f} for the baseline, and {why} is required.",
        details={
            "target": target,
            "model": model,
            "metric": metric,
            "holdout": f"{score:.4f}",
            "baseline": f"{base:.4f}",
            "required": f"{need:.4f}",
        },
    )


def _importance(
    pipeline: Pipeline,
    X_hold: pd.DataFrame,
    y_hold: np.ndarray,
    scorer: Any,
    started: float,
    budget: float,
    random_state: int,
    notes: list[str],
    report: _Progress,
) -> list[FeatureImportance]:
    """Permutation importance of the original columns on (a sample of) the holdout.

    Repeats shrink to fit the remaining budget (at least one); importance is the drop of the
    primary metric when a column is shuffled, so it is in the metric's units.
    """
    X_imp, y_imp = X_hold, y_hold
    if len(X_hold) > IMPORTANCE_MAX_ROWS:
        rng = np.random.default_rng(random_state)
        pick = np.sort(rng.choice(len(X_hold), IMPORTANCE_MAX_ROWS, replace=False))
        X_imp, y_imp = X_hold.iloc[pick], y_hold[pick]
    began = time.perf_counter()
    with _quiet():
        scorer(pipeline, X_imp, y_imp)
    per_repeat = max(time.perf_counter() - began, 1e-4) * X_imp.shape[1]
    remaining = started + budget - time.perf_counter()
    repeats = int(max(1, min(IMPORTANCE_MAX_REPEATS, remaining // per_repeat)))
    if repeats < IMPORTANCE_MAX_REPEATS:
        notes.append(f"Permutation importance used {repeats} repeat(s) to stay within the time budget.")
    report(0.92, f"computing permutation importance of {X_imp.shape[1]} columns ({repeats} repeat(s))")
    try:
        with _quiet():
            result = permutation_importance(
                pipeline, X_imp, y_imp, scoring=scorer, n_repeats=repeats, random_state=random_state
            )
    except (ValueError, ArithmeticError) as exc:
        notes.append(f"Permutation importance failed: {_short(str(exc))}")
        return []
    order = np.argsort(-result.importances_mean, kind="stable")[:TOP_FEATURES]
    return [
        FeatureImportance(
            feature=str(X_imp.columns[i]),
            importance=round(float(result.importances_mean[i]), 6),
            std=round(float(result.importances_std[i]), 6),
        )
        for i in order
    ]


# --------------------------------------------------------------------------------------------
# Serialisation and model card
# --------------------------------------------------------------------------------------------


def serialize_model(pipeline: Any) -> bytes:
    """The fitted pipeline as joblib bytes (compressed), for storing in the hub.

    The bytes load only with compatible scikit-learn and this package importable (the
    pipeline references :mod:`functions.automl.features` transformers).
    """
    buffer = io.BytesIO()
    joblib.dump(pipeline, buffer, compress=3)
    return buffer.getvalue()


def deserialize_model(data: bytes) -> Any:
    """Load bytes written by :func:`serialize_model`.

    Unpickling runs code: only load models this platform wrote (from the hub), never uploads.
    """
    return joblib.load(io.BytesIO(data))


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def _md(value: object, limit: int = 120) -> str:
    """Escape a user-provided value for Markdown text and table cells (no HTML, links, rows)."""
    text = _CONTROL.sub(" ", "" if value is None else str(value)).strip()
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return _MD_SPECIAL.sub(r"\\\1", text).replace("<", "&lt;").replace(">", "&gt;")


def _cell_number(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:,.4f}".rstrip("0").rstrip(".") if abs(value) < 1e6 else f"{value:.4g}"


def model_card_markdown(result: TrainingResult) -> str:
    """A Markdown model card: task, metric vs baseline, leaderboard, features, drops, caveats.

    Every user-provided string (target, column names, labels, dropped reasons) is escaped, so a
    hostile column name cannot inject links, HTML or table rows into the rendered report.
    """
    label = _METRIC_LABELS.get(result.metric, result.metric)
    lines = [
        f"# Model card: {_md(result.target)}",
        "",
        f"- **Task:** {result.task}",
        f"- **Target:** {_md(result.target)}",
        f"- **Best model:** {_md(result.best_model)} {_md(_params_text(result.best_params), 200)}",
        f"- **Primary metric:** {label} — holdout {_cell_number(result.holdout.get(result.metric))} "
        f"vs baseline {_cell_number(result.baseline.get(result.metric))}",
        f"- **Rows:** {result.rows_train:,} training, {result.rows_holdout:,} holdout",
        f"- **Time:** {result.elapsed_s:.1f} s (budget {result.time_budget_s:g} s)",
        "",
        "## Holdout metrics",
        "",
        "| Metric | Model | Baseline |",
        "| --- | ---: | ---: |",
    ]
    for name, value in result.holdout.items():
        lines.append(f"| {_md(name)} | {_cell_number(value)} | {_cell_number(result.baseline.get(name))} |")
    lines += ["", "## Cross-validation leaderboard", "", f"| Model | Parameters | CV {label} | Std | Fit s |"]
    lines.append("| --- | --- | ---: | ---: | ---: |")
    for entry in result.cv_leaderboard[:15]:
        lines.append(
            f"| {_md(entry.model)} | {_md(_params_text(entry.params), 160)} | {_cell_number(entry.cv_score)} | "
            f"{_cell_number(entry.cv_std)} | {entry.fit_seconds:.2f} |"
        )
    if result.feature_importance:
        lines += ["", "## Top features (permutation importance on the holdout)", ""]
        lines += ["| Column | Importance | Std |", "| --- | ---: | ---: |"]
        for item in result.feature_importance:
            lines.append(
                f"| {_md(item.feature)} | {_cell_number(item.importance)} | {_cell_number(item.std)} |"
            )
    dropped = result.features.get("dropped") or {}
    if dropped:
        lines += ["", "## Columns not used", "", "| Column | Reason |", "| --- | --- |"]
        for column, reason in dropped.items():
            lines.append(f"| {_md(column)} | {_md(reason, 200)} |")
    lines += ["", "## Caveats", ""]
    caveats = [
        "Scores come from a holdout of the same table: expect lower accuracy on data from another "
        "period or source.",
        "Feature importance shows what the model uses, not what causes the target.",
        *result.notes,
    ]
    lines += [f"- {_md(text, 400)}" for text in caveats]
    return "\n".join(lines) + "\n"


def _params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items())
