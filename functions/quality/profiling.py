"""Exact, vectorised data-quality profiling for the quality agent.

The quality agent answers one question for the planner and the user: *can this table be
trusted, and what should be fixed first?* This module holds the pure logic behind that answer:
it takes a :class:`pandas.DataFrame` (and the loading notes ingestion wrote about it) and returns
a :class:`QualityReport` (pydantic, JSON-safe) with per-column profiles, findings ranked by their
impact on the score (each with its affected rows, examples, a recommendation and, where the
platform treats it, the treatment it applies), per-dimension scores and the rule that produced
them. It imports no AWS, HTTP or A2A code and reads no environment (DESIGN.md section 3).

What it detects, by score dimension (:mod:`functions.quality.scoring` defines the arithmetic):

* completeness: nulls, empty strings, placeholder tokens ("n/a"), all-empty columns;
* validity: numbers stored as text (plain or formatted, "$93.46"), mixed Python types,
  infinities, values ingestion could not convert;
* uniqueness: exactly duplicated rows, identifiers reused by rows with different values;
* consistency: one label spelled several ways (case / whitespace variants, " West" vs "west"),
  padded values, duplicated column names;
* plausibility: absurd values beyond Tukey's far-out fences (3 x IQR, computed on log(1 + x)
  for non-negative columns, where typos by orders of magnitude stand out while genuine
  right-skewed prices do not), rare negatives in a non-negative column, future dates;
* information only (not scored): statistical outliers (1.5 x IQR, z-score), skew, identifiers,
  constant and high-cardinality columns.

Why exact and vectorised: distinct counts from sketches are several per cent off (DESIGN.md
section 5 measured DuckDB's ``SUMMARIZE`` 3-6 % low), and users compare the numbers against
their own. Each column is factorised once (``pandas.factorize``); the codes give the exact
distinct count, the value frequencies (``numpy.bincount``), the top values, row masks of
flagged values (a flag per distinct value indexed by the codes) and, folded together across
columns, the exact duplicated rows. Text checks run on the *distinct* values weighted by their
frequencies, numeric statistics on one sorted copy, so 1M rows x 7 mixed columns profile in
about a second on two cores.
"""

import math
import numbers
import re
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pandas.api import types as ptypes
from pydantic import BaseModel, ConfigDict, Field

from analystack.numbers import OptFloat, OptNumber, Share, format_number
from analystack.progress import ThrottledProgress
from functions.quality.load_notes import LoadNote, parse_load_notes
from functions.quality.scoring import (
    COLUMN_DEFECT_SHARE,
    DIMENSION_DEFINITIONS,
    DIMENSIONS,
    FAILING_SHARE,
    GRADE_MEANINGS,
    GRADE_THRESHOLDS,
    SCORE_WEIGHTS,
    Dimension,
    Grade,
    Severity,
    describe_method,
    dimension_score,
    grade_for,
    points_lost,
    severity_for,
    total_score,
)

__all__ = [
    "CATEGORICAL_MAX_DISTINCT",
    "CATEGORICAL_MAX_SHARE",
    "FAR_IQR_MULTIPLIER",
    "GRADE_THRESHOLDS",
    "HIGH_CARDINALITY_DISTINCT",
    "IQR_MULTIPLIER",
    "MISSING_ERROR_SHARE",
    "NUMERIC_TEXT_MIN_SHARE",
    "SCORE_WEIGHTS",
    "ColumnProfile",
    "DimensionScore",
    "Issue",
    "NumericStats",
    "OutlierSummary",
    "QualityReport",
    "TopValue",
    "far_out_fences",
    "grade_for",
    "profile_table",
]

# --------------------------------------------------------------------------------------------
# Detection constants
# --------------------------------------------------------------------------------------------

#: Tukey's fences for *statistical* outliers (reported, not scored: often genuine values).
IQR_MULTIPLIER = 1.5

#: Tukey's "far out" fences for *implausible* values (scored under plausibility). Computed on
#: log(1 + x) for non-negative columns: prices, quantities and amounts are multiplicative and
#: right-skewed, so a linear 3 x IQR fence flags genuine expensive products (the demo's
#: tablets), while a typo by an order of magnitude (a quantity of 500 among 1-15) lies far out
#: on the log scale.
FAR_IQR_MULTIPLIER = 3.0
#: Fewer finite values than this give quartiles too noisy to call anything absurd.
IMPLAUSIBLE_MIN_VALUES = 20

#: Null share above which the advice is to drop the column rather than impute it.
MISSING_ERROR_SHARE = 0.5

#: Share of non-empty text values that must look numeric for ``numeric_as_text``.
NUMERIC_TEXT_MIN_SHARE = 0.8

#: A text column is ``categorical`` when values repeat: at most this many distinct values, or a
#: distinct share (distinct / non-null) at most ``CATEGORICAL_MAX_SHARE``.
CATEGORICAL_MAX_DISTINCT = 20
CATEGORICAL_MAX_SHARE = 0.5

#: Categorical columns with more distinct values than this are ``high_cardinality``: too many
#: levels for one-hot encoding or a readable chart.
HIGH_CARDINALITY_DISTINCT = 100

#: Spelling variants are searched among at most this many distinct strings per column (the
#: check normalises every distinct value; free-text columns beyond this are skipped).
VARIANT_MAX_DISTINCT = 100_000

#: |sample skewness| above which a numeric column is reported as ``skewed``.
SKEW_THRESHOLD = 2.0

#: Negative values in an otherwise non-negative column are implausible (sign errors, sentinel
#: codes such as -1) when at most this share of its values; more are part of the distribution
#: (refunds, returns).
NEGATIVE_MAX_SHARE = 0.01

#: An all-distinct, strictly increasing integer column is an identifier when its values are
#: dense: ``max - min <= IDENTIFIER_MAX_GAP_RATIO * (count - 1)``. This keeps a sorted measure
#: (1, 2, ..., 20, 1000) from being mistaken for a key while allowing gaps from deleted rows.
IDENTIFIER_MAX_GAP_RATIO = 2.0
IDENTIFIER_MIN_ROWS = 3
#: A column named like a key (``order_id``) is an identifier when at least this share of its
#: values are distinct; its repeated values are then reported (``duplicate_ids``).
IDENTIFIER_MIN_DISTINCT_SHARE = 0.9
#: All-distinct text shaped like codes ("ORD-100830": no spaces, a digit, near-constant length)
#: is an identifier even without a key-like name, from this many values on.
CODE_MIN_VALUES = 20
CODE_MAX_LENGTH_SPREAD = 3

#: Text tokens that stand for "missing" when found as values (compared stripped, lower-case).
PLACEHOLDER_TOKENS = frozenset({"na", "n/a", "#n/a", "nan", "null", "none", "nil", "missing", "-", "--", "?"})

MAX_SAMPLE_ROWS = 10
MAX_EXAMPLES = 5
MAX_VALUE_CHARS = 200
_NUMERIC_GATE_MIN_UNIQUES = 50_000
_NUMERIC_GATE_SAMPLE = 2_000
_NUMERIC_GATE_SHARE = 0.5
_PERCENTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)

_NUMERIC_TEXT_RE = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
#: What ingestion and AutoML strip before parsing a formatted number ("$1,234.50", "12 %").
_NUMBER_NOISE_RE = r"[\s$€£¥₩,%]"
_CODE_RE = r"[A-Za-z0-9][A-Za-z0-9_\-:./#]*"
_ID_NAME_RE = re.compile(r"(?:^|[_\-\s.])(?:id|uuid|guid|pk|key)$", re.IGNORECASE)
_ID_CAMEL_RE = re.compile(r"[a-z0-9](?:Id|ID|Uuid|UUID|Guid|GUID|Key)$")

LogicalType = Literal[
    "integer",
    "float",
    "boolean",
    "datetime",
    "string",
    "categorical",
    "identifier",
    "constant",
    "empty",
]
_SEVERITY_RANK: dict[str, int] = {"error": 0, "warning": 1, "info": 2}

# What the platform does on its own (functions/ingestion/loaders.py, functions/automl/features.py).
_TREAT_FORMATTED = (
    "Ingestion converts formatted numbers ('$93.46' -> 93.46, '1,234' -> 1234) when the file is "
    "uploaded through the platform, and AutoML's features parse them too."
)
_TREAT_IMPUTE = "AutoML imputes the median ({median}) and adds a missing-value indicator; the stored dataset keeps the gaps."
_TREAT_LEVEL = "AutoML encodes the missing values as their own level; the stored dataset keeps the gaps."
_TREAT_STRIP = (
    "AutoML strips surrounding whitespace from categorical features before encoding, which merges "
    "padded variants; case variants stay distinct and the stored dataset is unchanged."
)
_TREAT_DROP = "AutoML leaves this column out of its features."
_NOT_TREATED_DUPLICATES = (
    "Not treated automatically: AutoML only warns that copies across its holdout split flatter its score."
)


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NumericStats(_Model):
    """Distribution of the finite values of a numeric column (infinities and nulls excluded).

    ``min``/``max`` stay ``int`` for integer columns so large identifiers are not rounded;
    percentiles use linear interpolation (numpy's default); ``std`` is the sample standard
    deviation (ddof=1) and ``skew`` the adjusted Fisher-Pearson coefficient, as in pandas.
    """

    min: OptNumber = None
    max: OptNumber = None
    mean: OptFloat = None
    std: OptFloat = None
    p01: OptFloat = None
    p05: OptFloat = None
    p25: OptFloat = None
    p50: OptFloat = None
    p75: OptFloat = None
    p95: OptFloat = None
    p99: OptFloat = None
    skew: OptFloat = None
    zeros: int = 0
    negatives: int = 0


class TopValue(_Model):
    """A frequent value; ``share`` is relative to the column's non-null values."""

    value: str
    count: int
    share: Share


class OutlierSummary(_Model):
    """Outliers of a numeric column: statistical ones (Tukey's fences and z-score) and far-out ones.

    ``sample_rows`` are 0-based row *positions* (not index labels, which may be anything),
    the most extreme first, of values flagged by either statistical rule. ``far_*`` describe
    the implausibility fences (3 x IQR on ``far_scale``: "log" means log(1 + x)); ``far_count``
    values lie beyond them.
    """

    iqr_count: int
    iqr_lower: OptFloat = None
    iqr_upper: OptFloat = None
    zscore_count: int
    zscore_threshold: float = 3.0
    sample_rows: list[int] = Field(default_factory=list)
    far_count: int = 0
    far_lower: OptFloat = None
    far_upper: OptFloat = None
    far_scale: Literal["linear", "log"] | None = None


class Issue(_Model):
    """One finding.

    ``column`` is None for table-level findings; ``count`` is the number of affected values and
    ``rows`` of affected rows (None when only known per column); ``row_share`` divides ``rows``
    by the table's rows. ``dimension`` is the score dimension it lowers (None: information only)
    and ``impact`` the score points it costs on its own; ``severity`` follows from ``impact``.
    ``examples`` are offending values as text, ``sample_rows`` 0-based row positions.
    ``treatment`` says what the platform applies on its own, if anything; ``source`` is
    "ingestion" for problems of the uploaded file that ingestion already repaired.
    """

    severity: Severity
    kind: str
    column: str | None = None
    message: str
    count: int | None = None
    dimension: Dimension | None = None
    rows: int | None = None
    row_share: Share | None = None
    impact: Annotated[float, Field(ge=0.0, le=100.0)] = 0.0
    examples: list[str] = Field(default_factory=list)
    sample_rows: list[int] = Field(default_factory=list)
    recommendation: str | None = None
    treatment: str | None = None
    source: Literal["data", "ingestion"] = "data"


class ColumnProfile(_Model):
    """Exact profile of one column.

    ``count`` is the number of non-null values; ``distinct`` counts distinct non-null values
    and ``distinct_share`` divides it by ``count``. ``top_values`` is empty when every value is
    unique (all counts would be 1). ``text_length_*`` describe the string values only.
    """

    name: str
    dtype: str
    logical_type: LogicalType
    count: int
    nulls: int
    null_share: Share
    distinct: int
    distinct_share: Share
    numeric: NumericStats | None = None
    datetime_min: str | None = None
    datetime_max: str | None = None
    top_values: list[TopValue] = Field(default_factory=list)
    text_length_min: int | None = None
    text_length_mean: OptFloat = None
    text_length_max: int | None = None
    outliers: OutlierSummary | None = None
    issues: list[Issue] = Field(default_factory=list)


class DimensionScore(_Model):
    """One score dimension: what it measures, how many rows it found affected, what it cost.

    ``affected_share`` = ``affected_rows`` / rows plus ``column_defects`` x the column-defect
    share; ``score`` = 100 x (1 - min(1, sqrt(affected_share / failing_share))) and
    ``points_lost`` = weight x (100 - score).
    """

    name: Dimension
    weight: float
    definition: str
    affected_rows: int
    column_defects: int
    affected_share: Share
    failing_share: float
    score: float
    points_lost: float
    findings: int


class QualityReport(_Model):
    """The quality agent's result for one table.

    ``score_breakdown`` holds each dimension's score (0-100) by name, ``dimensions`` the same
    with their affected rows and the points they cost, ``score_method`` the rule in words.
    ``issues`` are ranked by impact (score points) then severity and affected values;
    ``recommendations`` follow the same order, one concrete action per actionable issue.
    """

    rows: int
    columns: int
    memory_bytes: int
    duplicate_rows: int
    duplicate_share: Share
    missing_cells: int
    missing_share: Share
    score: Annotated[float, Field(ge=0.0, le=100.0)]
    grade: Grade
    grade_meaning: str = ""
    score_breakdown: dict[str, float]
    dimensions: list[DimensionScore] = Field(default_factory=list)
    score_method: str = ""
    columns_profile: list[ColumnProfile]
    issues: list[Issue]
    recommendations: list[str]


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _truncate(text: str, limit: int = MAX_VALUE_CHARS) -> str:
    """Cap user-provided strings so a single hostile value cannot bloat the report."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fmt_value(value: Any) -> str:
    """Render a data value for top values and messages, stable across numpy/pandas types."""
    if isinstance(value, pd.Timestamp | datetime | date):
        text = value.isoformat()
    elif isinstance(value, bool | np.bool_):
        text = str(bool(value))
    elif isinstance(value, numbers.Integral):
        text = str(int(value))
    elif isinstance(value, numbers.Real):
        text = f"{float(value):.10g}"
    else:
        text = str(value)
    return _truncate(text)


def _num(value: float | int | None) -> str:
    """Human-readable number for messages."""
    return format_number(value, missing="n/a")


def _many(n: int, noun: str, plural: str | None = None) -> str:
    """'1 missing value' / '2 missing values': messages are read by people."""
    return f"{n:,} {noun if n == 1 else (plural or noun + 's')}"


def _pct(share: float) -> str:
    return f"{share:.1%}"


def _column_name(label: Hashable) -> str:
    """Column labels may be ints, tuples (MultiIndex) or anything hashable: report them as text."""
    if isinstance(label, tuple):
        return " / ".join(str(part) for part in label)
    return str(label)


def _quoted(name: str) -> str:
    return f"'{_truncate(name, 80)}'"


def _example(value: Any) -> str:
    """A value as shown in examples: text quoted (so padding shows), numbers plain."""
    return repr(_truncate(value, 40)) if isinstance(value, str) else _truncate(_fmt_value(value), 40)


def _is_identifier_name(name: str) -> bool:
    stripped = name.strip()
    return bool(_ID_NAME_RE.search(stripped) or _ID_CAMEL_RE.search(stripped))


def _type_group(kind: type) -> str:
    """Coarse type family used for ``mixed_types``: ints and floats are both 'number'."""
    if issubclass(kind, bool | np.bool_):
        return "bool"
    if issubclass(kind, numbers.Number):
        return "number"
    if issubclass(kind, str):
        return "str"
    if issubclass(kind, bytes):
        return "bytes"
    if issubclass(kind, datetime | date | np.datetime64):
        return "datetime"
    return kind.__name__


def _stable_repr(value: Any) -> str:
    return repr(value)


def _rows_in(mask: np.ndarray, limit: int = MAX_EXAMPLES) -> list[int]:
    return [int(i) for i in np.flatnonzero(mask)[:limit]]


@dataclass
class _Finding:
    """An issue with the rows it affects; scored and ranked once the whole table is seen."""

    issue: Issue
    mask: np.ndarray | None = None
    column_defect: bool = False
    forced_severity: Severity | None = None
    order: int = 0


@dataclass
class _ColumnResult:
    profile: ColumnProfile
    findings: list[_Finding]
    #: Rows repeating an earlier value of an identifier column (resolved at table level).
    id_repeats: np.ndarray | None = None
    #: The column holds numbers stored as text (imputation advice then waits for the conversion).
    numbers_as_text: bool = False


def _add(
    result: _ColumnResult,
    kind: str,
    column: str | None,
    message: str,
    *,
    count: int | None = None,
    recommendation: str | None = None,
    dimension: Dimension | None = None,
    mask: np.ndarray | None = None,
    rows: int | None = None,
    examples: Sequence[str] = (),
    sample_rows: Sequence[int] | None = None,
    treatment: str | None = None,
    column_defect: bool = False,
    severity: Severity | None = None,
    source: Literal["data", "ingestion"] = "data",
) -> None:
    """Record a finding; with ``mask`` its affected rows are counted (and unioned) exactly."""
    if mask is not None:
        rows = int(np.count_nonzero(mask))
        if sample_rows is None:
            sample_rows = _rows_in(mask)
    issue = Issue(
        severity=severity or "info",
        kind=kind,
        column=column,
        message=message,
        count=count,
        dimension=dimension,
        rows=rows,
        examples=list(examples)[:MAX_EXAMPLES],
        sample_rows=list(sample_rows or [])[:MAX_SAMPLE_ROWS],
        recommendation=recommendation,
        treatment=treatment,
        source=source,
    )
    result.findings.append(
        _Finding(issue, mask, column_defect or (dimension is not None and rows is None), severity)
    )


class _RowKeys:
    """Folds per-column factorisation codes into one int64 key per row to find duplicated rows.

    Why: ``DataFrame.duplicated`` re-hashes every column (0.7 s on 1M x 7 here) although the
    profile already factorised them. Keys are combined as mixed-radix numbers and
    re-factorised before they could overflow int64. A column whose values are all distinct
    proves that no row is duplicated, which ends the work early (the common case: an id).
    """

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.key = np.zeros(rows, dtype=np.int64)
        self.span = 1
        self.settled = rows < 2

    def add(self, codes: np.ndarray, n_uniques: int) -> None:
        if self.settled:
            return
        if n_uniques == self.rows:  # all distinct and no nulls: no row can repeat
            self.settled = True
            return
        base = n_uniques + 1  # +1 for the null code (-1 -> 0)
        if self.span * base >= 2**62:
            compact, uniques = pd.factorize(self.key)
            self.key = compact.astype(np.int64, copy=False)
            self.span = max(len(uniques), 1)
            if self.span == self.rows:
                self.settled = True
                return
        self.key = self.key * base + (codes.astype(np.int64, copy=False) + 1)
        self.span *= base

    def duplicate_mask(self) -> np.ndarray | None:
        """Rows equal to an earlier row (the first occurrence is not flagged), or None if none."""
        if self.settled:
            return None
        mask = pd.Series(self.key, copy=False).duplicated(keep="first").to_numpy()
        return mask if mask.any() else None

    def first_occurrence(self, position: int) -> int:
        return int(np.argmax(self.key == self.key[position]))


# --------------------------------------------------------------------------------------------
# Column analysis
# --------------------------------------------------------------------------------------------


@dataclass
class _Context:
    rows: int
    max_top_values: int
    zscore_threshold: float
    now: pd.Timestamp


def _factorize(values: pd.Series) -> tuple[np.ndarray, Any]:
    """Exact codes and uniques; unhashable objects (lists, dicts) are keyed by their repr."""
    try:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    except TypeError:
        keyed = values.map(_stable_repr, na_action="ignore")
        codes, uniques = pd.factorize(keyed, use_na_sentinel=True)
    return np.asarray(codes), uniques


def _top_values(uniques: Any, counts: np.ndarray, total: int, limit: int) -> list[TopValue]:
    """Most frequent values, ties broken by first appearance; empty when all are unique."""
    if limit <= 0 or total == 0 or len(counts) == 0 or len(counts) == total:
        return []
    k = min(limit, len(counts))
    # Partial selection keeps this O(distinct) for high-cardinality columns.
    candidates = np.argpartition(-counts, k - 1)[:k] if len(counts) > 4 * k else np.arange(len(counts))
    order = candidates[np.lexsort((candidates, -counts[candidates]))][:k]
    return [
        TopValue(
            value=_fmt_value(uniques[int(i)]),
            count=int(counts[i]),
            share=float(counts[i]) / total,
        )
        for i in order
    ]


def _percentiles(sorted_values: np.ndarray) -> list[float]:
    """Linear-interpolated percentiles from an already sorted array (no second sort)."""
    n = len(sorted_values)
    out = []
    for q in _PERCENTILES:
        pos = q * (n - 1)
        lo = math.floor(pos)
        hi = min(lo + 1, n - 1)
        frac = pos - lo
        out.append(float(sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac))
    return out


@dataclass
class _TextStats:
    """Flags over the *string* distinct values of a column, with their row frequencies.

    ``positions`` maps each string distinct value to its factorisation code, so a flag array
    becomes a row mask with one fancy-indexing step (:meth:`row_mask`).
    """

    strings: int = 0
    length_min: int | None = None
    length_mean: float | None = None
    length_max: int | None = None
    positions: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    text: pd.Series = field(default_factory=lambda: pd.Series([], dtype=object))
    stripped: pd.Series = field(default_factory=lambda: pd.Series([], dtype=object))
    weights: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    empty: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    whitespace: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    placeholder: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    #: Plain-number-looking values; None when the (costly) check was skipped.
    numeric: np.ndarray | None = None
    numeric_looking: int = 0
    numeric_share: float = 0.0

    def count(self, flags: np.ndarray) -> int:
        return int(self.weights[flags].sum())

    def examples(self, flags: np.ndarray, limit: int = 3) -> list[str]:
        """The most frequent flagged values, quoted."""
        idx = np.flatnonzero(flags)
        idx = idx[np.argsort(-self.weights[idx], kind="stable")][:limit]
        return [repr(_truncate(str(self.text.iloc[i]), 40)) for i in idx]

    def row_mask(self, flags: np.ndarray, codes: np.ndarray, n_uniques: int) -> np.ndarray:
        by_code = np.zeros(n_uniques + 1, dtype=bool)  # the extra last slot serves code -1 (null)
        by_code[self.positions[flags]] = True
        return by_code[codes]


def _text_stats(
    uniques: Any, counts: np.ndarray, codes: np.ndarray, str_mask: np.ndarray | None
) -> _TextStats:
    """Whitespace, empty strings, placeholders, lengths and numeric-looking share of text.

    Works on the distinct values weighted by their counts, so cost scales with cardinality
    rather than rows. Matching the numeric pattern is the one expensive step (~0.3 s per
    million distinct strings), so above 50,000 distinct strings it runs only if an evenly
    spaced sample of 2,000 rows is at least half numeric-looking. The flag needs 80 % overall,
    so the gate can only miss it for adversarially ordered data; when the check runs, its
    counts are exact.
    """
    stats = _TextStats()
    index = uniques if isinstance(uniques, pd.Index) else pd.Index(uniques)
    if isinstance(index, pd.CategoricalIndex):
        index = pd.Index(np.asarray(index, dtype=object), dtype=object)
    weights = np.asarray(counts, dtype=np.int64)
    positions = np.arange(len(index), dtype=np.int64)
    if str_mask is not None:
        index = index[str_mask]
        weights = weights[str_mask]
        positions = positions[str_mask]
    if len(index) == 0:
        return stats
    # Already-``str`` uniques are used as they are (pyarrow-backed, vectorised); object ones
    # are converted once so every string operation below takes the same fast path.
    text = pd.Series(index, dtype="str", copy=False) if index.dtype == object else pd.Series(index)
    stats.text, stats.weights, stats.positions = text, weights, positions
    stats.strings = int(weights.sum())

    lengths = text.str.len().to_numpy(dtype=np.int64)
    stats.length_min = int(lengths.min())
    stats.length_max = int(lengths.max())
    stats.length_mean = float(np.dot(lengths, weights) / stats.strings)

    stripped = text.str.strip()
    stats.stripped = stripped
    stats.empty = (stripped == "").to_numpy(dtype=bool)
    stats.whitespace = (stripped != text).to_numpy(dtype=bool) & ~stats.empty
    stats.placeholder = stripped.str.lower().isin(PLACEHOLDER_TOKENS).to_numpy(dtype=bool) & ~stats.empty

    candidates = ~stats.empty & ~stats.placeholder
    denominator = int(weights[candidates].sum())
    if denominator == 0:
        return stats
    if len(text) > _NUMERIC_GATE_MIN_UNIQUES:
        non_null = codes[codes >= 0]
        sample_at = np.linspace(0, len(non_null) - 1, _NUMERIC_GATE_SAMPLE).astype(np.int64)
        sample_codes = non_null[sample_at]
        if str_mask is not None:
            sample_codes = sample_codes[str_mask[sample_codes]]
            # Map codes of all uniques to positions among the string uniques.
            remap = np.cumsum(str_mask) - 1
            sample_codes = remap[sample_codes]
        sample = stripped.iloc[sample_codes]  # rows, so the share is frequency-weighted
        sample_share = float(sample.str.fullmatch(_NUMERIC_TEXT_RE).mean()) if len(sample) else 0.0
        if sample_share < _NUMERIC_GATE_SHARE:
            return stats
    matches = stripped.str.fullmatch(_NUMERIC_TEXT_RE).to_numpy(dtype=bool, na_value=False)
    stats.numeric = matches & candidates
    stats.numeric_looking = int(weights[stats.numeric].sum())
    stats.numeric_share = stats.numeric_looking / denominator
    return stats


def _value_kind(series: pd.Series) -> tuple[str, pd.Series]:
    """Pick the analysis path, converting object columns that hold one clean type.

    Why: object columns of pure Python numbers, bools or datetimes are common after JSON or
    Excel ingestion; profiling them as text would hide their distribution.
    """
    dtype = series.dtype
    if ptypes.is_bool_dtype(dtype):
        return "boolean", series
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical", series
    if ptypes.is_datetime64_any_dtype(dtype):
        return "datetime", series
    if ptypes.is_timedelta64_dtype(dtype):
        return "numeric", series.dt.total_seconds()
    if ptypes.is_numeric_dtype(dtype) and not ptypes.is_complex_dtype(dtype):
        return "numeric", series
    if ptypes.is_string_dtype(dtype) and not ptypes.is_object_dtype(dtype):
        return "text", series
    if ptypes.is_object_dtype(dtype):
        inferred = ptypes.infer_dtype(series, skipna=True)
        if inferred == "string":
            return "text", series
        if inferred in {"integer", "floating", "mixed-integer-float", "decimal"}:
            try:
                return "numeric", pd.to_numeric(series)
            except (TypeError, ValueError, OverflowError):
                return "object", series
        if inferred == "boolean":
            return "boolean", series.astype("boolean")
        if inferred in {"datetime", "datetime64", "date"}:
            try:
                return "datetime", pd.to_datetime(series)
            except (TypeError, ValueError, OverflowError):
                return "object", series
    return "object", series


def _type_groups(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Type family per row and the non-null mask; a Python loop, so only for object columns."""
    present = series.notna().to_numpy(dtype=bool)
    types = list(map(type, series.to_numpy(dtype=object)[present]))
    family = {kind: _type_group(kind) for kind in set(types)}
    groups = np.full(len(series), "", dtype=object)
    groups[present] = [family[kind] for kind in types]
    return groups, present


def _repeats(codes: np.ndarray) -> np.ndarray:
    """Rows whose (non-null) value already occurred in an earlier row."""
    return pd.Series(codes, copy=False).duplicated(keep="first").to_numpy() & (codes >= 0)


def _profile_column(name: str, series: pd.Series, ctx: _Context, keys: _RowKeys) -> _ColumnResult:
    rows = ctx.rows
    null_mask = series.isna().to_numpy(dtype=bool)
    nulls = int(null_mask.sum())
    count = rows - nulls
    codes, uniques = _factorize(series)
    keys.add(codes, len(uniques))
    distinct = len(uniques)
    profile = ColumnProfile(
        name=name,
        dtype=str(series.dtype),
        logical_type="empty",
        count=count,
        nulls=nulls,
        null_share=nulls / rows if rows else 0.0,
        distinct=distinct,
        distinct_share=distinct / count if count else 0.0,
    )
    result = _ColumnResult(profile=profile, findings=[])
    if rows == 0:
        return result
    col = _quoted(name)
    if count == 0:
        _add(
            result,
            "empty_column",
            name,
            f"Column {col} has no values: all {rows:,} are missing.",
            count=rows,
            recommendation=f"Drop column {col}: all {rows:,} values are missing.",
            dimension="completeness",
            column_defect=True,
            treatment=_TREAT_DROP,
        )
        return result

    counts = np.bincount(codes[codes >= 0], minlength=distinct)
    profile.top_values = _top_values(uniques, counts, count, ctx.max_top_values)
    kind, values = _value_kind(series)
    constant = distinct == 1 and rows >= 2
    all_distinct = distinct == count and count >= IDENTIFIER_MIN_ROWS
    named_key = _is_identifier_name(name) and count >= IDENTIFIER_MIN_ROWS
    keyed = named_key and distinct >= IDENTIFIER_MIN_DISTINCT_SHARE * count and not constant
    if keyed and not all_distinct:
        result.id_repeats = _repeats(codes)

    numeric_fill: str | None = None
    if kind == "numeric":
        numeric_fill = _analyse_numeric(
            result, values, ctx, all_distinct=all_distinct, keyed=keyed, constant=constant
        )
    elif kind == "boolean":
        profile.logical_type = "boolean"
    elif kind == "datetime":
        _analyse_datetime(result, values, ctx)
    else:
        _analyse_text(result, values, kind, uniques, counts, codes, all_distinct=all_distinct, keyed=keyed)

    if constant:
        profile.logical_type = "constant"
        only = _fmt_value(uniques[0])
        _add(
            result,
            "constant_column",
            name,
            f"Column {col} holds a single value ({_truncate(only, 40)!r})"
            + (f" apart from {nulls:,} missing." if nulls else "."),
            count=count,
            recommendation=f"Drop constant column {col} (always {_truncate(only, 40)!r}): it carries no information.",
            treatment=_TREAT_DROP,
        )

    if nulls:
        share = nulls / rows
        treatment: str | None = None
        if share > MISSING_ERROR_SHARE:
            action = (
                f"Drop column {col} ({_pct(share)} missing) or keep it only with a missing-value indicator."
            )
        else:
            if result.numbers_as_text:
                fill = "its median, once converted to numbers"
                treatment = "Once the column is numeric, AutoML imputes the median and adds a missing-value indicator."
            elif numeric_fill is not None:
                fill = f"median {numeric_fill}"
                treatment = _TREAT_IMPUTE.format(median=numeric_fill)
            elif profile.top_values:
                fill = f"most frequent {_truncate(profile.top_values[0].value, 40)!r}"
                treatment = _TREAT_LEVEL if profile.logical_type in {"categorical", "string"} else None
            else:
                fill = "a domain default"
            action = (
                f"Impute {_many(nulls, 'missing value')} in {col} ({fill}) or drop the {_many(nulls, 'row')} "
                f"lacking it ({_pct(share)} of rows)."
            )
        _add(
            result,
            "missing_values",
            name,
            f"Column {col} has {_many(nulls, 'missing value')} ({_pct(share)} of rows).",
            count=nulls,
            recommendation=action,
            dimension="completeness",
            mask=null_mask,
            treatment=treatment,
        )
    return result


def _identifier(result: _ColumnResult, reason: str, *, repeats: int) -> None:
    profile = result.profile
    col = _quoted(profile.name)
    profile.logical_type = "identifier"
    if repeats:
        detail = f"{profile.distinct:,} distinct of {profile.count:,} values, and {reason}"
    else:
        detail = f"every value is distinct and {reason}"
    _add(
        result,
        "identifier",
        profile.name,
        f"Column {col} looks like an identifier: {detail}.",
        recommendation=f"Use {col} only as a key: exclude it from aggregations, correlations and model features.",
        treatment="AutoML recognises identifiers and leaves them out of its features.",
    )


def _analyse_numeric(
    result: _ColumnResult,
    values: pd.Series,
    ctx: _Context,
    *,
    all_distinct: bool,
    keyed: bool,
    constant: bool,
) -> str | None:
    """Stats, infinities, identifier, outliers, implausible values, skew and stray negatives.

    Returns the formatted median (for the imputation advice), or None without finite values.
    """
    profile = result.profile
    name = profile.name
    col = _quoted(name)
    is_int = ptypes.is_integer_dtype(values.dtype)
    profile.logical_type = "integer" if is_int else "float"
    arr = values.to_numpy(dtype=np.float64, na_value=np.nan)
    finite = np.isfinite(arr)
    infinite_mask = np.isinf(arr)
    infinite = int(infinite_mask.sum())
    if infinite:
        _add(
            result,
            "infinite_values",
            name,
            f"Column {col} has {_many(infinite, 'infinite value')}, excluded from its statistics.",
            count=infinite,
            recommendation=f"Replace the {_many(infinite, 'infinite value')} in {col} with NA (often a division "
            f"by zero upstream) before computing statistics.",
            dimension="validity",
            mask=infinite_mask,
        )
    ordered = np.sort(arr[finite])
    n = len(ordered)
    if n == 0:
        return None

    mean = float(ordered.mean())
    deviations = ordered - mean
    m2 = float(np.dot(deviations, deviations) / n)
    std = math.sqrt(m2 * n / (n - 1)) if n > 1 else None
    skew = None
    if n >= 3 and m2 > 0:
        m3 = float(np.mean(deviations**3))
        skew = math.sqrt(n * (n - 1)) / (n - 2) * m3 / m2**1.5
    negatives = int(np.searchsorted(ordered, 0.0, side="left"))
    zeros = int(np.searchsorted(ordered, 0.0, side="right")) - negatives
    pcts = _percentiles(ordered)
    if is_int:
        low: int | float = int(values.min())
        high: int | float = int(values.max())
    else:
        low, high = float(ordered[0]), float(ordered[-1])
    profile.numeric = NumericStats(
        min=low,
        max=high,
        mean=mean,
        std=std,
        p01=pcts[0],
        p05=pcts[1],
        p25=pcts[2],
        p50=pcts[3],
        p75=pcts[4],
        p95=pcts[5],
        p99=pcts[6],
        skew=skew,
        zeros=zeros,
        negatives=negatives,
    )

    if keyed and not all_distinct and n == profile.count:
        _identifier(result, "its name marks it as a key", repeats=profile.count - profile.distinct)
        return _num(pcts[3])
    if all_distinct and n == profile.count:
        named = _is_identifier_name(name)
        dense_sequence = (
            is_int
            and bool(np.all(np.diff(arr[finite]) > 0))
            and (ordered[-1] - ordered[0]) <= IDENTIFIER_MAX_GAP_RATIO * (n - 1)
        )
        if named or dense_sequence:
            _identifier(
                result,
                "its name marks it as a key" if named else "it is a dense increasing sequence",
                repeats=0,
            )
            return _num(pcts[3])
    if constant or n < 3:
        return _num(pcts[3])

    _outliers(result, arr, finite, ordered, pcts, mean, std, ctx)
    rare_negatives = 0 < negatives <= NEGATIVE_MAX_SHARE * n
    if rare_negatives:
        negative_mask = arr < 0
        _add(
            result,
            "negative_values",
            name,
            f"Column {col} has {_many(negatives, 'negative value')} (min {_num(low)}) although "
            f"{_pct(1 - negatives / n)} of its values are non-negative.",
            count=negatives,
            recommendation=f"Check the {_many(negatives, 'negative value')} in {col} (min {_num(low)}): sign "
            f"errors, refunds or sentinel codes such as -1? Correct them or set them to NA.",
            dimension="plausibility",
            mask=negative_mask,
            examples=[_num(v) for v in ordered[: min(negatives, MAX_EXAMPLES)]],
            treatment="Not treated automatically.",
        )
    if skew is not None and abs(skew) > SKEW_THRESHOLD:
        if ordered[0] > 0:
            action = f"Consider a log transform of {col} (skew {skew:.2f}) for models that assume symmetry."
        else:
            action = f"Summarise {col} with the median and IQR rather than mean and std (skew {skew:.2f})."
        _add(
            result,
            "skewed",
            name,
            f"Column {col} is strongly skewed (skew {skew:.2f}).",
            recommendation=action,
        )
    return _num(pcts[3])


def far_out_fences(
    q1: float, q3: float, *, non_negative: bool
) -> tuple[float, float, Literal["linear", "log"]]:
    """Tukey's far-out fences (``FAR_IQR_MULTIPLIER`` x IQR) on the column's natural scale.

    For a non-negative column (``q1 >= 0`` and at most a rare few negatives) the fences are
    computed on log(1 + x) and mapped back, the lower one floored at 0: quantities and prices
    are multiplicative, so genuine expensive items stay inside while a value off by an order
    of magnitude falls outside. Otherwise the classic linear fences apply. Public so that
    treatments (dropping or capping absurd values) can use the same definition as the report.

    Returns:
        ``(lower, upper, scale)`` in the column's own units.
    """
    if non_negative and q1 >= 0:
        t1, t3 = math.log1p(q1), math.log1p(q3)
        span = FAR_IQR_MULTIPLIER * (t3 - t1)
        return max(0.0, math.expm1(t1 - span)), math.expm1(t3 + span), "log"
    iqr = q3 - q1
    return q1 - FAR_IQR_MULTIPLIER * iqr, q3 + FAR_IQR_MULTIPLIER * iqr, "linear"


def _outliers(
    result: _ColumnResult,
    arr: np.ndarray,
    finite: np.ndarray,
    ordered: np.ndarray,
    pcts: list[float],
    mean: float,
    std: float | None,
    ctx: _Context,
) -> None:
    """Statistical outliers (IQR and z-score; information) and implausible values (far out; scored)."""
    profile = result.profile
    name = profile.name
    col = _quoted(name)
    n = len(ordered)
    q1, q3 = pcts[2], pcts[4]
    iqr = q3 - q1
    lower, upper = q1 - IQR_MULTIPLIER * iqr, q3 + IQR_MULTIPLIER * iqr
    iqr_count = (
        int(np.searchsorted(ordered, lower, side="left"))
        + n
        - int(np.searchsorted(ordered, upper, side="right"))
    )
    zscore_count = 0
    z_low = z_high = math.nan
    if std:
        z_low, z_high = mean - ctx.zscore_threshold * std, mean + ctx.zscore_threshold * std
        zscore_count = (
            int(np.searchsorted(ordered, z_low, side="left"))
            + n
            - int(np.searchsorted(ordered, z_high, side="right"))
        )
    sample_rows: list[int] = []
    both = 0
    union = 0
    if iqr_count or zscore_count:
        with np.errstate(invalid="ignore"):
            by_iqr = finite & ((arr < lower) | (arr > upper))
            by_z = finite & ((arr < z_low) | (arr > z_high)) if std else np.zeros_like(by_iqr)
        flagged = np.flatnonzero(by_iqr | by_z)
        union = len(flagged)
        both = int(np.count_nonzero(by_iqr & by_z))
        extremeness = np.abs(arr[flagged] - mean)
        if len(flagged) > MAX_SAMPLE_ROWS:
            keep = np.argpartition(-extremeness, MAX_SAMPLE_ROWS - 1)[:MAX_SAMPLE_ROWS]
            flagged, extremeness = flagged[keep], extremeness[keep]
        sample_rows = [int(i) for i in flagged[np.lexsort((flagged, -extremeness))]]

    # Far-out fences: on log(1 + x) when the column is (all but a rare few) non-negative.
    far_count = 0
    far_low: float | None = None
    far_high: float | None = None
    scale: Literal["linear", "log"] | None = None
    negatives = int(np.searchsorted(ordered, 0.0, side="left"))
    if n >= IMPLAUSIBLE_MIN_VALUES and iqr > 0:
        far_low, far_high, scale = far_out_fences(q1, q3, non_negative=negatives <= NEGATIVE_MAX_SHARE * n)
        below = int(np.searchsorted(ordered, far_low, side="left"))
        if scale == "log":
            below -= negatives  # rare negatives are a finding of their own
        above = n - int(np.searchsorted(ordered, far_high, side="right"))
        far_count = below + above
    profile.outliers = OutlierSummary(
        iqr_count=iqr_count,
        iqr_lower=lower,
        iqr_upper=upper,
        zscore_count=zscore_count,
        zscore_threshold=ctx.zscore_threshold,
        sample_rows=sample_rows,
        far_count=far_count,
        far_lower=far_low,
        far_upper=far_high,
        far_scale=scale,
    )
    if far_count and far_low is not None and far_high is not None:
        with np.errstate(invalid="ignore"):
            floor = 0.0 if scale == "log" else -math.inf
            far_mask = finite & (((arr < far_low) & (arr >= floor)) | (arr > far_high))
        flagged = np.flatnonzero(far_mask)
        centre = pcts[3]
        distance = np.abs(arr[flagged] - centre)
        extreme_first = flagged[np.lexsort((flagged, -distance))]
        shown = [_num(float(v)) for v in arr[extreme_first[:MAX_EXAMPLES]]]
        mass = ""
        if ordered[0] >= 0 and ordered.sum() > 0:
            mass = f"; together they make up {_pct(float(arr[flagged].sum()) / float(ordered.sum()))} of its total"
        where = "[" + _num(far_low) + ", " + _num(far_high) + "]"
        _add(
            result,
            "implausible_values",
            name,
            f"Column {col} has {_many(far_count, 'implausible value')} (e.g. {', '.join(shown)}) far outside "
            f"its typical range: median {_num(centre)}, middle half {_num(q1)}-{_num(q3)}, far-out fences "
            f"{where}{' (computed on log(1 + x))' if scale == 'log' else ''}{mass}.",
            count=far_count,
            recommendation=f"Check the {_many(far_count, 'implausible value')} in {col} (rows "
            f"{', '.join(str(i) for i in extreme_first[:MAX_EXAMPLES])}): correct entry errors (an extra digit, a "
            f"wrong unit) or set them to NA; do not report totals or averages of {col} before.",
            dimension="plausibility",
            mask=far_mask,
            examples=shown,
            sample_rows=[int(i) for i in extreme_first[:MAX_SAMPLE_ROWS]],
            treatment="Not treated automatically: summaries and models include these values as they are.",
        )
    if union > far_count:
        where_rows = ("row " if len(sample_rows) == 1 else "rows ") + ", ".join(
            str(i) for i in sample_rows[:5]
        )
        _add(
            result,
            "outliers",
            name,
            f"Column {col} has {_many(union, 'statistical outlier')} (not necessarily errors): {iqr_count:,} "
            f"outside the IQR fences [{_num(lower)}, {_num(upper)}] and {zscore_count:,} with |z| > "
            f"{_num(ctx.zscore_threshold)} ({both:,} flagged by both).",
            count=union,
            recommendation=f"Review the {_many(union, 'outlier')} in {col} (e.g. {where_rows}) if they matter "
            f"to the analysis; prefer robust statistics (median {_num(pcts[3])}) for summaries.",
            sample_rows=sample_rows,
        )


def _analyse_datetime(result: _ColumnResult, values: pd.Series, ctx: _Context) -> None:
    """Range and future dates; tz-aware columns are compared in their own time zone."""
    profile = result.profile
    profile.logical_type = "datetime"
    low, high = values.min(), values.max()
    profile.datetime_min = None if pd.isna(low) else pd.Timestamp(low).isoformat()
    profile.datetime_max = None if pd.isna(high) else pd.Timestamp(high).isoformat()
    tz = getattr(values.dt, "tz", None)
    now = ctx.now.tz_convert(tz) if tz is not None else ctx.now.tz_convert("UTC").tz_localize(None)
    future_mask = (values > now).to_numpy(dtype=bool, na_value=False)
    future = int(future_mask.sum())
    if future:
        col = _quoted(profile.name)
        _add(
            result,
            "future_dates",
            profile.name,
            f"Column {col} has {_many(future, 'date')} after {now.isoformat()} "
            f"(latest {profile.datetime_max}).",
            count=future,
            recommendation=f"Check the {_many(future, 'future date')} in {col}: wrong year, swapped day/month or "
            f"placeholder dates such as 2099-12-31; set them to NA if they cannot be corrected.",
            dimension="plausibility",
            mask=future_mask,
            examples=[pd.Timestamp(v).isoformat() for v in values[future_mask].head(MAX_EXAMPLES)],
        )


def _looks_like_codes(stats: _TextStats) -> bool:
    """All values code-shaped: no spaces, at least one digit, lengths within a few characters."""
    if stats.length_min is None or stats.length_max is None:
        return False
    if stats.length_max - stats.length_min > CODE_MAX_LENGTH_SPREAD or stats.length_max > 64:
        return False
    text = stats.text
    return bool(text.str.fullmatch(_CODE_RE).all() and text.str.contains(r"\d", regex=True).all())


def _analyse_text(
    result: _ColumnResult,
    values: pd.Series,
    kind: str,
    uniques: Any,
    counts: np.ndarray,
    codes: np.ndarray,
    *,
    all_distinct: bool,
    keyed: bool,
) -> None:
    """Types, placeholders, numbers-as-text, ids, cardinality, spelling variants, padding."""
    profile = result.profile
    name = profile.name
    col = _quoted(name)
    count = profile.count
    n_uniques = len(counts)

    str_mask: np.ndarray | None = None
    if kind == "object":
        groups, present = _type_groups(values)
        group_counts = Counter(groups[present].tolist())
        if len(group_counts) > 1:
            dominant, dominant_n = group_counts.most_common(1)[0]
            minority = count - dominant_n
            detail = ", ".join(f"{g} ({n:,})" for g, n in group_counts.most_common())
            if dominant == "number":
                action = (
                    f"Convert {col} with pd.to_numeric(errors='coerce') if it is a measure "
                    f"(turning the {_many(minority, 'non-numeric value')} into NA), or cast it to text "
                    f"if it is a code."
                )
            else:
                action = (
                    f"Cast the {_many(minority, 'value')} in {col} that are not {dominant} to {dominant} "
                    f"so the column has one type."
                )
            minority_mask = present & (groups != dominant)
            _add(
                result,
                "mixed_types",
                name,
                f"Column {col} mixes value types: {detail}.",
                count=minority,
                recommendation=action,
                dimension="validity",
                mask=minority_mask,
                examples=[_example(v) for v in values[minority_mask].head(MAX_EXAMPLES)],
            )
        if group_counts.get("str", 0):
            str_mask = np.fromiter((isinstance(u, str) for u in uniques), dtype=bool, count=len(uniques))
    text_like = kind in {"text", "object"} or (
        isinstance(values.dtype, pd.CategoricalDtype)
        and ptypes.is_string_dtype(values.dtype.categories.dtype)
    )
    stats = _TextStats()
    if text_like and (kind != "object" or str_mask is not None):
        stats = _text_stats(uniques, counts, codes, str_mask)
        profile.text_length_min = stats.length_min
        profile.text_length_mean = stats.length_mean
        profile.text_length_max = stats.length_max

    distinct = profile.distinct
    if kind == "categorical":
        profile.logical_type = "categorical"
    elif keyed and not all_distinct:
        _identifier(result, "its name marks it as a key", repeats=count - distinct)
    elif all_distinct and _is_identifier_name(name):
        _identifier(result, "its name marks it as a key", repeats=0)
    elif all_distinct and count >= CODE_MIN_VALUES and stats.strings == count and _looks_like_codes(stats):
        _identifier(result, "its values are shaped like codes", repeats=0)
    elif distinct < count and (
        distinct <= CATEGORICAL_MAX_DISTINCT or distinct / count <= CATEGORICAL_MAX_SHARE
    ):
        profile.logical_type = "categorical"
    else:
        profile.logical_type = "string"

    numbers_as_text = stats.numeric_looking > 0 and stats.numeric_share >= NUMERIC_TEXT_MIN_SHARE
    # Numbers stored as text are a measure, not a category: their cardinality is no problem.
    if profile.logical_type == "categorical" and distinct > HIGH_CARDINALITY_DISTINCT and not numbers_as_text:
        _add(
            result,
            "high_cardinality",
            name,
            f"Categorical column {col} has {distinct:,} distinct values.",
            count=distinct,
            recommendation=f"Group the rare levels of {col} ({distinct:,} distinct) into 'other' or use "
            f"frequency/target encoding instead of one-hot encoding.",
        )
    if stats.strings == 0:
        return

    variants = np.zeros(len(stats.text), dtype=bool)
    if numbers_as_text and stats.numeric is not None:
        result.numbers_as_text = True
        _numbers_as_text(result, stats, codes, n_uniques)
    elif profile.logical_type in {"categorical", "string"} and len(stats.text) <= VARIANT_MAX_DISTINCT:
        variants = _spelling_variants(result, stats, codes, n_uniques)

    if stats.placeholder.any():
        n_placeholders = stats.count(stats.placeholder)
        examples = stats.examples(stats.placeholder)
        _add(
            result,
            "placeholder_values",
            name,
            f"Column {col} has {_many(n_placeholders, 'placeholder value')} meaning 'missing' "
            f"({', '.join(examples)}).",
            count=n_placeholders,
            recommendation=f"Replace the placeholders {', '.join(examples)} in {col} "
            f"({_many(n_placeholders, 'value')}) with NA so they count as missing.",
            dimension="completeness",
            mask=stats.row_mask(stats.placeholder, codes, n_uniques),
            examples=examples,
            treatment="Not treated automatically: the placeholders are read as ordinary values.",
        )
    if stats.empty.any():
        n_empty = stats.count(stats.empty)
        _add(
            result,
            "empty_strings",
            name,
            f"Column {col} has {_many(n_empty, 'empty or blank string')}.",
            count=n_empty,
            recommendation=f"Treat the {_many(n_empty, 'empty string')} in {col} as missing (replace '' with NA) "
            f"before analysis.",
            dimension="completeness",
            mask=stats.row_mask(stats.empty, codes, n_uniques),
        )
    padded = stats.whitespace & ~variants
    if padded.any():
        n_padded = stats.count(padded)
        examples = stats.examples(padded)
        _add(
            result,
            "whitespace",
            name,
            f"Column {col} has {_many(n_padded, 'value')} with leading or trailing whitespace "
            f"(e.g. {', '.join(examples)}).",
            count=n_padded,
            recommendation=f"Strip leading/trailing whitespace from the {_many(n_padded, 'affected value')} in "
            f"{col} (str.strip()) so equal values group and join together.",
            dimension="consistency",
            mask=stats.row_mask(padded, codes, n_uniques),
            examples=examples,
            treatment=_TREAT_STRIP if profile.logical_type == "categorical" else None,
        )


def _numbers_as_text(result: _ColumnResult, stats: _TextStats, codes: np.ndarray, n_uniques: int) -> None:
    """A text column of numbers: the values that keep it from being numeric are the affected rows."""
    assert stats.numeric is not None
    name = result.profile.name
    col = _quoted(name)
    others = ~stats.numeric & ~stats.empty & ~stats.placeholder
    formatted = np.zeros_like(others)
    if others.any():
        cleaned = stats.stripped[others].str.replace(_NUMBER_NOISE_RE, "", regex=True)
        formatted[np.flatnonzero(others)] = cleaned.str.fullmatch(_NUMERIC_TEXT_RE).to_numpy(
            dtype=bool, na_value=False
        )
    junk = others & ~formatted
    n_formatted, n_junk = stats.count(formatted), stats.count(junk)
    lost = junk | stats.placeholder
    parts = [f"{stats.numeric_looking:,} of its {stats.strings:,} text values are plain numbers"]
    if n_formatted:
        parts.append(
            f"{_many(n_formatted, 'is a formatted number', 'are formatted numbers')} (e.g. "
            f"{', '.join(stats.examples(formatted))})"
        )
    if n_junk:
        parts.append(
            f"{_many(n_junk, 'is not a number', 'are not numbers')} (e.g. {', '.join(stats.examples(junk))})"
        )
    steps = []
    if n_formatted:
        steps.append("strip currency symbols, thousands separators and spaces (str.replace)")
    steps.append("convert with pd.to_numeric(errors='coerce')")
    tail = ""
    if lost.any():
        tail = f"; the {_many(stats.count(lost), 'other value')} (e.g. {', '.join(stats.examples(lost))}) would become missing"
    _add(
        result,
        "numeric_as_text",
        name,
        f"Column {col} stores numbers as text: " + "; ".join(parts) + ".",
        count=stats.numeric_looking,
        recommendation=f"Make {col} numeric: {', then '.join(steps)}{tail}.",
        dimension="validity",
        mask=stats.row_mask(others, codes, n_uniques) if others.any() else None,
        column_defect=not others.any(),
        examples=stats.examples(others, MAX_EXAMPLES),
        treatment=_TREAT_FORMATTED,
    )


def _spelling_variants(
    result: _ColumnResult, stats: _TextStats, codes: np.ndarray, n_uniques: int
) -> np.ndarray:
    """Group labels equal up to case and whitespace; every spelling but the most frequent is a variant.

    Returns the flags (over the string distinct values) of every spelling in a group with
    variants, so padding inside such a group is not reported a second time.
    """
    name = result.profile.name
    col = _quoted(name)
    valid = ~stats.empty & ~stats.placeholder
    if int(valid.sum()) < 2:
        return np.zeros(len(stats.text), dtype=bool)
    keys = stats.stripped[valid].str.casefold().str.replace(r"\s+", " ", regex=True)
    group, labels = pd.factorize(keys)
    spellings = np.bincount(group, minlength=len(labels))
    if not (spellings > 1).any():
        return np.zeros(len(stats.text), dtype=bool)
    where = np.flatnonzero(valid)
    weights = stats.weights[where]
    padded = stats.whitespace[where]
    # Per group: the most frequent spelling is canonical (ties: the unpadded one, then first seen).
    order = np.lexsort((np.arange(len(group)), padded, -weights, group))
    leaders = order[np.r_[True, group[order][1:] != group[order][:-1]]]
    canonical = np.zeros(len(group), dtype=bool)
    canonical[leaders] = True
    in_group = spellings[group] > 1
    variant_local = in_group & ~canonical
    variant = np.zeros(len(stats.text), dtype=bool)
    variant[where[variant_local]] = True
    grouped = np.zeros(len(stats.text), dtype=bool)
    grouped[where[in_group]] = True

    affected_groups = np.flatnonzero(spellings > 1)
    leader_of = dict(zip(group[leaders].tolist(), leaders.tolist(), strict=True))
    group_weight = np.bincount(group, weights=weights, minlength=len(labels))
    affected_groups = affected_groups[np.argsort(-group_weight[affected_groups], kind="stable")]
    differs_by_case = bool(
        (
            stats.stripped.iloc[where[variant_local]].to_numpy()
            != stats.stripped.iloc[where[[leader_of[g] for g in group[variant_local]]]].to_numpy()
        ).any()
    )
    details = []
    for g in affected_groups[:5]:
        members = np.flatnonzero((group == g) & ~canonical)
        members = members[np.argsort(-weights[members], kind="stable")][:3]
        leader = leader_of[int(g)]
        alias = ", ".join(f"{stats.text.iloc[where[m]]!r} ({int(weights[m]):,})" for m in members)
        details.append(f"{stats.text.iloc[where[leader]]!r} ({int(weights[leader]):,}) also as {alias}")
    n_rows = stats.count(variant)
    n_labels = len(affected_groups)
    n_spellings = int(spellings[affected_groups].sum())
    how = "unify case and whitespace" if differs_by_case else "strip surrounding whitespace (str.strip())"
    _add(
        result,
        "inconsistent_labels",
        name,
        f"Column {col} spells {_many(n_labels, 'label')} in {n_spellings:,} ways (case or whitespace variants): "
        + "; ".join(details)
        + (f"; and {n_labels - 5:,} more" if n_labels > 5 else "")
        + f". {_many(n_rows, 'row uses', 'rows use')} a variant spelling.",
        count=n_rows,
        recommendation=f"Normalise {col}: {how} and map each variant to its most frequent spelling "
        f"({_many(n_rows, 'row')} change), so each label forms one group.",
        dimension="consistency",
        mask=stats.row_mask(variant, codes, n_uniques),
        examples=stats.examples(variant, MAX_EXAMPLES),
        treatment=_TREAT_STRIP + (" Here some variants differ by case." if differs_by_case else ""),
    )
    return grouped


# --------------------------------------------------------------------------------------------
# Table
# --------------------------------------------------------------------------------------------


def _rank(finding: _Finding) -> tuple[float, int, int, int]:
    """Largest impact first, then severity, most affected values, discovery order (stable)."""
    issue = finding.issue
    return (-issue.impact, _SEVERITY_RANK[issue.severity], -(issue.count or 0), finding.order)


def _load_note_findings(table: _ColumnResult, notes: list[LoadNote]) -> None:
    """Problems of the uploaded file that ingestion repaired before the table reached us."""
    for note in notes:
        col = _quoted(note.column or "?")
        examples = [repr(_truncate(e, 40)) for e in note.examples]
        e_g = f" (e.g. {', '.join(examples)})" if examples else ""
        column = note.column
        if note.kind == "formatted_numbers":
            if note.rows is not None:
                what = (
                    f"{_many(note.rows, 'value was', 'values were')} written as formatted numbers (currency "
                    f"symbols, thousands separators or similar){e_g}"
                )
            else:
                what = "not every value was a plain number (currency symbols, thousands separators or text)"
            _add(
                table,
                "numeric_as_text",
                column,
                f"Column {col} was typed as text in the uploaded file: {what}; ingestion converted the column "
                f"to numbers.",
                count=note.rows,
                rows=note.rows,
                recommendation=f"Export {col} as plain numbers (no currency symbols or thousands separators) so "
                f"every tool reads it as numeric.",
                dimension="validity",
                examples=examples,
                treatment="Already treated: ingestion parsed the formatted values into numbers.",
                source="ingestion",
            )
        elif note.kind == "unparseable_values":
            what = note.target or "values"
            _add(
                table,
                "unparseable_values",
                column,
                f"Column {col} had {_many(note.rows or 0, 'value')} that are not valid {what}{e_g}; ingestion set "
                f"them to missing.",
                count=note.rows,
                rows=note.rows,
                recommendation=f"Correct the unparseable {what} in {col} at the source; they are now missing "
                f"values and counted as such.",
                dimension="validity",
                examples=examples,
                treatment="Already treated: set to missing when loading.",
                source="ingestion",
            )
        elif note.kind == "control_characters":
            _add(
                table,
                "control_characters",
                column,
                f"Column {col} has {_many(note.rows or 0, 'value')} containing control characters.",
                count=note.rows,
                rows=note.rows,
                recommendation=f"Remove the control characters from {col} (they break exports and displays).",
                dimension="validity",
                treatment="Not treated: ingestion keeps the values as they are.",
                source="ingestion",
            )
        elif note.kind in {"duplicate_column_name", "blank_column_name"}:
            problem = "a repeated" if note.kind == "duplicate_column_name" else "a blank"
            _add(
                table,
                "duplicate_column_names" if note.kind == "duplicate_column_name" else "blank_column_name",
                column,
                f"The uploaded file had {problem} column name; ingestion named the column {col}.",
                recommendation="Give every column a unique, non-blank name in the source file.",
                dimension="consistency",
                column_defect=True,
                examples=examples,
                treatment="Already treated: ingestion renamed the column.",
                source="ingestion",
            )
        elif note.kind == "whitespace":
            _add(
                table,
                "whitespace",
                column,
                f"Column {col} had {_many(note.rows or 0, 'value')} with surrounding whitespace in the uploaded "
                f"file; ingestion stripped it.",
                count=note.rows,
                rows=note.rows,
                recommendation=f"Trim the values of {col} in the source export.",
                dimension="consistency",
                treatment="Already treated: ingestion stripped the whitespace.",
                source="ingestion",
            )


def _table_findings(
    table: _ColumnResult, results: list[_ColumnResult], keys: _RowKeys, names: list[str], rows: int
) -> np.ndarray | None:
    """Duplicated rows, identifiers reused with different values, repeated column names."""
    duplicates = keys.duplicate_mask() if names else None
    n_duplicates = int(duplicates.sum()) if duplicates is not None else 0
    repeated_keys = [
        (r.profile.name, r.id_repeats) for r in results if r.id_repeats is not None and r.id_repeats.any()
    ]
    if duplicates is not None:
        positions = np.flatnonzero(duplicates)
        pairs = [f"row {int(p)} = row {keys.first_occurrence(int(p))}" for p in positions[:3]]
        also = [n for n, mask in repeated_keys if not (mask & ~duplicates).any()]
        note = (
            f" Their {', '.join(_quoted(n) for n in also)} repeat{'s' if len(also) == 1 else ''} too."
            if also
            else ""
        )
        _add(
            table,
            "duplicate_rows",
            None,
            f"{_many(n_duplicates, 'row')} ({_pct(n_duplicates / rows)}) repeat an earlier row exactly "
            f"({'; '.join(pairs)}{'; ...' if n_duplicates > 3 else ''}).{note}",
            count=n_duplicates,
            recommendation=f"Drop the {_many(n_duplicates, 'fully duplicated row')} (frame.drop_duplicates()) "
            f"unless repeated records are expected.",
            dimension="uniqueness",
            mask=duplicates,
            examples=pairs,
            treatment=_NOT_TREATED_DUPLICATES,
        )
    for name, repeats in repeated_keys:
        conflicting = repeats if duplicates is None else repeats & ~duplicates
        if not conflicting.any():
            continue
        n_conflicting = int(conflicting.sum())
        column = next(r for r in results if r.profile.name == name)
        _add(
            table,
            "duplicate_ids",
            name,
            f"Identifier column {_quoted(name)} repeats {_many(n_conflicting, 'value')} in rows that differ in "
            f"other columns ({column.profile.distinct:,} distinct of {column.profile.count:,}).",
            count=n_conflicting,
            recommendation=f"Resolve the {_many(n_conflicting, 'conflicting record')} sharing a {_quoted(name)}: "
            f"keep the latest or correct version of each.",
            dimension="uniqueness",
            mask=conflicting,
        )
    repeated = [label for label, n in Counter(names).items() if n > 1]
    if repeated:
        listed = ", ".join(_quoted(label) for label in repeated[:5])
        _add(
            table,
            "duplicate_column_names",
            None,
            f"{_many(len(repeated), 'column name')} occur(s) more than once: {listed}.",
            count=len(repeated),
            recommendation=f"Rename the repeated columns ({listed}) so each name is unique.",
            dimension="consistency",
            column_defect=True,
        )
    return duplicates


def _score(findings: list[_Finding], rows: int) -> tuple[list[DimensionScore], dict[str, float]]:
    """Impact and severity of every finding; each dimension from the union of its affected rows."""
    for finding in findings:
        issue = finding.issue
        if issue.dimension is None:
            issue.severity = finding.forced_severity or "info"
            continue
        if issue.rows is not None:
            issue.rows = min(issue.rows, rows)
            issue.row_share = issue.rows / rows
        share = COLUMN_DEFECT_SHARE if finding.column_defect or issue.rows is None else issue.row_share or 0.0
        issue.impact = round(points_lost(issue.dimension, share), 2)
        issue.severity = finding.forced_severity or severity_for(issue.impact)

    dimensions: list[DimensionScore] = []
    shares: dict[str, float] = {}
    for dimension in DIMENSIONS:
        members = [f for f in findings if f.issue.dimension == dimension]
        union: np.ndarray | None = None
        counted_rows = 0
        defects = 0
        for finding in members:
            if finding.column_defect or finding.issue.rows is None:
                defects += 1
            elif finding.mask is not None:
                union = (
                    finding.mask.copy() if union is None else np.logical_or(union, finding.mask, out=union)
                )
            else:
                counted_rows += finding.issue.rows
        affected = min(rows, (int(union.sum()) if union is not None else 0) + counted_rows)
        share = min(1.0, affected / rows + defects * COLUMN_DEFECT_SHARE)
        shares[dimension] = share
        value = round(dimension_score(dimension, share), 1)
        dimensions.append(
            DimensionScore(
                name=dimension,
                weight=SCORE_WEIGHTS[dimension],
                definition=DIMENSION_DEFINITIONS[dimension],
                affected_rows=affected,
                column_defects=defects,
                affected_share=share,
                failing_share=FAILING_SHARE[dimension],
                score=value,
                points_lost=round(points_lost(dimension, share), 2),
                findings=len(members),
            )
        )
    return dimensions, shares


def profile_table(
    frame: pd.DataFrame,
    *,
    max_top_values: int = 10,
    zscore_threshold: float = 3.0,
    progress: Callable[[float, str], None] | None = None,
    now: datetime | None = None,
    load_notes: Sequence[object] = (),
) -> QualityReport:
    """Profile a table exactly, list its problems with their rows, and score its quality.

    Every count is exact. Each column is factorised once; its codes yield distinct counts, top
    values, row masks of flagged values and (folded across columns) duplicated rows. Numeric
    columns get statistics from one sorted copy of their finite values, statistical outliers
    by Tukey's fences (``IQR_MULTIPLIER`` x IQR) and z-score (``|z| > zscore_threshold``),
    and implausible values by the far-out fences (``FAR_IQR_MULTIPLIER``).

    The score follows :mod:`functions.quality.scoring` (``report.score_method`` says it in
    words): per dimension, the share of rows with at least one of its problems becomes a
    0-100 dimension score; the score is their weighted sum and the grade follows
    :data:`GRADE_THRESHOLDS`. A table without rows or columns scores 0 (grade F) with an
    error issue, because there is nothing to analyse.

    Args:
        frame: The table. Column labels of any type are reported as text; duplicated labels
            are profiled separately (by position) and reported.
        max_top_values: How many frequent values to keep per column.
        zscore_threshold: |z| above which a value is a z-score outlier.
        progress: Called as ``progress(fraction, message)`` with strictly increasing fractions
            in (0, 1], ending with exactly 1.0; throttled to ~1 % steps for very wide frames.
        now: Reference time for ``future_dates`` (default: current UTC time); injectable so
            results are reproducible. Naive values are taken as UTC.
        load_notes: Ingestion's notes about this table (the dataset's ``metadata["warnings"]``);
            the repairs they record (formatted numbers, unparseable values, renamed headers) are
            problems of the user's file and are reported and scored with ``source="ingestion"``.

    Returns:
        The report; ``report.model_dump(mode="json")`` contains no NaN or infinity.

    Raises:
        TypeError: ``frame`` is not a DataFrame.
        ValueError: ``max_top_values`` is negative or ``zscore_threshold`` not positive.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"profile_table expects a pandas DataFrame, got {type(frame).__name__}")
    if max_top_values < 0:
        raise ValueError("max_top_values must be >= 0")
    if not (math.isfinite(zscore_threshold) and zscore_threshold > 0):
        raise ValueError("zscore_threshold must be a positive number")
    reference = pd.Timestamp(now if now is not None else datetime.now(UTC))
    if reference.tzinfo is None:
        reference = reference.tz_localize("UTC")

    report_progress = ThrottledProgress(progress)
    rows, n_columns = frame.shape
    names = [_column_name(label) for label in frame.columns]
    memory_bytes = int(frame.memory_usage(deep=True).sum())
    ctx = _Context(rows, max_top_values, zscore_threshold, reference)
    keys = _RowKeys(rows)

    results: list[_ColumnResult] = []
    for position, name in enumerate(names):
        results.append(_profile_column(name, frame.iloc[:, position], ctx, keys))
        report_progress(
            0.9 * (position + 1) / n_columns,
            f"profiled column {position + 1}/{n_columns} {_quoted(name)}",
        )

    table = _ColumnResult(
        profile=ColumnProfile(
            name="",
            dtype="",
            logical_type="empty",
            count=0,
            nulls=0,
            null_share=0.0,
            distinct=0,
            distinct_share=0.0,
        ),
        findings=[],
    )
    missing_cells = sum(r.profile.nulls for r in results)
    total_cells = rows * n_columns

    duplicate_rows = 0
    if rows == 0 or n_columns == 0:
        kind = "empty_table" if rows == 0 else "no_columns"
        what = "no rows" if n_columns else "no columns" if rows else "no rows and no columns"
        _add(
            table,
            kind,
            None,
            f"The table has {what}: there is nothing to analyse.",
            recommendation="Check the source: a header-only file, the wrong sheet or an over-strict filter "
            "yields an empty table; re-upload data with at least one row and column.",
            severity="error",
        )
        table.findings[-1].issue.impact = 100.0
    else:
        duplicates = _table_findings(table, results, keys, names, rows)
        duplicate_rows = int(duplicates.sum()) if duplicates is not None else 0
        _load_note_findings(table, parse_load_notes(load_notes))
    report_progress(0.95, "checked duplicate rows", force=True)

    findings = table.findings + [f for r in results for f in r.findings]
    for order, finding in enumerate(findings):
        finding.order = order
    if rows == 0 or n_columns == 0:
        dimensions: list[DimensionScore] = []
        score = 0.0
        breakdown = dict.fromkeys(SCORE_WEIGHTS, 0.0)
    else:
        dimensions, shares = _score(findings, rows)
        score = total_score(shares)
        breakdown = {d.name: d.score for d in dimensions}
    findings.sort(key=_rank)
    recommendations = list(dict.fromkeys(f.issue.recommendation for f in findings if f.issue.recommendation))
    for r in results:
        r.profile.issues = [f.issue for f in sorted(r.findings, key=_rank)]

    grade = grade_for(score)
    report = QualityReport(
        rows=rows,
        columns=n_columns,
        memory_bytes=memory_bytes,
        duplicate_rows=duplicate_rows,
        duplicate_share=duplicate_rows / rows if rows else 0.0,
        missing_cells=missing_cells,
        missing_share=missing_cells / total_cells if total_cells else 0.0,
        score=score,
        grade=grade,
        grade_meaning=GRADE_MEANINGS[grade],
        score_breakdown=breakdown,
        dimensions=dimensions,
        score_method=describe_method(),
        columns_profile=[r.profile for r in results],
        issues=[f.issue for f in findings],
        recommendations=recommendations,
    )
    report_progress(1.0, "profiling complete", force=True)
    return report
