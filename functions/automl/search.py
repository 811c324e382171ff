"""Budgeted model search, evaluation and model card for the AutoML agent (scikit-learn only).

Why scikit-learn and not FLAML: ``flaml.AutoML`` needs xgboost, and ``flaml[automl]`` drags
~800 MB of CUDA libraries into an image that must stay small (DESIGN.md section 5); a short,
explicit search over well-understood estimators is enough for the tables this agent sees, and
tables too large for a Lambda go to SageMaker Autopilot instead (:mod:`functions.automl.autopilot`).

:func:`train_model` is the whole agent step, and every phase is bounded in rows and time:

1. Check the target (missing, constant, too few rows or classes -> typed errors, no training).
2. Plan features with the leakage guard (:func:`functions.automl.features.build_features`, on
   at most ``LEAKAGE_SAMPLE_ROWS`` labelled rows).
3. Hold out 20 % of the rows (stratified for classification, the latest 20 % for forecasts).
4. Cross-validate candidates on a sample of the training rows (:func:`sample_positions`:
   stratified for classification, the latest rows for forecasts; at most
   :attr:`TrainingLimits.search_max_rows` rows and ``search_max_cells`` feature cells) until
   :data:`SEARCH_SHARE` of the budget is spent. The baseline, a regularised linear model and a
   default HistGradientBoosting always run; small forests, other HistGradientBoosting settings
   and (for classification) other C values run while budget remains, then randomised
   HistGradientBoosting settings. The search sample is preprocessed once per encoding (a
   float32 matrix all folds and candidates share; the encodings use no target values).
5. Choose with the one-standard-error rule (:func:`select_one_se`): among the candidates whose
   mean CV score is within one standard error of the best mean, the simplest family wins
   (linear before tree ensembles), so noise between near-equal scores does not pick the more
   flexible model on small tables.
6. Refit the chosen candidate on as many training rows as fit the time left before
   :data:`REFIT_END_SHARE` of the budget (extrapolated from its CV timings; at most
   ``refit_max_rows`` / ``refit_max_cells``; forests, whose fully grown trees grow with the
   rows, on at most ``search_max_rows``). Score it and the baseline on (at most
   ``holdout_max_rows`` of) the holdout, and refuse
   (:class:`~analystack.errors.UnlearnableTargetError`) when the model does not beat the
   baseline by a meaningful margin - a model that predicts the mean is no insight.
7. Explain: permutation importance on at most ``importance_max_rows`` holdout rows in terms of
   the *original* columns, with as many repeats as the remaining budget allows.

The result is a JSON-safe pydantic :class:`TrainingResult` that states the rows each phase used
(:class:`RowsUsed`), the budget used against the one allowed (:class:`BudgetReport`) and the
selection (:class:`Selection`); the fitted pipeline is returned separately
(:func:`serialize_model` turns it into bytes for the hub). Pure logic: no AWS, HTTP, A2A or
environment access (DESIGN.md section 3).
"""

from __future__ import annotations

import contextlib
import io
import math
import re
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
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
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from analystack.errors import EmptyDataError, InvalidInputError, UnknownColumnError, UnlearnableTargetError
from analystack.numbers import finite_or_none
from functions.automl.features import (
    LEAKAGE_SAMPLE_ROWS,
    NUMERIC_TEXT_SHARE,
    FeaturePlan,
    Task,
    build_features,
    build_preprocessor,
    coerce_numeric,
    make_pipeline,
    max_encoded_width,
    numeric_text_share,
    parse_dates,
)

__all__ = [
    "BUDGET_SLACK_MIN_S",
    "BUDGET_SLACK_SHARE",
    "FAMILY_COMPLEXITY",
    "HOLDOUT_SHARE",
    "MIN_IMPROVEMENT",
    "MIN_REGRESSION_R2",
    "REFIT_END_SHARE",
    "SEARCH_SHARE",
    "BudgetReport",
    "FeatureImportance",
    "LeaderboardEntry",
    "RowsUsed",
    "SamplePrediction",
    "Selection",
    "TrainingLimits",
    "TrainingResult",
    "budget_report",
    "budget_slack_s",
    "deserialize_model",
    "model_card_markdown",
    "sample_positions",
    "select_one_se",
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
#: The candidate search ends at this share of the time budget; the refit must end by
#: ``REFIT_END_SHARE``; the rest pays for the holdout evaluation and permutation importance.
SEARCH_SHARE = 0.6
REFIT_END_SHARE = 0.8
#: An optional candidate already running is abandoned once the search overshoots its share
#: by this fraction of the budget - or, checked after each fold, as soon as its folds so far
#: say the remaining ones would (a slow family then costs one fold, not the budget).
OVERSHOOT_SHARE = 0.1
#: The refit's rows are extrapolated from the chosen candidate's CV timings (linear in rows);
#: this factor covers superlinear fits and the cost of the wider final fit.
REFIT_SAFETY = 1.5
#: A cross-validation fold that takes at least this long reports its progress.
FOLD_PROGRESS_MIN_S = 0.5
#: The budget is kept to within ``max(BUDGET_SLACK_MIN_S, BUDGET_SLACK_SHARE * budget)``:
#: fits cannot be interrupted, so the last fold or fit started before a deadline may finish
#: after it. The required candidates (baseline, linear, default HistGradientBoosting on the
#: bounded search sample) run even when they alone exceed a very small budget.
BUDGET_SLACK_SHARE = 0.1
BUDGET_SLACK_MIN_S = 1.0
#: Default row bounds of :class:`TrainingLimits` (see there).
SEARCH_MAX_ROWS = 20_000
SEARCH_MAX_CELLS = 1_000_000
REFIT_MAX_ROWS = 200_000
REFIT_MAX_CELLS = 4_000_000
HOLDOUT_MAX_ROWS = 100_000
#: Linear models refit on at most this many rows per encoded column (never fewer than the
#: search's): their excess error over the best linear fit is ~ columns / rows of the noise
#: variance (0.2% here), while the solver's copies of the encoded matrix grow with the rows
#: (the peak of the 1M-row demo's refit: +104 MiB at 74k rows).
LINEAR_ROWS_PER_COLUMN = 500
#: Rows preprocessed and predicted at a time when scoring (bounds the feature matrices' memory).
SCORING_CHUNK_ROWS = 20_000
IMPORTANCE_MAX_ROWS = 2_000
#: The search never samples fewer rows than this (when the table has them), however wide.
SEARCH_MIN_ROWS = 1_000
#: Permutation importance shrinks to no fewer rows than this to fit the budget.
IMPORTANCE_MIN_ROWS = 200
IMPORTANCE_MAX_REPEATS = 5
TOP_FEATURES = 20
MAX_SAMPLE_PREDICTIONS = 50
#: Fewer labelled rows than this cannot support a holdout plus cross-validation.
MIN_ROWS = 30
#: Classes with fewer rows are dropped (noted): they can be neither learnt nor evaluated.
MIN_CLASS_ROWS = 5
#: More classes than this is not a classification the agent can do well in a Lambda.
MAX_CLASSES = 50
#: Fully duplicated rows are counted on tables up to this many labelled rows.
DUPLICATE_CHECK_MAX_ROWS = 1_000_000
#: Randomised HistGradientBoosting settings tried at most (the budget usually stops earlier).
MAX_RANDOM_CANDIDATES = 30
#: Simplicity order of the one-standard-error rule (lower is simpler). Linear models have one
#: coefficient per feature; boosted and bagged trees are both flexible ensembles, so they rank
#: alike and the higher mean decides between them.
FAMILY_COMPLEXITY = {"linear": 1, "hgb": 2, "forest": 2}

_METRIC_LABELS = {"r2": "R²", "roc_auc": "ROC AUC", "f1_macro": "macro F1"}
_FAMILY_COST_FACTOR = {"baseline": 0.1, "linear": 0.5, "hgb": 1.0, "forest": 1.5}
_FAMILY_LABELS = {"baseline": "baseline", "linear": "linear", "hgb": "boosted trees", "forest": "forest"}
SELECTION_RULE = (
    "one standard error: among the candidates whose mean CV score is within one standard error "
    "(fold std / sqrt(folds)) of the best mean, the simplest family wins (linear < tree "
    "ensembles), the higher mean within a family"
)


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


class TrainingLimits(_Model):
    """Row bounds of each phase of :func:`train_model` (the defaults suit a 30 s Lambda budget).

    ``*_cells`` bound rows x encoded feature columns (an upper estimate from the plan), so wide
    tables use fewer rows; however wide the table, the cell bound leaves the search at least
    ``SEARCH_MIN_ROWS`` rows (``search_max_rows`` permitting).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    search_max_rows: int = Field(default=SEARCH_MAX_ROWS, ge=100)
    search_max_cells: int = Field(default=SEARCH_MAX_CELLS, ge=10_000)
    refit_max_rows: int = Field(default=REFIT_MAX_ROWS, ge=100)
    refit_max_cells: int = Field(default=REFIT_MAX_CELLS, ge=10_000)
    holdout_max_rows: int = Field(default=HOLDOUT_MAX_ROWS, ge=100)
    importance_max_rows: int = Field(default=IMPORTANCE_MAX_ROWS, ge=IMPORTANCE_MIN_ROWS)


class LeaderboardEntry(_Model):
    """One cross-validated candidate: mean, std and standard error of the primary metric.

    ``cv_se`` is the fold scores' sample standard deviation over ``sqrt(cv_folds)``;
    ``within_one_se`` marks the candidates the one-standard-error rule considered;
    ``fit_seconds`` counts the estimator fits (the shared preprocessing is not in it).
    """

    model: str
    family: str = ""
    params: dict[str, Scalar] = Field(default_factory=dict)
    cv_score: Finite
    cv_std: Finite
    cv_se: Finite = 0.0
    cv_folds: int = 0
    within_one_se: bool = False
    fit_seconds: Finite


class Selection(_Model):
    """How the reported model was chosen from the leaderboard (see :func:`select_one_se`)."""

    rule: str
    top_model: str
    top_params: dict[str, Scalar] = Field(default_factory=dict)
    top_cv_score: Finite
    top_cv_se: Finite
    threshold: Finite
    chosen_model: str
    chosen_params: dict[str, Scalar] = Field(default_factory=dict)
    chosen_cv_score: Finite


class RowsUsed(_Model):
    """Rows each phase used. ``train``/``holdout`` are the split; the phases use samples of them.

    ``features``: rows the feature plan and leakage guard looked at; ``search``: rows every
    candidate was cross-validated on; ``refit``: rows the reported model was fitted on;
    ``holdout_scored``: holdout rows the reported metrics come from; ``importance``: holdout
    rows permutation importance shuffled.
    """

    labelled: int
    train: int
    holdout: int
    features: int
    search: int
    refit: int
    holdout_scored: int
    importance: int


class BudgetReport(_Model):
    """Wall time used against the budget allowed, with the documented slack and per-phase seconds."""

    allowed_s: Finite
    used_s: Finite
    slack_s: Finite
    within_budget: bool
    phases: dict[str, Finite] = Field(default_factory=dict)


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
    refitted model and of the dummy baseline; ``metric`` names the primary one.
    ``cv_leaderboard`` is sorted best mean first; ``selection`` says which rule picked
    ``best_model`` from it (not necessarily the top entry). ``rows_train`` is the number of
    rows the reported model was fitted on and ``rows_holdout`` the number of holdout rows its
    metrics come from; ``rows`` details every phase. ``budget`` is the wall time against the
    budget (for the whole agent skill once :mod:`functions.automl.skills` has saved the model;
    ``time_budget_s``/``elapsed_s`` are this call's). ``features`` is the
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
    selection: Selection
    classes: list[Scalar] = Field(default_factory=list)
    feature_importance: list[FeatureImportance]
    sample_predictions: list[SamplePrediction]
    features: dict[str, Any]
    rows_train: int
    rows_holdout: int
    rows: RowsUsed
    time_budget_s: float
    elapsed_s: float
    budget: BudgetReport
    notes: list[str] = Field(default_factory=list)


def budget_slack_s(allowed_s: float) -> float:
    """The documented slack on a budget: ``max(BUDGET_SLACK_MIN_S, BUDGET_SLACK_SHARE * allowed_s)``."""
    return max(BUDGET_SLACK_MIN_S, BUDGET_SLACK_SHARE * allowed_s)


def budget_report(allowed_s: float, used_s: float, phases: dict[str, float]) -> BudgetReport:
    """A :class:`BudgetReport`: within budget when ``used_s <= allowed_s + budget_slack_s(allowed_s)``."""
    slack = budget_slack_s(allowed_s)
    return BudgetReport(
        allowed_s=round(allowed_s, 3),
        used_s=round(used_s, 3),
        slack_s=round(slack, 3),
        within_budget=used_s <= allowed_s + slack,
        phases={name: round(seconds, 3) for name, seconds in phases.items()},
    )


# --------------------------------------------------------------------------------------------
# Sampling and selection (pure, public for tests and benchmarks)
# --------------------------------------------------------------------------------------------


def sample_positions(y: np.ndarray, size: int, task: Task, random_state: int) -> np.ndarray:
    """Positions (into ``y``) of a sample of at most ``size`` rows, reproducible for a seed.

    All rows when ``size >= len(y)``. Forecast: the last ``size`` positions (the caller's rows
    are time-ordered, and the latest rows matter most). Regression: a uniform random sample.
    Classification: stratified - each class gets its share of ``size`` (largest remainders
    first), and at least ``min(its rows, MIN_CLASS_ROWS)`` so a rare class still reaches every
    cross-validation fold. Positions are sorted except for forecasts (kept in time order).
    """
    n = len(y)
    if size >= n:
        return np.arange(n)
    size = max(int(size), 1)
    if task == "forecast":
        return np.arange(n - size, n)
    rng = np.random.default_rng(random_state)
    if task != "classification":
        return np.sort(rng.choice(n, size, replace=False))
    _, codes = np.unique(y, return_inverse=True)
    counts = np.bincount(codes)
    exact = size * counts / n
    quota = np.floor(exact).astype(np.int64)
    short = size - int(quota.sum())
    if short > 0:
        order = np.argsort(-(exact - quota), kind="stable")
        quota[order[:short]] += 1
    quota = np.maximum(quota, np.minimum(counts, MIN_CLASS_ROWS))
    by_class = np.split(np.argsort(codes, kind="stable"), np.cumsum(counts)[:-1])
    picks = [rng.choice(rows, int(k), replace=False) for rows, k in zip(by_class, quota, strict=True)]
    return np.sort(np.concatenate(picks))


def select_one_se(board: Sequence[LeaderboardEntry]) -> tuple[int, Selection]:
    """The one-standard-error rule over cross-validation folds (Hastie et al., ESL 7.10).

    The top entry is the non-baseline one with the highest ``cv_score`` (the first on ties);
    the threshold is its score minus its ``cv_se``. Among the non-baseline entries at or above
    the threshold, the one with the lowest :data:`FAMILY_COMPLEXITY` wins, the higher score
    within a family, the earlier entry on ties. Why: with a few hundred rows the fold-to-fold
    spread is larger than the differences between good candidates, and the maximum of many
    noisy means favours flexible models that then do worse on new rows.

    Returns:
        ``(index of the chosen entry in board, Selection)``.

    Raises:
        ValueError: ``board`` holds no non-baseline entry.
    """
    models = [i for i, entry in enumerate(board) if entry.family != "baseline"]
    if not models:
        raise ValueError("no candidate model to select from")
    top = max(models, key=lambda i: (board[i].cv_score, -i))
    threshold = board[top].cv_score - board[top].cv_se
    eligible = [i for i in models if board[i].cv_score >= threshold]
    chosen = min(
        eligible,
        key=lambda i: (
            FAMILY_COMPLEXITY.get(board[i].family, max(FAMILY_COMPLEXITY.values()) + 1),
            -board[i].cv_score,
            i,
        ),
    )
    return chosen, Selection(
        rule=SELECTION_RULE,
        top_model=board[top].model,
        top_params=board[top].params,
        top_cv_score=board[top].cv_score,
        top_cv_se=board[top].cv_se,
        threshold=round(threshold, 6),
        chosen_model=board[chosen].model,
        chosen_params=board[chosen].params,
        chosen_cv_score=board[chosen].cv_score,
    )


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

    @property
    def relative_cost(self) -> float:
        """Expected fit time relative to its family's last run per unit: boosting scales with
        its iterations (the default is 200), other candidates count as one."""
        iterations = self.params.get("max_iter") if self.family == "hgb" else None
        return float(iterations) / 200.0 if isinstance(iterations, int | float) else 1.0


@dataclass
class _Scored:
    """A candidate's fold scores and the seconds its estimator fits took."""

    candidate: _Candidate
    scores: np.ndarray
    seconds: float

    @property
    def mean(self) -> float:
        return float(np.mean(self.scores))

    @property
    def std(self) -> float:
        return float(np.std(self.scores, ddof=1)) if len(self.scores) > 1 else 0.0

    @property
    def se(self) -> float:
        return self.std / math.sqrt(len(self.scores))

    def entry(self) -> LeaderboardEntry:
        return LeaderboardEntry(
            model=self.candidate.name,
            family=self.candidate.family,
            params=self.candidate.params,
            cv_score=round(self.mean, 6),
            cv_std=round(self.std, 6),
            cv_se=round(self.se, 6),
            cv_folds=len(self.scores),
            fit_seconds=round(self.seconds, 3),
        )


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
    task: Task, y_true: np.ndarray, predicted: np.ndarray, positive_proba: np.ndarray | None
) -> dict[str, float]:
    """Holdout metrics; non-finite values are left out (JSON-safe).

    Classification takes class codes (positions in the sorted classes) for ``y_true`` and
    ``predicted``, and the probability of class 1 for binary targets: integer labels keep
    scikit-learn's metrics off the slow sorting of text labels (1-2 s per million rows here).
    """
    out: dict[str, float] = {}
    if task != "classification":
        out["r2"] = float(r2_score(y_true, predicted))
        out["rmse"] = float(math.sqrt(mean_squared_error(y_true, predicted)))
        out["mae"] = float(mean_absolute_error(y_true, predicted))
    else:
        k = int(max(y_true.max(initial=0), predicted.max(initial=0))) + 1
        out["accuracy"] = float(accuracy_score(y_true, predicted))
        out["balanced_accuracy"] = float(balanced_accuracy_score(y_true, predicted))
        out["f1_macro"] = float(
            f1_score(y_true, predicted, average="macro", labels=np.arange(k), zero_division=0)
        )
        if positive_proba is not None:
            out["roc_auc"] = float(roc_auc_score(y_true == 1, positive_proba))
    return {k: round(v, 6) for k, v in out.items() if math.isfinite(v)}


def _codes(labels: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Class codes of predicted labels (hash lookup; every label is one of ``classes``)."""
    return pd.Index(classes).get_indexer(labels).astype(np.int64)


def _pipeline_metrics(
    task: Task, y_true: np.ndarray, pipeline: Pipeline, X: pd.DataFrame, classes: np.ndarray
) -> dict[str, float]:
    """The fitted pipeline's metrics; each chunk of the holdout is preprocessed once for both
    predictions. Chunks bound the preprocessed matrices (dense one-hot columns, float64): on the
    1M-row sales table, scoring 100,000 rows at once raised the agent's peak by ~85 MiB."""
    preprocess, estimator = pipeline[:-1], pipeline[-1]
    binary = task == "classification" and len(classes) == 2
    predicted_parts, proba_parts = [], []
    for start in range(0, len(X), SCORING_CHUNK_ROWS):
        matrix = preprocess.transform(X.iloc[start : start + SCORING_CHUNK_ROWS])
        predicted_parts.append(estimator.predict(matrix))
        if binary:
            proba_parts.append(estimator.predict_proba(matrix)[:, list(estimator.classes_).index(classes[1])])
        del matrix
    predicted = np.concatenate(predicted_parts) if predicted_parts else np.empty(0)
    if task != "classification":
        return _metrics(task, y_true, predicted, None)
    proba = np.concatenate(proba_parts) if binary else None
    return _metrics(task, y_true, _codes(predicted, classes), proba)


def _baseline_metrics(task: Task, y_fit: np.ndarray, y_true: np.ndarray, n_classes: int) -> dict[str, float]:
    """The dummy baseline's holdout metrics: it ignores the features, so none are built."""
    dummy: Any = DummyClassifier(strategy="prior") if task == "classification" else DummyRegressor()
    dummy.fit(np.zeros((len(y_fit), 1), dtype=np.float32), y_fit)
    blank = np.zeros((len(y_true), 1), dtype=np.float32)
    proba = None
    if task == "classification" and n_classes == 2:
        proba = dummy.predict_proba(blank)[:, list(dummy.classes_).index(1)]
    return _metrics(task, y_true, dummy.predict(blank), proba)


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
    limits: TrainingLimits | None = None,
) -> tuple[TrainingResult, Pipeline]:
    """Search, evaluate and explain a model for ``target`` within a wall-time budget.

    The budget covers the whole call and is kept to within :func:`budget_slack_s` (see
    :data:`BUDGET_SLACK_SHARE`): the search stops at :data:`SEARCH_SHARE` of it, the refit's
    rows are chosen to end by :data:`REFIT_END_SHARE`, and the holdout, importance and sample
    predictions run on bounded rows. Only the required candidates (baseline, linear, default
    HistGradientBoosting on the bounded search sample) run whatever the budget, so a budget
    smaller than they need is exceeded (``result.budget.within_budget`` is then false).

    Args:
        frame: The table (raw: numeric text and ISO date strings are fine). Not copied: the
            phases take the rows they need.
        target: Target column (exact name, e.g. from :func:`~functions.automl.target.resolve_target`).
        task: ``regression``, ``classification`` or ``forecast`` (see ``infer_task``).
        time_budget_s: Wall-time budget in seconds for the whole call (> 0).
        cv_folds: Cross-validation folds (2-20; fewer when rows or rare classes require it).
        random_state: Seed for splits, samples and estimators (reproducible given time).
        progress: ``progress(fraction, message)`` called as work advances; must not raise.
        limits: Row bounds per phase (:class:`TrainingLimits` defaults when None).

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
    frame = frame.set_axis([str(c) for c in frame.columns], axis=1)  # copy-on-write: no data copied
    if target not in frame.columns:
        raise UnknownColumnError(
            f"The target column '{target}' is not in the table.", details={"column": target}
        )
    with _thread_limit():
        return _train(
            frame,
            target,
            task,
            float(time_budget_s),
            cv_folds,
            random_state,
            limits or TrainingLimits(),
            _Progress(progress),
            started,
        )


@contextlib.contextmanager
def _thread_limit() -> Iterator[None]:
    """One OpenMP/BLAS thread for every fit.

    Why: OpenMP's spin-waiting slows fits 5-30x when the vCPUs are shared with another process
    (measured here: a HistGradientBoosting fit on 40,000 rows took 1.7 s with one thread and
    20 s with two while another process ran), and the refit's row count is extrapolated from
    the search's timings, which only holds when both run the same way. Rows are bounded per
    phase instead, so one thread keeps the budget.
    """
    with threadpool_limits(limits=1):
        yield


class _Rows:
    """Takes the feature columns of given rows of the table: the only copies the agent makes."""

    def __init__(self, frame: pd.DataFrame, columns: list[str]) -> None:
        self._frame = frame
        self._columns = [frame.columns.get_loc(c) for c in columns]

    def __call__(self, positions: np.ndarray) -> pd.DataFrame:
        return self._frame.iloc[positions, self._columns]


def _train(
    frame: pd.DataFrame,
    target: str,
    task: Task,
    time_budget_s: float,
    cv_folds: int,
    random_state: int,
    limits: TrainingLimits,
    report: _Progress,
    started: float,
) -> tuple[TrainingResult, Pipeline]:
    """:func:`train_model` after argument checks (see there)."""
    notes: list[str] = []
    phases: dict[str, float] = {}
    clock = time.perf_counter

    labelled, y, classes = _prepare_target(frame, target, task, notes)

    def labels(values: np.ndarray) -> np.ndarray:
        """Target values as the user's labels (class codes decoded; numbers as they are)."""
        return classes[values] if task == "classification" else values

    report(0.02, f"checked target '{target}': {len(labelled):,} labelled rows")
    plan_frame, plan_rows = _plan_input(frame, labelled, random_state)
    plan = build_features(plan_frame, target, task)
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
    _note_duplicates(frame, labelled, notes)

    rows = _Rows(frame, plan.feature_columns)
    train_idx, hold_idx = _holdout_split(frame, labelled, y, task, plan, random_state)
    train_rows, hold_rows = labelled[train_idx], labelled[hold_idx]  # positions in the table
    y_train, y_hold = y[train_idx], y[hold_idx]
    report(0.07, f"split {len(train_idx):,} training / {len(hold_idx):,} holdout rows ({_split_names(task)})")

    width = max_encoded_width(plan, plan_frame)
    search_size = min(
        len(train_idx), limits.search_max_rows, max(limits.search_max_cells // width, SEARCH_MIN_ROWS)
    )
    search_pick = sample_positions(y_train, search_size, task, random_state)
    if search_size < len(train_idx):
        notes.append(
            f"Cross-validated on {search_size:,} of {len(train_idx):,} training rows "
            f"({_sample_names(task)} sample; up to ~{width} encoded columns)."
        )
    X_search, y_search = rows(train_rows[search_pick]), y_train[search_pick]
    folds = _folds(y_search, task, cv_folds, random_state, notes)
    metric = _primary_metric(task, len(classes))
    scorer = get_scorer(metric)
    phases["target_and_features"] = clock() - started

    began = clock()
    board, cache = _search(
        plan=plan,
        task=task,
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
    del X_search
    phases["search"] = clock() - began
    if not any(s.candidate.family != "baseline" for s in board):
        raise UnlearnableTargetError(
            f"No model could be fitted to predict '{target}'; see the data quality report.",
            details={"target": target},
        )
    entries = [s.entry() for s in board]
    chosen_at, selection = select_one_se(entries)
    best = board[chosen_at]
    chosen = best.candidate
    if selection.chosen_model != selection.top_model or selection.chosen_params != selection.top_params:
        notes.append(
            f"Chose {chosen.name} (cv {_fmt(best.mean)}) over the top mean, {selection.top_model} "
            f"({_fmt(selection.top_cv_score)} ± {_fmt(selection.top_cv_se)} SE): within one standard error, "
            "the simpler model."
        )

    began = clock()
    refit_size, refit_reason = _refit_size(
        best, cache, len(train_idx), search_size, width, limits, started + REFIT_END_SHARE * time_budget_s
    )
    refit_pick = sample_positions(y_train, refit_size, task, random_state)
    if refit_size < len(train_idx):
        notes.append(
            f"Refitted {chosen.name} on {refit_size:,} of {len(train_idx):,} training rows "
            f"({_sample_names(task)} sample; {refit_reason})."
        )
    report(0.85, f"refitting {chosen.name} on {refit_size:,} of {len(train_idx):,} training rows")
    pipeline = make_pipeline(
        plan, clone(chosen.estimator), scale=chosen.scale, log_numeric=chosen.log_numeric
    )
    with _quiet():
        pipeline.fit(rows(train_rows[refit_pick]), labels(y_train[refit_pick]))
    phases["refit"] = clock() - began

    began = clock()
    score_size = min(len(hold_idx), limits.holdout_max_rows)
    score_task: Task = "classification" if task == "classification" else "regression"
    score_pick = sample_positions(y_hold, score_size, score_task, random_state)
    if score_size < len(hold_idx):
        notes.append(
            f"Holdout metrics come from a random sample of {score_size:,} of {len(hold_idx):,} holdout rows."
        )
    X_score, y_score = rows(hold_rows[score_pick]), y_hold[score_pick]
    with _quiet():
        holdout = _pipeline_metrics(task, y_score, pipeline, X_score, classes)
        baseline = _baseline_metrics(task, y_train, y_score, len(classes))
    _check_learnable(task, metric, target, chosen.name, holdout, baseline, y_score, len(classes))
    phases["holdout"] = clock() - began
    report(
        0.9,
        f"holdout {_METRIC_LABELS[metric]} {_fmt(holdout[metric])} vs baseline {_fmt(baseline.get(metric, 0.0))}",
    )

    began = clock()
    importance_pick = sample_positions(y_score, limits.importance_max_rows, score_task, random_state)
    importance, importance_rows = _importance(
        pipeline,
        X_score.iloc[importance_pick],
        labels(y_score[importance_pick]),
        scorer,
        started + time_budget_s,
        random_state,
        notes,
        report,
    )
    del X_score
    with _quiet():
        predicted = pipeline.predict(rows(hold_rows[:MAX_SAMPLE_PREDICTIONS]))
    samples = [
        SamplePrediction(actual=a, predicted=p)
        for a, p in zip(labels(y_hold[:MAX_SAMPLE_PREDICTIONS]), predicted, strict=False)
    ]
    phases["importance"] = clock() - began

    within = {
        id(s)
        for s, e in zip(board, entries, strict=True)
        if e.family != "baseline" and e.cv_score >= selection.threshold
    }
    leaderboard = [
        e.model_copy(update={"within_one_se": id(s) in within})
        for s, e in sorted(zip(board, entries, strict=True), key=lambda pair: -pair[0].mean)
    ]
    elapsed = clock() - started
    budget = budget_report(time_budget_s, elapsed, phases)
    if not budget.within_budget:
        notes.append(
            f"Took {elapsed:.1f} s for a {time_budget_s:g} s budget (slack {budget.slack_s:g} s): the required "
            "candidates always run on the search sample."
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
        best_model=chosen.name,
        best_params=chosen.params,
        selection=selection,
        classes=[_json_scalar(c) for c in classes] if task == "classification" else [],
        feature_importance=importance,
        sample_predictions=samples,
        features=plan.model_dump(),
        rows_train=refit_size,
        rows_holdout=score_size,
        rows=RowsUsed(
            labelled=len(labelled),
            train=len(train_idx),
            holdout=len(hold_idx),
            features=plan_rows,
            search=search_size,
            refit=refit_size,
            holdout_scored=score_size,
            importance=importance_rows,
        ),
        time_budget_s=time_budget_s,
        elapsed_s=round(elapsed, 3),
        budget=budget,
        notes=notes,
    )
    report(1.0, f"done: {chosen.name} with holdout {_METRIC_LABELS[metric]} {_fmt(holdout[metric])}")
    return result, pipeline


def _sample_names(task: Task) -> str:
    return {"classification": "stratified random", "regression": "random", "forecast": "latest rows"}[task]


def _prepare_target(
    frame: pd.DataFrame, target: str, task: Task, notes: list[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions of the labelled rows, their target as a numpy array, and the classes.

    Classification: ``y`` holds class codes, positions in the sorted ``classes`` (labels are
    ``classes[y]``). Regression: the numbers, and classes are empty. Positions, not a filtered copy of the table: the phases
    take only the rows they use (a copy of a million-row table is several times its Arrow size).
    """
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
        # Codes by hashing, labels only for the k distinct values (sorting a million text labels
        # took 1-2 s here, and scikit-learn sorts labels in every fit, split and metric).
        codes, uniques = pd.factorize(kept, sort=True)
        classes, inverse = np.unique(_class_labels(pd.Series(uniques)), return_inverse=True)
        y = inverse[codes].astype(np.int64)
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
        y = numbers_[mask].to_numpy(dtype="float64")
        classes = np.asarray([])
    positions = np.flatnonzero(mask.to_numpy(dtype=bool))
    unusable = int(raw.isna().sum()) if task == "classification" else len(frame) - len(positions)
    if unusable:
        notes.append(f"Ignored {unusable:,} row(s) without a usable target value.")
    if len(positions) < MIN_ROWS:
        raise InvalidInputError(
            f"Only {len(positions)} rows have a target value; at least {MIN_ROWS} are needed to train and evaluate.",
            details={"target": target, "rows": str(len(positions))},
        )
    return positions, y, classes


def _plan_input(frame: pd.DataFrame, labelled: np.ndarray, random_state: int) -> tuple[pd.DataFrame, int]:
    """The labelled rows the feature plan looks at (at most ``LEAKAGE_SAMPLE_ROWS``) and their count.

    The whole table when every row is labelled (``build_features`` samples it itself), else a
    copy of (a random sample of) the labelled rows only.
    """
    if len(labelled) == len(frame):
        return frame, min(len(frame), LEAKAGE_SAMPLE_ROWS)
    if len(labelled) > LEAKAGE_SAMPLE_ROWS:
        rng = np.random.default_rng(random_state)
        labelled = np.sort(rng.choice(labelled, LEAKAGE_SAMPLE_ROWS, replace=False))
    return frame.iloc[labelled], len(labelled)


def _note_duplicates(frame: pd.DataFrame, labelled: np.ndarray, notes: list[str]) -> None:
    """Note fully duplicated labelled rows (hashed per row: 8 bytes a row, no copy of the table)."""
    if len(labelled) > DUPLICATE_CHECK_MAX_ROWS:
        return
    try:
        hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    except TypeError:  # unhashable cells (lists, dicts): nothing to count reliably
        return
    duplicates = int(pd.Series(hashes[labelled]).duplicated().sum())
    if duplicates:
        notes.append(
            f"{duplicates:,} fully duplicated row(s): copies across the holdout split can flatter scores."
        )


def _holdout_split(
    frame: pd.DataFrame,
    labelled: np.ndarray,
    y: np.ndarray,
    task: Task,
    plan: FeaturePlan,
    random_state: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Train and holdout indices into the labelled rows (sorted; time-ordered for forecasts)."""
    positions = np.arange(len(labelled))
    if task == "forecast":
        if plan.time_column is None:
            raise InvalidInputError(
                "A forecast needs a date column (datetime or ISO text such as 2024-01-31); none was found.",
                details={"target": plan.target},
            )
        moments = parse_dates(frame[plan.time_column].iloc[labelled])
        order = np.argsort(moments.to_numpy(dtype="datetime64[ns]"), kind="stable")  # NaT sorts last
        n_hold = max(1, round(len(order) * HOLDOUT_SHARE))
        return order[:-n_hold], order[-n_hold:]
    stratify = y if task == "classification" else None
    train, hold = train_test_split(
        positions, test_size=HOLDOUT_SHARE, random_state=random_state, stratify=stratify
    )
    return np.sort(train), np.sort(hold)


def _folds(
    y: np.ndarray, task: Task, cv_folds: int, random_state: int, notes: list[str]
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
    return list(splitter.split(np.zeros((len(y), 1)), y))


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence convergence, unknown-category and numeric warnings during search: all expected."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", message=".*unknown categor.*")
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        yield


@dataclass
class _FoldCache:
    """The search sample preprocessed once per encoding, as float32 matrices all folds share.

    Why: the raw-table preprocessing (text parsing, dates, one-hot) cost as much as a default
    HistGradientBoosting fit per fold, and candidates of one encoding see identical inputs.
    The encodings (medians, category counts, frequencies, date origins) are fitted on the
    whole search sample: they use no target value, so sharing them across folds cannot leak
    the target into the validation scores, and it costs one preprocessing and one matrix
    (search rows x columns float32) instead of one per fold. Only the unscaled encodings are
    kept (plain, and log for log-log candidates); the scaled one standardises the non-one-hot
    columns on each fold's training rows, derived when a candidate needs it.
    """

    plan: FeaturePlan
    X: pd.DataFrame
    folds: list[tuple[np.ndarray, np.ndarray]]
    built: dict[bool, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    seconds: dict[bool, float] = field(default_factory=dict)

    def matrices(self, scale: bool, log_numeric: bool) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(fold training matrix, fold validation matrix) per fold; builds the encoding now."""
        matrix, columns = self._build(log_numeric)
        return self._folds(matrix, columns if scale else None)

    def _folds(
        self, matrix: np.ndarray, columns: np.ndarray | None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for train, valid in self.folds:
            fitted, held = matrix[train], matrix[valid]  # copies, one fold at a time
            if columns is not None:
                scaler = StandardScaler().fit(fitted[:, columns])
                fitted[:, columns] = scaler.transform(fitted[:, columns])
                held[:, columns] = scaler.transform(held[:, columns])
            yield fitted, held

    def _build(self, log_numeric: bool) -> tuple[np.ndarray, np.ndarray]:
        if log_numeric not in self.built:
            began = time.perf_counter()
            features = build_preprocessor(self.plan, scale=False, log_numeric=log_numeric)
            with _quiet():
                matrix = np.asarray(features.fit_transform(self.X), dtype=np.float32)
            columns = np.ones(matrix.shape[1], dtype=bool)  # what scale=True standardises
            if "categorical" in features.output_indices_:
                columns[features.output_indices_["categorical"]] = False
            self.built[log_numeric] = (matrix, columns)
            self.seconds[log_numeric] = time.perf_counter() - began
        return self.built[log_numeric]

    def estimate(self, log_numeric: bool) -> float:
        """Seconds building this encoding would take: 0 once built, else the slowest so far."""
        if log_numeric in self.built:
            return 0.0
        return max(self.seconds.values(), default=0.0)

    def seconds_per_row(self, log_numeric: bool) -> float:
        """Preprocessing seconds per row of the search sample."""
        return self.seconds.get(log_numeric, 0.0) / max(len(self.X), 1)

    @property
    def width(self) -> int:
        return max((matrix.shape[1] for matrix, _ in self.built.values()), default=0)


def _search(
    *,
    plan: FeaturePlan,
    task: Task,
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
) -> tuple[list[_Scored], _FoldCache]:
    """Cross-validate candidates until the search share of the budget is spent.

    Wall time is checked before each optional candidate (skipped when its estimated cost -
    the last run of its family scaled by :attr:`_Candidate.relative_cost`, plus any encoding
    still to build - would overrun) and
    between its folds (abandoned once the overshoot allowance is exceeded). Required
    candidates always run to completion.
    """
    deadline = started + SEARCH_SHARE * budget
    abandon_at = deadline + OVERSHOOT_SHARE * budget
    label = _METRIC_LABELS[metric]

    def search_fraction() -> float:
        """Progress of the search: 10-80 % of the call, by the time spent of its share."""
        return 0.1 + 0.7 * min(1.0, (time.perf_counter() - started) / max(deadline - started, 1e-9))

    cache = _FoldCache(plan, X, folds)
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
            per_unit = costs.get(
                candidate.family, (max(known) if known else 0.0) * _FAMILY_COST_FACTOR[candidate.family]
            )
            estimate = per_unit * candidate.relative_cost + cache.estimate(candidate.log_numeric)
            if now + estimate > deadline:
                skipped += 1
                continue

        def fold_done(done: int, scores: list[float], candidate: _Candidate = candidate) -> None:
            # Long fits (forests on many rows) would otherwise go quiet for seconds.
            report(
                search_fraction(),
                f"fitting {candidate.name}: fold {done}/{len(folds)} (cv {label} so far {_fmt(float(np.mean(scores)))})",
            )

        scored = _cross_validate(
            candidate,
            cache,
            y,
            folds,
            scorer,
            None if candidate.required else abandon_at,
            on_fold=None if candidate.family == "baseline" else fold_done,
        )
        if isinstance(scored, _Abandoned):
            notes.append(f"Stopped {candidate.name} {candidate.params} early: the time budget ran out.")
            report(report.last, f"stopped {candidate.name} early: its folds would overrun the time budget")
            # Its family's cost is known now: the next candidate of it is judged by this one.
            costs[candidate.family] = scored.projected_s / candidate.relative_cost
            skipped += 1
            continue
        if isinstance(scored, str):
            notes.append(f"{candidate.name} {candidate.params} failed and was skipped: {scored}")
            continue
        costs[candidate.family] = scored.seconds / candidate.relative_cost
        board.append(scored)
        is_best = candidate.family != "baseline" and (best is None or scored.mean > best.mean)
        if is_best:
            best = scored
        fraction = search_fraction()
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
    preprocessing = sum(cache.seconds.values())
    notes.append(
        f"Cross-validated {len(board)} candidate(s) on {len(folds)} folds in {time.perf_counter() - started:.1f} s "
        f"(preprocessing {preprocessing:.1f} s, {cache.width} encoded columns)"
        + (f"; {skipped} other planned candidate(s) did not fit in the time budget." if skipped else ".")
    )
    return board, cache


@dataclass(frozen=True)
class _Abandoned:
    """A candidate stopped for time; ``projected_s`` is what all its folds would have taken."""

    projected_s: float


def _cross_validate(
    candidate: _Candidate,
    cache: _FoldCache,
    y: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    scorer: Any,
    abandon_at: float | None,
    *,
    on_fold: Callable[[int, list[float]], None] | None = None,
) -> _Scored | str | _Abandoned:
    """Fold scores of the candidate; a message if fitting failed; :class:`_Abandoned` past
    ``abandon_at`` or when the mean time of the folds so far projects its end past it."""
    try:
        matrices = cache.matrices(candidate.scale, candidate.log_numeric)
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
        return _short(str(exc))
    began = fold_began = time.perf_counter()
    scores: list[float] = []
    for (train, valid), (X_fit, X_valid) in zip(folds, matrices, strict=True):
        model = clone(candidate.estimator)
        try:
            with _quiet():
                model.fit(X_fit, y[train])
                score = float(scorer(model, X_valid, y[valid]))
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
            return _short(str(exc))
        scores.append(score if math.isfinite(score) else 0.0)
        now = time.perf_counter()
        if abandon_at is not None:
            projected_end = now + (now - began) / len(scores) * (len(folds) - len(scores))
            if projected_end > abandon_at:
                return _Abandoned(projected_s=projected_end - began)
        # Only slow folds report: quick ones would crowd out the candidate's "fitted" event
        # (a stage reports at most every 0.25 s) and cost an event write each.
        if on_fold is not None and len(scores) < len(folds) and now - fold_began >= FOLD_PROGRESS_MIN_S:
            on_fold(len(scores), scores)
        fold_began = now
    return _Scored(candidate, np.asarray(scores), time.perf_counter() - began)


def _refit_size(
    best: _Scored,
    cache: _FoldCache,
    n_train: int,
    n_search: int,
    width: int,
    limits: TrainingLimits,
    deadline: float,
) -> tuple[int, str]:
    """Rows to refit the chosen candidate on, and which bound set them.

    Seconds per row = (its CV fit seconds / fold training rows fitted) + the preprocessing
    seconds per row of its encoding, times :data:`REFIT_SAFETY`; as many rows as fit before
    ``deadline``, at least the search's rows, at most ``refit_max_rows`` and
    ``refit_max_cells / width``; forests at most ``search_max_rows`` (their fully grown trees,
    and so the model's memory and file, grow with the rows).
    """
    chosen = best.candidate
    fitted_rows = sum(len(train) for train, _ in cache.folds[: len(best.scores)])
    rate = REFIT_SAFETY * (best.seconds / max(fitted_rows, 1) + cache.seconds_per_row(chosen.log_numeric))
    caps = {
        "all training rows": n_train,
        f"at most {limits.refit_max_rows:,} rows": limits.refit_max_rows,
        f"at most {limits.refit_max_cells:,} feature cells": max(limits.refit_max_cells // width, 1),
    }
    if chosen.family == "forest":
        caps["forests refit on at most the search's row bound"] = limits.search_max_rows
    if chosen.family == "linear":
        caps[f"linear models refit on at most {LINEAR_ROWS_PER_COLUMN} rows per encoded column"] = max(
            limits.search_max_rows, LINEAR_ROWS_PER_COLUMN * width
        )
    reason, cap = min(caps.items(), key=lambda item: item[1])
    by_time = int(max(deadline - time.perf_counter(), 0.0) / rate) if rate > 0 else cap
    floor = min(n_search, n_train)
    if by_time < cap:
        return min(cap, max(floor, by_time)), "the time budget"
    return cap, reason


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _required_score(
    task: Task, metric: str, baseline: dict[str, float], y_hold: np.ndarray, n_classes: int
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
        positives = int(np.sum(y_hold == 1))  # class codes: 1 is the positive class
        negatives = rows - positives
        se = math.sqrt((rows + 1) / (12.0 * max(positives, 1) * max(negatives, 1)))
        chance = 0.5
    else:
        chance = 1.0 / n_classes
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
    n_classes: int,
) -> None:
    """Refuse a model that does not beat the baseline by a meaningful margin (with numbers)."""
    score = holdout.get(metric, float("nan"))
    base = baseline.get(metric, float("nan"))
    need, why = _required_score(task, metric, baseline, y_hold, n_classes)
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
    X_imp: pd.DataFrame,
    y_imp: np.ndarray,
    scorer: Any,
    deadline: float,
    random_state: int,
    notes: list[str],
    report: _Progress,
) -> tuple[list[FeatureImportance], int]:
    """Permutation importance of the original columns on a holdout sample, and its rows.

    Repeats shrink to fit the time left before ``deadline`` (at least one), and when even one
    repeat would not fit, the rows shrink too (to no fewer than ``IMPORTANCE_MIN_ROWS``).
    Importance is the drop of the primary metric when a column is shuffled, so it is in the
    metric's units.
    """
    began = time.perf_counter()
    with _quiet():
        scorer(pipeline, X_imp, y_imp)
    per_repeat = max(time.perf_counter() - began, 1e-4) * X_imp.shape[1]
    remaining = deadline - time.perf_counter()
    if per_repeat > remaining and len(X_imp) > IMPORTANCE_MIN_ROWS:
        keep = max(IMPORTANCE_MIN_ROWS, int(len(X_imp) * max(remaining, 0.0) / per_repeat))
        pick = np.sort(np.random.default_rng(random_state).choice(len(X_imp), keep, replace=False))
        notes.append(
            f"Permutation importance used {keep:,} of {len(X_imp):,} sampled holdout rows to stay within the time budget."
        )
        per_repeat *= keep / len(X_imp)
        X_imp, y_imp = X_imp.iloc[pick], y_imp[pick]
    repeats = int(max(1, min(IMPORTANCE_MAX_REPEATS, remaining // per_repeat)))
    if repeats < IMPORTANCE_MAX_REPEATS:
        notes.append(f"Permutation importance used {repeats} repeat(s) to stay within the time budget.")
    report(
        0.92,
        f"computing permutation importance of {X_imp.shape[1]} columns on {len(X_imp):,} rows ({repeats} repeat(s))",
    )
    try:
        with _quiet():
            result = permutation_importance(
                pipeline, X_imp, y_imp, scoring=scorer, n_repeats=repeats, random_state=random_state
            )
    except (ValueError, ArithmeticError) as exc:
        notes.append(f"Permutation importance failed: {_short(str(exc))}")
        return [], len(X_imp)
    order = np.argsort(-result.importances_mean, kind="stable")[:TOP_FEATURES]
    return [
        FeatureImportance(
            feature=str(X_imp.columns[i]),
            importance=round(float(result.importances_mean[i]), 6),
            std=round(float(result.importances_std[i]), 6),
        )
        for i in order
    ], len(X_imp)


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
    """A Markdown model card: task, metric vs baseline, selection, rows, budget, leaderboard, caveats.

    Every user-provided string (target, column names, labels, dropped reasons) is escaped, so a
    hostile column name cannot inject links, HTML or table rows into the rendered report.
    """
    label = _METRIC_LABELS.get(result.metric, result.metric)
    rows, budget, selection = result.rows, result.budget, result.selection
    lines = [
        f"# Model card: {_md(result.target)}",
        "",
        f"- **Task:** {result.task}",
        f"- **Target:** {_md(result.target)}",
        f"- **Best model:** {_md(result.best_model)} {_md(_params_text(result.best_params), 200)}",
        f"- **Primary metric:** {label} — holdout {_cell_number(result.holdout.get(result.metric))} "
        f"vs baseline {_cell_number(result.baseline.get(result.metric))}",
        f"- **Selection:** {_md(selection.rule, 300)}; top CV mean {_md(selection.top_model)} "
        f"{_cell_number(selection.top_cv_score)} ± {_cell_number(selection.top_cv_se)} (SE), threshold "
        f"{_cell_number(selection.threshold)}, chosen {_md(selection.chosen_model)} "
        f"{_cell_number(selection.chosen_cv_score)}",
        f"- **Rows:** {result.rows_train:,} training, {result.rows_holdout:,} holdout",
        f"- **Time:** {budget.used_s:.1f} s of a {budget.allowed_s:g} s budget "
        f"(slack {budget.slack_s:g} s; {'within' if budget.within_budget else 'over'} budget)",
        "",
        "## Holdout metrics",
        "",
        "| Metric | Model | Baseline |",
        "| --- | ---: | ---: |",
    ]
    for name, value in result.holdout.items():
        lines.append(f"| {_md(name)} | {_cell_number(value)} | {_cell_number(result.baseline.get(name))} |")
    lines += ["", "## Rows used", "", "| Phase | Rows |", "| --- | ---: |"]
    for phase, count in (
        ("labelled (usable target)", rows.labelled),
        ("training split", rows.train),
        ("holdout split", rows.holdout),
        ("feature plan and leakage guard", rows.features),
        ("cross-validation search", rows.search),
        ("refit of the reported model", rows.refit),
        ("holdout metrics", rows.holdout_scored),
        ("permutation importance", rows.importance),
    ):
        lines.append(f"| {phase} | {count:,} |")
    if budget.phases:
        lines += ["", "## Time per phase", "", "| Phase | Seconds |", "| --- | ---: |"]
        lines += [f"| {_md(name)} | {seconds:.2f} |" for name, seconds in budget.phases.items()]
    lines += [
        "",
        "## Cross-validation leaderboard",
        "",
        f"| Model | Parameters | CV {label} | Std | SE | Within 1 SE | Fit s |",
        "| --- | --- | ---: | ---: | ---: | :---: | ---: |",
    ]
    for entry in result.cv_leaderboard[:15]:
        lines.append(
            f"| {_md(entry.model)} | {_md(_params_text(entry.params), 160)} | {_cell_number(entry.cv_score)} | "
            f"{_cell_number(entry.cv_std)} | {_cell_number(entry.cv_se)} | {'yes' if entry.within_one_se else ''} | "
            f"{entry.fit_seconds:.2f} |"
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
