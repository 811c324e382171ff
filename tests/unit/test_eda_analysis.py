"""Known-answer tests for the EDA agent's analysis and Markdown rendering.

Each fixture plants a relationship whose size is known in advance (a linear relation, group
means, copied or independent categories, a trend with a 12-month cycle) and checks that the
statistics recover it, and that nothing is found where nothing was planted.
"""

import json
import math
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from analystack.errors import EmptyDataError, InvalidInputError, UnknownColumnError
from functions.eda.analysis import (
    MAX_INSIGHTS,
    EdaReport,
    HypothesisTest,
    explore,
    holm_adjust,
    strength_label,
)
from functions.eda.report import render_markdown
from functions.eda.skills import relay_progress

pytestmark = pytest.mark.unit


def _tests_for(report: EdaReport, *columns: str) -> list[HypothesisTest]:
    return [t for t in report.tests if t.columns[: len(columns)] == list(columns)]


def _pairs(report: EdaReport) -> list[frozenset[str]]:
    return [frozenset(i.columns) for i in report.insights]


def _json_roundtrip(report: EdaReport) -> EdaReport:
    text = json.dumps(report.model_dump(mode="json"), allow_nan=False)
    return EdaReport.model_validate(json.loads(text))


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sales() -> pd.DataFrame:
    path = resources.files("analystack") / "samples" / "sales.csv"
    with resources.as_file(path) as csv:
        return pd.read_csv(csv)  # dates and the "$12.50" prices stay text: typing must cope


@pytest.fixture(scope="module")
def sales_report(sales: pd.DataFrame) -> EdaReport:
    return explore(sales, target="revenue")


def _linear_frame(n: int = 500) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    x = rng.normal(0.0, 1.0, n)
    return pd.DataFrame(
        {
            "x": x,
            "y": 3.0 * x + rng.normal(0.0, 1.0, n),  # r = 3 / sqrt(10) ≈ 0.95
            "noise_a": rng.normal(0.0, 1.0, n),
            "noise_b": rng.uniform(0.0, 1.0, n),
        }
    )


def _group_frame(n: int = 800) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    regions = np.array(["north", "south", "east", "west"])
    means = {"north": 10.0, "south": 12.0, "east": 14.0, "west": 16.0}
    region = regions[np.arange(n) % 4]
    value = np.array([means[r] for r in region]) + rng.normal(0.0, 4.0, n)
    return pd.DataFrame(
        {
            "region": region,
            "value": value,
            "shuffled": rng.choice(["a", "b", "c"], n),  # independent of value
        }
    )


def _monthly_frame(years: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    months = pd.date_range("2019-01-01", periods=12 * years, freq="MS")
    t = np.arange(len(months))
    seasonal = 20.0 * np.sin(2 * np.pi * (months.month.to_numpy() - 1) / 12)
    return pd.DataFrame({"month": months, "sales": 100.0 + 2.0 * t + seasonal + rng.normal(0.0, 3.0, len(t))})


# --------------------------------------------------------------------------------------------
# Helpers with known answers
# --------------------------------------------------------------------------------------------


def test_holm_adjust_matches_hand_computation() -> None:
    # Sorted 0.01, 0.02, 0.04 -> 3*0.01, max(0.03, 2*0.02), max(0.04, 1*0.04); None is skipped.
    assert holm_adjust([0.04, None, 0.01, 0.02]) == pytest.approx([0.04, None, 0.03, 0.04])
    assert holm_adjust([0.9, 0.8]) == [1.0, 1.0]
    assert holm_adjust([]) == []


@pytest.mark.parametrize(
    ("value", "label"),
    [(0.1, "weak"), (-0.35, "moderate"), (0.55, "strong"), (-0.9, "very strong"), (0.7, "very strong")],
)
def test_strength_labels(value: float, label: str) -> None:
    assert strength_label(value) == label


# --------------------------------------------------------------------------------------------
# Correlations
# --------------------------------------------------------------------------------------------


def test_planted_linear_relation_is_the_top_numeric_correlation() -> None:
    report = explore(_linear_frame())
    numeric = [c for c in report.correlations if c.method in {"pearson", "spearman"}]
    top = numeric[0]
    assert {top.col_a, top.col_b} == {"x", "y"}
    spearman = next(c for c in numeric if c.method == "spearman" and {c.col_a, c.col_b} == {"x", "y"})
    assert spearman.value > 0.9
    assert spearman.p_value is not None
    assert spearman.p_value < 1e-10
    assert spearman.strength == "very strong"
    # Noise pairs stay weak and the list is sorted by |value|.
    noise = [c for c in numeric if {c.col_a, c.col_b} == {"noise_a", "noise_b"}]
    assert all(abs(c.value) < 0.2 for c in noise)
    values = [abs(c.value) for c in report.correlations]
    assert values == sorted(values, reverse=True)
    # The headline insight names the relation with its numbers.
    first = report.insights[0]
    assert first.kind == "strong_correlation"
    assert set(first.columns) == {"x", "y"}
    assert "rises with" in first.title
    assert "p < 0.001" in first.title
    assert first.value is not None
    assert first.value > 0.9
    # The heatmap matrix is square, symmetric, with ones on the diagonal.
    matrix = report.numeric_matrix
    assert matrix.columns == ["x", "y", "noise_a", "noise_b"]
    pearson = np.array(matrix.pearson, dtype=float)
    assert pearson.shape == (4, 4)
    assert np.allclose(pearson, pearson.T)
    assert np.allclose(np.diag(pearson), 1.0)
    assert pearson[0, 1] == pytest.approx(np.corrcoef(_linear_frame(), rowvar=False)[0, 1])


def test_pairwise_deletion_matches_pandas_with_missing_values() -> None:
    frame = _linear_frame(300)
    frame.loc[::7, "x"] = np.nan
    frame.loc[::5, "y"] = np.nan
    report = explore(frame)
    pearson = next(
        c for c in report.correlations if c.method == "pearson" and {c.col_a, c.col_b} == {"x", "y"}
    )
    spearman = next(
        c for c in report.correlations if c.method == "spearman" and {c.col_a, c.col_b} == {"x", "y"}
    )
    both = frame[["x", "y"]].dropna()
    assert pearson.n == len(both)
    assert pearson.value == pytest.approx(both["x"].corr(both["y"]), abs=1e-9)
    # Ranks are taken per column (not re-ranked per pair): close to, not equal to, pandas.
    assert spearman.value == pytest.approx(both["x"].corr(both["y"], method="spearman"), abs=0.01)


def test_cramers_v_is_one_for_copies_and_near_zero_for_independent_columns() -> None:
    rng = np.random.default_rng(2)
    n = 2000
    colour = rng.choice(["red", "green", "blue", "black"], n)
    frame = pd.DataFrame(
        {
            "colour": colour,
            "colour_copy": colour,
            "size": rng.choice(["S", "M", "L"], n),
        }
    )
    report = explore(frame)
    by_pair = {frozenset((c.col_a, c.col_b)): c for c in report.correlations if c.method == "cramers_v"}
    assert by_pair[frozenset(("colour", "colour_copy"))].value == pytest.approx(1.0, abs=1e-9)
    independent = by_pair[frozenset(("colour", "size"))]
    assert independent.value < 0.05
    assert independent.strength == "weak"
    # The copy is reported once as redundant, never as an "association" finding.
    kinds = [(i.kind, frozenset(i.columns)) for i in report.insights]
    assert kinds.count(("redundant_columns", frozenset(("colour", "colour_copy")))) == 1
    assert not any(kind == "association" for kind, _ in kinds)


def test_deterministic_numeric_copy_reported_once_as_redundant() -> None:
    frame = _linear_frame()
    frame["x_in_cents"] = frame["x"] * 100.0
    report = explore(frame)
    redundant = [i for i in report.insights if i.kind == "redundant_columns"]
    assert len(redundant) == 1
    assert set(redundant[0].columns) == {"x", "x_in_cents"}
    # y vs x and y vs x_in_cents are still real findings; x vs its copy is not one.
    correlation_pairs = [frozenset(i.columns) for i in report.insights if "correlation" in i.kind]
    assert frozenset(("x", "x_in_cents")) not in correlation_pairs
    assert all(len(p) == 2 for p in _pairs(report) if p)  # never a column with itself


def test_nested_categories_are_a_hierarchy_not_an_association() -> None:
    rng = np.random.default_rng(8)
    product = rng.choice(["apple", "pear", "kale", "leek", "milk", "brie"], 1200)
    category = pd.Series(product).map(
        {"apple": "fruit", "pear": "fruit", "kale": "veg", "leek": "veg", "milk": "dairy", "brie": "dairy"}
    )
    report = explore(pd.DataFrame({"product": product, "category": category}))
    assert [i.kind for i in report.insights] == ["hierarchy"]
    assert report.insights[0].columns == ["product", "category"]


# --------------------------------------------------------------------------------------------
# Hypothesis tests
# --------------------------------------------------------------------------------------------


def test_planted_group_difference_is_significant_and_null_column_is_not() -> None:
    report = explore(_group_frame(), target="value")
    anova = next(t for t in _tests_for(report, "value", "region") if t.test == "anova")
    # Between-group variance 5 (means 10, 12, 14, 16), within 16: η² ≈ 5 / 21 ≈ 0.24.
    assert anova.significant
    assert anova.effect_size_name == "eta_squared"
    assert anova.effect_size is not None
    assert 0.15 < anova.effect_size < 0.33
    assert anova.p_value_adjusted is not None
    assert anova.p_value_adjusted < 1e-10
    assert anova.df == "3, 796"
    assert "region" in anova.conclusion
    assert "η²" in anova.conclusion
    assert "west" in anova.conclusion
    assert {g.group for g in anova.groups} == {"north", "south", "east", "west"}
    kruskal = next(t for t in _tests_for(report, "value", "region") if t.test == "kruskal_wallis")
    assert kruskal.significant
    for null in _tests_for(report, "value", "shuffled"):
        assert not null.significant
        assert null.p_value is not None
        assert null.p_value_adjusted is not None
        assert null.p_value_adjusted >= null.p_value
        assert "does not differ significantly" in null.conclusion
    assert any(
        i.kind == "group_difference" and set(i.columns) == {"value", "region"} for i in report.insights
    )
    assert not any("shuffled" in i.columns for i in report.insights)


def test_two_groups_use_welch_t_with_cohens_d() -> None:
    rng = np.random.default_rng(9)
    n = 400
    treated = np.arange(n) % 2 == 0
    frame = pd.DataFrame(
        {
            "arm": np.where(treated, "treatment", "control"),
            "score": np.where(treated, 1.0, 0.0) + rng.normal(0.0, 1.0, n),
        }
    )
    report = explore(frame, target="score")
    (test,) = report.tests
    assert test.test == "welch_t"
    assert test.effect_size_name == "cohens_d"
    assert test.effect_size is not None
    assert 0.7 < test.effect_size < 1.3  # planted d = 1
    assert test.significant
    assert test.conclusion.startswith("Mean score is higher for treatment")


def test_categorical_target_gets_chi_square_and_group_tests() -> None:
    rng = np.random.default_rng(4)
    n = 1500
    plan = rng.choice(["basic", "pro"], n)
    churn_probability = np.where(plan == "basic", 0.4, 0.1)
    frame = pd.DataFrame(
        {
            "churned": np.where(rng.random(n) < churn_probability, "yes", "no"),
            "plan": plan,
            "tenure": rng.normal(24.0, 6.0, n),
        }
    )
    report = explore(frame, target="churned")
    chi = next(t for t in report.tests if t.test == "chi_square")
    assert chi.columns == ["churned", "plan"]
    assert chi.significant
    assert chi.effect_size_name == "cramers_v"
    assert chi.effect_size is not None
    assert 0.2 < chi.effect_size < 0.5
    tenure = next(t for t in report.tests if t.columns == ["tenure", "churned"])
    assert tenure.test == "welch_t"
    assert not tenure.significant


def test_group_argument_tests_every_numeric_and_request_can_name_it() -> None:
    frame = _group_frame()
    frame["other"] = np.random.default_rng(1).normal(size=len(frame))
    report = explore(frame, group="region")
    assert {tuple(t.columns) for t in report.tests} == {("value", "region"), ("other", "region")}
    inferred = explore(frame, request="Compare value by region please")
    assert inferred.target == "value"
    assert inferred.group == "region"
    assert any("inferred from the request" in note for note in inferred.notes)


# --------------------------------------------------------------------------------------------
# Time series
# --------------------------------------------------------------------------------------------


def test_monthly_trend_and_seasonality_are_recovered() -> None:
    report = explore(_monthly_frame())
    ts = report.time_series
    assert ts is not None
    assert (ts.date_column, ts.value_column, ts.freq, ts.aggregation) == ("month", "sales", "month", "sum")
    assert ts.periods == 48
    assert ts.trend_direction == "up"
    assert ts.trend_slope_per_period == pytest.approx(2.0, abs=0.3)
    assert ts.seasonal_period == 12
    assert ts.seasonality_strength is not None
    assert ts.seasonality_strength > 0.5
    assert ts.seasonal_peak in {"March", "April", "May"}  # sin peaks in April (month 4)
    assert len(ts.period_over_period) == 12
    assert ts.period_over_period[-1].change_pct == pytest.approx(ts.last_period_change_pct)
    assert len(ts.series) == 48
    assert ts.series[0].period == "2019-01"
    kinds = {i.kind for i in report.insights}
    assert {"trend", "seasonality"} <= kinds


def test_short_series_has_no_seasonality_and_random_series_is_flat() -> None:
    rng = np.random.default_rng(6)
    days = pd.date_range("2024-01-01", periods=60, freq="D")
    frame = pd.DataFrame({"day": days, "amount": rng.normal(50.0, 5.0, 60)})
    ts = explore(frame).time_series
    assert ts is not None
    assert ts.freq == "day"
    assert ts.seasonal_period == 7  # 60 days = 8 weekly cycles
    assert ts.seasonality_strength is not None
    assert ts.seasonality_strength < 0.3
    assert ts.trend_direction == "flat"
    short = explore(frame.head(10)).time_series
    assert short is not None
    assert short.seasonality_strength is None
    assert short.seasonal_period is None


# --------------------------------------------------------------------------------------------
# Typing, errors, caps
# --------------------------------------------------------------------------------------------


def test_identifier_columns_are_excluded_with_a_reason() -> None:
    n = 200
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "Unnamed: 0": np.arange(n),
            "customer_id": rng.integers(1000, 9999, n),
            "uuid": [f"c-{i:05d}-{i * 7919 % 1000:03d}" for i in range(n)],
            "orderId": np.arange(n) + 500,
            "amount": rng.gamma(2.0, 10.0, n),
            "segment": rng.choice(["a", "b"], n),
        }
    )
    report = explore(frame)
    reasons = {e.column: e.reason for e in report.excluded_columns}
    assert set(reasons) == {"Unnamed: 0", "customer_id", "uuid", "orderId"}
    assert all(reason.startswith("identifier-like") for reason in reasons.values())
    assert report.columns_analysed == ["amount", "segment"]


def test_column_typing_rules() -> None:
    n = 400
    rng = np.random.default_rng(12)
    frame = pd.DataFrame(
        {
            "price_text": [f"${v:,.2f}" for v in rng.uniform(5, 5000, n)],
            "when": pd.Series(pd.date_range("2024-01-01", periods=n, freq="D")).dt.strftime("%d/%m/%Y"),
            "month_name": rng.choice(["Jan", "Feb", "Mar"], n),
            "rating": rng.integers(1, 6, n),  # 5 distinct ints, 1.25 % of rows: ordinal
            "visits": rng.integers(0, 300, n),  # many distinct ints: numeric
            "flag": rng.random(n) < 0.5,
            "constant": 7,
            "empty": np.nan,
            "comment": [f"free text number {i}" for i in rng.integers(0, 150, n)],
        }
    )
    report = explore(frame)
    assert report.numeric_columns == ["price_text", "visits"]
    assert report.categorical_columns == ["month_name", "rating", "flag"]
    assert report.datetime_columns == ["when"]
    reasons = {e.column: e.reason for e in report.excluded_columns}
    assert reasons["constant"].startswith("constant")
    assert reasons["empty"].startswith("empty")
    assert reasons["comment"].startswith("high-cardinality text")
    rating = next(c for c in report.categories if c.column == "rating")
    assert rating.ordinal
    assert {s.value for s in rating.top} == {"1", "2", "3", "4", "5"}
    assert rating.distinct == 5
    assert rating.entropy is not None
    assert rating.entropy == pytest.approx(math.log2(5), abs=0.05)
    price = next(d for d in report.distributions if d.column == "price_text")
    assert price.parsed_from_text
    assert price.min is not None
    assert price.min >= 5


def test_shape_labels() -> None:
    rng = np.random.default_rng(21)
    n = 4000
    frame = pd.DataFrame(
        {
            "normal": rng.normal(0, 1, n),
            "lognormal": rng.lognormal(0, 1, n),
            "left": -rng.lognormal(0, 1, n),
            "uniform": rng.uniform(0, 1, n),
            "bimodal": np.concatenate([rng.normal(-3, 1, n // 2), rng.normal(3, 1, n // 2)]),
            "student": rng.standard_t(3, n),
        }
    )
    shapes = {d.column: d.shape for d in explore(frame).distributions}
    assert shapes == {
        "normal": "normal",
        "lognormal": "right-skewed",
        "left": "left-skewed",
        "uniform": "uniform-ish",
        "bimodal": "bimodal?",
        "student": "heavy-tailed",
    }


def test_unknown_target_suggests_close_names(sales: pd.DataFrame) -> None:
    with pytest.raises(UnknownColumnError) as info:
        explore(sales, target="revnue")
    assert "'revenue'" in info.value.message
    assert "revenue" in info.value.details["suggestions"]
    with pytest.raises(UnknownColumnError, match="REGION"):
        explore(sales, group="REGION")  # case mismatch is suggested, not silently accepted


def test_invalid_inputs_raise_typed_errors() -> None:
    with pytest.raises(EmptyDataError):
        explore(pd.DataFrame({"a": []}))
    with pytest.raises(EmptyDataError):
        explore(pd.DataFrame(index=range(3)))
    frame = _group_frame()
    with pytest.raises(InvalidInputError, match="different"):
        explore(frame, target="value", group="value")
    frame["flat"] = 1.0
    with pytest.raises(InvalidInputError, match="constant"):
        explore(frame, target="flat")
    with pytest.raises(TypeError):
        explore([1, 2, 3])  # type: ignore[arg-type]


def test_caps_sample_rows_and_columns() -> None:
    rng = np.random.default_rng(13)
    frame = pd.DataFrame(rng.normal(size=(3000, 8)), columns=[f"c{i}" for i in range(8)])
    frame["c7"] = frame["c0"] * 2 + rng.normal(size=3000)
    report = explore(frame, target="c7", max_columns=4, max_rows_for_tests=1000)
    assert report.rows == 3000
    assert report.rows_sampled_for_tests == 1000
    assert len(report.columns_analysed) == 4
    assert "c7" in report.columns_analysed
    capped = [e for e in report.excluded_columns if "max_columns" in e.reason]
    assert len(capped) == 4
    assert all(c.n <= 1000 for c in report.correlations)
    assert report.distributions[0].n == 3000  # distributions use every row
    assert any("random sample of 1,000" in note for note in report.notes)
    again = explore(frame, target="c7", max_columns=4, max_rows_for_tests=1000)
    assert again == report  # seeded: reproducible


# --------------------------------------------------------------------------------------------
# Output contract: JSON, progress, Markdown
# --------------------------------------------------------------------------------------------


def test_report_is_json_safe_with_nan_and_inf() -> None:
    frame = _linear_frame(100)
    frame.loc[0, "x"] = np.inf
    frame.loc[1:5, "y"] = np.nan
    frame["mostly_missing"] = np.nan
    frame.loc[:2, "mostly_missing"] = [1.0, 2.0, 3.0]
    frame["cat"] = ["u", "v"] * 50
    report = explore(frame, target="y")
    restored = _json_roundtrip(report)
    assert restored == report
    assert any("infinite" in note for note in report.notes)


def test_progress_is_monotonic_and_ends_at_one(sales: pd.DataFrame) -> None:
    calls: list[tuple[float, str]] = []
    explore(sales, target="revenue", progress=lambda f, m: calls.append((f, m)))
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions)
    assert len(set(fractions)) == len(fractions)
    assert fractions[-1] == 1.0
    assert 0.0 < fractions[0] < 1.0
    messages = [m for _, m in calls]
    assert any(m.startswith("computed ") and "correlations" in m for m in messages)
    assert "tested revenue across 5 region groups" in messages


def test_relayed_progress_is_throttled_to_one_event_per_interval() -> None:
    now = [100.0]
    sent: list[tuple[float, str]] = []
    relay = relay_progress(
        lambda value, message, *, stage=None: sent.append((value, message)),
        start=5,
        span=85,
        interval_s=0.5,
        clock=lambda: now[0],
    )
    for step, fraction in enumerate([0.01, 0.02, 0.1, 0.3, 0.5, 0.9, 1.0]):
        now[0] = 100.0 + 0.2 * step
        relay(fraction, f"step {step}")
    # the first event goes out, then the next one 0.5 s of the fake clock later, and the final 1.0
    assert sent == [(5 + 85 * 0.01, "step 0"), (5 + 85 * 0.3, "step 3"), (90.0, "step 6")]


def test_explore_through_the_relay_still_ends_at_the_final_event(sales: pd.DataFrame) -> None:
    sent: list[float] = []
    explore(
        sales,
        target="revenue",
        progress=relay_progress(lambda value, message, *, stage=None: sent.append(value), start=5, span=85),
    )
    assert sent[0] > 5
    assert sent[-1] == 90.0
    assert sent == sorted(sent)


def test_markdown_contains_insights_and_escapes_hostile_names() -> None:
    frame = _linear_frame(300)
    frame = frame.rename(columns={"y": "a|b\nc"})
    frame["grp"] = np.where(frame["x"] > 0, "<b>hi</b>", "plain")
    report = explore(frame, target="a|b\nc")
    markdown = render_markdown(report, dataset_name="evil|name.csv")
    assert "a|b\nc" not in markdown
    assert "a\\|b c" in markdown
    assert "<b>" not in markdown
    assert "&lt;b&gt;" in markdown
    assert "evil\\|name.csv" in markdown
    for heading in (
        "## Overview",
        "## Top insights",
        "## Correlations",
        "## Hypothesis tests",
        "## Time series",
        "## Distributions",
    ):
        assert heading in markdown
    assert "1. **a\\|b c rises with x" in markdown
    # Every table row has the same number of unescaped pipes as its header.
    for block in markdown.split("\n\n"):
        lines = [line for line in block.splitlines() if line.startswith("|")]
        if lines:
            widths = {line.replace("\\|", "").count("|") for line in lines}
            assert len(widths) == 1, block


# --------------------------------------------------------------------------------------------
# The project's demo dataset
# --------------------------------------------------------------------------------------------


def test_sales_demo_dataset(sales_report: EdaReport) -> None:
    report = sales_report
    assert report.rows == 2415
    assert {e.column for e in report.excluded_columns} == {"order_id"}
    assert "unit_price" in report.numeric_columns  # "$93.46"-style text converted
    assert "order_date" in report.datetime_columns
    assert "quantity" in report.categorical_columns  # 18 distinct small integers: ordinal
    pairs = _pairs(report)
    assert frozenset(("revenue", "quantity")) in pairs
    assert frozenset(("revenue", "unit_price")) in pairs
    price = next(i for i in report.insights if set(i.columns) == {"revenue", "unit_price"})
    assert price.title.startswith("revenue rises with unit_price")
    assert price.value is not None
    assert price.value > 0.5
    ts = report.time_series
    assert ts is not None
    assert (ts.date_column, ts.value_column, ts.freq) == ("order_date", "revenue", "week")
    assert ts.periods >= 100
    assert len(report.insights) <= MAX_INSIGHTS
    assert [i.rank for i in report.insights] == list(range(1, len(report.insights) + 1))
    scores = [i.score for i in report.insights]
    assert scores == sorted(scores, reverse=True)
    # Every insight carries numbers, not prose alone.
    assert all(i.value is not None for i in report.insights)
    markdown = render_markdown(report, dataset_name="sales.csv")
    assert "revenue rises with unit_price" in markdown


def test_sales_with_parsed_dates_matches_text_dates(sales: pd.DataFrame, sales_report: EdaReport) -> None:
    parsed = sales.assign(order_date=pd.to_datetime(sales["order_date"]))
    report = explore(parsed, target="revenue")
    assert report.time_series == sales_report.time_series


def test_a_lookup_value_per_group_is_an_attribute_not_the_top_finding() -> None:
    rng = np.random.default_rng(3)
    rows = 600
    product = rng.choice([f"p{i}" for i in range(12)], rows)
    catalog = {f"p{i}": 10.0 + 7 * i for i in range(12)}
    quantity = rng.integers(1, 10, rows)
    frame = pd.DataFrame(
        {
            "product": product,
            # A catalog price per product, with small per-order discounts.
            "unit_price": [round(catalog[p] * rng.uniform(0.98, 1.0), 2) for p in product],
            "quantity": quantity,
            "noise": rng.normal(0, 1, rows),
        }
    )
    report = explore(frame)
    attribute = next(i for i in report.insights if i.kind == "attribute")
    assert set(attribute.columns) == {"unit_price", "product"}
    assert attribute.rank > 1 or len(report.insights) == 1
    assert not any(
        i.kind == "group_difference" and set(i.columns) == {"unit_price", "product"} for i in report.insights
    )


def test_without_target_or_group_the_main_measure_is_compared_across_groups() -> None:
    rng = np.random.default_rng(11)
    n = 900
    region = rng.choice(["north", "south", "east"], n)
    frame = pd.DataFrame(
        {
            "region": region,
            "channel": rng.choice(["web", "store"], n),
            "discount": rng.uniform(0.0, 0.2, n),
            # Planted: revenue is higher in the north; channel makes no difference.
            "revenue": np.where(region == "north", 150.0, 100.0) + rng.normal(0.0, 10.0, n),
        }
    )
    report = explore(frame, request="analyze the sales data")
    assert report.target is None
    assert report.measure == "revenue"
    assert any("main measure" in note for note in report.notes)
    by_region = _tests_for(report, "revenue", "region")
    by_channel = _tests_for(report, "revenue", "channel")
    assert by_region
    assert all(t.significant for t in by_region)
    assert by_channel
    assert not any(t.significant for t in by_channel)
    assert not _tests_for(report, "discount")  # only the measure is tested
    assert report.insights[0].title.startswith("revenue differs by region")  # the measure leads
    assert "Measure compared across groups" in render_markdown(report, dataset_name="t.csv")


def test_no_measure_named_means_no_tests() -> None:
    rng = np.random.default_rng(12)
    frame = pd.DataFrame({"colour": rng.choice(["a", "b"], 200), "width": rng.normal(size=200)})
    report = explore(frame)
    assert report.measure is None
    assert report.tests == []
