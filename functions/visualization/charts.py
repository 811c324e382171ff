"""Chart recommendation and rendering for the Smart Visualization agent.

The visualization agent answers *which pictures make this table understandable, and why?*
This module holds the pure logic behind that answer:

* :func:`recommend_charts` looks at column types and at what the other agents found (EDA
  correlations, quality profile, model feature importance) and returns ranked
  :class:`ChartSpec` objects. A spec is small, JSON-safe and self-explanatory (its ``reason``
  says why the chart was chosen), so the planner can pass it around by value and the LLM can
  quote it.
* :func:`render_chart` turns a spec plus the table into a Plotly figure. Figures never carry
  raw rows: histograms, bars, lines, box plots and heatmaps are aggregated here with exact
  statistics over all rows, and scatter plots show a deterministic random sample (plus a fit
  computed on all rows). A figure of a 1M-row table therefore stays a few hundred kilobytes.
* :func:`figure_json` and :func:`figure_html` serialise a figure; the HTML embeds plotly.js
  inline because the platform must work without the internet (no CDN). :func:`figure_page`
  gives the same page as :class:`HtmlPage` parts (the text around plotly.js), so a writer can
  compress plotly.js once per container instead of once per page.

Like every logic module, this one imports no AWS, HTTP or A2A code and reads no environment
(DESIGN.md section 3). User-provided text (column names, category values) is HTML-escaped
before it reaches Plotly text, which interprets a subset of HTML; figure JSON escapes ``<``,
``>`` and ``/`` itself, so a hostile name cannot close a ``<script>`` element.
"""

import functools
import hashlib
import html
import math
import numbers
import re
import unicodedata
import warnings
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from pandas.api import types as ptypes
from plotly.offline import get_plotlyjs
from pydantic import BaseModel, ConfigDict, Field

from analystack.errors import EmptyDataError, InvalidInputError, UnknownColumnError

__all__ = [
    "CATEGORICAL_MAX_DISTINCT",
    "DATE_PARSE_MIN_SHARE",
    "IDENTIFIER_MIN_ROWS",
    "MAX_BAR_CATEGORIES",
    "MAX_COLOR_GROUPS",
    "MAX_HEATMAP_COLUMNS",
    "MIN_SCATTER_CORRELATION",
    "NUMERIC_TEXT_MIN_SHARE",
    "OUTLIER_BOX_SHARE",
    "PLOT_CONFIG",
    "SKEW_BOX_THRESHOLD",
    "Aggregation",
    "ChartKind",
    "ChartSpec",
    "HtmlPage",
    "figure_dict",
    "figure_html",
    "figure_json",
    "figure_page",
    "html_document",
    "plotly_js",
    "plotly_page",
    "recommend_charts",
    "render_chart",
]

ChartKind = Literal[
    "histogram", "box", "bar", "line", "scatter", "heatmap", "feature_importance", "missing_values"
]
Aggregation = Literal["sum", "mean", "count", "median"]
_Role = Literal["numeric", "binary", "categorical", "datetime", "identifier", "text", "constant", "other"]

# --------------------------------------------------------------------------------------------
# Tuning constants (shared by the recommender, the renderer, the docs and the tests)
# --------------------------------------------------------------------------------------------

#: |skewness| above which a numeric column is shown as a box plot instead of a histogram: a
#: histogram of a long-tailed column is one tall bar and a few invisible ones.
SKEW_BOX_THRESHOLD = 2.0

#: Share of values beyond Tukey's fences (1.5 x IQR) above which a box plot is preferred, for
#: the same reason. Ignored when the IQR is 0 (then every non-mode value would be an outlier).
OUTLIER_BOX_SHARE = 0.01

#: |skewness| above which a strictly positive column gets a log axis (box and scatter plots):
#: on a linear axis the bulk of the data collapses into one corner.
LOG_AXIS_SKEW = 3.0

#: Share of non-null text values that must parse as dates for a text column to be a time axis.
DATE_PARSE_MIN_SHARE = 0.95

#: Share of non-null text values that must parse as numbers (after removing currency symbols
#: and thousands separators) for a text column to be treated as numeric.
NUMERIC_TEXT_MIN_SHARE = 0.9

#: Text columns with more distinct values than this *and* mostly distinct values are free text.
CATEGORICAL_MAX_DISTINCT = 50

#: Bars show at most this many categories (the rest are folded into one "Other" bar).
MAX_BAR_CATEGORIES = 15

#: Categorical columns with at most this many values read well as bars; they rank first.
READABLE_CATEGORIES = 12

#: At most this many colour groups (lines, bars, histograms, scatter traces); the rest fold
#: into "Other" so legends stay readable.
MAX_COLOR_GROUPS = 8

#: The "all distinct" identifier rule only applies from this many non-null values: in a five-row
#: summary table every region is distinct, yet it is exactly what should be charted.
IDENTIFIER_MIN_ROWS = 20

#: Text columns whose distinct share reaches this are identifier-like (keys, free text).
IDENTIFIER_DISTINCT_SHARE = 0.95

#: Weakest |correlation| worth a scatter plot; weaker pairs look like noise.
MIN_SCATTER_CORRELATION = 0.2

#: The correlation heatmap keeps at most this many columns (cells stay legible).
MAX_HEATMAP_COLUMNS = 15

#: Rows sampled (deterministically) to estimate correlations while recommending.
STATS_SAMPLE_ROWS = 50_000

#: Histograms use at most this many bins.
MAX_HISTOGRAM_BINS = 80

#: Feature-importance and missing-values bars show at most this many entries.
MAX_FEATURES = 20
MAX_MISSING_COLUMNS = 30

_SEED = 0
_FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'
_HEIGHT = 440
_NAME_CHARS = 60
_MISSING_LABEL = "(missing)"
_OTHER_LABEL = "Other"

_ID_NAME_RE = re.compile(r"(?:^|[_\-\s.])(?:id|uuid|guid|pk|key)$", re.IGNORECASE)
_ID_CAMEL_RE = re.compile(r"[a-z0-9](?:Id|ID|Uuid|UUID|Guid|GUID|Key)$")
_ADDITIVE_RE = re.compile(
    r"revenue|sales|amount|total|cost|spend|profit|income|expense|quantity|qty|units|volume|"
    r"count|orders|visits|clicks|sessions|impressions|payment|turnover|gmv|bookings",
    re.IGNORECASE,
)
_MEASURE_HINTS = (
    "revenue",
    "sales",
    "amount",
    "profit",
    "income",
    "turnover",
    "total",
    "value",
    "price",
    "cost",
    "spend",
    "score",
    "target",
    "label",
)
_DATE_HINT_RE = r"(?:(?<!\d)(?:1[5-9]|2\d)\d{2}(?!\d)|(?i:\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\b))"
_DATE_SEP_RE = r"[-/.:\s,T]"
_NUMBER_NOISE_RE = r"[\s$€£¥₩,]"
_NUMERIC_TEXT_RE = r"^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$"

#: Time buckets from finest to coarsest: (name, numpy unit or None, pandas range alias,
#: hover date format, maximum span in days for which this bucket is the natural choice).
_FREQS: tuple[tuple[str, str, str, float], ...] = (
    ("hour", "h", "%Y-%m-%d %H:00", 2.0),
    ("day", "D", "%Y-%m-%d", 90.0),
    ("week", "W-MON", "week of %Y-%m-%d", 366.0),
    ("month", "MS", "%b %Y", 3660.0),
    ("quarter", "QS-JAN", "%Y Q%q", 14_640.0),
    ("year", "YS", "%Y", math.inf),
)
_FREQ_NAMES = tuple(f[0] for f in _FREQS)
_AGG_WORDS: dict[str, str] = {
    "sum": "Total",
    "mean": "Average",
    "median": "Median",
    "count": "Number of rows",
}


# --------------------------------------------------------------------------------------------
# The spec
# --------------------------------------------------------------------------------------------


class ChartSpec(BaseModel):
    """One recommended chart: what to draw, from which columns, and why.

    Field conventions by ``kind`` (all column names are the table's labels as text):

    * ``histogram``: ``x`` numeric; ``color`` optional grouping.
    * ``box``: ``y`` numeric; ``x`` optional grouping column.
    * ``bar``: ``x`` categorical; ``y`` numeric aggregated by ``agg`` (``count`` counts rows
      and needs no ``y``); ``color`` optional grouping. ``options["top_n"]`` caps categories.
    * ``line``: ``x`` a datetime (or date-like text, or numeric) column; ``y`` aggregated by
      ``agg`` per ``options["freq"]`` bucket (hour, day, week, month, quarter, year).
    * ``scatter``: ``x`` and ``y`` numeric; ``color`` optional; options ``trendline``,
      ``log_x``, ``log_y``.
    * ``heatmap``: ``options["columns"]`` (numeric), ``options["method"]`` (pearson or
      spearman) and optionally precomputed ``options["values"]`` (square matrix).
    * ``feature_importance``: ``options["features"]`` and ``options["importances"]``.
    * ``missing_values``: ``options["columns"]``, ``options["nulls"]``, ``options["rows"]``
      (computed from the table when absent).

    ``priority`` orders recommendations (higher first, 0-1 from :func:`recommend_charts`);
    ``options`` holds only JSON-safe values so a spec survives ``model_dump_json``.
    """

    model_config = ConfigDict(extra="forbid")

    chart_id: str = Field(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=120)
    kind: ChartKind
    title: str = Field(min_length=1, max_length=400)
    x: str | None = None
    y: str | None = None
    color: str | None = None
    agg: Aggregation | None = None
    reason: str = Field(min_length=1, max_length=1000)
    priority: float = Field(default=0.5, allow_inf_nan=False)
    options: dict[str, Any] = Field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Text helpers
# --------------------------------------------------------------------------------------------


def _name(label: Hashable) -> str:
    """Column labels may be ints or tuples (MultiIndex): specs refer to them as text."""
    if isinstance(label, tuple):
        return " / ".join(str(part) for part in label)
    return str(label)


def _short(text: str, limit: int = _NAME_CHARS) -> str:
    """Cap user-provided text so one hostile name cannot bloat titles or reasons."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_snake(name: str) -> bool:
    return bool(re.fullmatch(r"[a-z0-9]+(?:[_\-\s][a-z0-9]+)*", name.strip()))


def _label(name: str, *, capital: bool = True) -> str:
    """Readable axis/title text: 'unit_price' -> 'Unit price'; other names are kept as typed.

    Why: snake_case is a storage convention, not something people read; but a name someone
    capitalised on purpose (``GDP``, ``Umsatz``) is left alone.
    """
    short = _short(name)
    if not _is_snake(short):
        return short
    words = re.sub(r"[_\-\s]+", " ", short.strip())
    return words[:1].upper() + words[1:] if capital else words


def _t(text: str) -> str:
    """Escape text for Plotly, which renders a subset of HTML in titles, ticks and hovers.

    Plotly decodes ``&lt;``/``&gt;``/``&amp;`` back for display, so names still read right.
    """
    return html.escape(text, quote=False)


def _hover_name(name: str) -> str:
    """Escape for a hover template: HTML, plus ``%{`` which would start a template variable."""
    return _t(name).replace("%{", "%\u200b{")


def _fmt(value: float) -> str:
    """Human-readable number for reasons: thousands separators, few decimals."""
    if not math.isfinite(value):
        return "n/a"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    text = f"{value:,.2f}" if magnitude >= 1 or value == 0 else f"{value:.3g}"
    return text.rstrip("0").rstrip(".") if "." in text and "e" not in text else text


def _d3(values: np.ndarray) -> str:
    """d3 number format for hovers, chosen from the magnitude of the shown values."""
    finite = values[np.isfinite(values)] if len(values) else values
    if len(finite) == 0:
        return ",.4~g"
    if np.all(finite == np.round(finite)) and np.nanmax(np.abs(finite)) < 1e15:
        return ",.0f"
    typical = float(np.nanmedian(np.abs(finite)))
    if typical >= 1:
        return ",.2f"
    return ",.4~g"


def _text_fmt(values: np.ndarray) -> str:
    """Compact format for labels printed on bars (SI prefixes only for large magnitudes)."""
    finite = values[np.isfinite(values)] if len(values) else values
    if len(finite) and float(np.nanmax(np.abs(finite))) >= 10_000:
        return ".3~s"
    return _d3(values)


def _slug(*parts: str | None) -> str:
    """A readable, URL- and HTML-id-safe id; non-Latin names fall back to a short hash."""
    raw = "-".join(p for p in parts if p)
    ascii_text = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode("ascii").lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")[:80].strip("-")
    if not slug or not raw.isascii():
        digest = hashlib.sha1(raw.encode("utf-8"), usedforsecurity=False).hexdigest()[:8]
        slug = f"{slug}-{digest}" if slug else digest
    return slug


def _as_count(value: Any) -> int | None:
    """A non-negative whole count from another agent's JSON (which may send 42.0), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        return None
    number = float(value)
    return int(number) if math.isfinite(number) and number >= 0 else None


def _is_identifier_name(name: str) -> bool:
    stripped = name.strip()
    return bool(_ID_NAME_RE.search(stripped) or _ID_CAMEL_RE.search(stripped))


# --------------------------------------------------------------------------------------------
# Column conversion (shared by the recommender and the renderer so both see the same data)
# --------------------------------------------------------------------------------------------


def _is_text_like(series: pd.Series) -> bool:
    dtype = series.dtype
    return bool(
        ptypes.is_object_dtype(dtype)
        or ptypes.is_string_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
    )


def _factorize(series: pd.Series) -> tuple[np.ndarray, pd.Index] | None:
    """Codes and distinct values, or None for unhashable values (lists, dicts)."""
    try:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
    except TypeError:
        return None
    return np.asarray(codes), pd.Index(uniques)


def _evenly(n: int, k: int) -> np.ndarray:
    return np.unique(np.linspace(0, n - 1, min(n, k)).astype(np.int64)) if n else np.arange(0)


def _numeric_text(series: pd.Series) -> np.ndarray | None:
    """Parse text such as ``"$1,234.50"`` as numbers when nearly all values parse.

    Works on the distinct values only (then maps back by codes), so repeated values cost
    nothing; a 1,000-value sample gates the full parse so free text is rejected quickly.
    """
    factorized = _factorize(series)
    if factorized is None:
        return None
    codes, uniques = factorized
    if len(uniques) == 0:
        return None
    texts = pd.Series(uniques, dtype=object).map(str).str.replace(_NUMBER_NOISE_RE, "", regex=True)
    sample = texts.iloc[_evenly(len(texts), 1000)]
    if sample.str.fullmatch(_NUMERIC_TEXT_RE).mean() < 0.5:
        return None
    parsed = pd.to_numeric(texts.where(texts.str.fullmatch(_NUMERIC_TEXT_RE)), errors="coerce").to_numpy(
        dtype="float64", na_value=np.nan
    )
    values = np.where(codes >= 0, parsed[np.maximum(codes, 0)], np.nan)
    non_null = int((codes >= 0).sum())
    parsed_share = float(np.isfinite(values).sum()) / non_null if non_null else 0.0
    return values if parsed_share >= NUMERIC_TEXT_MIN_SHARE else None


def _as_numeric(series: pd.Series) -> np.ndarray | None:
    """Float values aligned with the rows (NaN for missing/inf), or None if not numeric.

    Booleans count as numbers (a 0/1 rate is a fine thing to average); text counts when at
    least :data:`NUMERIC_TEXT_MIN_SHARE` of it parses; datetimes and timedeltas do not.
    """
    dtype = series.dtype
    if ptypes.is_bool_dtype(dtype) or (ptypes.is_numeric_dtype(dtype) and not ptypes.is_complex_dtype(dtype)):
        values = series.to_numpy(dtype="float64", na_value=np.nan)
    elif _is_text_like(series) and not isinstance(dtype, pd.CategoricalDtype):
        parsed = _numeric_text(series)
        if parsed is None:
            return None
        values = parsed
    else:
        return None
    values = np.array(values, dtype="float64", copy=True)
    values[~np.isfinite(values)] = np.nan
    return values


def _naive(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Drop the time zone keeping wall-clock time: people read local dates on a time axis."""
    return index.tz_localize(None) if index.tz is not None else index


def _parse_dates(texts: pd.Index) -> pd.DatetimeIndex | None:
    """Parse date-like strings (ISO first, then pandas' mixed formats); None if < 95 % parse."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fmt in ("ISO8601", "mixed"):
            try:
                parsed = pd.DatetimeIndex(pd.to_datetime(texts, errors="coerce", format=fmt))
            except (ValueError, TypeError, OverflowError):
                try:
                    parsed = pd.DatetimeIndex(pd.to_datetime(texts, errors="coerce", format=fmt, utc=True))
                    parsed = parsed.tz_convert(None)
                except (ValueError, TypeError, OverflowError):
                    continue
            parsed = _naive(parsed)
            if len(texts) and float(parsed.notna().mean()) >= DATE_PARSE_MIN_SHARE:
                return parsed
    return None


def _as_datetime(series: pd.Series) -> pd.Series | None:
    """Naive datetime values aligned with the rows, or None when the column is not dates.

    Datetime dtypes always qualify; text qualifies when it looks like dates (a year or a month
    name plus a separator) and at least :data:`DATE_PARSE_MIN_SHARE` of it parses. Numbers never
    do: 20230102 or 1700000000 are ambiguous, and guessing wrong draws nonsense.
    """
    dtype = series.dtype
    if ptypes.is_datetime64_any_dtype(dtype):
        index = _naive(pd.DatetimeIndex(series))
        return pd.Series(index, index=series.index, name=series.name)
    if not _is_text_like(series):
        return None
    factorized = _factorize(series)
    if factorized is None:
        return None
    codes, uniques = factorized
    if len(uniques) == 0:
        return None
    texts = pd.Series(uniques, dtype=object).map(str)
    sample = texts.iloc[_evenly(len(texts), 200)]
    looks = sample.str.len().le(64) & sample.str.contains(_DATE_HINT_RE) & sample.str.contains(_DATE_SEP_RE)
    if looks.mean() < DATE_PARSE_MIN_SHARE or _parse_dates(pd.Index(sample)) is None:
        return None
    parsed = _parse_dates(pd.Index(texts))
    if parsed is None:
        return None
    taken = parsed.take(np.maximum(codes, 0))
    values = pd.Series(taken, index=series.index, name=series.name)
    values[codes < 0] = pd.NaT
    non_null = int((codes >= 0).sum())
    if non_null == 0 or values.notna().sum() / non_null < DATE_PARSE_MIN_SHARE:
        return None
    return values


def _category_labels(series: pd.Series) -> pd.Series:
    """Text labels for grouping: missing values become their own '(missing)' group.

    Why: hiding missing values in a bar chart hides a data problem; numbers like 1.0 read as
    "1" and long labels are shortened so axes stay legible.
    """
    factorized = _factorize(series)
    if factorized is None:
        return series.map(lambda v: _short(str(v)), na_action="ignore").fillna(_MISSING_LABEL).astype(object)
    codes, uniques = factorized
    # Padded spellings (" Electronics", "Home ") are the same group: exports pad values, and
    # the quality report flags them; a bar per spelling would split one category's total.
    texts = np.array([_short(_fmt_label(v).strip()) for v in uniques] + [_MISSING_LABEL], dtype=object)
    return pd.Series(texts[codes], index=series.index, dtype=object)


def _fmt_label(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        return str(int(number)) if number.is_integer() and abs(number) < 1e15 else f"{number:.6g}"
    if isinstance(value, pd.Timestamp | datetime | date):
        return value.isoformat()
    return str(value)


# --------------------------------------------------------------------------------------------
# Column analysis for the recommender
# --------------------------------------------------------------------------------------------


@dataclass
class _Column:
    name: str
    position: int
    role: _Role
    non_null: int
    distinct: int
    values: np.ndarray | None = None  # numeric view, NaN for missing
    dates: pd.Series | None = None
    from_text: bool = False
    skew: float = 0.0
    outlier_share: float = 0.0
    positive: bool = False


def _numeric_shape(values: np.ndarray) -> tuple[float, float, bool]:
    """Skewness (pandas' adjusted estimator), Tukey outlier share and strict positivity."""
    finite = values[np.isfinite(values)]
    if len(finite) < 3:
        return 0.0, 0.0, bool(len(finite) and finite.min() > 0)
    skew = pd.Series(finite).skew()
    q1, q3 = np.quantile(finite, [0.25, 0.75])
    iqr = q3 - q1
    outliers = 0.0
    if iqr > 0:
        outliers = float(((finite < q1 - 1.5 * iqr) | (finite > q3 + 1.5 * iqr)).mean())
    return (float(skew) if math.isfinite(skew) else 0.0), outliers, bool(finite.min() > 0)


def _analyse_column(name: str, position: int, series: pd.Series) -> _Column:
    """Classify one column into the role that decides which charts it can appear in."""
    non_null = int(series.notna().sum())
    dtype = series.dtype
    if non_null == 0:
        return _Column(name, position, "other", 0, 0)
    id_name = _is_identifier_name(name)
    if ptypes.is_bool_dtype(dtype):
        distinct = int(series.nunique(dropna=True))
        role: _Role = "constant" if distinct < 2 else "identifier" if id_name else "binary"
        return _Column(name, position, role, non_null, distinct, values=_as_numeric(series))
    if ptypes.is_datetime64_any_dtype(dtype):
        distinct = int(series.nunique(dropna=True))
        role = "constant" if distinct < 2 else "datetime"
        return _Column(name, position, role, non_null, distinct, dates=_as_datetime(series))
    if ptypes.is_numeric_dtype(dtype) and not ptypes.is_complex_dtype(dtype):
        values = _as_numeric(series)
        assert values is not None
        finite = values[np.isfinite(values)]
        distinct = len(np.unique(finite))
        column = _Column(name, position, "numeric", non_null, distinct, values=values)
        if distinct < 2:
            column.role = "constant"
        elif id_name:
            column.role = "identifier"
        elif ptypes.is_integer_dtype(dtype) and distinct == non_null >= IDENTIFIER_MIN_ROWS:
            span = float(finite.max() - finite.min())
            if span <= 2.0 * (non_null - 1):  # dense, all-distinct integers: a row number or key
                column.role = "identifier"
        elif distinct == 2:
            column.role = "binary"
        if column.role == "numeric":
            column.skew, column.outlier_share, column.positive = _numeric_shape(values)
        return column
    if not _is_text_like(series):
        return _Column(name, position, "other", non_null, 0)
    factorized = _factorize(series)
    if factorized is None:
        return _Column(name, position, "other", non_null, 0)
    distinct = len(factorized[1])
    if distinct < 2:
        return _Column(name, position, "constant", non_null, distinct)
    if id_name:
        return _Column(name, position, "identifier", non_null, distinct)
    if isinstance(dtype, pd.CategoricalDtype):
        return _Column(name, position, "binary" if distinct == 2 else "categorical", non_null, distinct)
    dates = _as_datetime(series)
    if dates is not None:
        return _Column(name, position, "datetime", non_null, distinct, dates=dates, from_text=True)
    if distinct > 2:
        numeric = _as_numeric(series)
        if numeric is not None:
            column = _Column(name, position, "numeric", non_null, distinct, values=numeric, from_text=True)
            column.skew, column.outlier_share, column.positive = _numeric_shape(numeric)
            return column
    if non_null >= IDENTIFIER_MIN_ROWS and distinct >= IDENTIFIER_DISTINCT_SHARE * non_null:
        return _Column(name, position, "identifier", non_null, distinct)
    if distinct > CATEGORICAL_MAX_DISTINCT and distinct > 0.5 * non_null:
        return _Column(name, position, "text", non_null, distinct)
    return _Column(name, position, "binary" if distinct == 2 else "categorical", non_null, distinct)


def _analyse(frame: pd.DataFrame) -> dict[str, _Column]:
    """Roles of all columns, keyed by name; a repeated label keeps its first occurrence."""
    columns: dict[str, _Column] = {}
    for position, label in enumerate(frame.columns):
        name = _name(label)
        if name not in columns:
            columns[name] = _analyse_column(name, position, frame.iloc[:, position])
    return columns


def _sample_positions(n: int, k: int) -> np.ndarray:
    """Sorted row positions of a seeded random sample: same input, same sample, every run."""
    if n <= k:
        return np.arange(n)
    rng = np.random.default_rng(_SEED)
    return np.sort(rng.choice(n, size=k, replace=False))


def _default_agg(column: _Column) -> Aggregation:
    """Sum quantities that add up (revenue, units); average everything else (prices, rates)."""
    if column.role == "binary":
        return "mean"
    return "sum" if _ADDITIVE_RE.search(column.name) else "mean"


def _agg_phrase(agg: Aggregation, measure: str | None) -> str:
    if agg == "count" or measure is None:
        return "Number of rows"
    return f"{_AGG_WORDS[agg]} {_label(measure, capital=False)}"


def _eta_squared(codes: np.ndarray, values: np.ndarray) -> float:
    """Adjusted share of the variance of ``values`` explained by the groups (correlation ratio).

    Why adjusted: a column with many small groups explains some variance by chance alone.
    """
    mask = (codes >= 0) & np.isfinite(values)
    n = int(mask.sum())
    if n < 3:
        return 0.0
    groups = codes[mask]
    y = values[mask]
    k = int(groups.max()) + 1
    counts = np.bincount(groups, minlength=k).astype(np.float64)
    sums = np.bincount(groups, weights=y, minlength=k)
    used = counts > 0
    grand = y.mean()
    total = float(((y - grand) ** 2).sum())
    if total <= 0 or n - used.sum() <= 0:
        return 0.0
    between = float((counts[used] * (sums[used] / counts[used] - grand) ** 2).sum())
    eta = between / total
    adjusted = 1.0 - (1.0 - eta) * (n - 1) / (n - int(used.sum()))
    return max(0.0, adjusted)


# --------------------------------------------------------------------------------------------
# Recommender
# --------------------------------------------------------------------------------------------


@dataclass
class _Candidate:
    kind: ChartKind
    title: str
    reason: str
    priority: float
    x: str | None = None
    y: str | None = None
    color: str | None = None
    agg: Aggregation | None = None
    options: dict[str, Any] | None = None

    @property
    def key(self) -> tuple[Any, ...]:
        return (self.kind, self.x, self.y, self.color, self.agg)


def _choose_freq(span_days: float) -> str:
    for name, _alias, _hover, max_days in _FREQS:
        if span_days <= max_days:
            return name
    return "year"


def _period_starts(dates: pd.Series, freq: str) -> np.ndarray:
    """Start of each value's bucket as datetime64[us] (NaT stays NaT); vectorised in numpy.

    Microseconds rather than nanoseconds: the range (years 1677-2262 for ns) would overflow
    for historical or far-future dates that pandas itself stores fine.
    """
    values = pd.DatetimeIndex(dates).as_unit("us").to_numpy()
    if freq == "hour":
        out = values.astype("datetime64[h]")
    elif freq == "day":
        out = values.astype("datetime64[D]")
    elif freq == "week":
        days = values.astype("datetime64[D]")
        offsets = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; Monday -> 0
        out = days - offsets.astype("timedelta64[D]")
    elif freq == "month":
        out = values.astype("datetime64[M]")
    elif freq == "quarter":
        months = values.astype("datetime64[M]")
        out = months - (months.astype(np.int64) % 3).astype("timedelta64[M]")
    else:
        out = values.astype("datetime64[Y]")
    result = out.astype("datetime64[us]")
    result[np.isnat(values)] = np.datetime64("NaT")
    return result


def _line_candidate(
    columns: dict[str, _Column], measure: _Column | None, class_target: _Column | None
) -> _Candidate | None:
    """Trend of the key measure (or the row count) over the richest time column."""
    times = [c for c in columns.values() if c.role == "datetime" and c.dates is not None]
    if not times:
        return None
    time = max(times, key=lambda c: (c.distinct, -c.position))
    assert time.dates is not None
    start, end = time.dates.min(), time.dates.max()
    if pd.isna(start) or pd.isna(end) or start == end:
        return None
    span_days = (end - start) / pd.Timedelta(days=1)
    freq = _choose_freq(span_days)
    periods = len(np.unique(_period_starts(time.dates.dropna(), freq)))
    color = class_target.name if class_target is not None and class_target.distinct <= 6 else None
    agg: Aggregation = _default_agg(measure) if measure is not None else "count"
    what = _agg_phrase(agg, measure.name if measure is not None else None)
    source = " (parsed from text)" if time.from_text else ""
    if color is not None:
        reason = (
            f"{time.name}{source} spans {start:%Y-%m-%d} to {end:%Y-%m-%d}, so rows per {freq} split by "
            f"{color} show how the classes change over time ({periods} {freq}s)."
        )
    else:
        verb = "counted" if agg == "count" else {"sum": "summed", "mean": "averaged", "median": "median"}[agg]
        subject = "rows" if measure is None else measure.name
        reason = (
            f"{time.name}{source} spans {start:%Y-%m-%d} to {end:%Y-%m-%d}, so {subject} {verb} per {freq} "
            f"shows the trend and seasonality over {periods} {freq}s."
        )
    return _Candidate(
        kind="line",
        title=f"{what} by {freq}" + ("" if color is None else f" and {_label(color, capital=False)}"),
        reason=reason,
        priority=0.95,
        x=time.name,
        y=measure.name if measure is not None else None,
        color=color,
        agg=agg,
        options={"freq": freq},
    )


def _distribution_candidate(
    column: _Column, *, is_target: bool, group: _Column | None, priority: float
) -> _Candidate:
    """Histogram for well-behaved columns, box plot for skewed or outlier-heavy ones."""
    assert column.values is not None
    finite = column.values[np.isfinite(column.values)]
    median = float(np.median(finite)) if len(finite) else math.nan
    skewed = abs(column.skew) > SKEW_BOX_THRESHOLD
    outliers = column.outlier_share > OUTLIER_BOX_SHARE
    lead = f"{column.name} (the target)" if is_target else column.name
    options: dict[str, Any] = {}
    if group is not None or skewed or outliers:
        direction = "right-skewed" if column.skew > 0 else "left-skewed"
        facts = []
        if skewed:
            facts.append(f"is {direction} (skew {column.skew:.1f})")
        if outliers:
            facts.append(f"has {column.outlier_share:.1%} of values beyond Tukey's fences")
        clauses = " and ".join(facts)
        if group is not None:
            reason = (
                f"{lead} {clauses}; box plots per {group.name} class compare its spread across the classes."
                if facts
                else f"Box plots of {lead} per {group.name} class compare its median and spread across the classes."
            )
            title = f"{_label(column.name)} by {_label(group.name, capital=False)}"
        else:
            reason = (
                f"{lead} {clauses}, so a box plot shows its median ({_fmt(median)}), spread and "
                f"outliers better than a histogram."
            )
            title = f"Distribution of {_label(column.name, capital=False)}"
        if column.positive and column.skew > LOG_AXIS_SKEW:
            options["log_y"] = True
        return _Candidate(
            kind="box",
            title=title,
            reason=reason,
            priority=priority,
            y=column.name,
            x=group.name if group is not None else None,
            options=options,
        )
    p05, p95 = np.quantile(finite, [0.05, 0.95]) if len(finite) else (math.nan, math.nan)
    reason = (
        f"{lead} is roughly symmetric (skew {column.skew:.1f}), so a histogram shows its shape; "
        f"90% of values lie between {_fmt(float(p05))} and {_fmt(float(p95))}."
    )
    return _Candidate(
        kind="histogram",
        title=f"Distribution of {_label(column.name, capital=False)}",
        reason=reason,
        priority=priority,
        x=column.name,
        options=options,
    )


def _bar_candidate(
    frame: pd.DataFrame,
    column: _Column,
    measure: _Column | None,
    class_target: _Column | None,
    priority: float,
) -> _Candidate:
    """Bar of a categorical column: the measure's total/average per category, or counts."""
    series = frame.iloc[:, column.position]
    labels = _category_labels(series)
    top_note = (
        f" (top {MAX_BAR_CATEGORIES} of {column.distinct})" if column.distinct > MAX_BAR_CATEGORIES else ""
    )
    if class_target is not None:
        return _Candidate(
            kind="bar",
            title=f"{_label(column.name)} by {_label(class_target.name, capital=False)}{top_note}",
            reason=(
                f"{column.name} has {column.distinct} values; stacked counts show how the {class_target.name} "
                f"classes are distributed across them."
            ),
            priority=priority,
            x=column.name,
            color=class_target.name,
            agg="count",
            options={"top_n": MAX_BAR_CATEGORIES},
        )
    if measure is None or measure.values is None:
        counts = labels.value_counts()
        share = float(counts.iloc[0]) / float(counts.sum())
        return _Candidate(
            kind="bar",
            title=f"Rows by {_label(column.name, capital=False)}{top_note}",
            reason=(
                f"{column.name} has {column.distinct} values; the most common, {_short(str(counts.index[0]))}, "
                f"covers {share:.0%} of rows."
            ),
            priority=priority,
            x=column.name,
            agg="count",
            options={"top_n": MAX_BAR_CATEGORIES},
        )
    agg = _default_agg(measure)
    grouped = pd.Series(measure.values, index=labels.index).groupby(labels, sort=False)
    what = _agg_phrase(agg, measure.name)
    if agg == "sum":
        totals = grouped.sum(min_count=1).dropna()
        whole = float(totals.sum())
        top = totals.idxmax() if len(totals) else ""
        share = float(totals.max()) / whole if whole > 0 else math.nan
        detail = (
            f"{_short(str(top))} contributes {share:.0%} of total {measure.name} across {column.distinct} "
            f"{column.name} values"
            if math.isfinite(share)
            else f"total {measure.name} differs across {column.distinct} {column.name} values"
        )
    else:
        means = grouped.mean().dropna()
        lo_key, hi_key = means.idxmin(), means.idxmax()
        detail = (
            f"average {measure.name} ranges from {_fmt(float(means.min()))} ({_short(str(lo_key))}) to "
            f"{_fmt(float(means.max()))} ({_short(str(hi_key))}) across {column.name}"
        )
    return _Candidate(
        kind="bar",
        title=f"{what} by {_label(column.name, capital=False)}{top_note}",
        reason=detail[:1].upper() + detail[1:] + ".",
        priority=priority,
        x=column.name,
        y=measure.name,
        agg=agg,
        options={"top_n": MAX_BAR_CATEGORIES},
    )


def _pairs_from_eda(
    eda: Mapping[str, Any] | None, numeric: dict[str, _Column]
) -> list[tuple[str, str, str, float]]:
    """(col_a, col_b, method, value) from the EDA agent, keeping pairs of usable columns only."""
    raw = eda.get("correlations") if isinstance(eda, Mapping) else None
    pairs: list[tuple[str, str, str, float]] = []
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes):
        return pairs
    for item in raw:
        if not isinstance(item, Mapping):
            continue
        a, b, value = item.get("col_a"), item.get("col_b"), item.get("value")
        method = str(item.get("method") or "correlation")
        if not (isinstance(a, str) and isinstance(b, str)) or a == b or a not in numeric or b not in numeric:
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
            continue
        pairs.append((a, b, method, float(value)))
    return pairs


def _spearman_pairs(numeric: dict[str, _Column], rows: int) -> list[tuple[str, str, str, float]]:
    """All pairwise Spearman correlations, estimated on a deterministic row sample."""
    names = list(numeric)[:30]
    if len(names) < 2:
        return []
    positions = _sample_positions(rows, STATS_SAMPLE_ROWS)
    data = pd.DataFrame({n: numeric[n].values[positions] for n in names})  # type: ignore[index]
    matrix = data.corr(method="spearman", min_periods=10)
    pairs = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            value = matrix.at[a, b]
            if pd.notna(value):
                pairs.append((a, b, "spearman", float(value)))
    return pairs


def _method_symbol(method: str, value: float) -> str:
    lowered = method.lower()
    if lowered.startswith("spearman"):
        return f"Spearman ρ = {value:.2f}"
    if lowered.startswith("pearson"):
        return f"Pearson r = {value:.2f}"
    if lowered.startswith("kendall"):
        return f"Kendall τ = {value:.2f}"
    return f"{_short(method, 30)} = {value:.2f}"


def _scatter_candidates(
    pairs: list[tuple[str, str, str, float]],
    numeric: dict[str, _Column],
    focus: _Column | None,
    class_target: _Column | None,
) -> list[_Candidate]:
    """Scatter of the strongest pair overall and, if different, the strongest with the target."""
    strong = [p for p in pairs if abs(p[3]) >= MIN_SCATTER_CORRELATION]
    if not strong:
        return []
    picks: list[tuple[tuple[str, str, str, float], float, bool]] = []
    best = max(strong, key=lambda p: abs(p[3]))
    picks.append((best, 0.72, False))
    if focus is not None:
        with_focus = [p for p in strong if focus.name in (p[0], p[1])]
        if with_focus:
            best_focus = max(with_focus, key=lambda p: abs(p[3]))
            if best_focus is not best:
                picks.append((best_focus, 0.68, True))
    out = []
    for (a, b, method, value), base, about_focus in picks:
        x, y = (b, a) if focus is not None and a == focus.name else (a, b)
        options: dict[str, Any] = {"trendline": True}
        for axis, name in (("x", x), ("y", y)):
            col = numeric[name]
            if col.positive and col.skew > LOG_AXIS_SKEW:
                options[f"log_{axis}"] = True
        if options.get("log_x") or options.get("log_y"):
            options["trendline"] = False
        stat = _method_symbol(method, value)
        if about_focus:
            reason = f"{x} is the numeric column most strongly correlated with {y} ({stat})."
        else:
            reason = f"{a} and {b} are the most strongly correlated numeric pair ({stat})."
        out.append(
            _Candidate(
                kind="scatter",
                title=f"{_label(y)} vs {_label(x, capital=False)}",
                reason=reason,
                priority=base + 0.15 * min(1.0, abs(value)),
                x=x,
                y=y,
                color=class_target.name if class_target is not None and class_target.distinct <= 10 else None,
                options=options,
            )
        )
    return out


def _eda_matrix(
    eda: Mapping[str, Any] | None, usable: list[str]
) -> tuple[list[str], list[list[float]]] | None:
    """The EDA agent's Pearson matrix restricted to usable columns, if it is well-formed."""
    raw = eda.get("numeric_matrix") if isinstance(eda, Mapping) else None
    if not isinstance(raw, Mapping):
        return None
    cols, matrix = raw.get("columns"), raw.get("pearson")
    if not isinstance(cols, Sequence) or not isinstance(matrix, Sequence) or len(matrix) != len(cols):
        return None
    try:
        full = np.array(matrix, dtype="float64")
    except (TypeError, ValueError):
        return None
    if full.shape != (len(cols), len(cols)):
        return None
    keep = [i for i, c in enumerate(cols) if isinstance(c, str) and c in usable][:MAX_HEATMAP_COLUMNS]
    if len(keep) < 3:
        return None
    sub = full[np.ix_(keep, keep)]
    values = [[float(v) if math.isfinite(v) else None for v in row] for row in sub]
    return [str(cols[i]) for i in keep], values  # type: ignore[return-value]


def _strongest_cell(names: list[str], matrix: np.ndarray) -> tuple[str, str, float] | None:
    best: tuple[str, str, float] | None = None
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            value = matrix[i, j]
            if math.isfinite(value) and (best is None or abs(value) > abs(best[2])):
                best = (names[i], names[j], float(value))
    return best


def _heatmap_candidate(
    eda: Mapping[str, Any] | None, numeric: dict[str, _Column], focus: _Column | None, rows: int
) -> _Candidate | None:
    """Correlation matrix of the numeric columns (needs three or more)."""
    names = list(numeric)
    if focus is not None and focus.name in numeric:
        names.remove(focus.name)
        names.insert(0, focus.name)
    if len(names) < 3:
        return None
    options: dict[str, Any] = {"method": "pearson"}
    from_eda = _eda_matrix(eda, names)
    if from_eda is not None:
        cols, values = from_eda
        options.update(columns=cols, values=values)
        matrix = np.array([[math.nan if v is None else v for v in row] for row in values], dtype="float64")
    else:
        cols = names[:MAX_HEATMAP_COLUMNS]
        options["columns"] = cols
        positions = _sample_positions(rows, STATS_SAMPLE_ROWS)
        data = pd.DataFrame({n: numeric[n].values[positions] for n in cols})  # type: ignore[index]
        matrix = data.corr(method="pearson", min_periods=10).to_numpy()
    strongest = _strongest_cell(cols, matrix)
    tail = (
        f"; the strongest is {strongest[0]}–{strongest[1]} (r = {strongest[2]:.2f})"
        if strongest is not None
        else ""
    )
    return _Candidate(
        kind="heatmap",
        title="Correlation matrix (Pearson)",
        reason=f"Pairwise Pearson correlations of {len(cols)} numeric columns reveal related measures{tail}.",
        priority=0.70,
        options=options,
    )


def _missing_candidate(
    frame: pd.DataFrame, quality: Mapping[str, Any] | None, columns: dict[str, _Column]
) -> _Candidate | None:
    """Missing values per column, from the quality report when given, else counted here."""
    rows = len(frame)
    entries: list[tuple[str, int]] = []
    source = "frame"
    profiles = quality.get("columns_profile") if isinstance(quality, Mapping) else None
    if isinstance(profiles, Sequence) and not isinstance(profiles, str | bytes):
        source = "quality"
        q_rows = _as_count(quality.get("rows")) if isinstance(quality, Mapping) else None
        if q_rows:
            rows = q_rows
        for item in profiles:
            if not isinstance(item, Mapping):
                continue
            name, nulls = item.get("name"), _as_count(item.get("nulls"))
            if isinstance(name, str) and nulls:
                entries.append((name, nulls))
    else:
        for name, column in columns.items():
            nulls = len(frame) - column.non_null
            if nulls > 0:
                entries.append((name, nulls))
    if not entries or rows <= 0:
        return None
    entries.sort(key=lambda e: -e[1])
    entries = entries[:MAX_MISSING_COLUMNS]
    worst, worst_nulls = entries[0]
    worst_share = min(1.0, worst_nulls / rows)
    count = f"{len(entries)} column{'s have' if len(entries) != 1 else ' has'}"
    return _Candidate(
        kind="missing_values",
        title="Missing values by column",
        reason=f"{count} missing values; {worst} is missing most often ({worst_share:.1%} of rows).",
        priority=0.62 + 0.3 * min(1.0, 2.0 * worst_share),
        options={
            "columns": [e[0] for e in entries],
            "nulls": [e[1] for e in entries],
            "rows": rows,
            "source": source,
        },
    )


def _importance_candidate(model: Mapping[str, Any] | None, target: str | None) -> _Candidate | None:
    """Bar of the model's feature importances (top :data:`MAX_FEATURES`)."""
    raw = model.get("feature_importance") if isinstance(model, Mapping) else None
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes):
        return None
    items: list[tuple[str, float]] = []
    for item in raw:
        if not isinstance(item, Mapping):
            continue
        feature, importance = item.get("feature"), item.get("importance")
        if feature is None or isinstance(importance, bool) or not isinstance(importance, numbers.Real):
            continue
        if math.isfinite(float(importance)):
            items.append((str(feature), float(importance)))
    if not items:
        return None
    items.sort(key=lambda fi: -abs(fi[1]))
    total = sum(abs(v) for _, v in items)
    top_name, top_value = items[0]
    shown = items[:MAX_FEATURES]
    share = f" ({abs(top_value) / total:.0%} of the total importance)" if total > 0 else ""
    goal = f" of {target}" if target else ""
    return _Candidate(
        kind="feature_importance",
        title=f"What drives {_label(target, capital=False)}" if target else "Feature importance",
        reason=f"The model's predictions{goal} depend most on {_short(top_name)}{share}.",
        priority=0.97,
        options={
            "features": [f for f, _ in shown],
            "importances": [v for _, v in shown],
            "total_features": len(items),
        },
    )


def _pick_measure(numeric: dict[str, _Column]) -> _Column | None:
    """Without a target, chart the column whose name says it is the measure people care about.

    Hints are tried in order of how clearly they name an outcome (revenue before price), so a
    sales table is summarised by its revenue rather than by its first numeric column.
    """
    for hint in _MEASURE_HINTS:
        for column in numeric.values():
            if hint in column.name.lower():
                return column
    return next(iter(numeric.values()), None)


def recommend_charts(
    frame: pd.DataFrame,
    *,
    eda: Mapping[str, Any] | None = None,
    quality: Mapping[str, Any] | None = None,
    model: Mapping[str, Any] | None = None,
    target: str | None = None,
    max_charts: int = 8,
) -> list[ChartSpec]:
    """Recommend the charts that best explain a table, most useful first.

    Candidates and their base priorities (higher first; ties keep this order):

    * feature importance (0.97) when ``model["feature_importance"]`` lists
      ``{"feature", "importance"}`` items;
    * a line over time (0.95) of the key measure (target, else a measure-like numeric column,
      else the row count), bucketed by hour/day/week/month/quarter/year from the time span,
      when a datetime column or a text column parsing >= 95 % as dates exists;
    * the target's distribution (0.92): histogram, or box plot (log axis when strongly
      right-skewed and positive) when |skew| > 2 or > 1 % of values lie beyond Tukey's fences;
      for a categorical target, its class counts; without a target, the measure's (0.80);
    * bars per categorical column (0.88, then -0.12 per rank): the measure's total (additive
      names such as revenue, quantity) or average (prices, rates) per category, or row counts;
      readable columns (<= 12 values) rank first, then by how much of the measure's variance
      they explain (adjusted eta squared);
    * a scatter of the strongest numeric pair (0.72 + 0.15 |r|), from ``eda["correlations"]``
      when given, else Spearman on a 50,000-row sample; plus the strongest pair with the target
      (0.68 + 0.15 |r|) if different; pairs weaker than 0.2 are not shown;
    * a correlation heatmap (0.70) of >= 3 numeric columns, from ``eda["numeric_matrix"]`` when
      given;
    * missing values per column (0.62-0.92, rising with the worst column's share), from
      ``quality["columns_profile"]`` when given, else counted in ``frame``;
    * distributions of further numeric columns (0.60, then -0.08 per rank, at most two), the
      ones most correlated with the target first; split by class for a categorical target.

    Identifier-like columns (named ``id``/``*_id``/``*Id``/``key``..., all-distinct text with
    >= 20 rows, dense all-distinct integers) and free text are never charted. Candidates
    with the same kind and columns are deduplicated.

    Args:
        frame: The table; numeric text (``"$1,234"``) and date text are recognised.
        eda: Optional EDA findings: ``correlations`` (list of ``{col_a, col_b, method, value}``)
            and ``numeric_matrix`` (``{"columns": [...], "pearson": [[...]]}``). Entries naming
            columns that are not numeric columns of ``frame`` are ignored.
        quality: Optional quality report (``columns_profile: [{"name", "nulls"}]``, ``rows``).
        model: Optional model summary (``feature_importance``; ``target`` used if ``target`` is
            not given).
        target: The column the analysis is about; charted first and used as the measure. A
            target that cannot be charted (identifier, free text, dates) is ignored.
        max_charts: Maximum number of specs returned.

    Returns:
        Specs ordered by descending priority, with unique ``chart_id`` values; empty when no
        column is chartable (for example a single row, or only identifiers).

    Raises:
        TypeError: ``frame`` is not a DataFrame.
        EmptyDataError: ``frame`` has no rows or no columns.
        UnknownColumnError: ``target`` is not a column of ``frame``.
        InvalidInputError: ``max_charts`` is below 1.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"recommend_charts expects a pandas DataFrame, got {type(frame).__name__}")
    if isinstance(max_charts, bool) or not isinstance(max_charts, int) or max_charts < 1:
        raise InvalidInputError("max_charts must be a positive integer")
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise EmptyDataError("The table has no rows or no columns: there is nothing to chart.")
    columns = _analyse(frame)
    if target is not None and target not in columns:
        raise UnknownColumnError(
            f"Unknown target column {_short(target)!r}.", details={"column": _short(target, 200)}
        )
    if target is None and isinstance(model, Mapping) and isinstance(model.get("target"), str):
        target = model["target"] if model["target"] in columns else None

    numeric = {n: c for n, c in columns.items() if c.role == "numeric" and c.values is not None}
    target_col = columns.get(target) if target is not None else None
    if target_col is not None and target_col.role not in ("numeric", "binary", "categorical"):
        target_col = None  # identifiers, free text, dates: chart the table as if no target
    class_target = (
        target_col if target_col is not None and target_col.role in ("binary", "categorical") else None
    )
    if class_target is not None and class_target.distinct > READABLE_CATEGORIES:
        class_target = None  # too many classes to colour by; still gets its own bar below
    focus = target_col if target_col is not None and target_col.role == "numeric" else None
    measure = focus if focus is not None else (None if target_col is not None else _pick_measure(numeric))

    candidates: list[_Candidate] = []
    importance = _importance_candidate(model, target)
    if importance is not None:
        candidates.append(importance)
    line = _line_candidate(columns, measure, class_target)
    if line is not None:
        candidates.append(line)

    # Distributions: the target first, then the numeric columns most related to it.
    pairs = _pairs_from_eda(eda, numeric) or _spearman_pairs(numeric, len(frame))
    if target_col is not None and target_col.role in ("binary", "categorical"):
        candidates.append(_target_classes_candidate(frame, target_col))
    elif focus is not None:
        candidates.append(_distribution_candidate(focus, is_target=True, group=None, priority=0.92))
    elif measure is not None:
        candidates.append(_distribution_candidate(measure, is_target=False, group=None, priority=0.80))
    key = focus or measure
    others = [c for c in numeric.values() if key is None or c.name != key.name]
    if key is not None:
        strength = dict.fromkeys(numeric, 0.0)
        for a, b, _, value in pairs:
            if key.name in (a, b):
                other = b if a == key.name else a
                strength[other] = max(strength.get(other, 0.0), abs(value))
        others.sort(key=lambda c: -strength.get(c.name, 0.0))
    for rank, column in enumerate(others[:2]):
        candidates.append(
            _distribution_candidate(column, is_target=False, group=class_target, priority=0.60 - 0.08 * rank)
        )

    # Bars: readable categorical columns first, then by explained variance of the measure.
    categorical = [
        c
        for c in columns.values()
        if c.role in ("binary", "categorical") and (target_col is None or c.name != target_col.name)
    ]

    def bar_rank(column: _Column) -> tuple[int, float, int]:
        eta = 0.0
        if measure is not None and measure.values is not None:
            factorized = _factorize(frame.iloc[:, column.position])
            if factorized is not None:
                eta = _eta_squared(factorized[0], measure.values)
        return (0 if column.distinct <= READABLE_CATEGORIES else 1, -eta, column.position)

    for rank, column in enumerate(sorted(categorical, key=bar_rank)[: max_charts + 1]):
        candidates.append(_bar_candidate(frame, column, measure, class_target, 0.88 - 0.12 * rank))

    candidates.extend(_scatter_candidates(pairs, numeric, focus or measure, class_target))
    heatmap = _heatmap_candidate(eda, numeric, focus or measure, len(frame))
    if heatmap is not None:
        candidates.append(heatmap)
    missing = _missing_candidate(frame, quality, columns)
    if missing is not None:
        candidates.append(missing)
    return _finalise(candidates, max_charts)


def _target_classes_candidate(frame: pd.DataFrame, target: _Column) -> _Candidate:
    counts = _category_labels(frame.iloc[:, target.position]).value_counts()
    share = float(counts.iloc[0]) / float(counts.sum())
    balance = ", so the classes are imbalanced" if share >= 0.7 else ""
    return _Candidate(
        kind="bar",
        title=f"Class balance of {_label(target.name, capital=False)}",
        reason=(
            f"{target.name} is the target; its largest class, {_short(str(counts.index[0]))}, holds "
            f"{share:.0%} of rows{balance}."
        ),
        priority=0.92,
        x=target.name,
        agg="count",
        options={"top_n": MAX_BAR_CATEGORIES},
    )


def _finalise(candidates: list[_Candidate], max_charts: int) -> list[ChartSpec]:
    """Deduplicate (keeping the higher priority), order, cut and give each spec a unique id."""
    best: dict[tuple[Any, ...], tuple[int, _Candidate]] = {}
    for order, candidate in enumerate(candidates):
        current = best.get(candidate.key)
        if current is None or candidate.priority > current[1].priority:
            best[candidate.key] = (order, candidate)
    ranked = sorted(best.values(), key=lambda oc: (-oc[1].priority, oc[0]))[:max_charts]
    specs: list[ChartSpec] = []
    used: set[str] = set()
    for _, c in ranked:
        base = _slug(c.kind.replace("_", "-"), c.y, c.x, c.color)
        chart_id, suffix = base, 2
        while chart_id in used:
            chart_id, suffix = f"{base}-{suffix}", suffix + 1
        used.add(chart_id)
        specs.append(
            ChartSpec(
                chart_id=chart_id,
                kind=c.kind,
                title=_short(c.title, 400),
                x=c.x,
                y=c.y,
                color=c.color,
                agg=c.agg,
                reason=_short(c.reason, 1000),
                priority=round(c.priority, 3),
                options=c.options or {},
            )
        )
    return specs


# --------------------------------------------------------------------------------------------
# Renderer
# --------------------------------------------------------------------------------------------


def _series(frame: pd.DataFrame, name: str | None) -> pd.Series:
    """The column whose label reads ``name`` (first occurrence), or UnknownColumnError."""
    if name is not None:
        for position, label in enumerate(frame.columns):
            if _name(label) == name:
                return frame.iloc[:, position]
    shown = _short(str(name))
    raise UnknownColumnError(f"Unknown column {shown!r}.", details={"column": _short(str(name), 200)})


def _numeric_of(frame: pd.DataFrame, name: str | None) -> np.ndarray:
    values = _as_numeric(_series(frame, name))
    if values is None:
        raise InvalidInputError(
            f"Column {_short(str(name))!r} is not numeric.", details={"column": _short(str(name), 200)}
        )
    return values


def _require(value: str | None, what: str, spec: ChartSpec) -> str:
    if value is None:
        raise InvalidInputError(f"A {spec.kind} chart needs {what}.")
    return value


def _fold(labels: pd.Series, keep: pd.Index, other: str) -> pd.Series:
    """Replace labels outside ``keep`` by ``other`` (the long tail of categories)."""
    if len(keep) >= labels.nunique():
        return labels
    return labels.where(labels.isin(keep), other)


def _top_groups(labels: pd.Series, limit: int) -> pd.Series:
    """Keep the ``limit`` most frequent groups, folding the rest into 'Other'."""
    counts = labels.value_counts()
    if len(counts) <= limit:
        return labels
    return _fold(labels, counts.index[:limit], _OTHER_LABEL)


def _aggregate(
    keys: list[Any], frame_values: np.ndarray | None, agg: Aggregation, index: pd.Index
) -> pd.Series:
    """Aggregate ``frame_values`` by one or more key arrays (missing keys are their own group)."""
    data = pd.DataFrame({f"k{i}": k for i, k in enumerate(keys)}, index=index)
    data["v"] = frame_values if frame_values is not None else 1.0
    grouped = data.groupby([f"k{i}" for i in range(len(keys))], sort=False, dropna=False, observed=True)["v"]
    if agg == "count":
        return grouped.size().astype("float64")
    if agg == "sum":
        return grouped.sum(min_count=1)
    if agg == "mean":
        return grouped.mean()
    return grouped.median()


def _base_layout(fig: go.Figure, spec: ChartSpec, subtitle: str | None = None) -> go.Figure:
    """Shared look: white template, left-aligned title, system fonts, fixed height."""
    title: dict[str, Any] = {"text": _t(spec.title), "x": 0.01, "xanchor": "left"}
    if subtitle:
        title["subtitle"] = {"text": _t(subtitle), "font": {"size": 12, "color": "#5f6b7a"}}
    fig.update_layout(
        template="plotly_white",
        title=title,
        font={"family": _FONT, "size": 13, "color": "#1f2933"},
        height=_HEIGHT,
        margin={"l": 64, "r": 24, "t": 84 if subtitle else 64, "b": 64},
        hoverlabel={"align": "left"},
        meta={"chart_id": spec.chart_id, "kind": spec.kind},
    )
    return fig


def _render_histogram(frame: pd.DataFrame, spec: ChartSpec) -> go.Figure:
    name = _require(spec.x, "an x column", spec)
    values = _numeric_of(frame, name)
    groups = _top_groups(_category_labels(_series(frame, spec.color)), 6) if spec.color else None
    finite_mask = np.isfinite(values)
    finite = values[finite_mask]
    if len(finite) == 0:
        raise EmptyDataError(f"Column {_short(name)!r} has no numeric values to chart.")
    edges, clipped = _histogram_edges(finite, spec.options.get("bins"))
    fmt = _d3(finite)
    label = _label(name)
    fig = go.Figure()
    traces: list[tuple[str | None, np.ndarray]] = [(None, finite)]
    if groups is not None:
        group_values = groups[finite_mask]
        traces = [(str(g), finite[(group_values == g).to_numpy()]) for g in group_values.value_counts().index]
    for group, data in traces:
        counts, _ = np.histogram(data, bins=edges)
        fig.add_trace(
            go.Bar(
                x=(edges[:-1] + edges[1:]) / 2,
                y=counts,
                width=np.diff(edges),
                customdata=np.column_stack([edges[:-1], edges[1:]]),
                name=_t(group) if group is not None else label,
                opacity=0.65 if group is not None else 1.0,
                hovertemplate=(
                    f"{_hover_name(label)}: %{{customdata[0]:{fmt}}} to %{{customdata[1]:{fmt}}}<br>"
                    f"Rows: %{{y:,}}" + ("" if group is not None else "<extra></extra>")
                ),
            )
        )
    median = float(np.median(finite))
    fig.add_vline(
        x=median,
        line={"dash": "dash", "color": "#52606d", "width": 1},
        annotation={"text": f"median {_fmt(median)}", "font": {"size": 11}},
    )
    note = None
    if clipped:
        note = f"{clipped:,} extreme rows outside the 0.5–99.5th percentile range are not shown"
    _base_layout(fig, spec, note)
    fig.update_layout(
        barmode="overlay",
        bargap=0.02,
        showlegend=groups is not None,
        xaxis={"title": {"text": _t(label)}, "hoverformat": fmt},
        yaxis={"title": {"text": "Rows"}, "tickformat": ",d"},
    )
    return fig


def _histogram_edges(finite: np.ndarray, bins: Any) -> tuple[np.ndarray, int]:
    """Bin edges (unit bins for small integer ranges) and how many rows fall outside them.

    Why clip: with a long tail, Freedman-Diaconis bins over the full range number in the
    thousands; capping them instead puts nearly every row in one bar. Dropping the extreme
    0.5 % on each side (and saying so) keeps the shape of the bulk visible.
    """
    lo, hi = float(finite.min()), float(finite.max())
    if lo == hi:
        return np.array([lo - 0.5, hi + 0.5]), 0
    if isinstance(bins, int) and not isinstance(bins, bool) and 1 <= bins <= 500:
        return np.linspace(lo, hi, bins + 1), 0
    integral = bool(np.all(finite == np.round(finite)))
    if integral and hi - lo <= MAX_HISTOGRAM_BINS:
        return np.arange(lo - 0.5, hi + 1.5), 0
    edges = np.histogram_bin_edges(finite, bins="auto")
    if len(edges) - 1 <= MAX_HISTOGRAM_BINS:
        return edges, 0
    lo_q, hi_q = (float(v) for v in np.quantile(finite, [0.005, 0.995]))
    if lo_q == hi_q:
        lo_q, hi_q = lo, hi
    inner = finite[(finite >= lo_q) & (finite <= hi_q)]
    edges = np.histogram_bin_edges(inner, bins="auto", range=(lo_q, hi_q))
    if len(edges) - 1 > MAX_HISTOGRAM_BINS or len(edges) < 2:
        edges = np.linspace(lo_q, hi_q, MAX_HISTOGRAM_BINS + 1)
    return edges, int(len(finite) - len(inner))


def _render_box(frame: pd.DataFrame, spec: ChartSpec, max_points: int) -> go.Figure:
    name = _require(spec.y, "a y column", spec)
    values = _numeric_of(frame, name)
    if spec.x is not None:
        groups = _top_groups(_category_labels(_series(frame, spec.x)), MAX_BAR_CATEGORIES)
    else:
        groups = pd.Series(_label(name), index=frame.index, dtype=object)
    data = pd.DataFrame({"g": groups.to_numpy(), "v": values}).dropna(subset=["v"])
    if data.empty:
        raise EmptyDataError(f"Column {_short(name)!r} has no numeric values to chart.")
    log_y = bool(spec.options.get("log_y")) and float(data["v"].min()) > 0
    stats: dict[str, list[float]] = {
        k: [] for k in ("q1", "median", "q3", "lowerfence", "upperfence", "mean")
    }
    labels: list[str] = []
    counts: list[int] = []
    outlier_x: list[str] = []
    outlier_y: list[np.ndarray] = []
    order = data.groupby("g", sort=False)["v"].median().sort_values(ascending=False).index
    per_group_points = max(1, max_points // max(1, len(order)))
    total_outliers = 0
    for group in order:
        v = np.sort(data.loc[data["g"] == group, "v"].to_numpy())
        q1, med, q3 = (float(x) for x in np.quantile(v, [0.25, 0.5, 0.75]))
        iqr = q3 - q1
        inside = v[(v >= q1 - 1.5 * iqr) & (v <= q3 + 1.5 * iqr)]
        stats["q1"].append(q1)
        stats["median"].append(med)
        stats["q3"].append(q3)
        stats["lowerfence"].append(float(inside.min()))
        stats["upperfence"].append(float(inside.max()))
        stats["mean"].append(float(v.mean()))
        labels.append(_t(str(group)))
        counts.append(len(v))
        out = v[(v < q1 - 1.5 * iqr) | (v > q3 + 1.5 * iqr)]
        total_outliers += len(out)
        if len(out):
            shown = out[_evenly(len(out), per_group_points)]  # evenly over sorted: keeps the extremes
            outlier_x.extend([_t(str(group))] * len(shown))
            outlier_y.append(shown)
    fmt = _d3(data["v"].to_numpy())
    fig = go.Figure(
        go.Box(
            x=labels,
            name=_t(_label(name)),
            boxpoints=False,
            marker={"color": "#3b6fb6"},
            hoverinfo="y",
            **stats,
        )
    )
    shown_outliers = sum(len(o) for o in outlier_y)
    if shown_outliers:
        fig.add_trace(
            go.Scatter(
                x=outlier_x,
                y=np.concatenate(outlier_y),
                mode="markers",
                name="Outliers",
                marker={"size": 5, "color": "#d64545", "opacity": 0.6},
                hovertemplate=f"%{{x}}<br>{_hover_name(_label(name))}: %{{y:{fmt}}}<extra>outlier</extra>",
            )
        )
    note_parts = [f"{sum(counts):,} values"]
    if total_outliers:
        extra = "" if shown_outliers == total_outliers else f" ({shown_outliers:,} shown)"
        note_parts.append(f"{total_outliers:,} outliers beyond Tukey's fences{extra}")
    if log_y:
        note_parts.append("log scale")
    _base_layout(fig, spec, " · ".join(note_parts))
    fig.update_layout(
        showlegend=False,
        xaxis={"title": {"text": _t(_label(spec.x)) if spec.x else ""}, "showticklabels": spec.x is not None},
        yaxis={"title": {"text": _t(_label(name))}, "hoverformat": fmt, "type": "log" if log_y else "linear"},
    )
    return fig


def _render_bar(frame: pd.DataFrame, spec: ChartSpec) -> go.Figure:
    x_name = _require(spec.x, "an x column", spec)
    labels = _category_labels(_series(frame, x_name))
    agg: Aggregation = spec.agg or ("sum" if spec.y else "count")
    values = None
    if agg != "count":
        values = _numeric_of(frame, _require(spec.y, "a y column (or agg='count')", spec))
    elif spec.y is not None:
        _series(frame, spec.y)  # validate the name even though counts do not use it
    if len(labels) == 0:
        raise EmptyDataError("The table has no rows to chart.")
    top_n = spec.options.get("top_n", MAX_BAR_CATEGORIES)
    top_n = (
        top_n if isinstance(top_n, int) and not isinstance(top_n, bool) and top_n > 0 else MAX_BAR_CATEGORIES
    )
    totals = _aggregate([labels], values, agg, labels.index)
    totals.index = totals.index.get_level_values(0)
    sizes = labels.value_counts()
    ranking = totals.dropna() if agg in ("sum", "count") else sizes
    n_categories = len(sizes)
    other = f"{_OTHER_LABEL} ({n_categories - top_n} more)"
    if n_categories > top_n:
        keep = ranking.sort_values(ascending=False).index[:top_n]
        labels = _fold(labels, keep, other)
        totals = _aggregate([labels], values, agg, labels.index)
        totals.index = totals.index.get_level_values(0)
        sizes = labels.value_counts()
    ordered = [k for k in totals.sort_values(ascending=False, na_position="last").index if k != other]
    if other in totals.index:
        ordered.append(other)
    measure = _agg_phrase(agg, spec.y if agg != "count" else None)
    horizontal = len(ordered) > 8 or max((len(str(k)) for k in ordered), default=0) > 14
    shown_values = totals.reindex(ordered).to_numpy(dtype="float64")
    fmt = _d3(shown_values)
    text_fmt = _text_fmt(shown_values)
    fig = go.Figure()
    cat_axis, val_axis = ("y", "x") if horizontal else ("x", "y")
    escaped = [_t(str(k)) for k in ordered]
    if spec.color is None:
        fig.add_trace(
            go.Bar(
                **{cat_axis: escaped, val_axis: shown_values},
                orientation="h" if horizontal else "v",
                customdata=sizes.reindex(ordered).fillna(0).to_numpy(dtype="int64"),
                texttemplate=f"%{{{val_axis}:{text_fmt}}}",
                textposition="auto",
                marker={"color": "#3b6fb6"},
                hovertemplate=(
                    f"<b>%{{{cat_axis}}}</b><br>{_hover_name(measure)}: %{{{val_axis}:{fmt}}}<br>"
                    f"Rows: %{{customdata:,}}<extra></extra>"
                ),
            )
        )
    else:
        colors = _top_groups(_category_labels(_series(frame, spec.color)), MAX_COLOR_GROUPS)
        cells = _aggregate([labels, colors], values, agg, labels.index)
        for group in colors.value_counts().index:
            part = (
                cells.xs(group, level=1)
                if group in cells.index.get_level_values(1)
                else pd.Series(dtype="float64")
            )
            part_values = part.reindex(ordered).to_numpy(dtype="float64")
            fig.add_trace(
                go.Bar(
                    **{cat_axis: escaped, val_axis: part_values},
                    orientation="h" if horizontal else "v",
                    name=_t(str(group)),
                    hovertemplate=f"<b>%{{{cat_axis}}}</b><br>{_hover_name(measure)}: %{{{val_axis}:{fmt}}}",
                )
            )
        fig.update_layout(barmode="stack" if agg in ("sum", "count") else "group")
    _base_layout(fig, spec)
    cat_layout = {
        "title": {"text": _t(_label(x_name))},
        "categoryorder": "array",
        "categoryarray": escaped,
        "automargin": True,
    }
    val_layout = {"title": {"text": _t(measure)}, "hoverformat": fmt, "rangemode": "tozero"}
    if horizontal:
        cat_layout["autorange"] = "reversed"
        fig.update_layout(yaxis=cat_layout, xaxis=val_layout, height=max(_HEIGHT, 120 + 26 * len(ordered)))
    else:
        fig.update_layout(xaxis=cat_layout, yaxis=val_layout)
    fig.update_layout(
        showlegend=spec.color is not None, legend={"title": {"text": _t(_label(spec.color or ""))}}
    )
    return fig


def _render_line(frame: pd.DataFrame, spec: ChartSpec, max_points: int) -> go.Figure:
    x_name = _require(spec.x, "an x column", spec)
    x_series = _series(frame, x_name)
    agg: Aggregation = spec.agg or ("sum" if spec.y else "count")
    values = None
    if agg != "count":
        values = _numeric_of(frame, _require(spec.y, "a y column (or agg='count')", spec))
    elif spec.y is not None:
        _series(frame, spec.y)
    colors = (
        _top_groups(_category_labels(_series(frame, spec.color)), MAX_COLOR_GROUPS) if spec.color else None
    )
    measure = _agg_phrase(agg, spec.y if agg != "count" else None)
    dates = _as_datetime(x_series)
    note: str | None = None
    if dates is not None:
        valid = dates.notna().to_numpy()
        if not valid.any():
            raise EmptyDataError(f"Column {_short(x_name)!r} has no dates to chart.")
        start, end = dates.min(), dates.max()
        requested = spec.options.get("freq")
        freq = requested if requested in _FREQ_NAMES else _choose_freq((end - start) / pd.Timedelta(days=1))
        index = _FREQ_NAMES.index(freq)
        while True:  # coarsen until the number of buckets fits max_points
            keys = _period_starts(dates, freq)
            alias = _FREQS[index][1]
            full = pd.date_range(keys[valid].min(), keys[valid].max(), freq=alias)
            if len(full) <= max_points or index == len(_FREQS) - 1:
                break
            index += 1
            freq = _FREQS[index][0]
        hover_x = _FREQS[index][2]
        x_title = f"{_label(x_name)} ({freq})"
        key_index: pd.Index = full
    else:
        numeric_x = _as_numeric(x_series)
        if numeric_x is None:
            raise InvalidInputError(f"Column {_short(x_name)!r} is neither dates nor numbers.")
        valid = np.isfinite(numeric_x)
        if not valid.any():
            raise EmptyDataError(f"Column {_short(x_name)!r} has no values to chart.")
        distinct = np.unique(numeric_x[valid])
        if len(distinct) > max_points:
            edges = np.linspace(distinct[0], distinct[-1], max_points + 1)
            bucket = np.clip(np.searchsorted(edges, numeric_x, side="right") - 1, 0, max_points - 1)
            keys = np.where(valid, (edges[bucket] + edges[np.minimum(bucket + 1, max_points)]) / 2, np.nan)
            note = f"{_label(x_name)} grouped into {max_points:,} equal-width bins"
        else:
            keys = numeric_x
        key_index = pd.Index(np.unique(keys[valid]))
        hover_x = None
        x_title = _label(x_name)
        freq = None
    row_keys = [pd.Series(keys, index=frame.index)]
    if colors is not None:
        row_keys.append(colors)
    cells = _aggregate(row_keys, values, agg, frame.index)
    cells = cells[cells.index.get_level_values(0).notna()]
    fill = 0.0 if agg in ("sum", "count") and freq is not None else np.nan
    fmt = _d3(cells.to_numpy(dtype="float64"))
    fig = go.Figure()
    groups: list[Any] = [None] if colors is None else list(colors.value_counts().index)
    x_hover = f"%{{x|{hover_x}}}" if hover_x else f"%{{x:{_d3(np.asarray(key_index, dtype='float64'))}}}"
    for group in groups:
        if group is None:
            part = cells.droplevel(list(range(1, cells.index.nlevels))) if cells.index.nlevels > 1 else cells
        else:
            mask = cells.index.get_level_values(1) == group
            part = cells[mask].droplevel(1)
        series = part.reindex(key_index, fill_value=fill) if freq is not None else part.sort_index()
        n = len(series)
        x_values = (
            pd.DatetimeIndex(series.index)
            .strftime("%Y-%m-%d %H:%M" if freq == "hour" else "%Y-%m-%d")
            .tolist()
            if freq is not None
            else series.index.to_numpy(dtype="float64")
        )
        fig.add_trace(
            go.Scatter(
                x=x_values,
                y=series.to_numpy(dtype="float64"),
                mode="lines+markers" if n <= 60 else "lines",
                name=_t(str(group)) if group is not None else _t(measure),
                line={"width": 2},
                connectgaps=False,
                hovertemplate=f"{x_hover}<br>{_hover_name(measure)}: %{{y:{fmt}}}"
                + ("<extra></extra>" if group is None else ""),
            )
        )
    _base_layout(fig, spec, note)
    fig.update_layout(
        hovermode="x unified" if colors is not None else "closest",
        showlegend=colors is not None,
        legend={"title": {"text": _t(_label(spec.color or ""))}},
        xaxis={"title": {"text": _t(x_title)}},
        yaxis={
            "title": {"text": _t(measure)},
            "hoverformat": fmt,
            "rangemode": "tozero" if agg != "mean" else "normal",
        },
    )
    return fig


def _render_scatter(frame: pd.DataFrame, spec: ChartSpec, max_points: int) -> go.Figure:
    x_name = _require(spec.x, "an x column", spec)
    y_name = _require(spec.y, "a y column", spec)
    x = _numeric_of(frame, x_name)
    y = _numeric_of(frame, y_name)
    color_labels = None
    color_values = None
    if spec.color is not None:
        color_series = _series(frame, spec.color)
        color_values = _as_numeric(color_series) if ptypes.is_numeric_dtype(color_series.dtype) else None
        if color_values is None:
            color_labels = _top_groups(_category_labels(color_series), MAX_COLOR_GROUPS).to_numpy()
    valid = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    if len(valid) == 0:
        raise EmptyDataError(f"No row has numeric values in both {_short(x_name)!r} and {_short(y_name)!r}.")
    log_x = bool(spec.options.get("log_x")) and float(x[valid].min()) > 0
    log_y = bool(spec.options.get("log_y")) and float(y[valid].min()) > 0
    chosen = valid[_sample_positions(len(valid), max_points)]
    fmt_x, fmt_y = _d3(x[chosen]), _d3(y[chosen])
    x_label, y_label = _label(x_name), _label(y_name)
    hover = f"{_hover_name(x_label)}: %{{x:{fmt_x}}}<br>{_hover_name(y_label)}: %{{y:{fmt_y}}}"
    opacity = 0.75 if len(chosen) <= 500 else 0.45
    fig = go.Figure()
    if color_labels is not None:
        sample_groups = pd.Series(color_labels[chosen])
        for group in sample_groups.value_counts().index:
            idx = chosen[(sample_groups == group).to_numpy()]
            fig.add_trace(
                go.Scatter(
                    x=x[idx],
                    y=y[idx],
                    mode="markers",
                    name=_t(str(group)),
                    marker={"size": 6, "opacity": opacity},
                    hovertemplate=hover,
                )
            )
    else:
        marker: dict[str, Any] = {"size": 6, "opacity": opacity, "color": "#3b6fb6"}
        if color_values is not None:
            marker.update(
                color=color_values[chosen],
                colorscale="Viridis",
                showscale=True,
                colorbar={"title": {"text": _t(_label(spec.color or ""))}},
            )
        fig.add_trace(
            go.Scatter(
                x=x[chosen],
                y=y[chosen],
                mode="markers",
                name=_t(y_label),
                marker=marker,
                hovertemplate=hover + "<extra></extra>",
            )
        )
    r = float(np.corrcoef(x[valid], y[valid])[0, 1]) if len(valid) > 2 else math.nan
    if spec.options.get("trendline") and not (log_x or log_y) and len(valid) > 2 and np.ptp(x[valid]) > 0:
        slope, intercept = np.polyfit(x[valid], y[valid], 1)
        xs = np.array([x[valid].min(), x[valid].max()])
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=slope * xs + intercept,
                mode="lines",
                name="Linear fit (all rows)",
                line={"color": "#d64545", "dash": "dash"},
                hoverinfo="skip",
            )
        )
    parts = []
    if math.isfinite(r):
        parts.append(f"Pearson r = {r:.2f}")
    if len(chosen) < len(valid):
        parts.append(f"{len(chosen):,} of {len(valid):,} points shown (random sample)")
    else:
        parts.append(f"{len(valid):,} points")
    if log_x or log_y:
        parts.append("log scale")
    _base_layout(fig, spec, " · ".join(parts))
    fig.update_layout(
        showlegend=color_labels is not None,
        legend={"title": {"text": _t(_label(spec.color or ""))}},
        xaxis={"title": {"text": _t(x_label)}, "hoverformat": fmt_x, "type": "log" if log_x else "linear"},
        yaxis={"title": {"text": _t(y_label)}, "hoverformat": fmt_y, "type": "log" if log_y else "linear"},
    )
    return fig


def _string_list(value: Any, what: str) -> list[str]:
    if not isinstance(value, Sequence) or isinstance(value, str | bytes) or not value:
        raise InvalidInputError(f"options[{what!r}] must be a non-empty list.")
    return [str(v) for v in value]


def _render_heatmap(frame: pd.DataFrame, spec: ChartSpec) -> go.Figure:
    cols = _string_list(spec.options.get("columns"), "columns")
    if len(cols) < 2:
        raise InvalidInputError("A heatmap needs at least two columns.")
    method = str(spec.options.get("method", "pearson")).lower()
    if method not in ("pearson", "spearman"):
        raise InvalidInputError("options['method'] must be 'pearson' or 'spearman'.")
    given = spec.options.get("values")
    matrix: np.ndarray | None = None
    if given is not None:
        try:
            matrix = np.array([[math.nan if v is None else v for v in row] for row in given], dtype="float64")
        except (TypeError, ValueError):
            matrix = None
        if matrix is not None and matrix.shape != (len(cols), len(cols)):
            matrix = None
    if matrix is None:
        data = pd.DataFrame({c: _numeric_of(frame, c) for c in cols})
        if data.dropna(how="all").empty:
            raise EmptyDataError("The heatmap columns have no numeric values.")
        matrix = data.corr(method=method, min_periods=3).to_numpy(dtype="float64")
    labels = [_t(_label(c)) for c in cols]
    symbol = "ρ" if method == "spearman" else "r"
    fig = go.Figure(
        go.Heatmap(
            z=matrix,
            x=labels,
            y=labels,
            zmin=-1,
            zmax=1,
            zmid=0,
            colorscale="RdBu",
            reversescale=True,
            texttemplate="%{z:.2f}" if len(cols) <= 12 else None,
            hovertemplate=f"%{{y}} × %{{x}}<br>{symbol} = %{{z:.2f}}<extra></extra>",
            colorbar={"title": {"text": symbol}},
        )
    )
    _base_layout(fig, spec)
    size = max(_HEIGHT, 160 + 34 * len(cols))
    fig.update_layout(
        height=size,
        xaxis={"tickangle": -35, "automargin": True, "side": "bottom"},
        yaxis={"autorange": "reversed", "automargin": True},
    )
    return fig


def _render_importance(spec: ChartSpec) -> go.Figure:
    features = _string_list(spec.options.get("features"), "features")
    raw = spec.options.get("importances")
    if not isinstance(raw, Sequence) or len(raw) != len(features):
        raise InvalidInputError("options['importances'] must list one number per feature.")
    try:
        importances = np.array(raw, dtype="float64")
    except (TypeError, ValueError) as exc:
        raise InvalidInputError("options['importances'] must be numbers.") from exc
    order = np.argsort(-np.abs(importances), kind="stable")[:MAX_FEATURES]
    names = [_t(_short(features[i])) for i in order]
    values = importances[order]
    fmt = _d3(values)
    total = spec.options.get("total_features")
    note = f"top {len(order)} of {total} features" if isinstance(total, int) and total > len(order) else None
    fig = go.Figure(
        go.Bar(
            x=values,
            y=names,
            orientation="h",
            marker={"color": "#3b6fb6"},
            hovertemplate=f"<b>%{{y}}</b><br>Importance: %{{x:{fmt}}}<extra></extra>",
        )
    )
    _base_layout(fig, spec, note)
    fig.update_layout(
        height=max(_HEIGHT, 120 + 26 * len(order)),
        xaxis={"title": {"text": "Importance"}, "hoverformat": fmt},
        yaxis={"autorange": "reversed", "automargin": True, "title": {"text": "Feature"}},
    )
    return fig


def _render_missing(frame: pd.DataFrame, spec: ChartSpec) -> go.Figure:
    options = spec.options
    if options.get("columns") is not None:
        names = _string_list(options.get("columns"), "columns")
        raw_nulls = options.get("nulls")
        if not isinstance(raw_nulls, Sequence) or len(raw_nulls) != len(names):
            raise InvalidInputError("options['nulls'] must list one count per column.")
        nulls = np.array(raw_nulls, dtype="float64")
        rows = _as_count(options.get("rows")) or len(frame)
    else:
        counts = frame.isna().sum().to_numpy(dtype="float64")
        names = [_name(label) for label in frame.columns]
        rows = len(frame)
        nulls = counts
    if rows <= 0:
        raise EmptyDataError("The table has no rows to chart.")
    order = [i for i in np.argsort(-nulls, kind="stable") if nulls[i] > 0][:MAX_MISSING_COLUMNS]
    labels = [_t(_short(names[i])) for i in order]
    shares = nulls[order] / rows
    fig = go.Figure(
        go.Bar(
            x=shares,
            y=labels,
            orientation="h",
            customdata=nulls[order],
            marker={"color": "#d9822b"},
            texttemplate="%{x:.1%}",
            textposition="auto",
            hovertemplate="<b>%{y}</b><br>Missing: %{customdata:,} rows (%{x:.1%})<extra></extra>",
        )
    )
    note = f"of {rows:,} rows" if order else "no missing values"
    _base_layout(fig, spec, note)
    fig.update_layout(
        height=max(_HEIGHT, 120 + 26 * len(order)),
        xaxis={"title": {"text": "Share of rows missing"}, "tickformat": ".0%", "rangemode": "tozero"},
        yaxis={"autorange": "reversed", "automargin": True, "title": {"text": "Column"}},
    )
    return fig


def render_chart(frame: pd.DataFrame, spec: ChartSpec, *, max_points: int = 5000) -> go.Figure:
    """Draw one chart from a spec with exact aggregates and bounded size.

    Size is bounded independently of the row count: histograms are binned here (at most
    :data:`MAX_HISTOGRAM_BINS` bins), bars and lines are aggregated (lines coarsen their time
    bucket until at most ``max_points`` buckets remain), box plots carry precomputed quartiles
    and fences plus at most ``max_points`` outliers (evenly spread over the sorted outliers, so
    the extremes are kept), and scatter plots show a seeded random sample of ``max_points``
    rows (the same rows on every run) with the correlation and linear fit computed on all rows.
    A 1M-row table renders to well under 1 MB of JSON. Subtitles say when data was sampled,
    clipped or put on a log scale, so the figure never silently misrepresents the table.

    Args:
        frame: The table the spec was made for.
        spec: What to draw (see :class:`ChartSpec` for the fields each kind uses).
        max_points: Maximum number of plotted points/buckets per chart (>= 10).

    Returns:
        A Plotly figure with readable axis titles and hover templates with formatted numbers.

    Raises:
        UnknownColumnError: The spec names a column that is not in ``frame``.
        InvalidInputError: A column is not numeric where a number is needed, the spec lacks a
            field its kind needs, or ``max_points`` is below 10.
        EmptyDataError: There are no values to draw.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"render_chart expects a pandas DataFrame, got {type(frame).__name__}")
    if isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 10:
        raise InvalidInputError("max_points must be an integer >= 10")
    for name in (spec.x, spec.y, spec.color):
        if name is not None:
            _series(frame, name)
    if spec.kind == "feature_importance":
        return _render_importance(spec)
    if spec.kind == "missing_values":
        return _render_missing(frame, spec)
    if len(frame) == 0:
        raise EmptyDataError("The table has no rows to chart.")
    if spec.kind == "histogram":
        return _render_histogram(frame, spec)
    if spec.kind == "box":
        return _render_box(frame, spec, max_points)
    if spec.kind == "bar":
        return _render_bar(frame, spec)
    if spec.kind == "line":
        return _render_line(frame, spec, max_points)
    if spec.kind == "scatter":
        return _render_scatter(frame, spec, max_points)
    return _render_heatmap(frame, spec)


# --------------------------------------------------------------------------------------------
# Serialisation
# --------------------------------------------------------------------------------------------

#: Plotly config for every embedded chart: resizes with its container, no Plotly logo.
PLOT_CONFIG: dict[str, Any] = {"responsive": True, "displaylogo": False}

_PAGE_CSS = """
:root { color-scheme: light; --ink: #1f2933; --muted: #5f6b7a; --line: #e4e7eb; --bg: #f5f7fa; }
* { box-sizing: border-box; }
html, body { margin: 0; padding: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header.page { padding: 24px 28px 8px; }
header.page h1 { margin: 0 0 4px; font-size: 1.6rem; font-weight: 650; }
header.page .subtitle { margin: 0; color: var(--muted); }
ul.notes { margin: 12px 0 0; padding-left: 20px; color: var(--ink); }
ul.notes li { margin: 2px 0; }
main.grid { display: grid; gap: 18px; padding: 16px 28px 28px;
  grid-template-columns: repeat(auto-fit, minmax(min(100%, 520px), 1fr)); }
section.card { background: #fff; border: 1px solid var(--line); border-radius: 10px;
  padding: 16px 16px 8px; display: flex; flex-direction: column; min-width: 0;
  box-shadow: 0 1px 2px rgba(15, 23, 42, 0.04); break-inside: avoid; }
section.card h2 { margin: 0; font-size: 1.05rem; font-weight: 620; overflow-wrap: anywhere; }
section.card p.reason { margin: 4px 0 8px; color: var(--muted); font-size: 0.92rem; overflow-wrap: anywhere; }
section.card p.note { margin: 4px 0 6px; color: var(--muted); font-size: 0.8rem; }
section.card .plot { height: 420px; min-width: 0; }
section.card.tall .plot { height: 560px; }
main.single { padding: 12px; height: 100vh; }
p.empty { padding: 24px 28px; color: var(--muted); }
footer.page { padding: 0 28px 24px; color: var(--muted); font-size: 0.8rem; }
@media print { html, body { background: #fff; } section.card { box-shadow: none; } }
""".strip()


def _document_start(title: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="analystack visualization">\n'
        f"<title>{html.escape(title)}</title>\n<style>\n{_PAGE_CSS}\n</style>\n"
    )


def _document_end(body: str) -> str:
    return f"</head>\n<body>\n{body}\n</body>\n</html>\n"


def html_document(title: str, body: str, *, head_scripts: str = "") -> str:
    """A complete, self-contained HTML page (no external fonts, styles or scripts).

    Shared by :func:`figure_html` and the dashboard so both pages look alike. ``title`` is
    escaped here; ``body`` and ``head_scripts`` must already be safe HTML.
    """
    return _document_start(title) + head_scripts + _document_end(body)


@functools.cache
def plotly_js() -> str:
    """plotly.js, read from the package once per container (plotly reads the file on every call)."""
    return str(get_plotlyjs())


@dataclass(frozen=True)
class HtmlPage:
    """A self-contained page kept as the text around its inlined plotly.js.

    Why: plotly.js is ~4.8 MB of every page. Kept apart, it is not copied into each page's
    string, and the writer can store the page as parts whose plotly.js is compressed once per
    container (``analystack.hub.SharedPart``); the stored artifact is still one whole page.
    """

    head: str
    tail: str

    def text(self) -> str:
        """The whole page."""
        return self.head + plotly_js() + self.tail

    def parts(self, library: bytes | None = None) -> list[bytes]:
        """The page as UTF-8 parts whose concatenation is ``text().encode()``; ``library`` is
        plotly.js already encoded (a writer's cached, shared copy), encoded here when omitted."""
        return [self.head.encode(), plotly_js().encode() if library is None else library, self.tail.encode()]


def plotly_page(title: str, body: str) -> HtmlPage:
    """:func:`html_document` with plotly.js inlined once in ``<head>``; ``body`` must be safe HTML."""
    return HtmlPage(
        head=_document_start(title)
        + "<script>window.PlotlyConfig = {MathJaxConfig: 'local'};</script>\n"
        + '<script type="text/javascript">',
        tail="</script>\n" + _document_end(body),
    )


def figure_dict(fig: go.Figure, **layout: Any) -> dict[str, Any]:
    """The figure as a plain dict with ``layout`` entries replaced (``None`` removes one).

    Why not ``go.Figure(fig).update_layout(...)``: copying a figure re-validates every property
    (~10x slower than ``to_dict``), and the caller's figure must stay untouched either way.
    ``margin`` is merged into the existing margin, as ``update_layout`` does.
    """
    figure = fig.to_dict()
    current = figure.setdefault("layout", {})
    for key, value in layout.items():
        if value is None:
            current.pop(key, None)
        elif key == "margin":
            current[key] = {**current.get(key, {}), **value}
        else:
            current[key] = value
    return figure


def figure_json(fig: go.Figure) -> str:
    """Plotly JSON of a figure (readable back with ``plotly.io.from_json``).

    Numeric arrays are stored as base64 typed arrays (Plotly 6+), and ``<``, ``>``, ``/`` are
    escaped, so the JSON is compact and safe to inline in a ``<script>`` element.
    """
    return str(pio.to_json(fig, validate=False))


def figure_page(fig: go.Figure, *, title: str) -> HtmlPage:
    """A standalone page for one figure that works offline, as :class:`HtmlPage` parts.

    plotly.js (~4.8 MB) is embedded inline rather than loaded from a CDN: the platform runs
    without the internet and the page must render wherever it is opened. The figure is drawn
    sized to the window; ``fig`` itself is not modified.

    Args:
        fig: The figure.
        title: The page title (escaped).

    Returns:
        The page; ``figure_page(...).text()`` is :func:`figure_html`.
    """
    div = pio.to_html(
        figure_dict(fig, height=None, autosize=True),
        include_plotlyjs=False,
        full_html=False,
        div_id="chart",  # one chart per page; a fixed id keeps the page reproducible
        config=PLOT_CONFIG,
        default_width="100%",
        default_height="100%",
        validate=False,
    )
    return plotly_page(title, f'<main class="single">{div}</main>')


def figure_html(fig: go.Figure, *, title: str) -> str:
    """A standalone HTML page for one figure that works offline (see :func:`figure_page`)."""
    return figure_page(fig, title=title).text()
