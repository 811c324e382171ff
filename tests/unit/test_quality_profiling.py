"""Known-answer tests for the quality agent's profiling and Markdown rendering.

Every expected number below is derived by hand from the fixture, so a regression in the
vectorised code paths (factorised codes, sorted statistics, folded duplicate keys) shows up as
a wrong count rather than a crash.
"""

import itertools
import json
import math
import re
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from functions.quality.profiling import (
    GRADE_THRESHOLDS,
    ColumnProfile,
    QualityReport,
    grade_for,
    profile_table,
)
from functions.quality.report import escape_markdown, render_markdown

pytestmark = pytest.mark.unit

NOW = datetime(2024, 6, 1, tzinfo=UTC)


def _column(report: QualityReport, name: str) -> ColumnProfile:
    matches = [c for c in report.columns_profile if c.name == name]
    assert len(matches) == 1, name
    return matches[0]


def _kinds(report: QualityReport, column: str | None = None) -> set[str]:
    return {i.kind for i in report.issues if column is None or i.column == column}


def _clean_frame(rows: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "order_id": np.arange(1, rows + 1),
            "amount": np.round(rng.normal(50.0, 5.0, rows), 2),
            "region": rng.choice(["north", "south", "east", "west"], rows),
            "ordered_at": pd.date_range("2023-01-01", periods=rows, freq="h", tz="UTC"),
            "paid": rng.random(rows) < 0.5,
        }
    )


def _dirty_frame() -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "amount": [1.0, None, 3.0, None, 5.0, math.inf, 7.0, 1000.0, 9.0, 10.0] * 2,
            "price": ["1", "2", "n/a", "4", "5 ", "6", "", "8", "9", "10"] * 2,
            "city": ["Paris", " Lyon", None, "Nice", "Paris", None, "Lyon", "Nice", "Paris", None] * 2,
            "mixed": pd.Series([1, "a", 2.5, "b", "c", "d", "e", "f", "g", None] * 2, dtype=object),
            "nothing": [None] * 20,
        }
    )
    return pd.concat([frame, frame.iloc[:5]], ignore_index=True)


# --------------------------------------------------------------------------------------------
# Outliers and numeric statistics
# --------------------------------------------------------------------------------------------


def test_planted_outlier_is_flagged_by_iqr_and_zscore_with_its_row_position() -> None:
    values = list(range(1, 21))
    values.insert(7, 1000)  # position 7 of 21 values
    report = profile_table(pd.DataFrame({"value": values}), now=NOW)

    column = _column(report, "value")
    assert column.logical_type == "integer"  # sorted-but-sparse: not mistaken for an identifier
    assert column.outliers is not None
    assert column.outliers.iqr_count == 1
    assert column.outliers.zscore_count == 1
    assert column.outliers.zscore_threshold == 3.0
    assert column.outliers.sample_rows == [7]
    # Tukey fences from Q1=6 and Q3=16 (linear interpolation over 21 values).
    assert column.outliers.iqr_lower == pytest.approx(6 - 1.5 * 10)
    assert column.outliers.iqr_upper == pytest.approx(16 + 1.5 * 10)
    # Far-out fences: 3 x IQR on log(1 + x) (the column is non-negative), back-transformed.
    t1, t3 = math.log1p(6), math.log1p(16)
    assert column.outliers.far_scale == "log"
    assert column.outliers.far_upper == pytest.approx(math.expm1(t3 + 3 * (t3 - t1)))
    assert column.outliers.far_lower == 0.0  # expm1(t1 - 3 x span) < 0: no lower fence above zero
    assert column.outliers.far_count == 1
    implausible = [i for i in report.issues if i.kind == "implausible_values"]
    assert len(implausible) == 1
    assert implausible[0].column == "value"
    assert implausible[0].rows == implausible[0].count == 1
    assert implausible[0].sample_rows == [7]
    assert implausible[0].examples == ["1,000"]
    assert implausible[0].dimension == "plausibility"
    # Its one statistical outlier is the implausible value: not reported a second time.
    assert "outliers" not in _kinds(report)


def test_numeric_stats_match_numpy_and_pandas() -> None:
    data = np.array([-2.0, 0.0, 0.0, 1.5, 3.0, 4.0, 7.5, 11.0, 20.0, 35.0])
    report = profile_table(pd.DataFrame({"x": data}))
    stats = _column(report, "x").numeric
    assert stats is not None
    assert stats.min == -2.0
    assert stats.max == 35.0
    assert stats.mean == pytest.approx(data.mean())
    assert stats.std == pytest.approx(data.std(ddof=1))
    assert stats.skew == pytest.approx(pd.Series(data).skew())
    for name, q in [("p01", 1), ("p05", 5), ("p25", 25), ("p50", 50), ("p75", 75), ("p95", 95), ("p99", 99)]:
        assert getattr(stats, name) == pytest.approx(np.percentile(data, q)), name
    assert stats.zeros == 2
    assert stats.negatives == 1


def test_zscore_threshold_is_configurable() -> None:
    values = [10, 11, 9, 10, 12, 8, 10, 11, 9, 30]
    strict = _column(profile_table(pd.DataFrame({"v": values}), zscore_threshold=2.0), "v")
    lenient = _column(profile_table(pd.DataFrame({"v": values}), zscore_threshold=10.0), "v")
    assert strict.outliers is not None
    assert lenient.outliers is not None
    assert strict.outliers.zscore_count == 1
    assert strict.outliers.zscore_threshold == 2.0
    assert lenient.outliers.zscore_count == 0


def test_infinite_values_are_counted_and_excluded_from_statistics() -> None:
    report = profile_table(pd.DataFrame({"ratio": [1.0, 2.0, math.inf, -math.inf, 3.0, None]}))
    column = _column(report, "ratio")
    assert column.nulls == 1
    assert column.numeric is not None
    assert column.numeric.max == 3.0
    assert column.numeric.mean == pytest.approx(2.0)
    issue = next(i for i in report.issues if i.kind == "infinite_values")
    assert issue.count == 2
    assert issue.severity == "error"


# --------------------------------------------------------------------------------------------
# Missing values and duplicates
# --------------------------------------------------------------------------------------------


def test_null_counts_are_exact_per_column_and_overall() -> None:
    frame = pd.DataFrame(
        {
            "f": [1.0, np.nan, 3.0, np.nan, 5.0, 6.0],
            "s": ["a", None, "c", None, None, "f"],
            "i": pd.array([1, None, 3, 4, 5, 6], dtype="Int64"),
            "t": pd.to_datetime(["2024-01-01", None, "2024-01-03", "2024-01-04", None, None]),
            "b": pd.array([True, None, False, True, True, False], dtype="boolean"),
            "all_null": [None] * 6,
        }
    )
    report = profile_table(frame, now=NOW)
    expected = {"f": 2, "s": 3, "i": 1, "t": 3, "b": 1, "all_null": 6}
    for name, nulls in expected.items():
        column = _column(report, name)
        assert column.nulls == nulls, name
        assert column.count == 6 - nulls, name
        assert column.null_share == pytest.approx(nulls / 6), name
    assert report.missing_cells == 16
    assert report.missing_share == pytest.approx(16 / 36)
    assert _column(report, "all_null").logical_type == "empty"
    assert {i.kind for i in _column(report, "all_null").issues} == {"empty_column"}
    missing = {i.column: i.count for i in report.issues if i.kind == "missing_values"}
    assert missing == {"f": 2, "s": 3, "i": 1, "t": 3, "b": 1}


def test_missing_value_recommendation_names_the_median_and_counts() -> None:
    frame = pd.DataFrame({"price": [1.0, 2.0, None, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, None] * 10})
    report = profile_table(frame)
    assert any(
        "Impute 20 missing values in 'price' (median 5.5)" in r and "drop the 20 rows" in r
        for r in report.recommendations
    ), report.recommendations


def test_fully_duplicated_rows_are_counted_including_nulls() -> None:
    frame = pd.DataFrame(
        {
            "a": [1, 2, 1, 3, 1, 2, None, None],
            "b": ["x", "y", "x", "z", "x", "q", None, None],
        }
    )
    # (1, x) appears 3 times -> 2 duplicates; (None, None) twice -> 1; (2, y) vs (2, q) differ.
    report = profile_table(frame)
    assert report.duplicate_rows == 3
    assert report.duplicate_rows == int(frame.duplicated().sum())
    assert report.duplicate_share == pytest.approx(3 / 8)
    issue = next(i for i in report.issues if i.kind == "duplicate_rows")
    assert issue.count == 3
    assert issue.column is None


def test_duplicate_count_matches_pandas_when_row_keys_need_compaction() -> None:
    # Four columns with ~50k distinct values each overflow a 62-bit mixed-radix key, forcing the
    # key to be re-factorised mid-way.
    rng = np.random.default_rng(3)
    base = pd.DataFrame(
        {
            "a": rng.integers(0, 50_000, 60_000),
            "b": rng.integers(0, 50_000, 60_000).astype(float),
            "c": [f"k{i}" for i in rng.integers(0, 50_000, 60_000)],
            "d": rng.integers(0, 50_000, 60_000),
        }
    )
    frame = pd.concat([base, base.sample(500, random_state=1)], ignore_index=True)
    assert profile_table(frame).duplicate_rows == int(frame.duplicated().sum()) >= 500


# --------------------------------------------------------------------------------------------
# Type problems, constants, identifiers
# --------------------------------------------------------------------------------------------


def test_numbers_stored_as_text_are_flagged_with_the_values_that_would_be_lost() -> None:
    frame = pd.DataFrame(
        {
            "amount": ["1", "2.5", " 3", "-4e2", "n/a", "7", "8", "9", "10", "11"],
            "label": ["apple", "pear", "fig", "kiwi", "lime", "plum", "date", "yuzu", "sloe", "nut"],
        }
    )
    report = profile_table(frame)
    issue = next(i for i in report.issues if i.kind == "numeric_as_text")
    assert issue.column == "amount"
    assert issue.count == 9
    assert "numeric_as_text" not in _kinds(report, "label")
    assert any("pd.to_numeric" in r and "'n/a'" in r for r in report.recommendations)
    assert {"placeholder_values", "whitespace"} <= _kinds(report, "amount")


def test_numeric_text_in_object_dtype_is_flagged_too() -> None:
    frame = pd.DataFrame({"qty": pd.Series(["1", "2", "3", "4", "x"] * 4, dtype=object)})
    assert "numeric_as_text" in _kinds(profile_table(frame))


def test_mixed_python_types_whitespace_and_empty_strings() -> None:
    frame = pd.DataFrame(
        {
            "mixed": pd.Series(["a", "b", 3, "c", 4.5, "d", "e", "f", "g", "h"], dtype=object),
            "name": ["Ann", " Bob", "Cy ", "", "  ", "Dee", "Eve", "Fay", "Gus", "Hal"],
        }
    )
    report = profile_table(frame)
    mixed = next(i for i in report.issues if i.kind == "mixed_types")
    assert mixed.column == "mixed"
    assert mixed.count == 2  # two numbers among eight strings
    assert next(i for i in report.issues if i.kind == "whitespace").count == 2
    assert next(i for i in report.issues if i.kind == "empty_strings").count == 2


def test_constant_and_identifier_columns_are_detected() -> None:
    rows = 30
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i:04d}" for i in range(rows)],
            "seq": np.arange(100, 100 + rows),
            "country": ["FR"] * rows,
            "score": np.linspace(0.0, 1.0, rows),  # all distinct but a measure, not a key
        }
    )
    report = profile_table(frame)
    assert _column(report, "customer_id").logical_type == "identifier"
    assert _column(report, "seq").logical_type == "identifier"
    assert _column(report, "country").logical_type == "constant"
    assert _column(report, "score").logical_type == "float"
    identifiers = {i.column for i in report.issues if i.kind == "identifier"}
    assert identifiers == {"customer_id", "seq"}
    constant = next(i for i in report.issues if i.kind == "constant_column")
    assert constant.column == "country"
    assert any("Drop constant column 'country'" in r for r in report.recommendations)


def test_high_cardinality_categorical_is_flagged() -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"city": [f"city{i}" for i in rng.integers(0, 300, 3000)]})
    report = profile_table(frame)
    column = _column(report, "city")
    assert column.logical_type == "categorical"
    assert column.distinct == frame["city"].nunique()
    assert "high_cardinality" in _kinds(report, "city")


def test_logical_types_of_bool_datetime_and_categorical_columns() -> None:
    frame = pd.DataFrame(
        {
            "flag": [True, False, True, True],
            "when": pd.to_datetime(["2024-01-01", "2024-03-01", "2025-01-01", "2024-02-01"]).tz_localize(
                "Europe/Paris"
            ),
            "size": pd.Categorical(["s", "m", "s", "l"]),
        }
    )
    report = profile_table(frame, now=NOW)
    assert _column(report, "flag").logical_type == "boolean"
    assert _column(report, "flag").numeric is None
    assert _column(report, "flag").outliers is None
    when = _column(report, "when")
    assert when.logical_type == "datetime"
    assert when.datetime_min == "2024-01-01T00:00:00+01:00"
    assert when.datetime_max == "2025-01-01T00:00:00+01:00"
    future = next(i for i in report.issues if i.kind == "future_dates")
    assert future.column == "when"
    assert future.count == 1
    assert _column(report, "size").logical_type == "categorical"
    assert _column(report, "size").top_values[0].value == "s"
    assert _column(report, "size").top_values[0].count == 2


def test_top_values_are_ranked_with_exact_counts_and_shares() -> None:
    frame = pd.DataFrame({"c": ["b", "a", "b", "c", "b", "a", None]})
    top = _column(profile_table(frame, max_top_values=2), "c").top_values
    assert [(t.value, t.count) for t in top] == [("b", 3), ("a", 2)]
    assert top[0].share == pytest.approx(3 / 6)


def test_unhashable_values_and_duplicate_column_names_do_not_crash() -> None:
    frame = pd.DataFrame([[{"k": 1}, [1], 1], [{"k": 1}, [2], 2]], columns=["obj", "obj", "n"])
    report = profile_table(frame)
    assert report.columns == 3
    assert "duplicate_column_names" in _kinds(report)


# --------------------------------------------------------------------------------------------
# Score, grade, edge cases
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "grade"),
    [(100.0, "A"), (90.0, "A"), (89.9, "B"), (80.0, "B"), (70.0, "C"), (60.0, "D"), (59.9, "F"), (0.0, "F")],
)
def test_grade_thresholds(score: float, grade: str) -> None:
    assert grade_for(score) == grade
    assert [g for g, _ in GRADE_THRESHOLDS] == ["A", "B", "C", "D"]


def test_clean_table_scores_higher_than_dirty_table_and_grades_are_consistent() -> None:
    clean = profile_table(_clean_frame(), now=NOW)
    dirty = profile_table(_dirty_frame(), now=NOW)
    assert clean.score > dirty.score
    assert dirty.score < 60.0  # F: over a quarter of its rows incomplete, 60 % duplicate rows
    assert clean.grade == "A"
    assert clean.score_breakdown["completeness"] == 100.0
    assert clean.score_breakdown["uniqueness"] == 100.0
    assert clean.score_breakdown["validity"] == 100.0
    for report in (clean, dirty):
        assert report.grade == grade_for(report.score)
        assert set(report.score_breakdown) == {
            "completeness",
            "validity",
            "uniqueness",
            "consistency",
            "plausibility",
        }
    assert dirty.duplicate_rows == 15  # 10 rows repeated once, then 5 of them again
    assert dirty.score_breakdown["uniqueness"] < 100.0
    assert dirty.score_breakdown["validity"] < 100.0


def test_issues_are_ranked_by_severity() -> None:
    report = profile_table(_dirty_frame(), now=NOW)
    rank = {"error": 0, "warning": 1, "info": 2}
    severities = [rank[i.severity] for i in report.issues]
    assert severities == sorted(severities)
    assert report.issues[0].severity == "error"
    assert len(report.recommendations) == len(set(report.recommendations)) > 0


@pytest.mark.parametrize(
    "frame",
    [pd.DataFrame(), pd.DataFrame({"a": [], "b": []}), pd.DataFrame({"a": pd.Series([], dtype="float64")})],
    ids=["no-rows-no-columns", "columns-without-rows", "typed-empty"],
)
def test_empty_frame_scores_zero_with_an_error(frame: pd.DataFrame) -> None:
    calls: list[float] = []
    report = profile_table(frame, progress=lambda fraction, _message: calls.append(fraction))
    assert report.rows == 0
    assert report.score == 0.0
    assert report.grade == "F"
    assert report.issues[0].severity == "error"
    assert report.issues[0].kind == "empty_table"
    assert len(report.columns_profile) == frame.shape[1]
    assert calls[-1] == 1.0
    json.dumps(report.model_dump(mode="json"), allow_nan=False)
    assert "# Data quality report" in render_markdown(report)


def test_invalid_arguments_are_rejected() -> None:
    with pytest.raises(TypeError):
        profile_table([1, 2, 3])
    with pytest.raises(ValueError, match="zscore_threshold"):
        profile_table(pd.DataFrame({"a": [1]}), zscore_threshold=0)
    with pytest.raises(ValueError, match="max_top_values"):
        profile_table(pd.DataFrame({"a": [1]}), max_top_values=-1)


def test_wide_frame_is_profiled_column_by_column() -> None:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(rng.random((20, 400)))
    calls: list[float] = []
    report = profile_table(frame, progress=lambda fraction, _message: calls.append(fraction))
    assert report.columns == 400
    assert [c.name for c in report.columns_profile[:3]] == ["0", "1", "2"]
    assert len(calls) <= 102  # throttled to ~1 % steps
    assert calls[-1] == 1.0


# --------------------------------------------------------------------------------------------
# Serialisation, progress, Markdown
# --------------------------------------------------------------------------------------------


def test_report_round_trips_through_strict_json() -> None:
    frame = _dirty_frame().assign(
        when=pd.date_range("2024-01-01", periods=25, freq="D", tz="UTC"),
        flag=[True, False, None, True, False] * 5,
        big=np.arange(25, dtype=np.int64) * 2**40,
    )
    report = profile_table(frame, now=NOW)
    payload = json.dumps(report.model_dump(mode="json"), allow_nan=False)
    restored = QualityReport.model_validate(json.loads(payload))
    assert restored == report
    assert isinstance(report.rows, int)
    assert isinstance(report.duplicate_rows, int)
    big = _column(restored, "big").numeric
    assert big is not None
    assert big.max == 24 * 2**40
    assert isinstance(big.max, int)


def test_progress_fractions_are_monotonic_and_end_at_one() -> None:
    calls: list[tuple[float, str]] = []
    profile_table(_clean_frame(20), progress=lambda fraction, message: calls.append((fraction, message)))
    fractions = [f for f, _ in calls]
    assert len(fractions) >= 5
    assert all(0.0 < f <= 1.0 for f in fractions)
    assert all(a < b for a, b in itertools.pairwise(fractions))
    assert fractions[-1] == 1.0
    assert calls[0][1] == "profiled column 1/5 'order_id'"
    assert any(message == "profiled column 2/5 'amount'" for _, message in calls)


def _unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def test_markdown_lists_columns_and_escapes_hostile_names() -> None:
    hostile = "a|b\nc"
    frame = _clean_frame(50).rename(columns={"amount": hostile})
    frame["note"] = ["ok"] * 49 + ["x" * 500]
    report = profile_table(frame, now=NOW)
    markdown = render_markdown(report, title="Quality of orders", dataset_name="orders.csv")

    assert markdown.startswith("# Quality of orders\n")
    assert "orders.csv" in markdown
    for name in ("order_id", "region", "ordered_at", "paid", "note"):
        assert name in markdown
    assert "a\\|b c" in markdown
    assert hostile not in markdown
    assert "a|b" not in markdown.replace("a\\|b", "")
    assert "x" * 500 not in markdown
    for section in ("## Summary", "## Issues", "## Columns", "## Outliers", "## Recommendations"):
        assert section in markdown
    assert f"{report.score:.1f} / 100" in markdown
    # Every row of every table keeps its header's number of cell separators.
    expected: int | None = None
    for line in markdown.splitlines():
        if not line.startswith("|"):
            expected = None
            continue
        if expected is None:
            expected = _unescaped_pipes(line)
        assert _unescaped_pipes(line) == expected, line


def test_markdown_outliers_section_shows_rows() -> None:
    values = list(range(1, 21))
    values.insert(7, 1000)
    markdown = render_markdown(profile_table(pd.DataFrame({"value": values})))
    outliers = markdown.split("## Outliers", 1)[1].split("## Recommendations", 1)[0]
    assert "| value | 1 |" in outliers
    assert "| 7 |" in outliers


def test_escape_markdown_neutralises_html_links_and_truncates() -> None:
    assert escape_markdown("<b>[x](http://e)</b>") == "&lt;b&gt;\\[x\\](http://e)&lt;/b&gt;"
    assert escape_markdown("x" * 100, limit=10) == "x" * 9 + "…"
    assert escape_markdown(None) == ""
