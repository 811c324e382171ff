"""Exploratory data analysis and statistics for the EDA agent.

The EDA agent answers the user's "what is going on in this data?": which columns move together,
which groups differ, whether a measure trends or repeats over time, and which distributions are
unusual. This module holds the pure logic behind that answer: :func:`explore` takes a
:class:`pandas.DataFrame` and returns an :class:`EdaReport` (pydantic, JSON-safe) with typed
columns, distributions, correlations, hypothesis tests, a time-series summary and ranked
insights that each carry the numbers behind them. It imports no AWS, HTTP or A2A code and reads
no environment (DESIGN.md section 3), so the handler stays thin and the logic is unit-testable.

Design choices, and why:

* **Typing decides the statistics.** A column is numeric, categorical or datetime (rules on
  :func:`explore`); identifiers, constants and free text are excluded *with a reason*, because a
  correlation with an order number is noise that would crowd out real findings.
* **Vectorised pairwise work.** Pearson and Spearman matrices come from a handful of matrix
  products with pairwise deletion; Cramér's V and the correlation ratio from ``numpy.bincount``
  on factorised codes. Pairwise statistics and tests run on at most ``max_rows_for_tests`` rows
  (a random sample): p-values are already tiny at that size and the cost stays bounded.
* **Multiple testing is corrected.** Every hypothesis test is flagged significant only after the
  Holm step-down correction across all tests of the run, so scanning many columns does not
  manufacture discoveries.
* **Insights are ranked by one documented score** (:data:`CONFIDENCE_SATURATION_LOG10P`,
  :func:`_insight_score`): an effect size on a correlation-like 0-1 scale times a confidence
  that saturates at p = 0.001, boosted when the finding involves the requested target or group.
"""

import difflib
import math
import re
import warnings
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from pandas.api import types as ptypes
from pydantic import BaseModel, ConfigDict, Field
from scipy import stats

from analystack.errors import EmptyDataError, InvalidInputError, UnknownColumnError
from analystack.numbers import OptFloat, Share
from analystack.progress import ThrottledProgress

__all__ = [
    "ALPHA",
    "CategoryDistribution",
    "CategoryShare",
    "Correlation",
    "EdaReport",
    "ExcludedColumn",
    "GroupSummary",
    "HypothesisTest",
    "Insight",
    "NumericDistribution",
    "NumericMatrix",
    "PeriodChange",
    "PeriodValue",
    "TimeSeriesSummary",
    "explore",
    "holm_adjust",
    "strength_label",
]

# --------------------------------------------------------------------------------------------
# Constants (shared by the code, the docs and the tests)
# --------------------------------------------------------------------------------------------

#: Significance level for every test (after Holm correction for hypothesis tests).
ALPHA = 0.05

#: An integer column is categorical ("ordinal") when it has at most this many distinct values
#: *and* they are at most this share of its non-missing values: codes, ratings and small counts
#: are better compared as groups than correlated as measurements.
CATEGORICAL_INT_MAX_DISTINCT = 20
CATEGORICAL_INT_MAX_SHARE = 0.05

#: Text columns with more distinct values than this are excluded as high-cardinality free text:
#: contingency tables with hundreds of sparse levels give meaningless chi-square statistics.
MAX_CATEGORY_LEVELS = 100

#: Share of non-missing text values that must parse as numbers / dates to convert the column.
PARSE_MIN_SHARE = 0.95

#: D'Agostino's K² test needs n >= 20 to be reliable; it runs on a random sample of at most
#: ``NORMALITY_MAX_SAMPLE`` values, because at millions of rows it rejects any real data.
NORMALITY_MIN_N = 20
NORMALITY_MAX_SAMPLE = 5000

Strength = Literal["weak", "moderate", "strong", "very strong"]

#: ``|value|`` thresholds of :func:`strength_label`, applied alike to r, ρ, Cramér's V and η
#: (Cohen-style conventions: 0.3 moderate, 0.5 strong; 0.7 and above very strong).
STRENGTH_THRESHOLDS: tuple[tuple[float, Strength], ...] = (
    (0.7, "very strong"),
    (0.5, "strong"),
    (0.3, "moderate"),
)

#: Pairs whose |r|, |ρ| or Cramér's V exceed this carry the same information: they are reported
#: once as ``redundant_columns`` instead of as a (trivial) strong relationship.
REDUNDANT_THRESHOLD = 0.999
#: A categorical pair is nested (a hierarchy such as product -> category) when every level of
#: the finer column puts at least this share of its rows on one level of the coarser column;
#: it is reported as a low-ranked ``hierarchy`` insight, not as an association.
NESTED_MIN_SHARE = 0.99

#: Smallest effect (on the 0-1 correlation scale) worth an insight.
INSIGHT_MIN_STRENGTH = 0.3
MAX_INSIGHTS = 15
#: The correlation list is sorted by |value| and cut here (the heatmap matrix stays complete).
MAX_CORRELATIONS = 300
MAX_SERIES_POINTS = 500
MAX_PERIOD_OVER_PERIOD = 12
MAX_TOP_CATEGORIES = 10
MAX_GROUP_SUMMARIES = 20

#: Seasonal period by aggregation frequency; seasonality is measured only with >= 2 full cycles.
SEASONAL_PERIODS: dict[str, int] = {"month": 12, "week": 52, "day": 7}

#: Descriptive findings (no test behind them) and their thresholds.
SKEW_INSIGHT = 1.0
DOMINANT_SHARE = 0.8
OUTLIER_IQR_MULTIPLIER = 3.0
OUTLIER_HEAVY_SHARE = 0.01

#: Insight score = strength x confidence x boost, where confidence = min(1, -log10(p) / this):
#: p = 0.001 gives full confidence, p = 0.01 two thirds, p = 0.05 0.43.
CONFIDENCE_SATURATION_LOG10P = 3.0
#: Findings about the requested target or group matter more to the user.
FOCUS_BOOST = 1.25
#: Descriptive findings (skew, outliers, dominant category) score at most this; redundant
#: columns score this, so strong tested relationships rank above them.
DESCRIPTIVE_MAX_SCORE = 0.35
REDUNDANT_SCORE = 0.4
HIERARCHY_SCORE = 0.2
#: A measure whose groups explain this much of it (η) is an attribute of the grouping (a catalog
#: price per product), not a finding: it is reported once, low, instead of topping the list.
ATTRIBUTE_ETA = 0.98
ATTRIBUTE_SCORE = HIERARCHY_SCORE

#: An edge period (first/last) with fewer rows than this share of the median period is partial
#: (data starting or ending mid-period) and is dropped from the time series.
PARTIAL_PERIOD_SHARE = 0.5
#: Without a numeric target, the time-series measure is the first numeric column whose name
#: contains one of these (in this priority order), else the one most correlated with time.
VALUE_KEYWORDS = ("revenue", "sales", "amount", "total", "profit", "price", "quantity")
#: Measures whose names contain one of these are summed per period; others are averaged.
SUM_KEYWORDS = (
    "revenue",
    "sales",
    "amount",
    "total",
    "profit",
    "cost",
    "spend",
    "quantity",
    "qty",
    "units",
    "count",
    "volume",
    "orders",
)

_PLACEHOLDERS = frozenset({"", "na", "n/a", "#n/a", "nan", "null", "none", "nil", "missing", "-", "--", "?"})
_ROW_NUMBER_MIN_ROWS = 20  # below this a 1, 2, 3, ... column is as likely a small measure
_PARSE_GATE_SAMPLE = 1000
_PARSE_GATE_SHARE = 0.5
_CURRENCY_RE = r"^([-+]?)\s*[$€£¥₩]\s*"
_THOUSANDS_RE = r"(?<=\d),(?=\d{3}(?:\D|$))"
_ID_NAME_RE = re.compile(r"(?:^|[_\-\s.])(?:id|uuid|guid|pk|key)$", re.IGNORECASE)
_ID_CAMEL_RE = re.compile(r"[a-z0-9](?:Id|ID|Uuid|UUID|Guid|GUID)$")
_NAME_CHARS = 80

Shape = Literal["normal", "right-skewed", "left-skewed", "heavy-tailed", "uniform-ish", "bimodal?"]
Freq = Literal["day", "week", "month"]
_Role = Literal["target", "group"] | None


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExcludedColumn(_Model):
    """A column left out of the analysis and why (identifier, constant, empty, free text, cap)."""

    column: str
    reason: str


class NumericDistribution(_Model):
    """Distribution of a numeric column's finite values (computed on all rows).

    ``std`` is the sample standard deviation (ddof=1); ``skew`` and ``kurtosis`` are the
    bias-adjusted sample skewness and *excess* kurtosis (pandas' definitions; 0 for a normal
    distribution). ``normality_*`` is D'Agostino's K² test on a random sample of at most
    :data:`NORMALITY_MAX_SAMPLE` values, run only when n >= :data:`NORMALITY_MIN_N`.
    ``outlier_share`` is the share of values beyond Tukey's far-out fences
    (:data:`OUTLIER_IQR_MULTIPLIER` x IQR; 0 when the IQR is 0). ``shape`` follows :func:`_shape_label`.
    """

    column: str
    n: int
    missing: int
    mean: OptFloat = None
    median: OptFloat = None
    std: OptFloat = None
    min: OptFloat = None
    max: OptFloat = None
    q1: OptFloat = None
    q3: OptFloat = None
    skew: OptFloat = None
    kurtosis: OptFloat = None
    normality_statistic: OptFloat = None
    normality_p_value: OptFloat = None
    shape: Shape | None = None
    outlier_share: OptFloat = None
    parsed_from_text: bool = False


class CategoryShare(_Model):
    """One level of a categorical column; ``share`` is relative to non-missing values."""

    value: str
    count: int
    share: Share


class CategoryDistribution(_Model):
    """Levels of a categorical column: the top :data:`MAX_TOP_CATEGORIES` and the entropy.

    ``entropy`` is Shannon entropy in bits; ``entropy_normalised`` divides it by log2(distinct)
    (1 = perfectly even levels, near 0 = one level dominates). ``ordinal`` marks low-cardinality
    integer columns, whose levels are ordered numbers.
    """

    column: str
    n: int
    missing: int
    distinct: int
    top: list[CategoryShare]
    entropy: OptFloat = None
    entropy_normalised: OptFloat = None
    ordinal: bool = False


class Correlation(_Model):
    """Association between two columns.

    ``method`` is ``pearson`` / ``spearman`` (numeric pairs, and Spearman also for an ordinal
    integer column against a numeric one), ``cramers_v`` (bias-corrected, categorical pairs,
    chi-square p-value) or ``eta`` (correlation ratio, numeric by categorical, one-way ANOVA
    p-value). ``n`` counts the rows where both values are present (within the test sample).
    """

    col_a: str
    col_b: str
    method: Literal["pearson", "spearman", "cramers_v", "eta"]
    value: float
    p_value: OptFloat = None
    n: int
    strength: Strength


class NumericMatrix(_Model):
    """Square Pearson and Spearman matrices over ``columns`` for a heatmap (None = undefined)."""

    columns: list[str] = Field(default_factory=list)
    pearson: list[list[OptFloat]] = Field(default_factory=list)
    spearman: list[list[OptFloat]] = Field(default_factory=list)


class GroupSummary(_Model):
    """One group of a group comparison (largest groups first, at most 20)."""

    group: str
    n: int
    mean: OptFloat = None
    median: OptFloat = None


class HypothesisTest(_Model):
    """One hypothesis test.

    ``test`` is ``welch_t`` (two groups; effect size Cohen's d with the averaged variance),
    ``anova`` (one-way; η²), ``kruskal_wallis`` (rank-based; ε² = H / (n - 1)) or
    ``chi_square`` (independence; bias-corrected Cramér's V). ``columns`` lists the measured
    column first, then the grouping one (for chi-square: the target first).
    ``p_value_adjusted`` is Holm-corrected across all tests of the report and ``significant``
    means ``p_value_adjusted < ALPHA``.
    """

    test: Literal["welch_t", "anova", "kruskal_wallis", "chi_square"]
    columns: list[str]
    statistic: OptFloat = None
    df: str | None = None
    p_value: OptFloat = None
    p_value_adjusted: OptFloat = None
    effect_size: OptFloat = None
    effect_size_name: str
    n: int
    significant: bool
    conclusion: str
    groups: list[GroupSummary] = Field(default_factory=list)


class PeriodValue(_Model):
    period: str
    value: OptFloat = None


class PeriodChange(_Model):
    period: str
    value: OptFloat = None
    change_pct: OptFloat = None


class TimeSeriesSummary(_Model):
    """A measure aggregated per calendar period.

    ``freq`` follows the span of the dates (> 2 years: month, > 90 days: week, else day; weeks
    start on Monday) and periods are labelled by their first day. ``aggregation`` is ``sum`` for
    additive measures (names in :data:`SUM_KEYWORDS`), ``mean`` otherwise, ``count`` (rows per
    period, ``value_column`` None) when there is no numeric column. The trend is an OLS line
    over the period index (``trend_direction`` is ``flat`` unless p < :data:`ALPHA`).
    ``seasonality_strength`` is the adjusted R² of cycle-position means on the linearly
    detrended series (0 = none, 1 = all remaining variation is seasonal), computed only with at
    least two full cycles of ``seasonal_period`` (12 monthly, 52 weekly, 7 daily); monthly sums
    and counts are first divided by the days in each month so month length is not "seasonal";
    ``seasonality_p_value`` is the matching F test. ``series`` holds at most the last 500 periods.
    """

    date_column: str
    value_column: str | None
    aggregation: Literal["sum", "mean", "count"]
    freq: Freq
    periods: int
    start: str
    end: str
    trend_slope_per_period: OptFloat = None
    trend_p_value: OptFloat = None
    trend_r: OptFloat = None
    trend_direction: Literal["up", "down", "flat"]
    seasonal_period: int | None = None
    seasonality_strength: OptFloat = None
    seasonality_p_value: OptFloat = None
    seasonal_peak: str | None = None
    seasonal_trough: str | None = None
    last_period_change_pct: OptFloat = None
    period_over_period: list[PeriodChange] = Field(default_factory=list)
    series: list[PeriodValue] = Field(default_factory=list)


class Insight(_Model):
    """One ranked finding with the numbers behind it.

    ``metric``/``value`` name and give the headline number (e.g. ``spearman_rho`` 0.82);
    ``effect_size`` is on the 0-1 correlation scale used for ranking; ``score`` is
    :func:`_insight_score` (higher first). ``kind`` is one of ``strong_correlation``,
    ``correlation`` (moderate), ``group_difference``, ``association``, ``trend``,
    ``seasonality``, ``skewed_distribution``, ``dominant_category``, ``outlier_heavy``,
    ``redundant_columns``, ``hierarchy`` (one categorical nested in another).
    """

    rank: int
    kind: str
    title: str
    detail: str
    columns: list[str]
    metric: str
    value: OptFloat = None
    p_value: OptFloat = None
    effect_size: OptFloat = None
    score: float


class EdaReport(_Model):
    """The EDA agent's result for one table (see :func:`explore`)."""

    rows: int
    rows_sampled_for_tests: int
    columns_analysed: list[str]
    excluded_columns: list[ExcludedColumn]
    target: str | None
    group: str | None
    #: With neither a target nor a group, the numeric column the table is about (its name says
    #: so: revenue, sales, amount...), compared across the categorical columns.
    measure: str | None = None
    numeric_columns: list[str]
    categorical_columns: list[str]
    datetime_columns: list[str]
    distributions: list[NumericDistribution]
    categories: list[CategoryDistribution]
    correlations: list[Correlation]
    numeric_matrix: NumericMatrix
    tests: list[HypothesisTest]
    time_series: TimeSeriesSummary | None
    insights: list[Insight]
    notes: list[str]


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def strength_label(value: float) -> Strength:
    """Verbal strength of |value| on the shared 0-1 scale (:data:`STRENGTH_THRESHOLDS`)."""
    magnitude = abs(value)
    for minimum, label in STRENGTH_THRESHOLDS:
        if magnitude >= minimum:
            return label
    return "weak"


def holm_adjust(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm step-down adjusted p-values (None/NaN entries stay None and do not count).

    Why Holm: it controls the family-wise error rate like Bonferroni but is uniformly more
    powerful, and needs no independence assumption between the tests.
    """
    valid = sorted(
        ((float(p), i) for i, p in enumerate(p_values) if p is not None and math.isfinite(p)),
    )
    m = len(valid)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(valid):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def _short(name: str, limit: int = _NAME_CHARS) -> str:
    """Cap user-provided names in titles so one hostile label cannot bloat the report."""
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _fmt(value: float | None) -> str:
    """Readable number for titles: thousands separators, few decimals."""
    if value is None or not math.isfinite(value):
        return "n/a"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 1:
        return f"{value:,.2f}"
    if value == 0:
        return "0"
    return f"{value:.3g}"


def _fmt_p(p: float | None) -> str:
    if p is None or not math.isfinite(p):
        return "p = n/a"
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.3f}"


def _confidence(p: float | None) -> float:
    if p is None or not math.isfinite(p):
        return 0.0
    return min(1.0, -math.log10(max(p, 1e-300)) / CONFIDENCE_SATURATION_LOG10P)


def _insight_score(strength: float, p: float | None, focus: bool) -> float:
    """Ranking score: strength (0-1) x confidence(p) x (FOCUS_BOOST if about target/group)."""
    return min(1.0, abs(strength)) * _confidence(p) * (FOCUS_BOOST if focus else 1.0)


def _column_name(label: Hashable) -> str:
    if isinstance(label, tuple):
        return " / ".join(str(part) for part in label)
    return str(label)


def _is_identifier_name(name: str) -> bool:
    stripped = name.strip()
    return bool(_ID_NAME_RE.search(stripped) or _ID_CAMEL_RE.search(stripped))


def _entropy_bits(counts: np.ndarray) -> float:
    total = counts.sum()
    if total <= 0:
        return float("nan")
    shares = counts[counts > 0] / total
    return float(-(shares * np.log2(shares)).sum())


# --------------------------------------------------------------------------------------------
# Column typing
# --------------------------------------------------------------------------------------------


@dataclass
class _Col:
    """A typed, analysable column (full length; sampled views are taken on demand)."""

    name: str
    kind: Literal["numeric", "categorical", "datetime"]
    non_null: int
    distinct: int
    values: np.ndarray | None = None  # numeric: float64 with NaN for missing
    codes: np.ndarray | None = None  # categorical: int64, -1 for missing, 0 = most frequent
    levels: list[str] = field(default_factory=list)
    level_values: np.ndarray | None = None  # ordinal categoricals: the number of each level
    dates: pd.Series | None = None  # datetime
    ordinal: bool = False
    parsed_from_text: bool = False
    info: float = 0.0  # informativeness for the max_columns cap, in [0, 1]

    def ordinal_values(self) -> np.ndarray:
        """Numeric value per row of an ordinal categorical (NaN for missing)."""
        assert self.codes is not None
        assert self.level_values is not None
        out = np.full(len(self.codes), np.nan)
        present = self.codes >= 0
        out[present] = self.level_values[self.codes[present]]
        return out


def _categorical_from_codes(
    name: str,
    codes: np.ndarray,
    labels: Sequence[str],
    rows: int,
    *,
    ordinal_values: np.ndarray | None = None,
) -> _Col:
    """Build a categorical column; levels are re-coded most frequent first (ordinals: by value)."""
    counts = np.bincount(codes[codes >= 0], minlength=len(labels))
    used = np.flatnonzero(counts)
    if ordinal_values is None:
        order = used[np.argsort(-counts[used], kind="stable")]
    else:
        order = used[np.argsort(ordinal_values[used], kind="stable")]
    remap = np.full(len(labels) + 1, -1, dtype=np.int64)
    remap[order] = np.arange(len(order))
    new_codes = remap[codes]  # -1 indexes the trailing -1 sentinel
    non_null = int(counts.sum())
    kept = counts[order]
    entropy = _entropy_bits(kept)
    info = (non_null / rows) * (entropy / math.log2(len(kept)) if len(kept) > 1 else 0.0)
    return _Col(
        name=name,
        kind="categorical",
        non_null=non_null,
        distinct=len(order),
        codes=new_codes,
        levels=[str(labels[i]) for i in order],
        level_values=None if ordinal_values is None else ordinal_values[order],
        ordinal=ordinal_values is not None,
        info=info,
    )


def _numeric_column(
    name: str, values: np.ndarray, rows: int, role: _Role, notes: list[str], *, parsed: bool = False
) -> _Col | str:
    """Type a float64 array: numeric, ordinal categorical, or an exclusion reason."""
    infinite = np.isinf(values)
    if infinite.any():
        values = np.where(infinite, np.nan, values)
        notes.append(f"Column '{_short(name)}': {int(infinite.sum()):,} infinite values treated as missing.")
    finite = values[~np.isnan(values)]
    if len(finite) == 0:
        return "empty: no finite values"
    uniques = np.unique(finite)
    distinct = len(uniques)
    if distinct == 1:
        return f"constant: every value is {_fmt(float(uniques[0]))}"
    integral = bool(np.all(uniques == np.round(uniques)))
    if role is None and _is_identifier_name(name):
        return "identifier-like: the name marks an id/key column"
    # Row numbers (an exported index, "Unnamed: 0") start at 0/1 and increase densely; a sorted
    # year column (2001, 2002, ...) does not start there and stays a measure.
    row_number = (
        role is None
        and integral
        and distinct == len(finite) >= _ROW_NUMBER_MIN_ROWS
        and uniques[0] in (0, 1)
        and bool(np.all(np.diff(finite) > 0))
        and (uniques[-1] - uniques[0]) <= 2 * (len(finite) - 1)
    )
    if row_number:
        return "identifier-like: a dense increasing sequence of distinct integers (a row number)"
    low_cardinality = (
        integral
        and distinct <= CATEGORICAL_INT_MAX_DISTINCT
        and distinct <= CATEGORICAL_INT_MAX_SHARE * len(finite)
    )
    if low_cardinality or (role == "group" and integral and distinct <= CATEGORICAL_INT_MAX_DISTINCT):
        codes = np.full(len(values), -1, dtype=np.int64)
        present = ~np.isnan(values)
        codes[present] = np.searchsorted(uniques, values[present])
        labels = [f"{int(v)}" for v in uniques]
        col = _categorical_from_codes(name, codes, labels, rows, ordinal_values=uniques.astype(np.float64))
        col.parsed_from_text = parsed
        return col
    if role == "group":
        # A continuous grouping column is compared by quartile, the usual reading of "by X".
        binned = pd.qcut(pd.Series(values), 4, duplicates="drop")
        cat_codes = np.asarray(binned.cat.codes, dtype=np.int64)
        labels = [
            f"Q{i + 1} ({_fmt(iv.left)} to {_fmt(iv.right)})" for i, iv in enumerate(binned.cat.categories)
        ]
        notes.append(f"Group column '{_short(name)}' is continuous: compared by quartile.")
        return _categorical_from_codes(name, cat_codes, labels, rows)
    info = (len(finite) / rows) * min(1.0, math.log(distinct) / math.log(CATEGORICAL_INT_MAX_DISTINCT))
    return _Col(
        name=name,
        kind="numeric",
        non_null=len(finite),
        distinct=distinct,
        values=values.astype(np.float64, copy=False),
        parsed_from_text=parsed,
        info=info,
    )


def _datetime_column(name: str, dates: pd.Series, rows: int, *, parsed: bool = False) -> _Col | str:
    present = dates.notna()
    non_null = int(present.sum())
    if non_null == 0:
        return "empty: no valid dates"
    distinct = int(dates[present].nunique())
    if distinct == 1:
        return "constant: a single date"
    return _Col(
        name=name,
        kind="datetime",
        non_null=non_null,
        distinct=distinct,
        dates=dates.reset_index(drop=True),
        parsed_from_text=parsed,
        info=non_null / rows,
    )


def _parse_numbers(text: pd.Series) -> np.ndarray:
    """Numbers stored as text ("$1,234.50", " 12 ", "5%"), NaN where a value is not a number."""
    cleaned = (
        text.str.replace(_CURRENCY_RE, r"\1", regex=True)
        .str.replace(_THOUSANDS_RE, "", regex=True)
        .str.rstrip("%")
    )
    return np.array(pd.to_numeric(cleaned, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan))


def _parse_dates(text: pd.Series) -> pd.Series | None:
    """Dates stored as text, NaT where a value is not a date; None when < 95 % parse.

    pandas infers one format from the first value, so "01/02/2024" is read month-first and a
    day-first column fails from the 13th on: day-first is tried when month-first falls short.
    """
    best: pd.Series | None = None
    for dayfirst in (False, True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(text, errors="coerce", dayfirst=dayfirst).reset_index(drop=True)
        if best is None or parsed.notna().sum() > best.notna().sum():
            best = parsed
        if best.notna().sum() >= PARSE_MIN_SHARE * text.notna().sum():
            return best
    return None


def _text_column(name: str, series: pd.Series, rows: int, role: _Role, notes: list[str]) -> _Col | str:
    """Type a text column: identifier, numbers as text, dates as text, free text or categorical.

    Works on the distinct values weighted by their counts, so the cost follows the cardinality.
    Number and date parsing first run on an evenly spaced sample of at most
    ``_PARSE_GATE_SAMPLE`` distinct values and go on to all values only if at least half of
    the sample parses: pandas falls back to per-value dateutil parsing for text it cannot infer
    a format for (seconds per 100k codes such as "O123"), and most text columns are neither.
    """
    if role is None and _is_identifier_name(name):
        return "identifier-like: the name marks an id/key column"
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    codes = np.asarray(codes, dtype=np.int64)
    if len(uniques) == 0:
        return "empty: all values are missing"
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
    text = pd.Series(np.asarray(uniques, dtype=object), dtype="str").str.strip()
    placeholder = text.str.lower().isin(_PLACEHOLDERS).to_numpy(dtype=bool)
    valid_weight = int(counts[~placeholder].sum())
    if valid_weight == 0:
        return "empty: only blanks or placeholders such as 'n/a'"
    candidates = np.flatnonzero(~placeholder)
    if len(candidates) > _PARSE_GATE_SAMPLE:
        candidates = candidates[np.linspace(0, len(candidates) - 1, _PARSE_GATE_SAMPLE).astype(np.int64)]
    gate = text.iloc[candidates]

    if np.mean(~np.isnan(_parse_numbers(gate))) >= _PARSE_GATE_SHARE:
        parsed = _parse_numbers(text)
        parsed[placeholder] = np.nan
        if counts[~np.isnan(parsed)].sum() >= PARSE_MIN_SHARE * valid_weight:
            lookup = np.append(parsed, np.nan)  # code -1 -> NaN
            notes.append(f"Column '{_short(name)}' holds numbers stored as text: converted to numeric.")
            return _numeric_column(name, lookup[codes], rows, role, notes, parsed=True)

    # A digit is required so month or weekday names ("Jan", "Monday") stay categorical.
    has_digit = text.str.contains(r"\d", regex=True).to_numpy(dtype=bool, na_value=False)
    if (
        counts[has_digit & ~placeholder].sum() >= PARSE_MIN_SHARE * valid_weight
        and _parse_dates(gate) is not None
    ):
        dates = _parse_dates(text.where(~placeholder))
        ok = np.zeros(len(text), dtype=bool) if dates is None else dates.notna().to_numpy(dtype=bool)
        if dates is not None and counts[ok].sum() >= PARSE_MIN_SHARE * valid_weight:
            per_row = dates.iloc[np.where(codes >= 0, codes, 0)].reset_index(drop=True)
            per_row[codes < 0] = pd.NaT
            return _datetime_column(name, per_row, rows, parsed=True)

    # Categorical on stripped text, placeholders as missing, equal stripped values merged.
    merged_codes, merged_uniques = pd.factorize(text.where(~placeholder), use_na_sentinel=True)
    row_codes = np.append(np.asarray(merged_codes, dtype=np.int64), -1)[codes]
    distinct = len(merged_uniques)
    non_null = int((row_codes >= 0).sum())
    if role is None and distinct == non_null and non_null >= 2:
        return f"identifier-like: all {non_null:,} values are distinct"
    if distinct == 1:
        return f"constant: every value is '{_short(str(merged_uniques[0]), 40)}'"
    if distinct > MAX_CATEGORY_LEVELS and role is None:
        return f"high-cardinality text: {distinct:,} distinct values (more than {MAX_CATEGORY_LEVELS})"
    return _categorical_from_codes(name, row_codes, [str(u) for u in merged_uniques], rows)


def _type_column(name: str, series: pd.Series, rows: int, role: _Role, notes: list[str]) -> _Col | str:
    """Classify one column; returns the typed column or the reason it is excluded."""
    dtype = series.dtype
    if int(series.notna().sum()) == 0:
        return "empty: all values are missing"
    if ptypes.is_bool_dtype(dtype):
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        if len(uniques) == 1:
            return f"constant: every value is {uniques[0]}"
        return _categorical_from_codes(
            name, np.asarray(codes, dtype=np.int64), [str(u) for u in uniques], rows
        )
    if isinstance(dtype, pd.CategoricalDtype):
        return _text_column(
            name, series.astype(object).astype("str").where(series.notna()), rows, role, notes
        )
    if ptypes.is_datetime64_any_dtype(dtype):
        return _datetime_column(name, series, rows)
    if ptypes.is_timedelta64_dtype(dtype):
        seconds = series.dt.total_seconds().to_numpy(dtype=np.float64, na_value=np.nan)
        return _numeric_column(name, seconds, rows, role, notes)
    if ptypes.is_numeric_dtype(dtype) and not ptypes.is_complex_dtype(dtype):
        return _numeric_column(name, series.to_numpy(dtype=np.float64, na_value=np.nan), rows, role, notes)
    if ptypes.is_string_dtype(dtype) and not ptypes.is_object_dtype(dtype):
        return _text_column(name, series, rows, role, notes)
    if ptypes.is_object_dtype(dtype):
        inferred = ptypes.infer_dtype(series, skipna=True)
        if inferred == "string":
            return _text_column(name, series, rows, role, notes)
        if inferred == "boolean":
            return _type_column(name, series.astype("boolean"), rows, role, notes)
        if inferred in {"integer", "floating", "mixed-integer-float", "decimal"}:
            try:
                numeric = pd.to_numeric(series).to_numpy(dtype=np.float64, na_value=np.nan)
            except (TypeError, ValueError, OverflowError):
                return "unsupported: mixed value types"
            return _numeric_column(name, numeric, rows, role, notes)
        if inferred in {"datetime", "datetime64", "date"}:
            try:
                return _datetime_column(name, pd.to_datetime(series), rows)
            except (TypeError, ValueError, OverflowError):
                return "unsupported: mixed value types"
    return f"unsupported: values of type {dtype}"


def _resolve(name: str, names: list[str], what: str) -> str:
    """Check a requested column exists; suggest close names (difflib) when it does not."""
    if name in names:
        return name
    lowered = {n.lower(): n for n in names}
    suggestions = [lowered[name.lower()]] if name.lower() in lowered else []
    suggestions += [
        s for s in difflib.get_close_matches(name, names, n=3, cutoff=0.6) if s not in suggestions
    ]
    hint = f" Did you mean {', '.join(repr(_short(s)) for s in suggestions)}?" if suggestions else ""
    raise UnknownColumnError(
        f"Unknown {what} column {_short(name)!r}.{hint}",
        details={"column": _short(name), "suggestions": ", ".join(suggestions)},
    )


def _focus_from_request(request: str, names: list[str]) -> tuple[str | None, str | None]:
    """Columns the request names: a group after 'by/per/across/for each', else a target.

    Why: the planner forwards the user's sentence; "compare revenue by region" should test
    revenue across regions even when the plan did not fill in ``target``/``group``.
    """
    if not request.strip():
        return None, None
    text = " " + re.sub(r"\s+", " ", request.lower()) + " "
    mentioned: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []
    candidates = [n for n in names if not _is_identifier_name(n)]  # "order_id" is never the focus
    for name in sorted(candidates, key=len, reverse=True):  # longest first: "unit price" before "price"
        for variant in dict.fromkeys((name.lower(), name.lower().replace("_", " "))):
            if len(variant.strip()) < 3:  # "a", "x", "id" collide with ordinary words
                continue
            match = re.search(r"(?<![\w])" + re.escape(variant) + r"(?![\w])", text)
            if match is None or any(s <= match.start() < e for s, e in taken):
                continue
            if all(name != m for _, m in mentioned):
                mentioned.append((match.start(), name))
                taken.append(match.span())
    mentioned.sort()
    group = None
    for start, name in mentioned:
        if re.search(r"(?:\bby|\bper|\bacross|\bfor each|\bbetween)\s+(?:the\s+|each\s+)?$", text[:start]):
            group = name
            break
    target = next((name for _, name in mentioned if name != group), None)
    return target, group


# --------------------------------------------------------------------------------------------
# Distributions
# --------------------------------------------------------------------------------------------


def _moments(values: np.ndarray) -> tuple[float, float]:
    """Bias-adjusted skewness and excess kurtosis (pandas' G1 and G2)."""
    n = len(values)
    if n < 4:
        return float("nan"), float("nan")
    with np.errstate(all="ignore"):  # extreme magnitudes overflow to inf and are reported as None
        centered = values - values.mean()
        squared = centered * centered  # products, not float powers: ~10x faster on 1M values
        m2 = float(squared.mean())
        m3 = float(np.dot(squared, centered) / len(values))
        m4 = float(np.dot(squared, squared) / len(values))
    if not (m2 > 0 and math.isfinite(m2) and math.isfinite(m4)):
        return float("nan"), float("nan")
    g1 = m3 / m2**1.5
    g2 = m4 / m2**2 - 3.0
    skew = g1 * math.sqrt(n * (n - 1)) / (n - 2)
    kurt = ((n + 1) * g2 + 6.0) * (n - 1) / ((n - 2) * (n - 3))
    return skew, kurt


def _has_dip(sample: np.ndarray) -> bool:
    """True when a 10-bin histogram (1st-99th percentile) sags in the middle: two humps."""
    low, high = np.quantile(sample, [0.01, 0.99])
    if not high > low:
        return False
    counts, _ = np.histogram(sample, bins=10, range=(low, high))
    middle = counts[4:6].mean()
    return bool(middle < 0.75 * min(counts[:4].max(), counts[6:].max()))


def _shape_label(
    n: int, skew: float, kurt: float, p: float | None, bowley: float, sample: np.ndarray
) -> Shape | None:
    """A simple, documented shape label (first rule that matches wins).

    ``bowley`` is the quartile skewness (Q3 + Q1 - 2 median) / (Q3 - Q1): unlike the moment
    skewness it ignores the tails, so a symmetric heavy-tailed sample (whose moment skewness
    swings with a few extreme values) is not called skewed.

    1. ``normal``: the normality test does not reject (p >= ALPHA), or the moments are close to
       a normal's (|skew| < 0.5 and -0.5 <= excess kurtosis < 1) — at large n the test rejects
       any real data, so the moments decide there.
    2. ``right-skewed`` / ``left-skewed``: |skew| >= 1 and |bowley| >= 0.1 (same sign).
    3. ``heavy-tailed``: excess kurtosis >= 3.
    4. ``bimodal?``: excess kurtosis < -0.5 and the histogram dips in the middle (two humps;
       the question mark says it is a heuristic, not a test).
    5. ``uniform-ish``: excess kurtosis <= -0.9 (a uniform distribution has -1.2).
    6. ``right-skewed`` / ``left-skewed``: |skew| >= 0.5 and |bowley| >= 0.05 (same sign);
       ``heavy-tailed``: kurtosis >= 1.
    7. otherwise ``normal`` (near-normal; rejected only because n is large).
    """
    if n < 8 or not (math.isfinite(skew) and math.isfinite(kurt)):
        return None
    if (p is not None and math.isfinite(p) and p >= ALPHA) or (abs(skew) < 0.5 and -0.5 <= kurt < 1.0):
        return "normal"
    direction: Shape = "right-skewed" if skew > 0 else "left-skewed"
    agrees = math.isfinite(bowley) and bowley * skew > 0
    if abs(skew) >= 1.0 and agrees and abs(bowley) >= 0.1:
        return direction
    if kurt >= 3.0:
        return "heavy-tailed"
    if kurt < -0.5 and _has_dip(sample):
        return "bimodal?"
    if kurt <= -0.9:
        return "uniform-ish"
    if abs(skew) >= 0.5 and agrees and abs(bowley) >= 0.05:
        return direction
    if kurt >= 1.0:
        return "heavy-tailed"
    return "normal"


def _numeric_distribution(col: _Col, rng: np.random.Generator) -> NumericDistribution:
    assert col.values is not None
    values = col.values[~np.isnan(col.values)]
    n = len(values)
    with np.errstate(all="ignore"):
        q0, q1, q2, q3, q4 = (float(v) for v in np.quantile(values, [0.0, 0.25, 0.5, 0.75, 1.0]))
        mean = float(values.mean())
        std = float(values.std(ddof=1)) if n > 1 else float("nan")
    skew, kurt = _moments(values)
    sample = rng.choice(values, NORMALITY_MAX_SAMPLE, replace=False) if n > NORMALITY_MAX_SAMPLE else values
    statistic = p = None
    if n >= NORMALITY_MIN_N and np.ptp(sample) > 0:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            result = stats.normaltest(sample)
        statistic, p = float(result.statistic), float(result.pvalue)
    iqr = q3 - q1
    outliers = int(
        ((values < q1 - OUTLIER_IQR_MULTIPLIER * iqr) | (values > q3 + OUTLIER_IQR_MULTIPLIER * iqr)).sum()
    )
    return NumericDistribution(
        column=col.name,
        n=n,
        missing=len(col.values) - n,
        mean=mean,
        median=q2,
        std=std,
        min=q0,
        max=q4,
        q1=q1,
        q3=q3,
        skew=skew,
        kurtosis=kurt,
        normality_statistic=statistic,
        normality_p_value=p,
        shape=_shape_label(n, skew, kurt, p, (q3 + q1 - 2 * q2) / iqr if iqr > 0 else float("nan"), sample),
        outlier_share=outliers / n if iqr > 0 else 0.0,
        parsed_from_text=col.parsed_from_text,
    )


def _category_distribution(col: _Col) -> CategoryDistribution:
    assert col.codes is not None
    counts = np.bincount(col.codes[col.codes >= 0], minlength=len(col.levels))
    total = int(counts.sum())
    order = np.argsort(-counts, kind="stable")[:MAX_TOP_CATEGORIES]
    entropy = _entropy_bits(counts)
    return CategoryDistribution(
        column=col.name,
        n=total,
        missing=len(col.codes) - total,
        distinct=col.distinct,
        top=[
            CategoryShare(value=_short(col.levels[i], 200), count=int(counts[i]), share=counts[i] / total)
            for i in order
        ],
        entropy=entropy,
        entropy_normalised=entropy / math.log2(col.distinct) if col.distinct > 1 else None,
        ordinal=col.ordinal,
    )


# --------------------------------------------------------------------------------------------
# Correlations
# --------------------------------------------------------------------------------------------


def _pairwise_pearson(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pearson r for every column pair with pairwise deletion, in a few matrix products.

    Columns are standardised first so near-zero variances (a column constant where the other is
    present) are detected with an absolute threshold and reported as NaN instead of noise.
    Returns ``(r, n)`` matrices.
    """
    rows, p = matrix.shape
    present = np.isfinite(matrix)
    with np.errstate(all="ignore"):
        means = np.nanmean(matrix, axis=0)
        scale = np.nanstd(matrix, axis=0)
        scale[~(scale > 0)] = 1.0
        z = np.where(present, (matrix - means) / scale, 0.0)
        if present.all():
            counts = np.full((p, p), float(rows))
            cross = z.T @ z
            var = np.diag(cross)[:, None] * np.ones((1, p))
            r = cross / np.sqrt(var * var.T)
            var_i = var
        else:
            mask = present.astype(np.float64)
            counts = mask.T @ mask
            sums = z.T @ mask  # sums[i, j]: sum of z_i where both i and j are present
            squares = (z * z).T @ mask
            cross = z.T @ z
            var_i = squares - sums * sums / counts
            cov = cross - sums * sums.T / counts
            r = cov / np.sqrt(var_i * var_i.T)
    tiny = 1e-9 * counts
    var_j = var_i.transpose()
    degenerate = (var_i <= tiny) | (var_j <= tiny) | (counts < 3) | ~np.isfinite(r)
    r = np.clip(r, -1.0, 1.0)
    r[degenerate] = np.nan
    return r, counts.astype(np.int64)


def _r_p_values(r: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Two-sided p-values of correlation coefficients (t distribution, n - 2 df)."""
    with np.errstate(all="ignore"):
        dof = n.astype(np.float64) - 2.0
        t = r * np.sqrt(dof / np.maximum(1.0 - r * r, 1e-300))
        p = 2.0 * stats.t.sf(np.abs(t), np.maximum(dof, 1.0))
    p = np.where(np.abs(r) >= 1.0, 0.0, p)
    return np.where((dof < 1) | np.isnan(r), np.nan, p)


@dataclass
class _Chi2:
    chi2: float
    dof: int
    p: float
    v: float
    n: int
    nested: Literal["a_in_b", "b_in_a"] | None = None


def _chi_square(a: np.ndarray, b: np.ndarray, ka: int, kb: int) -> _Chi2 | None:
    """Chi-square test of independence and bias-corrected Cramér's V (Bergsma 2013).

    No Yates continuity correction, so 2x2 tables use the same statistic as larger ones. Also
    reports whether one column is nested in the other (:data:`NESTED_MIN_SHARE`), because
    "product is associated with category" is a tautology, not a finding.
    """
    both = (a >= 0) & (b >= 0)
    table = np.bincount(a[both] * kb + b[both], minlength=ka * kb).reshape(ka, kb).astype(np.float64)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    r, k = table.shape
    n = int(table.sum())
    if r < 2 or k < 2 or n < 3:
        return None
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    dof = (r - 1) * (k - 1)
    phi2 = chi2 / n
    phi2_corr = max(0.0, phi2 - (k - 1) * (r - 1) / (n - 1))
    r_corr = r - (r - 1) ** 2 / (n - 1)
    k_corr = k - (k - 1) ** 2 / (n - 1)
    denominator = min(k_corr - 1, r_corr - 1)
    v = math.sqrt(phi2_corr / denominator) if denominator > 0 else float("nan")
    nested: Literal["a_in_b", "b_in_a"] | None = None
    if r > k and bool(np.all(table.max(axis=1) >= NESTED_MIN_SHARE * table.sum(axis=1))):
        nested = "a_in_b"
    elif k > r and bool(np.all(table.max(axis=0) >= NESTED_MIN_SHARE * table.sum(axis=0))):
        nested = "b_in_a"
    return _Chi2(chi2=chi2, dof=dof, p=float(stats.chi2.sf(chi2, dof)), v=min(v, 1.0), n=n, nested=nested)


@dataclass
class _Anova:
    eta2: float
    f: float
    p: float
    n: int
    groups: int
    counts: np.ndarray  # per level (0 for absent levels)
    means: np.ndarray


def _anova(y: np.ndarray, codes: np.ndarray, k: int) -> _Anova | None:
    """One-way ANOVA and η² from group sums (bincount).

    Rows missing either value are dropped, and so are groups with a single row: they add
    between-group variance but no within-group variance, so a few one-off levels (a quantity of
    500 ordered once) would inflate η towards 1.
    """
    keep = ~np.isnan(y) & (codes >= 0)
    y, c = y[keep], codes[keep]
    single = np.bincount(c, minlength=k) < 2
    if single.any():
        keep = ~single[c]
        y, c = y[keep], c[keep]
    n = len(y)
    counts = np.bincount(c, minlength=k)
    present = counts > 0
    groups = int(present.sum())
    if groups < 2 or n <= groups:
        return None
    sums = np.bincount(c, weights=y, minlength=k)
    with np.errstate(all="ignore"):
        means = np.where(present, sums / np.maximum(counts, 1), np.nan)
    with np.errstate(all="ignore"):
        grand = float(y.mean())
        ss_total = float(((y - grand) ** 2).sum())
    if not (ss_total > 0 and math.isfinite(ss_total)):
        return None
    ss_between = float((counts[present] * (means[present] - grand) ** 2).sum())
    ss_within = max(ss_total - ss_between, 0.0)
    eta2 = min(1.0, ss_between / ss_total)
    if ss_within <= 1e-12 * ss_total:
        f, p = float("inf"), 0.0
    else:
        f = (ss_between / (groups - 1)) / (ss_within / (n - groups))
        p = float(stats.f.sf(f, groups - 1, n - groups))
    return _Anova(eta2=eta2, f=f, p=p, n=n, groups=groups, counts=counts, means=means)


def _extremes(anova: _Anova, levels: list[str]) -> tuple[str, float, str, float]:
    """Highest and lowest group means among groups of a reasonable size (>= 5 rows if any)."""
    minimum = min(5, int(anova.counts.max()))
    eligible = np.flatnonzero(anova.counts >= minimum)
    means = anova.means[eligible]
    hi, lo = eligible[int(np.argmax(means))], eligible[int(np.argmin(means))]
    return levels[hi], float(anova.means[hi]), levels[lo], float(anova.means[lo])


# --------------------------------------------------------------------------------------------
# Hypothesis tests
# --------------------------------------------------------------------------------------------


@dataclass
class _PendingTest:
    """A test before Holm correction; the conclusion needs the adjusted p-value."""

    test: Literal["welch_t", "anova", "kruskal_wallis", "chi_square"]
    columns: list[str]
    statistic: float
    df: str
    p: float
    effect: float
    effect_name: str
    n: int
    groups: list[GroupSummary]
    extremes: tuple[str, float, str, float] | None = None
    focus: bool = False


def _group_summaries(
    y: np.ndarray, codes: np.ndarray, levels: list[str]
) -> tuple[list[GroupSummary], tuple[str, float, str, float]]:
    """Largest groups' n/mean/median, and the highest/lowest *median* (groups >= 5 rows if any).

    Medians back the Kruskal-Wallis statement: it compares distributions (ranks), not means.
    """
    frame = pd.DataFrame({"g": codes, "y": y})
    grouped = frame.groupby("g")["y"].agg(["size", "mean", "median"]).sort_values("size", ascending=False)
    eligible = grouped[grouped["size"] >= min(5, int(grouped["size"].max()))]["median"]
    hi, lo = int(eligible.idxmax()), int(eligible.idxmin())
    extremes = (levels[hi], float(eligible[hi]), levels[lo], float(eligible[lo]))
    summaries = [
        GroupSummary(
            group=_short(levels[int(g)], 200), n=int(row["size"]), mean=row["mean"], median=row["median"]
        )
        for g, row in grouped.head(MAX_GROUP_SUMMARIES).iterrows()
    ]
    return summaries, extremes


def _numeric_across_groups(
    measure: _Col, grouping: _Col, rows: np.ndarray | None, focus: bool
) -> list[_PendingTest]:
    """Compare a numeric measure across the levels of a categorical column.

    Two groups: Welch's t-test (no equal-variance assumption) with Cohen's d on the averaged
    variance. More: one-way ANOVA (η²) plus Kruskal-Wallis (ε²), which does not assume
    normality, so skewed measures get a robust answer too. Groups with < 2 rows are dropped.
    """
    y = _measure_values(measure)
    assert grouping.codes is not None
    codes = grouping.codes
    if rows is not None:
        y, codes = y[rows], codes[rows]
    keep = ~np.isnan(y) & (codes >= 0)
    y, codes = y[keep], codes[keep]
    counts = np.bincount(codes, minlength=len(grouping.levels))
    big = counts >= 2
    if int(big.sum()) < 2:
        return []
    keep = big[codes]
    y, codes = y[keep], codes[keep]
    n = len(y)
    if np.ptp(y) == 0:
        return []
    columns = [measure.name, grouping.name]
    summaries, median_extremes = _group_summaries(y, codes, grouping.levels)
    present = np.flatnonzero(big)
    if len(present) == 2:
        a, b = y[codes == present[0]], y[codes == present[1]]
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            result = stats.ttest_ind(a, b, equal_var=False)
        pooled = math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2.0)
        d = (a.mean() - b.mean()) / pooled if pooled > 0 else float("nan")
        statistic, p = float(result.statistic), float(result.pvalue)
        if not math.isfinite(p):
            return []
        dof = getattr(result, "df", float("nan"))
        extremes = (
            grouping.levels[present[0]],
            float(a.mean()),
            grouping.levels[present[1]],
            float(b.mean()),
        )
        return [
            _PendingTest(
                "welch_t",
                columns,
                statistic,
                f"{float(dof):.1f}",
                p,
                float(d),
                "cohens_d",
                n,
                summaries,
                extremes,
                focus,
            )
        ]
    tests: list[_PendingTest] = []
    anova = _anova(y, codes, len(grouping.levels))
    if anova is not None:
        tests.append(
            _PendingTest(
                "anova",
                columns,
                anova.f,
                f"{anova.groups - 1}, {anova.n - anova.groups}",
                anova.p,
                anova.eta2,
                "eta_squared",
                n,
                summaries,
                _extremes(anova, grouping.levels),
                focus,
            )
        )
    order = np.argsort(codes, kind="stable")
    splits = np.split(y[order], np.cumsum(counts[present])[:-1])
    try:
        h, p = stats.kruskal(*splits)
    except ValueError:  # all values identical
        return tests
    if math.isfinite(h) and math.isfinite(p):
        tests.append(
            _PendingTest(
                "kruskal_wallis",
                columns,
                float(h),
                str(len(splits) - 1),
                float(p),
                min(1.0, float(h) / (n - 1)),
                "epsilon_squared",
                n,
                summaries,
                median_extremes,
                focus,
            )
        )
    return tests


def _measure_values(col: _Col) -> np.ndarray:
    if col.values is not None:
        return col.values
    return col.ordinal_values()


def _conclusion(test: _PendingTest, adjusted: float | None, multiple: bool) -> str:
    """One plain sentence with the numbers (statistic, p, Holm-adjusted p, effect size)."""
    significant = adjusted is not None and adjusted < ALPHA
    holm = ""
    if multiple and adjusted is not None:
        holm = f", Holm-adjusted p {'< 0.001' if adjusted < 0.001 else f'= {adjusted:.3f}'}"
    measure, grouping = (_short(c) for c in test.columns[:2])
    numbers_text = f"{_fmt_p(test.p)}{holm}"
    if test.test == "chi_square":
        stats_text = (
            f"χ² = {_fmt(test.statistic)}, df = {test.df}, {numbers_text}, Cramér's V = {test.effect:.2f}"
        )
        if significant:
            return f"{measure} is associated with {grouping} ({stats_text})."
        return f"No significant association between {measure} and {grouping} ({stats_text})."
    if test.test == "welch_t":
        assert test.extremes is not None
        a, ma, b, mb = test.extremes
        stats_text = f"Welch t = {test.statistic:.2f}, {numbers_text}, Cohen's d = {test.effect:.2f}"
        if significant:
            higher, lower = ((a, ma), (b, mb)) if ma >= mb else ((b, mb), (a, ma))
            return (
                f"Mean {measure} is higher for {_short(higher[0], 40)} ({_fmt(higher[1])}) than for "
                f"{_short(lower[0], 40)} ({_fmt(lower[1])}) ({stats_text})."
            )
        return (
            f"No significant difference in mean {measure} between {_short(a, 40)} ({_fmt(ma)}) and "
            f"{_short(b, 40)} ({_fmt(mb)}) ({stats_text})."
        )
    k = test.df.split(",")[0].strip()
    groups = int(k) + 1 if k.isdigit() else len(test.groups)
    if test.test == "anova":
        stats_text = f"ANOVA F = {_fmt(test.statistic)}, {numbers_text}, η² = {test.effect:.3f}"
        what = f"Mean {measure}"
    else:
        stats_text = f"Kruskal-Wallis H = {_fmt(test.statistic)}, {numbers_text}, ε² = {test.effect:.3f}"
        what = f"The distribution of {measure}"
    if significant:
        extra = ""
        if test.extremes is not None:
            hi, hm, lo, lm = test.extremes
            stat = "mean" if test.test == "anova" else "median"
            extra = f": highest {stat} for {_short(hi, 40)} ({_fmt(hm)}), lowest for {_short(lo, 40)} ({_fmt(lm)})"
        return f"{what} differs across the {groups} {grouping} groups{extra} ({stats_text})."
    return f"{what} does not differ significantly across the {groups} {grouping} groups ({stats_text})."


# --------------------------------------------------------------------------------------------
# Time series
# --------------------------------------------------------------------------------------------

_ADVERB = {"day": "daily", "week": "weekly", "month": "monthly"}
_FREQ_RULES: dict[str, dict[str, Any]] = {
    "month": {"rule": "MS"},
    "week": {"rule": "W-MON", "label": "left", "closed": "left"},
    "day": {"rule": "D"},
}


def _main_measure(numerics: list[_Col]) -> _Col | None:
    """The numeric column whose name marks it as the table's measure (see :data:`VALUE_KEYWORDS`)."""
    for keyword in VALUE_KEYWORDS:
        for col in numerics:
            if keyword in col.name.lower():
                return col
    return None


def _pick_value_column(
    target: _Col | None, numerics: list[_Col], ordinals: list[_Col], date_col: _Col, rows: np.ndarray | None
) -> _Col | None:
    """The measure to follow over time (see :data:`VALUE_KEYWORDS`)."""
    if target is not None and (target.kind == "numeric"):
        return target
    named = _main_measure([*numerics, *ordinals])
    if named is not None:
        return named
    if not numerics:
        return None
    assert date_col.dates is not None
    days = _days(date_col.dates)
    best, best_r = numerics[0], -1.0
    for col in numerics:
        x, y = days, _measure_values(col)
        if rows is not None:
            x, y = x[rows], y[rows]
        ok = ~np.isnan(x) & ~np.isnan(y)
        if ok.sum() < 3 or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
            continue
        rho = abs(float(stats.spearmanr(x[ok], y[ok]).statistic))
        if math.isfinite(rho) and rho > best_r:
            best, best_r = col, rho
    return best


def _days(dates: pd.Series) -> np.ndarray:
    """Dates as float days since the first one (NaN for missing); resolution-independent."""
    delta = (dates - dates.min()) / pd.Timedelta(days=1)
    return delta.to_numpy(dtype=np.float64, na_value=np.nan)


def _period_label(stamp: pd.Timestamp, freq: str) -> str:
    return stamp.strftime("%Y-%m") if freq == "month" else stamp.strftime("%Y-%m-%d")


def _seasonal_position_label(stamp: pd.Timestamp, freq: str) -> str:
    if freq == "month":
        return stamp.strftime("%B")
    if freq == "day":
        return stamp.strftime("%A")
    return f"ISO week {stamp.isocalendar().week}"


def _time_series(
    date_col: _Col, value_col: _Col | None, notes: list[str]
) -> tuple[TimeSeriesSummary | None, str]:
    """Aggregate the measure per calendar period and describe trend and seasonality."""
    assert date_col.dates is not None
    dates = date_col.dates
    aggregation: Literal["sum", "mean", "count"]
    if value_col is None:
        aggregation = "count"
        values = np.ones(len(dates))
    else:
        values = _measure_values(value_col)
        aggregation = "sum" if any(k in value_col.name.lower() for k in SUM_KEYWORDS) else "mean"
    ok = dates.notna().to_numpy(dtype=bool) & ~np.isnan(values)
    if ok.sum() < 3:
        return None, "too few dated values for a time series"
    index = pd.DatetimeIndex(dates[ok])
    series = pd.Series(values[ok], index=index).sort_index()
    span = series.index[-1] - series.index[0]
    freq: Freq = (
        "month" if span > pd.Timedelta(days=730.5) else "week" if span > pd.Timedelta(days=90) else "day"
    )
    options = dict(_FREQ_RULES[freq])
    rule = options.pop("rule")
    resampled = series.resample(rule, **options)
    counts = resampled.count()
    if aggregation == "mean":
        aggregated = resampled.mean()
        gaps = int(aggregated.isna().sum())
        if gaps:
            aggregated = aggregated.interpolate(limit_direction="both")
            notes.append(f"Time series: {gaps} empty {freq}s interpolated linearly.")
    elif aggregation == "sum":
        aggregated = resampled.sum()
    else:
        aggregated = counts.astype(np.float64)

    if len(aggregated) >= 6:
        median = float(counts.median())
        dropped = []
        if counts.iloc[-1] < PARTIAL_PERIOD_SHARE * median:
            dropped.append(f"last ({_period_label(aggregated.index[-1], freq)})")
            aggregated, counts = aggregated.iloc[:-1], counts.iloc[:-1]
        if counts.iloc[0] < PARTIAL_PERIOD_SHARE * median:
            dropped.append(f"first ({_period_label(aggregated.index[0], freq)})")
            aggregated, counts = aggregated.iloc[1:], counts.iloc[1:]
        if dropped:
            notes.append(
                f"Time series: dropped the partial {' and '.join(dropped)} {freq} "
                f"(fewer than {PARTIAL_PERIOD_SHARE:.0%} of the median rows per {freq})."
            )
    n = len(aggregated)
    if n < 3:
        return None, f"fewer than 3 {freq}s of data"
    y = aggregated.to_numpy(dtype=np.float64)
    x = np.arange(n, dtype=np.float64)
    slope = p_trend = r_trend = None
    intercept = float(y.mean())
    slope_value = 0.0
    direction: Literal["up", "down", "flat"] = "flat"
    if np.ptp(y) > 0:
        fit = stats.linregress(x, y)
        slope_value, intercept = float(fit.slope), float(fit.intercept)
        slope, p_trend, r_trend = slope_value, float(fit.pvalue), float(fit.rvalue)
        if p_trend < ALPHA:
            direction = "up" if slope_value > 0 else "down"

    period = SEASONAL_PERIODS[freq]
    strength = p_season = None
    peak = trough = None
    if n >= 2 * period:
        seasonal_y, seasonal_intercept, seasonal_slope = y, intercept, slope_value
        if freq == "month" and aggregation != "mean":
            # Monthly sums/counts track month length (February is ~10 % shorter than October):
            # measure seasonality on the per-day rate so the calendar is not reported as a pattern.
            days = aggregated.index.days_in_month.to_numpy(dtype=np.float64)
            seasonal_y = y / days * (365.25 / 12)
            if np.ptp(seasonal_y) > 0:
                refit = stats.linregress(x, seasonal_y)
                seasonal_intercept, seasonal_slope = float(refit.intercept), float(refit.slope)
        residual = seasonal_y - (seasonal_intercept + seasonal_slope * x)
        position = (np.arange(n) % period).astype(np.int64)
        counts_pos = np.bincount(position, minlength=period)
        means = np.bincount(position, weights=residual, minlength=period) / counts_pos
        ss_total = float((residual**2).sum())
        ss_between = float((counts_pos * (means - residual.mean()) ** 2).sum())
        ss_within = max(ss_total - ss_between, 0.0)
        df_within = n - period - 1
        if ss_total > 0 and df_within > 0:
            strength = max(0.0, 1.0 - (ss_within / df_within) / (ss_total / (n - 2)))
            if ss_within > 0:
                f = (ss_between / (period - 1)) / (ss_within / df_within)
                p_season = float(stats.f.sf(f, period - 1, df_within))
            else:
                p_season = 0.0
            stamps = aggregated.index
            peak = _seasonal_position_label(stamps[int(np.argmax(means))], freq)
            trough = _seasonal_position_label(stamps[int(np.argmin(means))], freq)

    labels = [_period_label(stamp, freq) for stamp in aggregated.index]
    with np.errstate(all="ignore"):
        previous = np.concatenate([[np.nan], y[:-1]])
        change = np.where(previous != 0, (y - previous) / np.abs(previous) * 100.0, np.nan)
    if n > MAX_SERIES_POINTS:
        notes.append(f"Time series: {n} {freq}s; only the last {MAX_SERIES_POINTS} are listed in 'series'.")
    summary = TimeSeriesSummary(
        date_column=date_col.name,
        value_column=None if value_col is None else value_col.name,
        aggregation=aggregation,
        freq=freq,
        periods=n,
        start=labels[0],
        end=labels[-1],
        trend_slope_per_period=slope,
        trend_p_value=p_trend,
        trend_r=r_trend,
        trend_direction=direction,
        seasonal_period=period if strength is not None else None,
        seasonality_strength=strength,
        seasonality_p_value=p_season,
        seasonal_peak=peak,
        seasonal_trough=trough,
        last_period_change_pct=float(change[-1]),
        period_over_period=[
            PeriodChange(period=labels[i], value=y[i], change_pct=change[i])
            for i in range(max(0, n - MAX_PERIOD_OVER_PERIOD), n)
        ],
        series=[PeriodValue(period=labels[i], value=y[i]) for i in range(max(0, n - MAX_SERIES_POINTS), n)],
    )
    return (
        summary,
        f"summarised {_ADVERB[freq]} {aggregation} of {_short(summary.value_column or 'rows', 40)} over {n} periods",
    )


# --------------------------------------------------------------------------------------------
# Insights
# --------------------------------------------------------------------------------------------


@dataclass
class _Candidate:
    kind: str
    title: str
    detail: str
    columns: list[str]
    metric: str
    value: float | None
    p: float | None
    effect: float | None
    score: float
    pair: frozenset[str] | None = None
    priority: int = 0


_METHOD_SYMBOL = {"pearson": "Pearson r", "spearman": "Spearman ρ", "cramers_v": "Cramér's V", "eta": "η"}
_METHOD_METRIC = {"pearson": "pearson_r", "spearman": "spearman_rho", "cramers_v": "cramers_v", "eta": "eta"}


class _Redundancy:
    """Union-find over columns that are (near) copies of each other."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}
        self.evidence: dict[frozenset[str], Correlation] = {}

    def find(self, name: str) -> str:
        root = self.parent.setdefault(name, name)
        if root != name:
            root = self.parent[name] = self.find(root)
        return root

    def add(self, corr: Correlation) -> None:
        self.evidence[frozenset((corr.col_a, corr.col_b))] = corr
        self.parent[self.find(corr.col_a)] = self.find(corr.col_b)

    def clusters(self) -> list[list[str]]:
        groups: dict[str, list[str]] = {}
        for name in self.parent:
            groups.setdefault(self.find(name), []).append(name)
        return [sorted(members) for members in groups.values() if len(members) > 1]


def _ordered_pair(a: str, b: str, focus: set[str]) -> tuple[str, str]:
    """Put the target/group first so titles read "revenue rises with quantity"."""
    return (b, a) if b in focus and a not in focus else (a, b)


def _correlation_candidates(
    correlations: list[Correlation],
    focus: set[str],
    ordinal_names: set[str],
    tested: set[frozenset[str]],
    eta_extremes: dict[frozenset[str], tuple[str, float, str, float]],
    redundancy: _Redundancy,
) -> list[_Candidate]:
    by_pair: dict[frozenset[str], dict[str, Correlation]] = {}
    for corr in correlations:
        by_pair.setdefault(frozenset((corr.col_a, corr.col_b)), {})[corr.method] = corr
    out: list[_Candidate] = []
    for pair, methods in by_pair.items():
        copies = [
            c
            for m, c in methods.items()
            if m in {"pearson", "spearman", "cramers_v"} and abs(c.value) > REDUNDANT_THRESHOLD
        ]
        if copies:
            redundancy.add(copies[0])
            continue
        is_focus = bool(pair & focus)
        numeric_pair = {"pearson", "spearman"} & methods.keys()
        if numeric_pair:
            best = max((methods[m] for m in numeric_pair), key=lambda c: abs(c.value))
            if abs(best.value) < INSIGHT_MIN_STRENGTH or best.p_value is None or best.p_value >= ALPHA:
                continue
            a, b = _ordered_pair(best.col_a, best.col_b, focus)
            verb = "rises with" if best.value > 0 else "falls as"
            tail = "" if best.value > 0 else " rises"
            title = (
                f"{_short(a)} {verb} {_short(b)}{tail} ({_METHOD_SYMBOL[best.method]} = {best.value:.2f}, "
                f"{_fmt_p(best.p_value)})"
            )
            other = [
                f"{_METHOD_SYMBOL[m]} = {methods[m].value:+.3f}"
                for m in ("pearson", "spearman")
                if m in methods
            ]
            detail = (
                f"A {best.strength} {'positive' if best.value > 0 else 'negative'} relationship over "
                f"{best.n:,} rows ({'; '.join(other)})."
            )
            kind = "strong_correlation" if abs(best.value) >= 0.5 else "correlation"
            # For an ordinal x numeric pair the signed, readable ρ beats η / ANOVA on the same pair.
            priority = 2 if pair & ordinal_names else 0
            out.append(
                _Candidate(
                    kind,
                    title,
                    detail,
                    [a, b],
                    _METHOD_METRIC[best.method],
                    best.value,
                    best.p_value,
                    abs(best.value),
                    _insight_score(best.value, best.p_value, is_focus),
                    pair,
                    priority,
                )
            )
        if "cramers_v" in methods:
            corr = methods["cramers_v"]
            if (
                corr.value >= INSIGHT_MIN_STRENGTH
                and corr.p_value is not None
                and corr.p_value < ALPHA
                and pair not in tested
            ):
                a, b = _ordered_pair(corr.col_a, corr.col_b, focus)
                out.append(
                    _Candidate(
                        "association",
                        f"{_short(a)} is associated with {_short(b)} (Cramér's V = {corr.value:.2f}, {_fmt_p(corr.p_value)})",
                        f"A {corr.strength} association in a chi-square test of independence over {corr.n:,} rows.",
                        [a, b],
                        "cramers_v",
                        corr.value,
                        corr.p_value,
                        corr.value,
                        _insight_score(corr.value, corr.p_value, is_focus),
                        pair,
                    )
                )
        if "eta" in methods and methods["eta"].value >= ATTRIBUTE_ETA:
            corr = methods["eta"]
            measure, grouping = corr.col_a, corr.col_b
            out.append(
                _Candidate(
                    "attribute",
                    f"{_short(measure)} is (almost) fixed per {_short(grouping)} (η = {corr.value:.2f})",
                    f"{corr.value**2:.1%} of the variance of {_short(measure)} lies between {_short(grouping)} "
                    f"groups: it is an attribute of each {_short(grouping)} (a lookup value), so the "
                    "difference between groups is structural, not a finding.",
                    [measure, grouping],
                    "eta",
                    corr.value,
                    corr.p_value,
                    corr.value,
                    ATTRIBUTE_SCORE,
                    pair,
                    priority=3,  # wins its pair over the tests that would rank it first
                )
            )
        elif "eta" in methods and pair not in tested:
            corr = methods["eta"]
            if corr.value >= INSIGHT_MIN_STRENGTH and corr.p_value is not None and corr.p_value < ALPHA:
                measure, grouping = corr.col_a, corr.col_b
                extremes = eta_extremes.get(pair)
                detail = f"η² = {corr.value**2:.3f}: {corr.value**2:.0%} of the variance of {_short(measure)} lies between {_short(grouping)} groups ({corr.n:,} rows)."
                if extremes is not None:
                    hi, hm, lo, lm = extremes
                    detail += f" Highest mean: {_short(hi, 40)} ({_fmt(hm)}); lowest: {_short(lo, 40)} ({_fmt(lm)})."
                out.append(
                    _Candidate(
                        "group_difference",
                        f"{_short(measure)} differs across {_short(grouping)} (η = {corr.value:.2f}, {_fmt_p(corr.p_value)})",
                        detail,
                        [measure, grouping],
                        "eta",
                        corr.value,
                        corr.p_value,
                        corr.value,
                        _insight_score(corr.value, corr.p_value, is_focus),
                        pair,
                    )
                )
    return out


def _effect_on_r_scale(test: HypothesisTest) -> float:
    """Effect sizes mapped to the 0-1 correlation scale so tests and correlations rank together."""
    effect = test.effect_size or 0.0
    if test.effect_size_name == "cohens_d":
        return abs(effect) / math.sqrt(effect * effect + 4.0)
    if test.effect_size_name in {"eta_squared", "epsilon_squared"}:
        return math.sqrt(max(effect, 0.0))
    return abs(effect)


def _test_candidates(
    tests: list[HypothesisTest], pending: list[_PendingTest], focus: set[str]
) -> list[_Candidate]:
    out: list[_Candidate] = []
    for test, raw in zip(tests, pending, strict=True):
        if not test.significant:
            continue
        strength = _effect_on_r_scale(test)
        if strength < INSIGHT_MIN_STRENGTH / 3:  # significant but negligible (η² < 1 %)
            continue
        a, b = test.columns[0], test.columns[1]
        pair = frozenset(test.columns)
        score = _insight_score(strength, test.p_value_adjusted, bool(pair & focus))
        effect_text = {
            "cohens_d": f"Cohen's d = {test.effect_size or 0:.2f}",
            "eta_squared": f"η² = {test.effect_size or 0:.3f}",
            "epsilon_squared": f"ε² = {test.effect_size or 0:.3f}",
            "cramers_v": f"Cramér's V = {test.effect_size or 0:.2f}",
        }[test.effect_size_name]
        label = {
            "welch_t": "Welch t-test",
            "anova": "ANOVA",
            "kruskal_wallis": "Kruskal-Wallis",
            "chi_square": "χ² test",
        }[test.test]
        if test.test == "chi_square":
            title = f"{_short(a)} is associated with {_short(b)} ({effect_text}, {_fmt_p(test.p_value)})"
            kind = "association"
        else:
            kind = "group_difference"
            if raw.extremes is not None:
                hi, hm, lo, lm = raw.extremes
                if hm < lm:
                    hi, hm, lo, lm = lo, lm, hi, hm
                stat = "median" if test.test == "kruskal_wallis" else "mean"
                title = (
                    f"{_short(a)} differs by {_short(b)}: highest for {_short(hi, 40)} ({stat} {_fmt(hm)}), "
                    f"lowest for {_short(lo, 40)} ({stat} {_fmt(lm)}) ({label} {_fmt_p(test.p_value)}, {effect_text})"
                )
            else:
                title = f"{_short(a)} differs by {_short(b)} ({label} {_fmt_p(test.p_value)}, {effect_text})"
        out.append(
            _Candidate(
                kind,
                title,
                test.conclusion,
                list(test.columns),
                test.effect_size_name,
                test.effect_size,
                test.p_value,
                strength,
                score,
                pair,
                # Tested pairs beat their untested η / Cramér's V; ANOVA vs Kruskal-Wallis on
                # the same pair is decided by score (skewed measures favour the rank test).
                1,
            )
        )
    return out


def _time_candidates(ts: TimeSeriesSummary, focus: set[str]) -> list[_Candidate]:
    out: list[_Candidate] = []
    measure = f"{_ADVERB[ts.freq]} {'row count' if ts.value_column is None else _short(ts.value_column)}"
    columns = [ts.date_column] + ([ts.value_column] if ts.value_column else [])
    is_focus = bool(set(columns) & focus)
    if ts.trend_direction != "flat" and ts.trend_slope_per_period is not None:
        r = abs(ts.trend_r or 0.0)
        out.append(
            _Candidate(
                "trend",
                f"{measure} is trending {ts.trend_direction} ({ts.trend_slope_per_period:+,.4g} per {ts.freq}, "
                f"{_fmt_p(ts.trend_p_value)})",
                f"Linear trend over {ts.periods} {ts.freq}s from {ts.start} to {ts.end} ({ts.aggregation} of "
                f"{_short(ts.value_column or 'rows')} per {ts.freq}); r = {ts.trend_r or 0:+.2f}.",
                columns,
                "trend_slope_per_period",
                ts.trend_slope_per_period,
                ts.trend_p_value,
                r,
                _insight_score(r, ts.trend_p_value, is_focus),
            )
        )
    strength = ts.seasonality_strength
    if strength is not None and strength >= INSIGHT_MIN_STRENGTH and (ts.seasonality_p_value or 1.0) < ALPHA:
        out.append(
            _Candidate(
                "seasonality",
                f"{measure} repeats every {ts.seasonal_period} {ts.freq}s (seasonality strength {strength:.2f}, "
                f"peak {ts.seasonal_peak}, low {ts.seasonal_trough})",
                f"Cycle-position means explain {strength:.0%} of the detrended variation over {ts.periods} "
                f"{ts.freq}s (F test {_fmt_p(ts.seasonality_p_value)}).",
                columns,
                "seasonality_strength",
                strength,
                ts.seasonality_p_value,
                strength,
                _insight_score(strength, ts.seasonality_p_value, is_focus),
            )
        )
    return out


def _descriptive_candidates(
    distributions: list[NumericDistribution], categories: list[CategoryDistribution], focus: set[str]
) -> list[_Candidate]:
    out: list[_Candidate] = []
    for dist in distributions:
        boost = FOCUS_BOOST if dist.column in focus else 1.0
        name = _short(dist.column)
        if (
            dist.skew is not None
            and abs(dist.skew) >= SKEW_INSIGHT
            and dist.shape in {"right-skewed", "left-skewed"}
        ):
            side = "right" if dist.skew > 0 else "left"
            out.append(
                _Candidate(
                    "skewed_distribution",
                    f"{name} is {side}-skewed (skew = {dist.skew:.2f}; median {_fmt(dist.median)} vs mean {_fmt(dist.mean)})",
                    f"{dist.n:,} values from {_fmt(dist.min)} to {_fmt(dist.max)}; a few large "
                    f"{'high' if side == 'right' else 'low'} values pull the mean; consider medians or a log scale.",
                    [dist.column],
                    "skew",
                    dist.skew,
                    None,
                    None,
                    DESCRIPTIVE_MAX_SCORE * min(1.0, abs(dist.skew) / 5.0) * boost,
                )
            )
        if dist.outlier_share is not None and dist.outlier_share >= OUTLIER_HEAVY_SHARE:
            out.append(
                _Candidate(
                    "outlier_heavy",
                    f"{name} has many extreme values ({dist.outlier_share:.1%} beyond {OUTLIER_IQR_MULTIPLIER:g}×IQR; "
                    f"max {_fmt(dist.max)} vs median {_fmt(dist.median)})",
                    f"Quartiles {_fmt(dist.q1)}–{_fmt(dist.q3)}; values outside Tukey's far-out fences dominate "
                    f"means and Pearson correlations (Spearman is robust to them).",
                    [dist.column],
                    "outlier_share",
                    dist.outlier_share,
                    None,
                    None,
                    DESCRIPTIVE_MAX_SCORE * min(1.0, dist.outlier_share / 0.05) * boost,
                )
            )
    for cat in categories:
        if cat.distinct >= 2 and cat.top and cat.top[0].share >= DOMINANT_SHARE:
            top = cat.top[0]
            boost = FOCUS_BOOST if cat.column in focus else 1.0
            out.append(
                _Candidate(
                    "dominant_category",
                    f"{_short(cat.column)} is dominated by '{_short(top.value, 40)}' ({top.share:.0%} of values)",
                    f"{top.count:,} of {cat.n:,} non-missing values; the other {cat.distinct - 1} levels share the rest, "
                    f"so comparisons across them rest on few rows.",
                    [cat.column],
                    "top_share",
                    top.share,
                    None,
                    None,
                    DESCRIPTIVE_MAX_SCORE * min(1.0, (top.share - 0.5) / 0.5) * boost,
                )
            )
    return out


def _redundancy_candidates(redundancy: _Redundancy) -> list[_Candidate]:
    out: list[_Candidate] = []
    for members in redundancy.clusters():
        evidence = [c for pair, c in redundancy.evidence.items() if pair <= set(members)]
        corr = max(evidence, key=lambda c: abs(c.value))
        names = [_short(m) for m in members]
        joined = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        out.append(
            _Candidate(
                "redundant_columns",
                f"{joined} carry the same information ({_METHOD_SYMBOL[corr.method]} = {corr.value:.3f})",
                "Near-perfect association: one is a copy, rescaling or recoding of the other. Keep one for "
                "modelling; their mutual correlation is not a finding.",
                members,
                _METHOD_METRIC[corr.method],
                corr.value,
                corr.p_value,
                abs(corr.value),
                REDUNDANT_SCORE,
            )
        )
    return out


def _hierarchy_candidates(nested: list[tuple[_Col, _Col, float]]) -> list[_Candidate]:
    """One low-ranked ``hierarchy`` insight per nested pair (e.g. product within category)."""
    out: list[_Candidate] = []
    for fine, coarse, v in nested:
        out.append(
            _Candidate(
                "hierarchy",
                f"{_short(fine.name)} is nested in {_short(coarse.name)}: each of its {fine.distinct} levels "
                f"belongs to one of {coarse.distinct} {_short(coarse.name)} levels",
                f"At least {NESTED_MIN_SHARE:.0%} of every {_short(fine.name)} level's rows fall in a single "
                f"{_short(coarse.name)} level (Cramér's V = {v:.2f}); their association is structural, not a finding.",
                [fine.name, coarse.name],
                "cramers_v",
                v,
                None,
                v,
                HIERARCHY_SCORE,
            )
        )
    return out


def _rank_insights(candidates: list[_Candidate], redundant: set[frozenset[str]]) -> list[Insight]:
    """Keep the best candidate per column pair, then rank by score (see module constants).

    Pairs that are copies of each other only appear in their ``redundant_columns`` insight.
    """
    best: dict[frozenset[str], _Candidate] = {}
    singles: list[_Candidate] = []
    for candidate in candidates:
        if candidate.pair is not None and candidate.pair in redundant:
            continue
        if candidate.pair is None:
            singles.append(candidate)
            continue
        current = best.get(candidate.pair)
        if current is None or (candidate.priority, candidate.score) > (current.priority, current.score):
            best[candidate.pair] = candidate
    ranked = sorted([*best.values(), *singles], key=lambda c: -c.score)[:MAX_INSIGHTS]
    return [
        Insight(
            rank=i,
            kind=c.kind,
            title=c.title,
            detail=c.detail,
            columns=c.columns,
            metric=c.metric,
            value=c.value,
            p_value=c.p,
            effect_size=c.effect,
            score=round(c.score, 4),
        )
        for i, c in enumerate(ranked, start=1)
    ]


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def _select_columns(
    typed: list[_Col], max_columns: int, keep: set[str], excluded: list[ExcludedColumn]
) -> list[_Col]:
    """Apply the ``max_columns`` cap: target/group first, then the best datetime, then by
    informativeness (completeness x spread: normalised entropy for categoricals, distinct
    values up to 20 for numerics), ties in frame order."""
    if len(typed) <= max_columns:
        return typed
    dates = sorted((c for c in typed if c.kind == "datetime"), key=lambda c: -c.distinct)[:1]
    chosen = [c for c in typed if c.name in keep] + [c for c in dates if c.name not in keep]
    names = {c.name for c in chosen}
    rest = sorted((c for c in typed if c.name not in names), key=lambda c: -c.info)
    chosen += rest[: max(0, max_columns - len(chosen))]
    names = {c.name for c in chosen}
    for col in typed:
        if col.name not in names:
            excluded.append(
                ExcludedColumn(column=col.name, reason=f"over the max_columns cap ({max_columns})")
            )
    return [c for c in typed if c.name in names]


def explore(
    frame: pd.DataFrame,
    *,
    target: str | None = None,
    group: str | None = None,
    request: str = "",
    progress: Callable[[float, str], None] | None = None,
    max_columns: int = 60,
    max_rows_for_tests: int = 200_000,
    random_state: int = 0,
) -> EdaReport:
    """Explore a table: distributions, correlations, tests, time series and ranked insights.

    Column typing (first rule that matches):

    * booleans and pandas categoricals: categorical;
    * datetime64: datetime; text where >= 95 % of non-missing values parse as dates (and
      contain a digit, so month names stay categorical): datetime;
    * numbers, and text where >= 95 % parse as numbers after stripping currency signs,
      thousands separators and '%': numeric, except integers with <= 20 distinct values that are
      <= 5 % of the non-missing values, which are *ordinal* categoricals (they also get Spearman
      ρ against numeric columns, since their order means something);
    * other text: categorical.

    Excluded (listed in ``excluded_columns`` with the reason): all-missing and constant columns,
    identifier-like columns (names such as ``id``/``order_id``/``customerId``, all-distinct
    text, dense increasing integer sequences), text with more than 100 distinct values,
    unsupported objects, and columns over the ``max_columns`` cap. The target and group are
    never excluded for their name or cardinality; a continuous group is compared by quartile.

    Tests answer the request: with a numeric target, the target across every categorical
    column; with a categorical target, chi-square against every categorical and every numeric
    across the target's classes; with a group, every numeric across the group. Two groups use
    Welch's t-test, more use ANOVA plus Kruskal-Wallis. Without target/group, column names in
    ``request`` ("compare revenue by region") fill them in (noted in ``notes``).

    Args:
        frame: The table (column labels of any type are reported as text).
        target: Column to explain; must exist.
        group: Column to compare numerics across; must exist.
        request: The user's request, used only to infer target/group when not given.
        progress: Called as ``progress(fraction, message)`` with strictly increasing fractions
            in (0, 1], ending with exactly 1.0.
        max_columns: Most columns analysed (correlation work grows with its square).
        max_rows_for_tests: Pairwise statistics and tests run on a random sample of this many
            rows; distributions and the time series use every row.
        random_state: Seed for the samples, so reports are reproducible.

    Returns:
        The report; ``json.dumps(report.model_dump(mode="json"), allow_nan=False)`` works.

    Raises:
        TypeError: ``frame`` is not a DataFrame.
        ValueError: ``max_columns`` < 1 or ``max_rows_for_tests`` < 10.
        EmptyDataError: the table has no rows or no columns.
        UnknownColumnError: ``target``/``group`` is not a column (close names suggested).
        InvalidInputError: target equals group, or the target/group cannot be analysed
            (all missing, constant, unsupported type, or a datetime group).
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"explore expects a pandas DataFrame, got {type(frame).__name__}")
    if max_columns < 1:
        raise ValueError("max_columns must be >= 1")
    if max_rows_for_tests < 10:
        raise ValueError("max_rows_for_tests must be >= 10")
    rows, width = frame.shape
    if rows == 0 or width == 0:
        raise EmptyDataError("The table has no rows or no columns: there is nothing to explore.")

    report_progress = ThrottledProgress(progress)
    notes: list[str] = []
    names = [_column_name(label) for label in frame.columns]
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            seen[name] += 1
            names[i] = f"{name} ({seen[name]})"
            notes.append(f"Duplicate column name '{_short(name)}' renamed to '{_short(names[i])}'.")
        else:
            seen[name] = 1

    if target is not None:
        target = _resolve(str(target), names, "target")
    if group is not None:
        group = _resolve(str(group), names, "group")
    if target is not None and target == group:
        raise InvalidInputError("The target and the group must be different columns.")
    if target is None and group is None and request:
        inferred_target, inferred_group = _focus_from_request(request, names)
        if inferred_group is not None:
            group = inferred_group
            notes.append(f"Group '{_short(group)}' inferred from the request.")
        if inferred_target is not None:
            target = inferred_target
            notes.append(f"Target '{_short(target)}' inferred from the request.")

    # --- typing -------------------------------------------------------------------------------
    typed: list[_Col] = []
    excluded: list[ExcludedColumn] = []
    for position, name in enumerate(names):
        role: _Role = "target" if name == target else "group" if name == group else None
        result = _type_column(name, frame.iloc[:, position], rows, role, notes)
        if isinstance(result, str):
            if role is not None:
                raise InvalidInputError(f"The {role} column {_short(name)!r} cannot be analysed: {result}.")
            excluded.append(ExcludedColumn(column=name, reason=result))
            continue
        if role == "group" and result.kind == "datetime":
            raise InvalidInputError(
                f"The group column {_short(name)!r} holds dates; choose a categorical column to compare groups."
            )
        typed.append(result)
        report_progress(0.14 * (position + 1) / width, f"typed column {position + 1}/{width}")
    typed = _select_columns(typed, max_columns, {n for n in (target, group) if n is not None}, excluded)
    by_name = {c.name: c for c in typed}
    numerics = [c for c in typed if c.kind == "numeric"]
    categoricals = [c for c in typed if c.kind == "categorical"]
    ordinals = [c for c in categoricals if c.ordinal]
    datetimes = [c for c in typed if c.kind == "datetime"]
    report_progress(
        0.15,
        f"typed {width} columns: {len(numerics)} numeric, {len(categoricals)} categorical, "
        f"{len(datetimes)} datetime, {len(excluded)} excluded",
        force=True,
    )
    target_col = by_name.get(target) if target else None
    group_col = by_name.get(group) if group else None
    if target_col is not None and target_col.kind == "datetime":
        notes.append(
            f"Target '{_short(target_col.name)}' holds dates: it is used as the time axis, not tested."
        )

    rng = np.random.default_rng(random_state)
    sample: np.ndarray | None = None
    if rows > max_rows_for_tests:
        sample = np.sort(rng.choice(rows, max_rows_for_tests, replace=False))
        notes.append(
            f"Correlations and tests use a random sample of {max_rows_for_tests:,} of {rows:,} rows "
            f"(random_state={random_state}); distributions and the time series use all rows."
        )
    sampled_rows = rows if sample is None else len(sample)

    def view(array: np.ndarray) -> np.ndarray:
        return array if sample is None else array[sample]

    # --- distributions ----------------------------------------------------------------------
    distributions = [_numeric_distribution(c, rng) for c in numerics]
    categories = [_category_distribution(c) for c in categoricals]
    report_progress(
        0.25,
        f"described {len(distributions)} numeric and {len(categories)} categorical distributions",
        force=True,
    )

    # --- correlations -----------------------------------------------------------------------
    correlations: list[Correlation] = []
    matrix = NumericMatrix(columns=[c.name for c in numerics])
    eta_extremes: dict[frozenset[str], tuple[str, float, str, float]] = {}
    rankable = [*numerics, *ordinals]
    if len(rankable) >= 2:
        values = np.column_stack([view(_measure_values(c)) for c in rankable])
        k = len(numerics)
        pearson, counts = _pairwise_pearson(values[:, :k]) if k >= 2 else (np.empty((0, 0)), np.empty((0, 0)))
        ranks = stats.rankdata(values, axis=0, nan_policy="omit")
        spearman, rank_counts = _pairwise_pearson(ranks)
        pearson_p = _r_p_values(pearson, counts) if k >= 2 else pearson
        spearman_p = _r_p_values(spearman, rank_counts)
        for i in range(len(rankable)):
            for j in range(i + 1, len(rankable)):
                if i >= k:  # ordinal x ordinal pairs are covered by Cramér's V
                    continue
                a, b = rankable[i].name, rankable[j].name
                if j < k and math.isfinite(pearson[i, j]):
                    correlations.append(
                        Correlation(
                            col_a=a,
                            col_b=b,
                            method="pearson",
                            value=float(pearson[i, j]),
                            p_value=float(pearson_p[i, j]),
                            n=int(counts[i, j]),
                            strength=strength_label(float(pearson[i, j])),
                        )
                    )
                if math.isfinite(spearman[i, j]):
                    correlations.append(
                        Correlation(
                            col_a=a,
                            col_b=b,
                            method="spearman",
                            value=float(spearman[i, j]),
                            p_value=float(spearman_p[i, j]),
                            n=int(rank_counts[i, j]),
                            strength=strength_label(float(spearman[i, j])),
                        )
                    )
        if k >= 1:
            pearson_full = pearson if k >= 2 else np.ones((1, 1))
            spearman_full = spearman[:k, :k]
            np.fill_diagonal(pearson_full, 1.0)
            np.fill_diagonal(spearman_full, 1.0)
            matrix = NumericMatrix(
                columns=[c.name for c in numerics],
                pearson=[[float(v) for v in row] for row in pearson_full],
                spearman=[[float(v) for v in row] for row in spearman_full],
            )
    elif len(numerics) == 1:
        matrix = NumericMatrix(columns=[numerics[0].name], pearson=[[1.0]], spearman=[[1.0]])
    report_progress(0.35, f"computed {len(correlations)} Pearson/Spearman correlations")

    cat_codes = [view(c.codes) for c in categoricals]  # type: ignore[arg-type]
    nested_pairs: list[tuple[_Col, _Col, float]] = []
    for i in range(len(categoricals)):
        for j in range(i + 1, len(categoricals)):
            chi = _chi_square(
                cat_codes[i], cat_codes[j], len(categoricals[i].levels), len(categoricals[j].levels)
            )
            if chi is not None and chi.nested is not None:
                fine, coarse = (i, j) if chi.nested == "a_in_b" else (j, i)
                nested_pairs.append((categoricals[fine], categoricals[coarse], chi.v))
            if chi is not None and math.isfinite(chi.v):
                correlations.append(
                    Correlation(
                        col_a=categoricals[i].name,
                        col_b=categoricals[j].name,
                        method="cramers_v",
                        value=chi.v,
                        p_value=chi.p,
                        n=chi.n,
                        strength=strength_label(chi.v),
                    )
                )
    report_progress(0.45, f"computed {len(correlations)} correlations incl. Cramér's V")
    for num in numerics:
        y = view(num.values)  # type: ignore[arg-type]
        for cat, codes in zip(categoricals, cat_codes, strict=True):
            anova = _anova(y, codes, len(cat.levels))
            if anova is None:
                continue
            eta = math.sqrt(anova.eta2)
            correlations.append(
                Correlation(
                    col_a=num.name,
                    col_b=cat.name,
                    method="eta",
                    value=eta,
                    p_value=anova.p,
                    n=anova.n,
                    strength=strength_label(eta),
                )
            )
            eta_extremes[frozenset((num.name, cat.name))] = _extremes(anova, cat.levels)
    correlations.sort(key=lambda c: -abs(c.value))
    total_correlations = len(correlations)
    if total_correlations > MAX_CORRELATIONS:
        notes.append(f"Correlations: the {MAX_CORRELATIONS} strongest of {total_correlations:,} are listed.")
    report_progress(0.55, f"computed {total_correlations} correlations", force=True)

    # --- hypothesis tests -------------------------------------------------------------------
    measure_col = _main_measure(numerics) if target_col is None and group_col is None else None
    # The measure stands in for the target the request did not name: findings about it rank
    # higher and read with it first ("revenue rises with quantity").
    focus = {n for n in (target, group, measure_col.name if measure_col else None) if n is not None}
    plan: list[tuple[str, _Col, _Col]] = []  # (kind, measure/target, grouping/other)
    if measure_col is not None and categoricals:
        # "Analyze the sales data" names no column, yet whether revenue differs by region or
        # channel is the question such a request asks: test the table's main measure.
        notes.append(
            f"No target or group was named: the tests compare '{_short(measure_col.name)}', the table's "
            "main measure (by its name), across the categorical columns."
        )
        plan += [("groups", measure_col, c) for c in categoricals]
    if target_col is not None and target_col.kind == "numeric":
        plan += [("groups", target_col, c) for c in categoricals if c.name != target_col.name]
    elif target_col is not None and target_col.kind == "categorical":
        plan += [("chi2", target_col, c) for c in categoricals if c.name != target_col.name]
        plan += [("groups", c, target_col) for c in numerics]
    if group_col is not None:
        plan += [
            ("groups", c, group_col)
            for c in numerics
            if not (target_col is not None and target_col.kind == "categorical" and c.name == target_col.name)
        ]
    pending: list[_PendingTest] = []
    planned: set[tuple[str, str, str]] = set()
    for step, (kind, first, second) in enumerate(plan, start=1):
        key = (kind, first.name, second.name)
        if key in planned:
            continue
        planned.add(key)
        if kind == "chi2":
            chi = _chi_square(view(first.codes), view(second.codes), len(first.levels), len(second.levels))  # type: ignore[arg-type]
            if chi is not None and math.isfinite(chi.p):
                pending.append(
                    _PendingTest(
                        "chi_square",
                        [first.name, second.name],
                        chi.chi2,
                        str(chi.dof),
                        chi.p,
                        chi.v,
                        "cramers_v",
                        chi.n,
                        [],
                        focus=True,
                    )
                )
            message = f"tested {_short(first.name, 40)} against {_short(second.name, 40)} (chi-square)"
        else:
            pending += _numeric_across_groups(first, second, sample, focus=True)
            message = (
                f"tested {_short(first.name, 40)} across {second.distinct} {_short(second.name, 40)} groups"
            )
        report_progress(0.55 + 0.25 * step / len(plan), message)
    adjusted = holm_adjust([t.p for t in pending])
    tests = [
        HypothesisTest(
            test=t.test,
            columns=t.columns,
            statistic=t.statistic,
            df=t.df,
            p_value=t.p,
            p_value_adjusted=adj,
            effect_size=t.effect,
            effect_size_name=t.effect_name,
            n=t.n,
            significant=adj is not None and adj < ALPHA,
            conclusion=_conclusion(t, adj, len(pending) > 1),
            groups=t.groups,
        )
        for t, adj in zip(pending, adjusted, strict=True)
    ]
    if not plan:
        notes.append("No hypothesis tests: give a target or group column (or name them in the request).")
    report_progress(
        0.8,
        f"ran {len(tests)} hypothesis tests, {sum(t.significant for t in tests)} significant after Holm",
        force=True,
    )

    # --- time series ------------------------------------------------------------------------
    time_series: TimeSeriesSummary | None = None
    if datetimes:
        date_col = max(datetimes, key=lambda c: c.distinct)
        value_col = _pick_value_column(target_col, numerics, ordinals, date_col, sample)
        time_series, message = _time_series(date_col, value_col, notes)
        if time_series is None:
            notes.append(f"No time series on '{_short(date_col.name)}': {message}.")
        report_progress(0.9, message, force=True)

    # --- insights ---------------------------------------------------------------------------
    redundancy = _Redundancy()
    tested = {frozenset(t.columns) for t in tests}
    candidates = _correlation_candidates(
        correlations, focus, {c.name for c in ordinals}, tested, eta_extremes, redundancy
    )
    candidates += _test_candidates(tests, pending, focus)
    if time_series is not None:
        candidates += _time_candidates(time_series, focus)
    candidates += _descriptive_candidates(distributions, categories, focus)
    candidates += _redundancy_candidates(redundancy)
    candidates += _hierarchy_candidates(nested_pairs)
    trivial = set(redundancy.evidence) | {
        frozenset((fine.name, coarse.name)) for fine, coarse, _ in nested_pairs
    }
    insights = _rank_insights(candidates, trivial)
    report_progress(0.97, f"ranked {len(insights)} insights from {len(candidates)} candidates", force=True)

    report = EdaReport(
        rows=rows,
        rows_sampled_for_tests=sampled_rows,
        columns_analysed=[c.name for c in typed],
        excluded_columns=excluded,
        target=target,
        group=group,
        measure=measure_col.name if measure_col is not None else None,
        numeric_columns=[c.name for c in numerics],
        categorical_columns=[c.name for c in categoricals],
        datetime_columns=[c.name for c in datetimes],
        distributions=distributions,
        categories=categories,
        correlations=correlations[:MAX_CORRELATIONS],
        numeric_matrix=matrix,
        tests=tests,
        time_series=time_series,
        insights=insights,
        notes=notes,
    )
    report_progress(1.0, f"EDA complete: {len(insights)} insights, {len(tests)} tests", force=True)
    return report
