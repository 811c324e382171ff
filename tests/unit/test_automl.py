"""Unit tests for the AutoML agent's logic: target resolution, feature plan, search, Autopilot.

Training runs use small budgets (a few seconds) and are shared through module-scoped fixtures
so the whole file stays well under a minute. The budget assertions are correctness bounds on
the budget logic (generous margins), not performance measurements.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import botocore.session
import numpy as np
import pandas as pd
import pytest
from botocore.validate import validate_parameters
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import RidgeCV
from sklearn.metrics import get_scorer

from analystack.errors import (
    InvalidInputError,
    TargetNotFoundError,
    UnknownColumnError,
    UnlearnableTargetError,
)
from functions.automl.autopilot import (
    CONTENT_TYPES,
    autopilot_job_request,
    sanitize_job_name,
    should_use_autopilot,
)
from functions.automl.features import build_features, build_preprocessor, make_pipeline, to_text_frame
from functions.automl.search import (
    LeaderboardEntry,
    TrainingLimits,
    TrainingResult,
    budget_slack_s,
    deserialize_model,
    model_card_markdown,
    sample_positions,
    select_one_se,
    serialize_model,
    train_model,
)
from functions.automl.target import infer_task, resolve_target

pytestmark = pytest.mark.unit

SALES_CSV = Path(__file__).resolve().parents[2] / "layers/core/analystack/samples/sales.csv"
JOB_NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$")
ROLE = "arn:aws:iam::123456789012:role/analystack-automl"


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sales() -> pd.DataFrame:
    return pd.read_csv(SALES_CSV)


def _regression_frame(rows: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a, b, c = rng.normal(size=rows), rng.normal(size=rows), rng.normal(size=rows)
    return pd.DataFrame(
        {
            "a": a,
            "b": b,
            "c": c,
            "shop": rng.choice(["north", "south", "east"], rows),
            "y": 2 * a - b + rng.normal(scale=0.3, size=rows),
        }
    )


def _classification_frame(rows: int = 600, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=rows), rng.normal(size=rows)
    signal = 1.5 * a - b + rng.normal(scale=0.5, size=rows)
    return pd.DataFrame(
        {
            "a": a,
            "b": b,
            "noise": rng.normal(size=rows),
            "plan": rng.choice(["basic", "pro"], rows),
            "outcome": np.where(signal > 0, "churned", "stayed"),
        }
    )


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[float, str]] = []

    def __call__(self, fraction: float, message: str) -> None:
        self.calls.append((fraction, message))


@pytest.fixture(scope="module")
def regression_run() -> tuple[TrainingResult, Any, _Recorder, pd.DataFrame]:
    frame = _regression_frame()
    recorder = _Recorder()
    result, pipeline = train_model(frame, target="y", task="regression", time_budget_s=4, progress=recorder)
    return result, pipeline, recorder, frame


@pytest.fixture(scope="module")
def classification_run() -> tuple[TrainingResult, Any, pd.DataFrame]:
    frame = _classification_frame()
    result, pipeline = train_model(frame, target="outcome", task="classification", time_budget_s=4)
    return result, pipeline, frame


@pytest.fixture(scope="module")
def sales_run(sales: pd.DataFrame) -> tuple[TrainingResult, Any, pd.DataFrame]:
    frame = sales.assign(revenue_copy=sales["revenue"] * 1.0)
    result, pipeline = train_model(frame, target="revenue", task="regression", time_budget_s=5)
    return result, pipeline, frame


def _json_roundtrip(result: TrainingResult) -> None:
    text = json.dumps(result.model_dump(), allow_nan=False)
    assert TrainingResult.model_validate(json.loads(text)) == result


# --------------------------------------------------------------------------------------------
# Target resolution and task inference
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "predict revenue",
        "Please predict the revenue for next quarter",
        "매출을 예측해줘",
        "revenue를 예측해줘",
        "지역별 매출 예측 모델을 만들어줘",
        "target: revenue",
        "use revenue as the target",
        "predict revenue from quantity and unit price",
    ],
)
def test_request_text_names_revenue(sales: pd.DataFrame, text: str) -> None:
    choice = resolve_target(sales, requested=None, request_text=text)
    assert choice.column == "revenue"
    assert choice.source == "request"
    assert "revenue" in choice.reason


def test_korean_synonym_is_explained(sales: pd.DataFrame) -> None:
    choice = resolve_target(sales, requested=None, request_text="매출을 예측해줘")
    assert "매출" in choice.reason
    assert "synonym" in choice.reason
    assert "revenue" in choice.candidates
    assert "order_id" not in choice.candidates


def test_other_synonyms_resolve_to_their_columns(sales: pd.DataFrame) -> None:
    assert resolve_target(sales, requested=None, request_text="수량을 예측").column == "quantity"
    assert resolve_target(sales, requested=None, request_text="가격을 예측해 주세요").column == "unit_price"


def test_plan_target_wins_and_is_matched_loosely(sales: pd.DataFrame) -> None:
    choice = resolve_target(sales, requested=" Revenue ", request_text="predict quantity")
    assert (choice.column, choice.source) == ("revenue", "plan")
    assert resolve_target(sales, requested="Unit Price").column == "unit_price"
    synonym = resolve_target(sales, requested="매출")
    assert (synonym.column, synonym.source) == ("revenue", "plan")


def test_misspelt_plan_target_suggests_columns(sales: pd.DataFrame) -> None:
    with pytest.raises(UnknownColumnError) as caught:
        resolve_target(sales, requested="revenu", request_text="predict revenue")
    assert "revenue" in caught.value.message
    assert caught.value.details["suggestions"] == "revenue"


def test_unknown_plan_target_falls_back_to_request_text_and_says_so(sales: pd.DataFrame) -> None:
    choice = resolve_target(sales, requested="turnip", request_text="predict revenue")
    assert (choice.column, choice.source) == ("revenue", "request")
    assert "turnip" in choice.reason
    with pytest.raises(UnknownColumnError):
        resolve_target(sales, requested="turnip", request_text="make a chart")


def test_heuristic_target_only_for_prediction_requests(sales: pd.DataFrame) -> None:
    choice = resolve_target(sales, requested=None, request_text="build a prediction model")
    assert (choice.column, choice.source) == ("revenue", "heuristic")
    assert "conventional target name" in choice.reason
    with pytest.raises(TargetNotFoundError) as caught:
        resolve_target(sales, requested=None, request_text="show me a summary of this data")
    assert "revenue" in caught.value.details["candidates"]


def test_vague_request_without_conventional_target_lists_candidates() -> None:
    frame = _regression_frame().rename(columns={"y": "score"})
    with pytest.raises(TargetNotFoundError) as caught:
        resolve_target(frame, requested=None, request_text="build a model for this")
    message = caught.value.message
    assert "Candidates:" in message
    for column in ("a", "b", "c", "shop", "score"):
        assert column in caught.value.details["candidates"]


def test_feature_mention_is_not_taken_as_target(sales: pd.DataFrame) -> None:
    frame = sales.drop(columns=["revenue"])
    with pytest.raises(TargetNotFoundError):
        resolve_target(frame, requested=None, request_text="build a model for each region")


def test_two_conventional_targets_are_ambiguous() -> None:
    frame = _regression_frame().rename(columns={"y": "price", "c": "label"})
    with pytest.raises(TargetNotFoundError):
        resolve_target(frame, requested=None, request_text="predict something")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("predict revenue", "regression"),
        ("매출을 예측해줘", "regression"),
        ("forecast revenue for next month", "forecast"),
        ("다음 달 매출을 예측해줘", "forecast"),
        ("미래 매출 예측", "forecast"),
    ],
)
def test_infer_task_regression_and_forecast(sales: pd.DataFrame, text: str, expected: str) -> None:
    assert infer_task(sales, "revenue", request_text=text) == expected


def test_infer_task_classification_cases(sales: pd.DataFrame) -> None:
    frame = _classification_frame()
    assert infer_task(frame, "outcome") == "classification"
    assert infer_task(frame.assign(flag=frame["a"] > 0), "flag") == "classification"
    assert infer_task(frame.assign(stars=np.arange(len(frame)) % 5 + 1), "stars") == "classification"
    assert infer_task(sales, "region") == "classification"
    # Without a date column, "forecast" does not make a forecast task.
    assert infer_task(_regression_frame(), "y", request_text="forecast y") == "regression"


# --------------------------------------------------------------------------------------------
# Feature plan and leakage guard
# --------------------------------------------------------------------------------------------


def test_sales_feature_plan_drops_ids_and_copies_but_keeps_predictors(sales: pd.DataFrame) -> None:
    frame = sales.assign(revenue_copy=sales["revenue"] * 1.0, revenue_log=np.log(sales["revenue"]))
    plan = build_features(frame, "revenue", "regression")
    assert "identifier" in plan.dropped["order_id"]
    assert plan.dropped["revenue_copy"].startswith("target leakage")
    assert plan.dropped["revenue_log"].startswith("target leakage")
    for kept in ("quantity", "unit_price", "discount", "region", "order_date"):
        assert kept in plan.feature_columns
    assert "quantity" in plan.numeric_columns
    assert "unit_price" in plan.numeric_text_columns  # "$93.46"-style values are parsed
    assert plan.date_columns == ["order_date"]
    assert "region" in plan.categorical_columns
    assert "revenue" not in plan.feature_columns


def test_leakage_guard_name_binning_and_one_to_one_rules() -> None:
    rng = np.random.default_rng(3)
    frame = _regression_frame().rename(columns={"y": "price"})
    frame["price_log"] = rng.normal(size=len(frame))  # derived by name, whatever its values
    frame["unit_price"] = frame["price"] + rng.normal(scale=2.0, size=len(frame))  # a real predictor
    frame["price_band"] = pd.cut(frame["price"], [-np.inf, -1, 1, np.inf]).astype(str)
    plan = build_features(frame, "price", "regression")
    assert "name marks a transform" in plan.dropped["price_log"]
    assert "non-overlapping ranges" in plan.dropped["price_band"]
    assert "unit_price" in plan.feature_columns

    labels = _classification_frame()
    labels["outcome_code"] = labels["outcome"].map({"churned": "C", "stayed": "S"})
    plan = build_features(labels, "outcome", "classification")
    assert "one-to-one" in plan.dropped["outcome_code"]
    assert set(plan.feature_columns) == {"a", "b", "noise", "plan"}


def test_feature_matrices_are_float32(sales: pd.DataFrame) -> None:
    plan = build_features(sales, "revenue", "regression")
    for scale in (False, True):
        matrix = build_preprocessor(plan, scale=scale).fit_transform(sales)
        assert matrix.dtype == np.float32
        assert np.isfinite(matrix).all()


def test_text_levels_are_the_same_from_string_and_object_columns() -> None:
    values = [" Home ", None, "Home", "Shop", np.nan]
    as_string = pd.DataFrame({"kind": pd.array(values, dtype="string")})
    as_object = pd.DataFrame({"kind": pd.Series(values, dtype=object)})
    expected = ["Home", "__missing__", "Home", "Shop", "__missing__"]
    assert to_text_frame(as_string)[:, 0].tolist() == expected
    assert to_text_frame(as_object)[:, 0].tolist() == expected


def test_pipeline_accepts_raw_tables_with_unseen_levels(sales: pd.DataFrame) -> None:
    plan = build_features(sales, "revenue", "forecast")
    pipeline = make_pipeline(plan, RidgeCV(), scale=True).fit(sales, sales["revenue"])
    fresh = sales.head(5).assign(region="Atlantis", order_date="2031-01-01", unit_price="$12.50")
    predictions = pipeline.predict(fresh)
    assert predictions.shape == (5,)
    assert np.isfinite(predictions).all()


# --------------------------------------------------------------------------------------------
# Search
# --------------------------------------------------------------------------------------------


def test_learnable_regression_beats_baseline(regression_run: Any) -> None:
    result, _, _recorder, frame = regression_run
    assert result.task == "regression"
    assert result.metric == "r2"
    assert result.holdout["r2"] > 0.8
    assert result.holdout["r2"] > result.baseline["r2"] + 0.5
    assert result.beats_baseline
    assert result.rows_holdout == round(len(frame) * 0.2)
    assert result.rows_train + result.rows_holdout == len(frame)
    models = {entry.model for entry in result.cv_leaderboard}
    assert {"Baseline", "Ridge", "HistGradientBoosting"} <= models
    scores = [entry.cv_score for entry in result.cv_leaderboard]
    assert scores == sorted(scores, reverse=True)
    assert result.feature_importance[0].feature == "a"
    assert {item.feature for item in result.feature_importance} <= set(frame.columns) - {"y"}
    assert 0 < len(result.sample_predictions) <= 50
    _json_roundtrip(result)


def test_progress_reports_are_concrete_and_monotone(regression_run: Any) -> None:
    _, _, recorder, _ = regression_run
    fractions = [fraction for fraction, _ in recorder.calls]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    messages = " | ".join(message for _, message in recorder.calls)
    assert re.search(r"fitted HistGradientBoosting \(cv R² -?\d\.\d{3}\)", messages)
    assert "best so far" in messages


def test_the_budget_is_recorded(regression_run: Any) -> None:
    # Wall-clock figures belong to bench/; here only the accounting is checked.
    result, *_ = regression_run
    assert result.time_budget_s == 4
    assert result.elapsed_s > 0


def test_a_spent_budget_stops_the_search_after_the_required_candidates() -> None:
    tiny, _ = train_model(_regression_frame(rows=300), target="y", task="regression", time_budget_s=0.01)
    required = {"Baseline", "Ridge", "HistGradientBoosting"}
    assert {entry.model for entry in tiny.cv_leaderboard} >= required
    roomy, _ = train_model(_regression_frame(rows=300), target="y", task="regression", time_budget_s=6)
    assert len(roomy.cv_leaderboard) > len(tiny.cv_leaderboard)


def _entry(model: str, family: str, score: float, se: float, **params: Any) -> LeaderboardEntry:
    return LeaderboardEntry(
        model=model,
        family=family,
        params=params,
        cv_score=score,
        cv_std=se * 5**0.5,
        cv_se=se,
        cv_folds=5,
        fit_seconds=0.1,
    )


def test_one_se_rule_picks_the_simpler_model_within_one_standard_error() -> None:
    board = [
        _entry("Baseline", "baseline", 0.5, 0.0),
        _entry("LogisticRegression", "linear", 0.990, 0.002, C=1.0),
        _entry("HistGradientBoosting", "hgb", 0.994, 0.003),  # top mean; threshold 0.991
        _entry("LogisticRegression", "linear", 0.9915, 0.004, C=0.1),
        _entry("RandomForest", "forest", 0.9935, 0.002),
    ]
    chosen, selection = select_one_se(board)
    # Within one SE (>= 0.991): the C=0.1 logistic regression, the HGB and the forest; C=1 is not.
    assert (board[chosen].model, board[chosen].params) == ("LogisticRegression", {"C": 0.1})
    assert (selection.top_model, selection.top_cv_score, selection.top_cv_se) == (
        "HistGradientBoosting",
        0.994,
        0.003,
    )
    assert selection.threshold == pytest.approx(0.991)
    assert selection.chosen_model == "LogisticRegression"
    assert "one standard error" in selection.rule


def test_one_se_rule_keeps_a_flexible_model_that_wins_by_more_than_one_se() -> None:
    board = [
        _entry("Baseline", "baseline", 0.0, 0.0),
        _entry("Ridge", "linear", 0.80, 0.01),
        _entry("HistGradientBoosting", "hgb", 0.85, 0.01),
        _entry("RandomForest", "forest", 0.845, 0.02),
    ]
    chosen, selection = select_one_se(board)
    # Threshold 0.84: Ridge is out; HGB and the forest rank alike, so the higher mean wins.
    assert board[chosen].model == "HistGradientBoosting"
    assert selection.chosen_model == selection.top_model
    with pytest.raises(ValueError, match="no candidate"):
        select_one_se(board[:1])  # the baseline alone is no model


def test_stratified_sample_keeps_the_class_balance() -> None:
    rng = np.random.default_rng(4)
    y = rng.permutation(
        np.repeat(np.array(["a", "b", "c", "rare"], dtype=object), [70_000, 25_000, 4_990, 10])
    )
    picked = sample_positions(y, 2_000, "classification", random_state=0)
    assert len(np.unique(picked)) == len(picked)
    assert np.all(np.diff(picked) > 0)
    counts = pd.Series(y[picked]).value_counts()
    assert counts["a"] == 1_400
    assert counts["b"] == 500
    assert counts["c"] in (99, 100)  # 99.8 rows by share
    assert counts["rare"] == 5  # its share rounds to 0; every class keeps MIN_CLASS_ROWS
    np.testing.assert_array_equal(picked, sample_positions(y, 2_000, "classification", random_state=0))
    np.testing.assert_array_equal(sample_positions(y, 10**6, "classification", 0), np.arange(len(y)))


def test_forecast_samples_are_the_latest_rows_and_regression_samples_are_uniform() -> None:
    np.testing.assert_array_equal(sample_positions(np.arange(100.0), 10, "forecast", 0), np.arange(90, 100))
    picked = sample_positions(np.arange(10_000.0), 1_000, "regression", 0)
    assert len(np.unique(picked)) == 1_000
    assert 0.4 < picked.mean() / 10_000 < 0.6


@pytest.fixture(scope="module")
def bounded_run() -> tuple[TrainingResult, pd.DataFrame, TrainingLimits]:
    frame = _classification_frame(rows=3_000, seed=9)
    limits = TrainingLimits(
        search_max_rows=600, refit_max_rows=1_200, holdout_max_rows=300, importance_max_rows=200
    )
    result, _ = train_model(frame, target="outcome", task="classification", time_budget_s=6, limits=limits)
    return result, frame, limits


def test_large_table_phases_use_bounded_rows_and_say_so(bounded_run: Any) -> None:
    result, _frame, limits = bounded_run
    rows = result.rows
    assert (rows.labelled, rows.train, rows.holdout) == (3_000, 2_400, 600)
    assert rows.features == 3_000
    assert rows.search == limits.search_max_rows
    assert limits.search_max_rows <= rows.refit <= limits.refit_max_rows  # by time, at least the search's
    assert rows.holdout_scored == limits.holdout_max_rows
    assert rows.importance <= limits.importance_max_rows
    assert (result.rows_train, result.rows_holdout) == (rows.refit, rows.holdout_scored)
    assert result.holdout["roc_auc"] > result.baseline["roc_auc"] + 0.2
    notes = " ".join(result.notes)
    assert "Cross-validated on 600 of 2,400 training rows (stratified random sample" in notes
    assert f"Refitted {result.best_model} on {rows.refit:,} of 2,400" in notes
    assert "300 of 600 holdout rows" in notes
    card = model_card_markdown(result)
    assert "## Rows used" in card
    assert "| cross-validation search | 600 |" in card
    assert f"| refit of the reported model | {rows.refit:,} |" in card
    _json_roundtrip(result)


def test_linear_models_refit_on_bounded_rows_per_column() -> None:
    rng = np.random.default_rng(5)
    n = 30_000
    frame = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n)})
    frame["y"] = 3.0 * frame["x1"] - 2.0 * frame["x2"] + rng.normal(0.0, 0.5, n)
    limits = TrainingLimits(search_max_rows=500)
    result, _ = train_model(frame, target="y", task="regression", time_budget_s=6, limits=limits)
    assert result.best_model == "Ridge"
    assert limits.search_max_rows <= result.rows.refit < result.rows.train
    assert "linear models refit on at most 500 rows per encoded column" in " ".join(result.notes)
    assert result.holdout["r2"] > 0.95


def test_the_report_states_budget_selection_and_standard_errors(bounded_run: Any) -> None:
    result, *_ = bounded_run
    budget = result.budget
    assert budget.allowed_s == 6
    assert budget.slack_s == budget_slack_s(6) == 1.0
    assert set(budget.phases) == {"target_and_features", "search", "refit", "holdout", "importance"}
    assert budget.within_budget is (budget.used_s <= budget.allowed_s + budget.slack_s)
    assert result.selection.chosen_model == result.best_model
    assert result.selection.chosen_params == result.best_params
    models = [e for e in result.cv_leaderboard if e.family != "baseline"]
    assert all(e.cv_folds == 5 for e in result.cv_leaderboard)
    for entry in models:
        assert entry.cv_se == pytest.approx(entry.cv_std / 5**0.5, abs=2e-6)
        assert entry.within_one_se is (entry.cv_score >= result.selection.threshold)
    card = model_card_markdown(result)
    assert "one standard error" in card
    assert "| SE |" in card
    assert "budget" in card


def test_learnable_classification_beats_baseline(classification_run: Any) -> None:
    result, pipeline, frame = classification_run
    assert result.metric == "roc_auc"
    assert result.holdout["roc_auc"] > result.baseline["roc_auc"] + 0.2
    assert result.baseline["roc_auc"] == pytest.approx(0.5)
    assert {"accuracy", "balanced_accuracy", "f1_macro"} <= set(result.holdout)
    assert result.classes == ["churned", "stayed"]
    assert {s.predicted for s in result.sample_predictions} <= {"churned", "stayed"}
    top_two = {item.feature for item in result.feature_importance[:2]}
    assert top_two == {"a", "b"}
    assert set(pipeline.predict(frame.head(10))) <= {"churned", "stayed"}
    _json_roundtrip(result)


def test_noise_target_is_refused_with_numbers() -> None:
    rng = np.random.default_rng(5)
    frame = _regression_frame(rows=500).assign(y=rng.normal(size=500))
    with pytest.raises(UnlearnableTargetError) as caught:
        train_model(frame, target="y", task="regression", time_budget_s=3)
    message = caught.value.message
    assert "R²" in message
    assert "0.02" in message
    assert re.search(r"R² of -?\d\.\d{3} against -?\d\.\d{3}", message)
    assert set(caught.value.details) >= {"holdout", "baseline", "required", "model"}


def test_noise_classification_is_refused() -> None:
    rng = np.random.default_rng(11)
    frame = _classification_frame(rows=400).assign(outcome=rng.choice(["p", "q"], 400))
    with pytest.raises(UnlearnableTargetError, match="ROC AUC"):
        train_model(frame, target="outcome", task="classification", time_budget_s=2)


@pytest.mark.parametrize(
    ("values", "task", "pattern"),
    [
        (7.0, "regression", "constant"),
        ("same", "classification", "constant"),
        (np.nan, "regression", "all .* missing"),
    ],
)
def test_constant_or_missing_target_is_refused_before_training(values: Any, task: str, pattern: str) -> None:
    frame = _regression_frame(rows=100).assign(y=values)
    with pytest.raises(UnlearnableTargetError, match=pattern):
        train_model(frame, target="y", task=task, time_budget_s=3)  # type: ignore[arg-type]


def test_bad_arguments_are_typed_errors() -> None:
    frame = _regression_frame(rows=100)
    with pytest.raises(UnknownColumnError):
        train_model(frame, target="nope", task="regression")
    with pytest.raises(InvalidInputError):
        train_model(frame, target="y", task="regression", time_budget_s=0)
    with pytest.raises(InvalidInputError, match="at least"):
        train_model(frame.head(10), target="y", task="regression")


def test_sales_revenue_is_learnt_without_the_leaked_copy(sales_run: Any) -> None:
    result, _pipeline, _frame = sales_run
    assert result.holdout["r2"] > 0.8
    assert result.features["dropped"]["revenue_copy"].startswith("target leakage")
    assert "identifier" in result.features["dropped"]["order_id"]
    features = {item.feature for item in result.feature_importance}
    assert "quantity" in features
    assert features <= set(result.features["feature_columns"])  # original column names
    assert any("leak" in note for note in result.notes)
    _json_roundtrip(result)


def test_model_serialisation_round_trips(sales_run: Any) -> None:
    _, pipeline, frame = sales_run
    blob = serialize_model(pipeline)
    assert isinstance(blob, bytes)
    assert len(blob) > 100
    restored = deserialize_model(blob)
    sample = frame.sample(20, random_state=0)
    np.testing.assert_allclose(restored.predict(sample), pipeline.predict(sample))


def test_forecast_holds_out_the_latest_rows() -> None:
    rows = 400
    rng = np.random.default_rng(2)
    days = np.arange(rows)
    frame = pd.DataFrame(
        {
            "day": pd.date_range("2023-01-01", periods=rows, freq="D").strftime("%Y-%m-%d"),
            "promo": rng.integers(0, 2, rows),
            "sales": 100 + 0.5 * days + 15 * rng.integers(0, 2, rows) + rng.normal(size=rows),
        }
    ).sample(frac=1.0, random_state=0)  # shuffled: the split must sort by date itself
    task = infer_task(frame, "sales", request_text="forecast sales for the next month")
    assert task == "forecast"
    result, _ = train_model(frame, target="sales", task=task, time_budget_s=3)
    assert result.task == "forecast"
    assert result.features["time_column"] == "day"
    assert result.rows_holdout == 80
    assert result.holdout["r2"] > 0.02
    assert any("lag" in note for note in result.notes)


def test_model_card_escapes_user_strings(regression_run: Any) -> None:
    result, *_ = regression_run
    hostile = result.model_copy(
        update={
            "target": "y|<script>alert(1)</script>",
            "features": {**result.features, "dropped": {"[click](http://evil)": "identifier | *bold*"}},
        }
    )
    card = model_card_markdown(hostile)
    assert "<script>" not in card
    assert "&lt;script&gt;" in card
    assert "y\\|" in card
    assert "\\[click\\]" in card
    assert "\\*bold\\*" in card
    assert f"**Best model:** {result.best_model}" in card
    assert "Caveats" in card
    assert "Top features" in card


# --------------------------------------------------------------------------------------------
# SageMaker Autopilot request
# --------------------------------------------------------------------------------------------


def _input_shape() -> Any:
    model = botocore.session.get_session().get_service_model("sagemaker")
    return model.operation_model("CreateAutoMLJobV2").input_shape


def _check_constraints(value: Any, shape: Any, path: str = "") -> None:
    """Enums, patterns and lengths, which ``validate_parameters`` does not check."""
    kind = shape.type_name
    if kind == "structure":
        for name, item in value.items():
            assert name in shape.members, f"{path}.{name} is not in the model"
            _check_constraints(item, shape.members[name], f"{path}.{name}")
    elif kind == "list":
        for index, item in enumerate(value):
            _check_constraints(item, shape.member, f"{path}[{index}]")
    elif kind == "string":
        meta = shape.metadata
        if "enum" in meta:
            assert value in meta["enum"], f"{path}={value!r} not in {meta['enum']}"
        if "pattern" in meta and "\\p" not in meta["pattern"]:
            assert re.fullmatch(meta["pattern"], value), f"{path}={value!r} !~ {meta['pattern']}"
        assert meta.get("min", 0) <= len(value) <= meta.get("max", 10**9), path
    elif kind in ("integer", "long"):
        assert shape.metadata.get("min", -(10**18)) <= value <= shape.metadata.get("max", 10**18), path


def _validate(request: dict[str, Any]) -> None:
    shape = _input_shape()
    validate_parameters(request, shape)  # raises ParamValidationError
    _check_constraints(request, shape)


def _request(**overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "job_name": "job_01HZX4 revenue/forecast!",
        "s3_input_uri": "s3://analystack-hub/datasets/abc/train.csv",
        "s3_output_uri": "s3://analystack-hub/automl/abc/",
        "target": "revenue",
        "task": "regression",
        "role_arn": ROLE,
        "max_runtime_s": 3600,
    }
    arguments.update(overrides)
    return autopilot_job_request(**arguments)


def test_autopilot_regression_request_validates() -> None:
    request = _request()
    _validate(request)
    tabular = request["AutoMLProblemTypeConfig"]["TabularJobConfig"]
    assert tabular == {
        "TargetAttributeName": "revenue",
        "ProblemType": "Regression",
        "CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": 3600},
    }
    channel = request["AutoMLJobInputDataConfig"][0]
    assert channel["ChannelType"] == "training"
    assert channel["CompressionType"] == "None"
    assert channel["ContentType"] == CONTENT_TYPES["csv"]
    assert JOB_NAME_RE.match(request["AutoMLJobName"])
    assert request["AutoMLJobObjective"] == {"MetricName": "R2"}


@pytest.mark.parametrize(
    ("problem", "expected"), [("binary", "BinaryClassification"), ("multiclass", "MulticlassClassification")]
)
def test_autopilot_classification_request_validates(problem: str, expected: str) -> None:
    request = _request(
        task="classification",
        problem_type=problem,
        s3_input_uri="s3://analystack-hub/datasets/abc/train.parquet",
    )
    _validate(request)
    assert request["AutoMLProblemTypeConfig"]["TabularJobConfig"]["ProblemType"] == expected
    assert request["AutoMLJobInputDataConfig"][0]["ContentType"] == "x-application/vnd.amazon+parquet"


def test_autopilot_classification_without_problem_type_lets_autopilot_infer() -> None:
    request = _request(task="classification")
    _validate(request)
    assert "ProblemType" not in request["AutoMLProblemTypeConfig"]["TabularJobConfig"]
    assert "AutoMLJobObjective" not in request


def test_autopilot_forecast_request_validates() -> None:
    request = _request(
        task="forecast",
        timestamp_column="order_date",
        item_id_column="region",
        forecast_frequency="1M",
        forecast_horizon=3,
        max_runtime_s=1800.5,
    )
    _validate(request)
    config = request["AutoMLProblemTypeConfig"]["TimeSeriesForecastingJobConfig"]
    assert config["ForecastFrequency"] == "1M"
    assert config["ForecastHorizon"] == 3
    assert config["TimeSeriesConfig"] == {
        "TargetAttributeName": "revenue",
        "TimestampAttributeName": "order_date",
        "ItemIdentifierAttributeName": "region",
    }
    assert config["CompletionCriteria"] == {"MaxAutoMLJobRuntimeInSeconds": 1801}


@pytest.mark.parametrize(
    "overrides",
    [
        {"role_arn": "not-an-arn"},
        {"s3_input_uri": "/tmp/data.csv"},
        {"max_runtime_s": 0},
        {"task": "regression", "problem_type": "binary"},
        {"task": "forecast", "timestamp_column": "order_date"},  # no item id column
        {"task": "forecast", "timestamp_column": "d", "item_id_column": "i", "forecast_frequency": "daily"},
    ],
)
def test_autopilot_rejects_bad_arguments(overrides: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError):
        _request(**overrides)


@pytest.mark.parametrize(
    "name",
    ["analystack-job-1", "job_01HZX4 revenue/forecast!", "-" * 5, "x" * 80, "한글-작업-이름", "a--b"],
)
def test_job_names_are_sanitised(name: str) -> None:
    sanitised = sanitize_job_name(name)
    assert JOB_NAME_RE.match(sanitised), sanitised


def test_long_job_names_stay_distinct() -> None:
    prefix = "analystack-automl-job-for-tenant-"
    assert sanitize_job_name(prefix + "aaaa") != sanitize_job_name(prefix + "bbbb")


@pytest.mark.parametrize(
    ("rows", "columns", "enabled", "expected"),
    [
        (2_000_000, 10, True, True),
        (2_000_000, 10, False, False),
        (10_000, 10, True, False),
        (999_999, 10, True, False),
        (200_000, 300, True, True),  # wide: 60M cells
    ],
)
def test_should_use_autopilot(rows: int, columns: int, enabled: bool, expected: bool) -> None:
    assert should_use_autopilot(rows, columns, enabled=enabled) is expected


def test_should_use_autopilot_threshold_is_configurable() -> None:
    check: Callable[..., bool] = should_use_autopilot
    assert check(5_000, 5, enabled=True, row_threshold=5_000)


class _SlowRegressor(RegressorMixin, BaseEstimator):
    """Fits in a fixed time and predicts the mean; counts its fits across clones."""

    fits: ClassVar[list[float]] = []

    def __init__(self, seconds: float = 0.2) -> None:
        self.seconds = seconds

    def fit(self, X: np.ndarray, y: np.ndarray) -> _SlowRegressor:
        time.sleep(self.seconds)
        _SlowRegressor.fits.append(self.seconds)
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.full(len(X), self.mean_)


def test_a_candidate_whose_folds_would_overrun_stops_after_one_fold() -> None:
    from functions.automl import search

    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"x": rng.normal(size=200), "y": rng.normal(size=200)})
    plan = build_features(frame, "y", "regression")
    folds = [(np.setdiff1d(np.arange(200), part), part) for part in np.array_split(np.arange(200), 5)]
    cache = search._FoldCache(plan, frame[plan.feature_columns], folds)
    candidate = search._Candidate("Slow", "forest", {}, _SlowRegressor(0.5), scale=False)
    seen: list[int] = []

    def cross_validate(abandon_at: float | None) -> Any:
        return search._cross_validate(
            candidate,
            cache,
            frame["y"].to_numpy(),
            folds,
            get_scorer("r2"),
            abandon_at,
            on_fold=lambda done, scores: seen.append(done),
        )

    _SlowRegressor.fits.clear()
    # Five folds of 0.5 s cannot end within 1 s: the first fold says so.
    outcome = cross_validate(time.perf_counter() + 1.0)
    assert isinstance(outcome, search._Abandoned)
    assert len(_SlowRegressor.fits) == 1
    assert outcome.projected_s == pytest.approx(2.5, abs=0.5)
    assert seen == []
    # With time for all five, every fold runs, and these slow ones report (all but the last).
    finished = cross_validate(None)
    assert isinstance(finished, search._Scored)
    assert seen == [1, 2, 3, 4]
