"""Feature planning, leakage guard and scikit-learn preprocessing for the AutoML agent.

The AutoML agent trains on whatever table the user uploads, so before any model sees the data
this module decides, column by column, what is a usable feature and what must go: empty and
constant columns, identifiers, and - most importantly - columns that leak the target. A model
that scores R² 0.999 because ``revenue_copy`` sits next to ``revenue`` is worse than no model,
because the user believes it. Every dropped column therefore carries a reason that the agent
reports verbatim.

The result is a :class:`FeaturePlan` (pydantic, JSON-safe) and a scikit-learn pipeline factory
(:func:`make_pipeline`) whose first step accepts the *raw* table: numbers stored as text
(``"$93.46"``), ISO date strings and unseen categories are handled inside the pipeline, so the
serialised model predicts on new uploads without this module's planning code.

Like every logic module it imports no AWS, HTTP or A2A code and reads no environment
(DESIGN.md section 3). The column helpers here (:func:`normalize_name`, :func:`coerce_numeric`,
:func:`parse_dates`, :func:`identifier_reason`) are shared with :mod:`functions.automl.target`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Hashable
from typing import Any, Literal

import numpy as np
import pandas as pd
from pandas.api import types as ptypes
from pydantic import BaseModel, ConfigDict, Field
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from analystack.errors import EmptyDataError, InvalidInputError, UnknownColumnError

__all__ = [
    "CATEGORICAL_MAX_LEVELS",
    "IDENTIFIER_DISTINCT_SHARE",
    "LEAKAGE_CORRELATION",
    "LEAKAGE_NAME_PREFIXES",
    "LEAKAGE_NAME_SUFFIXES",
    "NUMERIC_TEXT_SHARE",
    "ONEHOT_MAX_CATEGORIES",
    "ONEHOT_MIN_FREQUENCY",
    "DateParts",
    "FeaturePlan",
    "FrequencyEncoder",
    "LogFeatures",
    "Task",
    "build_features",
    "build_preprocessor",
    "coerce_numeric",
    "identifier_reason",
    "is_datetime_like",
    "make_pipeline",
    "max_encoded_width",
    "normalize_name",
    "parse_dates",
    "to_float32",
    "to_text_frame",
]

Task = Literal["regression", "classification", "forecast"]

# --------------------------------------------------------------------------------------------
# Constants (shared by the planner, the docs and the tests)
# --------------------------------------------------------------------------------------------

#: A numeric feature whose |Pearson| or |Spearman| correlation with a numeric target exceeds
#: this is treated as a copy or a deterministic (monotone) transform of the target. 0.98 keeps
#: genuine strong predictors: on the demo sales data ``quantity`` correlates 0.81 with
#: ``revenue = unit_price x quantity``, far below it.
LEAKAGE_CORRELATION = 0.98

#: Name patterns of derived target columns: ``<target>_<suffix>`` or ``<prefix>_<target>``
#: (names compared normalised, see :func:`normalize_name`). Only these exact affixes count, so
#: ``unit_price`` stays a feature when the target is ``price``.
LEAKAGE_NAME_SUFFIXES = frozenset(
    {
        "log",
        "log1p",
        "ln",
        "sqrt",
        "sq",
        "squared",
        "scaled",
        "norm",
        "normalized",
        "normalised",
        "std",
        "standardized",
        "standardised",
        "z",
        "zscore",
        "minmax",
        "pct",
        "rank",
        "copy",
        "dup",
        "raw",
        "clean",
        "cleaned",
        "orig",
        "original",
        "bin",
        "binned",
        "bucket",
        "band",
        "class",
        "flag",
        "encoded",
        "label",
        "transformed",
        "adj",
        "adjusted",
    }
)
LEAKAGE_NAME_PREFIXES = frozenset(
    {"log", "ln", "sqrt", "scaled", "norm", "normalized", "std", "z", "raw", "clean", "orig", "binned"}
)

#: Text/integer columns whose distinct values cover at least this share of their non-null
#: values are identifiers (or free text): they cannot generalise and memorise rows instead.
IDENTIFIER_DISTINCT_SHARE = 0.95
#: An id-named column (``order_id``, ``customerId``, ``uuid``) is an identifier from this share.
IDENTIFIER_NAMED_DISTINCT_SHARE = 0.5
#: Near-unique integer columns are identifiers when their values are dense:
#: ``max - min <= IDENTIFIER_MAX_GAP_RATIO * (count - 1)`` (row numbers, sequential keys), so
#: a near-unique measure such as an income in whole dollars is kept.
IDENTIFIER_MAX_GAP_RATIO = 2.0
#: Below this many non-null values uniqueness proves nothing (a 10-row table is all distinct).
IDENTIFIER_MIN_ROWS = 20

#: Text columns with at most this many levels are one-hot encoded; more levels are frequency
#: encoded (each value replaced by its share in the training data, target-free).
CATEGORICAL_MAX_LEVELS = 50
#: One-hot: levels seen fewer times than this in a training fold are pooled as "infrequent";
#: at most ``ONEHOT_MAX_CATEGORIES`` output columns per feature.
ONEHOT_MIN_FREQUENCY = 5
ONEHOT_MAX_CATEGORIES = 30

#: A text column is numeric when at least this share of its non-null values parse as numbers
#: once currency symbols, thousands separators, spaces and ``%`` are stripped ("$93.46").
NUMERIC_TEXT_SHARE = 0.95
#: A text column is a date when at least this share of a sample of its values are ISO-like dates.
DATE_TEXT_SHARE = 0.95
#: Leakage statistics run on a fixed random sample of at most this many rows (exact enough to
#: tell 0.98 from 0.999, and bounded on million-row tables).
LEAKAGE_SAMPLE_ROWS = 200_000
#: Functional-dependence checks need this many complete (feature, target) pairs to mean anything.
LEAKAGE_MIN_PAIRS = 20

MISSING_LEVEL = "__missing__"
_SAMPLE_FOR_TYPE = 2_000
_CURRENCY_NOISE = re.compile(r"[\s$€£¥₩,%]")
_DATE_TEXT = re.compile(
    r"^\s*\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"
    r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}:?\d{2})?)?\s*$"
)
_DATE_SEPARATORS = re.compile(r"^\s*(\d{4})[/.](\d{1,2})[/.](\d{1,2})")
_ID_NAME_RE = re.compile(r"(?:^|[_\-\s.])(?:id|uuid|guid|pk|key)$", re.IGNORECASE)
_ID_CAMEL_RE = re.compile(r"[a-z0-9](?:Id|ID|Uuid|UUID|Guid|GUID|Key)$")
_NAME_SEPARATORS = re.compile(r"[\s\-.]+")


# --------------------------------------------------------------------------------------------
# Column helpers (shared with target.py)
# --------------------------------------------------------------------------------------------


def normalize_name(name: Hashable) -> str:
    """Lower-case a column label and unify separators: ``" Unit-Price "`` -> ``"unit_price"``.

    Why: users and planners type column names loosely; matching on the normalised form makes
    ``Revenue``, ``revenue`` and ``unit price`` find their columns without fuzzy guessing.
    """
    text = _NAME_SEPARATORS.sub("_", str(name).strip().lower())
    return re.sub(r"_+", "_", text).strip("_")


def coerce_numeric(series: pd.Series) -> pd.Series:
    """The column as float64: numbers as they are, booleans as 0/1, numeric text parsed.

    Text is parsed after stripping currency symbols, thousands separators, spaces and ``%``;
    anything else becomes NaN. Why: exported spreadsheets mix ``"$93.46"`` into price
    columns, and one such value must not turn a numeric feature into a categorical one.
    """
    if ptypes.is_bool_dtype(series.dtype) or ptypes.is_numeric_dtype(series.dtype):
        return pd.to_numeric(series, errors="coerce").astype("float64")
    if ptypes.is_datetime64_any_dtype(series.dtype):
        return pd.Series(np.nan, index=series.index, dtype="float64")
    text = series.astype(object).where(series.notna(), None)
    cleaned = text.map(lambda v: None if v is None else _CURRENCY_NOISE.sub("", str(v)), na_action="ignore")
    return pd.to_numeric(cleaned, errors="coerce").astype("float64")


def numeric_text_share(series: pd.Series) -> float:
    """Share of non-null values of a text column that :func:`coerce_numeric` can parse."""
    values = series.dropna()
    if values.empty:
        return 0.0
    if len(values) > _SAMPLE_FOR_TYPE:
        values = values.sample(_SAMPLE_FOR_TYPE, random_state=0)
    return float(coerce_numeric(values).notna().mean())


def _is_text(series: pd.Series) -> bool:
    dtype = series.dtype
    return bool(
        ptypes.is_object_dtype(dtype)
        or ptypes.is_string_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
    )


def is_datetime_like(series: pd.Series) -> bool:
    """True for datetime columns and for text columns of ISO-like dates (``2023-01-02``).

    Only ``YYYY-MM-DD`` / ``YYYY/MM/DD`` (optionally with a time) counts: ``01/02/2023`` is
    ambiguous between day-first and month-first, and guessing wrong silently shifts every
    date, so such columns stay categorical (the ingestion agent normalises dates).
    """
    if ptypes.is_datetime64_any_dtype(series.dtype):
        return True
    if not _is_text(series) or isinstance(series.dtype, pd.CategoricalDtype):
        return False
    values = series.dropna()
    if values.empty:
        return False
    if len(values) > _SAMPLE_FOR_TYPE:
        values = values.sample(_SAMPLE_FOR_TYPE, random_state=0)
    matches = values.map(lambda v: bool(_DATE_TEXT.match(str(v))))
    return float(matches.mean()) >= DATE_TEXT_SHARE


def parse_dates(series: pd.Series) -> pd.Series:
    """The column as naive UTC ``datetime64``; unparseable values become NaT.

    Time zones are converted to UTC and dropped so that one table mixing offsets yields one
    comparable timeline (calendar parts are then UTC-based: documented, not guessed).
    """
    if ptypes.is_datetime64_any_dtype(series.dtype):
        parsed = pd.to_datetime(series, errors="coerce")
    else:
        text = series.astype(object).where(series.notna(), None)
        text = text.map(lambda v: None if v is None else _DATE_SEPARATORS.sub(r"\1-\2-\3", str(v)))
        parsed = pd.to_datetime(text, errors="coerce", format="ISO8601", utc=True)
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return parsed


def _is_identifier_name(name: str) -> bool:
    stripped = name.strip()
    return bool(_ID_NAME_RE.search(stripped) or _ID_CAMEL_RE.search(stripped))


def identifier_reason(name: str, series: pd.Series) -> str | None:
    """Why the column is an identifier (or free text), or ``None`` when it is not.

    Rules, on non-null values: id-like names (``*_id``, ``*Id``, ``uuid``, ``key``) with at
    least half the values distinct; text with >= 95 % distinct values; near-unique integers
    whose range is dense (sequential keys). Continuous floats are never identifiers by
    uniqueness alone (almost every measured value is distinct).
    """
    values = series.dropna()
    count = len(values)
    if count < IDENTIFIER_MIN_ROWS:
        return None
    distinct = int(values.nunique())
    share = distinct / count
    if _is_identifier_name(name) and share >= IDENTIFIER_NAMED_DISTINCT_SHARE:
        return f"identifier: id-like name with {distinct:,} distinct values in {count:,} rows"
    if share < IDENTIFIER_DISTINCT_SHARE:
        return None
    if _is_text(series) and numeric_text_share(series) < NUMERIC_TEXT_SHARE:
        return f"identifier or free text: {distinct:,} distinct values in {count:,} rows"
    numbers = coerce_numeric(values).dropna()
    if len(numbers) and bool(np.all(np.mod(numbers.to_numpy(), 1.0) == 0.0)):
        span = float(numbers.max() - numbers.min())
        if span <= IDENTIFIER_MAX_GAP_RATIO * max(len(numbers) - 1, 1):
            return f"identifier: {distinct:,} distinct, sequential integers in {count:,} rows"
    return None


def to_text_frame(frame: pd.DataFrame) -> np.ndarray:
    """Categorical inputs as an object array of stripped strings, missing values as one level.

    Why a module-level function: pipelines must pickle, and lambdas do not. Treating "missing"
    as a level keeps the information that a value was absent (often predictive); stripping
    merges exported variants such as ``" Home "`` and ``"Home"`` (case is kept: codes can
    differ by case).
    """
    out = np.empty(frame.shape, dtype=object)
    for position, column in enumerate(frame.columns):
        series = frame[column]
        if isinstance(series.dtype, pd.StringDtype):  # vectorised: every value is text or missing
            out[:, position] = series.str.strip().fillna(MISSING_LEVEL).to_numpy(dtype=object)
            continue
        values = series.astype(object).where(series.notna(), None)
        out[:, position] = [MISSING_LEVEL if v is None else str(v).strip() for v in values]
    return out


def to_float32(values: Any) -> np.ndarray:
    """The block as float32, the last step of every block of the preprocessor.

    Why: the feature matrix is the agent's largest working array (rows x encoded columns);
    float32 halves it, and scikit-learn's forests convert to float32 anyway. Blocks are
    parsed, imputed and scaled in float64 first, so only the stored result is rounded (to about
    7 significant digits).
    """
    return np.asarray(values, dtype=np.float32)


def to_float_frame(frame: pd.DataFrame) -> np.ndarray:
    """Numeric inputs as a float array (see :func:`coerce_numeric`); picklable for pipelines."""
    if frame.shape[1] == 0:
        return np.empty((len(frame), 0), dtype="float64")
    return np.column_stack([coerce_numeric(frame[column]).to_numpy() for column in frame.columns])


# --------------------------------------------------------------------------------------------
# Transformers
# --------------------------------------------------------------------------------------------


class DateParts(TransformerMixin, BaseEstimator):
    """Calendar features of date columns.

    Default (regression, classification): year, month, day of week, day of year, plus the
    cyclic (sine, cosine) encodings of month and day of week, which let linear models fit
    seasonality (December sits next to January); trees use the plain parts.

    ``elapsed=True`` (forecast tasks): days since the earliest training date - the feature that
    carries a trend into later periods - with year, day of week and the cyclic encodings of
    month, day of week and day of year. Raw month and day of year are left out there: they
    reset every January, so a model that learnt the trend from them (within a training year
    they rise with time) predicts a collapse after the new year.

    Missing or unparseable dates become NaN (imputed by the next step).
    """

    _PARTS = (
        "year",
        "month",
        "dayofweek",
        "dayofyear",
        "month_sin",
        "month_cos",
        "dayofweek_sin",
        "dayofweek_cos",
    )
    _FORECAST_PARTS = (
        "days_since_start",
        "year",
        "dayofweek",
        "month_sin",
        "month_cos",
        "dayofweek_sin",
        "dayofweek_cos",
        "dayofyear_sin",
        "dayofyear_cos",
    )

    def __init__(self, elapsed: bool = False) -> None:
        self.elapsed = elapsed

    def fit(self, X: pd.DataFrame, y: Any = None) -> DateParts:
        frame = _as_frame(X)
        self.feature_names_in_ = np.asarray([str(c) for c in frame.columns], dtype=object)
        self.n_features_in_ = frame.shape[1]
        origins: list[float] = []
        for column in frame.columns:
            parsed = parse_dates(frame[column])
            origin = parsed.min()
            origins.append(float(origin.value) if pd.notna(origin) else math.nan)
        self.origins_ = origins
        return self

    def _parts(self) -> tuple[str, ...]:
        return self._FORECAST_PARTS if self.elapsed else self._PARTS

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        frame = _as_frame(X, self.feature_names_in_)
        blocks: list[np.ndarray] = []
        for position, column in enumerate(frame.columns):
            parsed = parse_dates(frame[column])
            parts = parsed.dt
            month = parts.month.astype("float64").to_numpy()
            weekday = parts.day_of_week.astype("float64").to_numpy()
            yearday = parts.day_of_year.astype("float64").to_numpy()
            nanos = parsed.astype("datetime64[ns]").astype("int64").to_numpy().astype("float64")
            days = (nanos - self.origins_[position]) / 86_400e9
            days[parsed.isna().to_numpy()] = np.nan
            values = {
                "days_since_start": days,
                "year": parts.year.astype("float64").to_numpy(),
                "month": month,
                "dayofweek": weekday,
                "dayofyear": yearday,
                "month_sin": np.sin(2 * np.pi * (month - 1) / 12),
                "month_cos": np.cos(2 * np.pi * (month - 1) / 12),
                "dayofweek_sin": np.sin(2 * np.pi * weekday / 7),
                "dayofweek_cos": np.cos(2 * np.pi * weekday / 7),
                "dayofyear_sin": np.sin(2 * np.pi * (yearday - 1) / 365.25),
                "dayofyear_cos": np.cos(2 * np.pi * (yearday - 1) / 365.25),
            }
            blocks.extend(values[name] for name in self._parts())
        if not blocks:
            return np.empty((len(frame), 0), dtype="float64")
        return np.column_stack(blocks)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        names = [f"{column}__{part}" for column in self.feature_names_in_ for part in self._parts()]
        return np.asarray(names, dtype=object)


class FrequencyEncoder(TransformerMixin, BaseEstimator):
    """Replace each level of a high-cardinality column by its share of the training rows.

    Why frequency and not target encoding: it uses no target values, so it cannot leak the
    target into the features (target encoding needs careful out-of-fold fitting to be safe).
    Levels unseen in training map to 0.
    """

    def fit(self, X: pd.DataFrame, y: Any = None) -> FrequencyEncoder:
        frame = _as_frame(X)
        self.feature_names_in_ = np.asarray([str(c) for c in frame.columns], dtype=object)
        self.n_features_in_ = frame.shape[1]
        text = to_text_frame(frame)
        self.frequencies_: list[dict[str, float]] = []
        for position in range(text.shape[1]):
            counts = pd.Series(text[:, position]).value_counts(normalize=True)
            self.frequencies_.append({str(k): float(v) for k, v in counts.items()})
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        frame = _as_frame(X, self.feature_names_in_)
        text = to_text_frame(frame)
        out = np.zeros(text.shape, dtype="float64")
        for position, table in enumerate(self.frequencies_):
            shares = pd.Series(text[:, position], dtype=object).map(table)
            out[:, position] = shares.fillna(0.0).to_numpy(dtype="float64")
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray([f"{c}__frequency" for c in self.feature_names_in_], dtype=object)


class LogFeatures(TransformerMixin, BaseEstimator):
    """Log-transform numeric columns for multiplicative (log-log) linear models.

    Per column, chosen at fit: ``log(x)`` when every training value is positive (values that
    are not positive later are clipped to the smallest training value first), else the signed
    ``sign(x) * log1p(|x|)``. Why: business targets are often products (revenue = price x
    quantity), which a linear model captures exactly on the log scale. NaN stays NaN.
    """

    def fit(self, X: Any, y: Any = None) -> LogFeatures:
        values = np.asarray(X, dtype="float64")
        self.n_features_in_ = values.shape[1]
        with np.errstate(all="ignore"):
            minima = (
                np.nanmin(np.where(np.isnan(values), np.inf, values), axis=0) if values.size else np.array([])
            )
        self.floors_ = [float(m) if math.isfinite(m) and m > 0 else None for m in minima]
        return self

    def transform(self, X: Any) -> np.ndarray:
        values = np.array(X, dtype="float64", copy=True)
        with np.errstate(all="ignore"):
            for position, floor in enumerate(self.floors_):
                column = values[:, position]
                if floor is None:
                    values[:, position] = np.sign(column) * np.log1p(np.abs(column))
                else:
                    values[:, position] = np.log(
                        np.where(np.isnan(column), np.nan, np.maximum(column, floor))
                    )
        return values

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        names = (
            input_features if input_features is not None else [f"x{i}" for i in range(self.n_features_in_)]
        )
        return np.asarray([f"log_{name}" for name in names], dtype=object)


def _as_frame(X: Any, names: Any = None) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        return X
    return pd.DataFrame(np.asarray(X, dtype=object), columns=None if names is None else list(names))


# --------------------------------------------------------------------------------------------
# Feature plan
# --------------------------------------------------------------------------------------------


class FeaturePlan(BaseModel):
    """Which columns feed the model, how each is encoded, and why the others were dropped.

    ``feature_columns`` is the union of the four encoded groups in table order.
    ``numeric_text_columns`` lists numeric columns stored as text (parsed inside the pipeline);
    ``time_column`` is the date column that orders rows for forecast tasks (else ``None``).
    ``dropped`` maps each excluded column to a human-readable reason.
    """

    model_config = ConfigDict(extra="forbid")

    target: str
    task: Task
    feature_columns: list[str] = Field(default_factory=list)
    dropped: dict[str, str] = Field(default_factory=dict)
    date_columns: list[str] = Field(default_factory=list)
    categorical_columns: list[str] = Field(default_factory=list)
    frequency_columns: list[str] = Field(default_factory=list)
    numeric_columns: list[str] = Field(default_factory=list)
    numeric_text_columns: list[str] = Field(default_factory=list)
    time_column: str | None = None


def _sample(frame: pd.DataFrame) -> pd.DataFrame:
    if len(frame) <= LEAKAGE_SAMPLE_ROWS:
        return frame
    return frame.sample(LEAKAGE_SAMPLE_ROWS, random_state=0)


def _target_numeric(target: pd.Series, task: Task) -> pd.Series | None:
    """A numeric view of the target for correlation checks (binary labels as 0/1), else None."""
    if task != "classification":
        return coerce_numeric(target)
    values = target.dropna()
    if values.nunique() != 2:
        return None
    codes, _ = pd.factorize(target, sort=True)
    return pd.Series(np.where(codes < 0, np.nan, codes.astype("float64")), index=target.index)


def _abs_correlation(x: pd.Series, y: pd.Series) -> float:
    """max(|Pearson|, |Spearman|) on complete pairs; 0 when undefined.

    Spearman catches monotone transforms (``log(revenue)``) that Pearson under-rates.
    """
    mask = x.notna() & y.notna()
    if int(mask.sum()) < LEAKAGE_MIN_PAIRS:
        return 0.0
    xs, ys = x[mask], y[mask]
    best = 0.0
    for a, b in ((xs, ys), (xs.rank(), ys.rank())):
        av, bv = a.to_numpy(dtype="float64"), b.to_numpy(dtype="float64")
        if np.std(av) == 0.0 or np.std(bv) == 0.0:
            return 0.0
        with np.errstate(all="ignore"):
            value = float(np.corrcoef(av, bv)[0, 1])
        if math.isfinite(value):
            best = max(best, abs(value))
    return best


def _functional(keys: np.ndarray, values: np.ndarray) -> bool:
    """True when every key (factorised code) maps to exactly one value code.

    Each (key, value) pair is packed into one int64 and counted by hashing: the row-wise
    ``np.unique(..., axis=0)`` this replaces sorted structured rows and took ~1.5 s of the
    feature plan on a 200,000-row sample.
    """
    keys = np.asarray(keys, dtype=np.int64)
    values = np.asarray(values, dtype=np.int64)
    pairs = keys * (int(values.max(initial=0)) + 1) + values
    return len(pd.unique(pairs)) == len(pd.unique(keys))


def _mapping_leak(feature: pd.Series, target: pd.Series) -> str | None:
    """Reason when a discrete feature is a relabelling (1:1) of the target, else None."""
    mask = feature.notna() & target.notna()
    pairs = int(mask.sum())
    if pairs < LEAKAGE_MIN_PAIRS:
        return None
    f_codes, f_uniques = pd.factorize(feature[mask])
    t_codes, _ = pd.factorize(target[mask])
    levels = len(f_uniques)
    if levels < 2 or levels > pairs / 2:
        return None
    if _functional(f_codes, t_codes) and _functional(t_codes, f_codes):
        return f"target leakage: maps one-to-one onto the target ({levels} levels)"
    return None


def _binned_leak(feature: pd.Series, target: pd.Series) -> str | None:
    """Reason when a categorical feature's levels cut a numeric target into disjoint ranges.

    Why: a ``revenue_band`` column (``"<100"``, ``"100-500"``, ...) is the target binned; no
    real predictor separates a noisy continuous target into non-overlapping intervals.
    """
    mask = feature.notna() & target.notna()
    if int(mask.sum()) < LEAKAGE_MIN_PAIRS:
        return None
    grouped = pd.DataFrame({"f": feature[mask].astype(object), "t": target[mask]}).groupby("f")["t"]
    stats = grouped.agg(["min", "max", "count"])
    if not 2 <= len(stats) <= CATEGORICAL_MAX_LEVELS or int(stats["count"].min()) < 2:
        return None
    stats = stats.sort_values("min")
    if bool((stats["max"].to_numpy()[:-1] < stats["min"].to_numpy()[1:]).all()):
        return f"target leakage: its {len(stats)} levels split the target into non-overlapping ranges"
    return None


def _name_leak(column: str, target: str) -> str | None:
    """Reason when the name marks a derived copy of the target (``revenue_log``, ``log_revenue``)."""
    name, base = normalize_name(column), normalize_name(target)
    if not base or name == base:
        return None
    if name.startswith(base + "_"):
        affixes = name[len(base) + 1 :].split("_")
        if affixes and all(part in LEAKAGE_NAME_SUFFIXES or part.isdigit() for part in affixes):
            return f"target leakage: name marks a transform of '{target}' (suffix '_{'_'.join(affixes)}')"
    if name.endswith("_" + base):
        affixes = name[: -len(base) - 1].split("_")
        if affixes and all(part in LEAKAGE_NAME_PREFIXES for part in affixes):
            return f"target leakage: name marks a transform of '{target}' (prefix '{'_'.join(affixes)}_')"
    return None


def build_features(frame: pd.DataFrame, target: str, task: Task) -> FeaturePlan:
    """Plan the features for predicting ``target``: encodings, drops and their reasons.

    Per column, in order: all-missing and constant columns go; dates (datetime or ISO text)
    become calendar parts; identifiers go (:func:`identifier_reason`); numbers (including
    numeric text) are imputed with the median plus a missing indicator; text with at most
    :data:`CATEGORICAL_MAX_LEVELS` levels is one-hot encoded, more levels frequency encoded.
    Then the leakage guard drops numeric columns correlated beyond
    :data:`LEAKAGE_CORRELATION` with the target, discrete columns that map 1:1 onto it,
    categoricals that bin it, and columns named as transforms of it.

    Args:
        frame: The table; the target column included.
        target: Name of the target column (exact label).
        task: The task from :func:`functions.automl.target.infer_task`.

    Returns:
        The plan; ``feature_columns`` may be empty (the caller decides what that means).

    Raises:
        EmptyDataError: The table has no rows.
        UnknownColumnError: ``target`` is not a column.
        InvalidInputError: Duplicate column names (features would be ambiguous).
    """
    if frame.shape[0] == 0:
        raise EmptyDataError("The table has no rows to learn from.")
    labels = [str(c) for c in frame.columns]
    if len(set(labels)) != len(labels):
        duplicates = sorted({c for c in labels if labels.count(c) > 1})
        raise InvalidInputError(
            "The table has duplicate column names: " + ", ".join(duplicates[:10]),
            details={"columns": ", ".join(duplicates[:10])},
        )
    if target not in labels:
        raise UnknownColumnError(
            f"The target column '{target}' is not in the table.", details={"column": target}
        )
    frame = frame.set_axis(labels, axis=1)
    sample = _sample(frame)
    target_series = sample[target]
    target_numeric = _target_numeric(target_series, task)
    plan = FeaturePlan(target=target, task=task)
    kinds: dict[str, str] = {}

    for column in labels:
        if column == target:
            continue
        series = sample[column]
        non_null = series.dropna()
        if non_null.empty:
            plan.dropped[column] = "all values are missing"
            continue
        if is_datetime_like(series):
            if parse_dates(non_null).nunique() <= 1:
                plan.dropped[column] = "constant: a single date"
            else:
                kinds[column] = "date"
            continue
        if _safe_nunique(non_null) <= 1:
            plan.dropped[column] = "constant: a single value"
            continue
        reason = identifier_reason(column, series)
        if reason:
            plan.dropped[column] = reason
            continue
        if ptypes.is_bool_dtype(series.dtype) or ptypes.is_numeric_dtype(series.dtype):
            kinds[column] = "numeric"
        elif _is_text(series) and numeric_text_share(series) >= NUMERIC_TEXT_SHARE:
            kinds[column] = "numeric_text"
        elif _safe_nunique(non_null) <= CATEGORICAL_MAX_LEVELS:
            kinds[column] = "categorical"
        else:
            kinds[column] = "frequency"

    for column, column_kind in list(kinds.items()):
        reason = _leak_reason(column, column_kind, sample[column], target_series, target_numeric, task)
        if reason:
            plan.dropped[column] = reason
            del kinds[column]

    for column in labels:
        kind = kinds.get(column)
        if kind is None:
            continue
        plan.feature_columns.append(column)
        if kind == "date":
            plan.date_columns.append(column)
        elif kind in ("numeric", "numeric_text"):
            plan.numeric_columns.append(column)
            if kind == "numeric_text":
                plan.numeric_text_columns.append(column)
        elif kind == "categorical":
            plan.categorical_columns.append(column)
        else:
            plan.frequency_columns.append(column)
    if task == "forecast" and plan.date_columns:
        plan.time_column = max(plan.date_columns, key=lambda c: int(frame[c].notna().sum()))
    return plan


def _safe_nunique(values: pd.Series) -> int:
    try:
        return int(values.nunique())
    except TypeError:  # unhashable cells (lists, dicts)
        return int(values.map(repr).nunique())


def _leak_reason(
    column: str,
    kind: str,
    series: pd.Series,
    target: pd.Series,
    target_numeric: pd.Series | None,
    task: Task,
) -> str | None:
    """The first leakage rule the column trips, or None (see :func:`build_features`)."""
    if kind == "date":
        return _name_leak(column, str(target.name))
    if kind in ("numeric", "numeric_text") and target_numeric is not None:
        correlation = _abs_correlation(coerce_numeric(series), target_numeric)
        if correlation > LEAKAGE_CORRELATION:
            return f"target leakage: near-copy of the target (|correlation| {correlation:.3f} > {LEAKAGE_CORRELATION})"
    if kind in ("numeric", "categorical", "frequency") or task == "classification":
        reason = _mapping_leak(series.astype(object), target.astype(object))
        if reason:
            return reason
    if kind in ("categorical", "frequency") and task != "classification" and target_numeric is not None:
        reason = _binned_leak(series, target_numeric)
        if reason:
            return reason
    return _name_leak(column, str(target.name))


# --------------------------------------------------------------------------------------------
# Pipeline factory
# --------------------------------------------------------------------------------------------


def build_preprocessor(plan: FeaturePlan, *, scale: bool, log_numeric: bool = False) -> ColumnTransformer:
    """A ColumnTransformer that turns the raw table into model inputs per the plan.

    Numbers: parse (numeric text included), median imputation plus missing indicators.
    Dates: calendar parts (+ days since start for forecasts), median imputation.
    Categoricals: one-hot with infrequent pooling (``min_frequency``) and
    ``handle_unknown="infrequent_if_exist"`` so unseen levels at prediction time do not fail.
    High-cardinality text: frequency encoding. ``scale=True`` standardises the numeric blocks
    for linear models (trees do not need it); ``log_numeric=True`` log-transforms the numbers
    first (:class:`LogFeatures`, for log-log models). Every block ends as float32
    (:func:`to_float32`), so the output matrix is float32. Columns outside the plan are
    ignored, so the fitted pipeline accepts whole raw tables.
    """
    transformers: list[tuple[str, Any, list[str]]] = []

    def scaled(steps: list[tuple[str, Any]]) -> Pipeline:
        steps = [*steps, ("scale", StandardScaler())] if scale else steps
        return Pipeline(
            [*steps, ("float32", FunctionTransformer(to_float32, feature_names_out="one-to-one"))]
        )

    if plan.numeric_columns:
        numeric = scaled(
            [
                ("parse", FunctionTransformer(to_float_frame, feature_names_out="one-to-one")),
                *([("log", LogFeatures())] if log_numeric else []),
                ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
            ]
        )
        transformers.append(("numeric", numeric, list(plan.numeric_columns)))
    if plan.date_columns:
        dates = scaled(
            [
                ("parts", DateParts(elapsed=plan.task == "forecast")),
                ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
            ]
        )
        transformers.append(("dates", dates, list(plan.date_columns)))
    if plan.categorical_columns:
        categorical = Pipeline(
            [
                ("text", FunctionTransformer(to_text_frame, feature_names_out="one-to-one")),
                (
                    "onehot",
                    OneHotEncoder(
                        handle_unknown="infrequent_if_exist",
                        min_frequency=ONEHOT_MIN_FREQUENCY,
                        max_categories=ONEHOT_MAX_CATEGORIES,
                        sparse_output=False,
                        dtype=np.float32,
                    ),
                ),
            ]
        )
        transformers.append(("categorical", categorical, list(plan.categorical_columns)))
    if plan.frequency_columns:
        transformers.append(
            ("frequency", scaled([("encode", FrequencyEncoder())]), list(plan.frequency_columns))
        )
    return ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0)


def max_encoded_width(plan: FeaturePlan, sample: pd.DataFrame) -> int:
    """An upper bound of the preprocessor's output columns, from the plan and a sample.

    Numbers: value + missing indicator; dates: their calendar parts; categoricals: their
    distinct values in ``sample`` plus a missing level, at most ``ONEHOT_MAX_CATEGORIES``;
    frequency columns: one. Used to bound rows x columns of the feature matrices.
    """
    date_parts = len(DateParts._FORECAST_PARTS if plan.task == "forecast" else DateParts._PARTS)
    width = 2 * len(plan.numeric_columns) + date_parts * len(plan.date_columns) + len(plan.frequency_columns)
    for column in plan.categorical_columns:
        levels = (
            _safe_nunique(sample[column].dropna()) + 1 if column in sample.columns else ONEHOT_MAX_CATEGORIES
        )
        width += min(ONEHOT_MAX_CATEGORIES, levels)
    return max(width, 1)


def make_pipeline(plan: FeaturePlan, estimator: Any, *, scale: bool, log_numeric: bool = False) -> Pipeline:
    """``Pipeline([("features", build_preprocessor(plan, ...)), ("model", estimator)])``."""
    features = build_preprocessor(plan, scale=scale, log_numeric=log_numeric)
    return Pipeline([("features", features), ("model", estimator)])
