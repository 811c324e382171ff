"""Markdown rendering of an :class:`~functions.eda.analysis.EdaReport`.

Why a separate module: the JSON report is the machine contract (planner, visualization agent,
synthesis); this Markdown is what a person reads in the UI or in the job's final answer. Keeping
the rendering pure makes it testable and lets the handler publish both artifacts.

Column names, category levels and every title built from them come from uploaded data and may
be hostile: all of them go through the quality agent's
:func:`~functions.quality.report.escape_markdown` (one escaping rule for the whole platform),
which neutralises table-breaking pipes and newlines, inline HTML and link/emphasis syntax.
"""

import math
from collections.abc import Iterable

from analystack.numbers import format_number
from functions.eda.analysis import (
    OUTLIER_IQR_MULTIPLIER,
    CategoryDistribution,
    Correlation,
    EdaReport,
    HypothesisTest,
    NumericDistribution,
    TimeSeriesSummary,
)
from functions.quality.report import MAX_CELL_CHARS, MAX_TEXT_CHARS, escape_markdown

__all__ = ["MAX_CORRELATION_ROWS", "render_markdown"]

#: Rows of the correlations table (the JSON report holds more).
MAX_CORRELATION_ROWS = 15
#: Longest other tables; the rest is summarised in one line.
MAX_TABLE_ROWS = 100

_METHOD = {"pearson": "Pearson r", "spearman": "Spearman ρ", "cramers_v": "Cramér's V", "eta": "η"}
_TEST = {
    "welch_t": "Welch t-test",
    "anova": "One-way ANOVA",
    "kruskal_wallis": "Kruskal-Wallis",
    "chi_square": "χ² independence",
}
_EFFECT = {"cohens_d": "Cohen's d", "eta_squared": "η²", "epsilon_squared": "ε²", "cramers_v": "Cramér's V"}


def _num(value: float | int | None, digits: int = 4) -> str:
    """Readable number: thousands separators, at most ``digits`` decimals, '—' when missing."""
    return format_number(value, digits=digits)


def _p(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return "&lt; 0.001" if value < 0.001 else f"{value:.3f}"


def _p_text(value: float | None) -> str:
    """'p < 0.001' / 'p = 0.042' for running text (HTML entity so the '<' stays literal)."""
    text = _p(value)
    return f"p {text}" if text.startswith("&lt;") else f"p = {text}"


def _pct(value: float | None) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:+.1f}%"


def _cell(value: object) -> str:
    return escape_markdown(value, MAX_CELL_CHARS)


def _text(value: object) -> str:
    return escape_markdown(value, MAX_TEXT_CHARS)


def _table(header: Iterable[str], rows: list[list[str]], limit: int = MAX_TABLE_ROWS) -> list[str]:
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines.extend("| " + " | ".join(row) + " |" for row in rows[:limit])
    if len(rows) > limit:
        lines += ["", f"_… {len(rows) - limit:,} more rows in the JSON report._"]
    return lines


def _overview(report: EdaReport) -> list[str]:
    analysed = (
        f"{len(report.columns_analysed)} ({len(report.numeric_columns)} numeric, "
        f"{len(report.categorical_columns)} categorical, {len(report.datetime_columns)} datetime)"
    )
    rows = [
        ["Rows", f"{report.rows:,}"],
        ["Rows used for correlations and tests", f"{report.rows_sampled_for_tests:,}"],
        ["Columns analysed", analysed],
        ["Excluded columns", f"{len(report.excluded_columns)}"],
        ["Target", _cell(report.target) if report.target else "—"],
        ["Group", _cell(report.group) if report.group else "—"],
        *([["Measure compared across groups", _cell(report.measure)]] if report.measure else []),
        [
            "Hypothesis tests",
            f"{len(report.tests)} ({sum(t.significant for t in report.tests)} significant after Holm)",
        ],
        ["Insights", f"{len(report.insights)}"],
    ]
    return _table(["Metric", "Value"], rows)


def _insights(report: EdaReport) -> list[str]:
    if not report.insights:
        return ["No notable patterns passed the significance and effect-size thresholds."]
    lines = []
    for insight in report.insights:
        numbers = [f"{escape_markdown(insight.metric)} = {_num(insight.value)}"]
        if insight.p_value is not None:
            numbers.append(_p_text(insight.p_value))
        lines.append(
            f"{insight.rank}. **{_text(insight.title)}** — {_text(insight.detail)} "
            f"_({escape_markdown(insight.kind)}; {'; '.join(numbers)})_"
        )
    return lines


def _correlations(correlations: list[Correlation]) -> list[str]:
    if not correlations:
        return ["No column pairs to correlate."]
    rows = [
        [
            _cell(c.col_a),
            _cell(c.col_b),
            _METHOD[c.method],
            f"{c.value:+.3f}" if c.method in {"pearson", "spearman"} else f"{c.value:.3f}",
            c.strength,
            _p(c.p_value),
            f"{c.n:,}",
        ]
        for c in correlations[:MAX_CORRELATION_ROWS]
    ]
    lines = _table(["Column A", "Column B", "Method", "Value", "Strength", "p-value", "n"], rows)
    if len(correlations) > MAX_CORRELATION_ROWS:
        lines += ["", f"_Top {MAX_CORRELATION_ROWS} of {len(correlations):,} by absolute value._"]
    return lines


def _tests(tests: list[HypothesisTest]) -> list[str]:
    if not tests:
        return ["No hypothesis tests were run (no target or group column)."]
    rows = [
        [
            _TEST[t.test],
            " vs ".join(_cell(c) for c in t.columns),
            _num(t.statistic, 3),
            _p(t.p_value),
            _p(t.p_value_adjusted),
            f"{_EFFECT.get(t.effect_size_name, t.effect_size_name)} = "
            + ("—" if t.effect_size is None else f"{t.effect_size:.3f}"),
            "**yes**" if t.significant else "no",
            _text(t.conclusion),
        ]
        for t in tests
    ]
    return _table(
        ["Test", "Columns", "Statistic", "p-value", "Holm p", "Effect size", "Significant", "Conclusion"],
        rows,
    )


def _time_series(ts: TimeSeriesSummary | None) -> list[str]:
    if ts is None:
        return ["No datetime column with enough dated values for a time series."]
    measure = "rows" if ts.value_column is None else _cell(ts.value_column)
    seasonality = (
        "— (fewer than two full cycles)"
        if ts.seasonality_strength is None
        else f"{ts.seasonality_strength:.2f} over {ts.seasonal_period} {ts.freq}s ({_p_text(ts.seasonality_p_value)}; "
        f"peak {escape_markdown(ts.seasonal_peak)}, low {escape_markdown(ts.seasonal_trough)})"
    )
    lines = _table(
        ["Metric", "Value"],
        [
            ["Date column", _cell(ts.date_column)],
            ["Measure", f"{ts.aggregation} of {measure} per {ts.freq}"],
            ["Periods", f"{ts.periods:,} ({escape_markdown(ts.start)} to {escape_markdown(ts.end)})"],
            [
                "Trend",
                f"{ts.trend_direction} ({_num(ts.trend_slope_per_period)} per {ts.freq}, {_p_text(ts.trend_p_value)})",
            ],
            ["Seasonality strength", seasonality],
            ["Last period change", _pct(ts.last_period_change_pct)],
        ],
    )
    if ts.period_over_period:
        lines += ["", "Recent periods:", ""]
        lines += _table(
            ["Period", "Value", "Change"],
            [
                [escape_markdown(p.period), _num(p.value, 2), _pct(p.change_pct)]
                for p in ts.period_over_period
            ],
        )
    return lines


def _numeric_table(distributions: list[NumericDistribution]) -> list[str]:
    rows = [
        [
            _cell(d.column),
            f"{d.n:,}",
            f"{d.missing:,}",
            _num(d.mean),
            _num(d.median),
            _num(d.std),
            _num(d.skew, 2),
            _num(d.kurtosis, 2),
            _p(d.normality_p_value),
            d.shape or "—",
            "—" if d.outlier_share is None else f"{d.outlier_share:.1%}",
        ]
        for d in distributions
    ]
    return _table(
        [
            "Column",
            "n",
            "Missing",
            "Mean",
            "Median",
            "Std",
            "Skew",
            "Kurtosis",
            "Normality p",
            "Shape",
            "Extreme",
        ],
        rows,
    )


def _category_table(categories: list[CategoryDistribution]) -> list[str]:
    rows = [
        [
            _cell(c.column),
            f"{c.n:,}",
            f"{c.distinct:,}",
            _cell(c.top[0].value) if c.top else "—",
            f"{c.top[0].share:.1%}" if c.top else "—",
            _num(c.entropy, 2),
        ]
        for c in categories
    ]
    return _table(["Column", "n", "Distinct", "Top value", "Top share", "Entropy (bits)"], rows)


def render_markdown(report: EdaReport, *, dataset_name: str | None = None) -> str:
    """Render the report as Markdown for people.

    Sections: overview, top insights (numbered, each with its metric and p-value), the top
    :data:`MAX_CORRELATION_ROWS` correlations, hypothesis tests (with Holm-adjusted p-values),
    time series summary, distributions (numeric and categorical), excluded columns and notes.

    Args:
        report: The result of :func:`functions.eda.analysis.explore`.
        dataset_name: Shown under the title when given (escaped like any user text).

    Returns:
        Markdown text ending with a newline.
    """
    out: list[str] = ["# Exploratory data analysis", ""]
    if dataset_name:
        out += [f"Dataset: **{_text(dataset_name)}**", ""]
    out += ["## Overview", "", *_overview(report)]
    out += ["", "## Top insights", "", *_insights(report)]
    out += ["", "## Correlations", "", *_correlations(report.correlations)]
    out += ["", "## Hypothesis tests", "", *_tests(report.tests)]
    if report.tests:
        out += ["", "_Significant means Holm-adjusted p < 0.05 across all tests above._"]
    out += ["", "## Time series", "", *_time_series(report.time_series)]
    out += ["", "## Distributions", ""]
    if report.distributions:
        out += ["### Numeric columns", "", *_numeric_table(report.distributions), ""]
        out += [
            f"_Extreme: share of values beyond {OUTLIER_IQR_MULTIPLIER:g}×IQR from the quartiles; "
            "kurtosis is excess kurtosis (0 for a normal distribution)._",
            "",
        ]
    if report.categories:
        out += ["### Categorical columns", "", *_category_table(report.categories), ""]
    if not report.distributions and not report.categories:
        out += ["No analysable columns.", ""]
    if report.excluded_columns:
        out += ["## Excluded columns", ""]
        out += _table(
            ["Column", "Reason"], [[_cell(e.column), _text(e.reason)] for e in report.excluded_columns]
        )
        out.append("")
    if report.notes:
        out += ["## Notes", ""]
        out += [f"- {_text(note)}" for note in report.notes]
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"
