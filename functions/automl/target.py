"""Target column resolution and task inference for the AutoML agent.

A model trained on the wrong column is worse than no model, so this module is conservative:
it takes the target the plan names, or a column the user's request names explicitly ("predict
revenue", "revenue를 예측", "매출을 예측해줘"), and only falls back to a conventional target
(``revenue``, ``label``, ``churn``...) when the request clearly asks for a prediction *and*
exactly one such column exists - saying so in the choice's ``reason``. Otherwise it raises
:class:`~analystack.errors.TargetNotFoundError` listing the candidate columns, so the
orchestrator can ask the user instead of guessing silently.

Korean requests name concepts rather than columns (``매출`` for a ``revenue`` column), hence
the small synonym table :data:`SYNONYMS`. Pure logic: no AWS, HTTP, A2A or environment access.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from pandas.api import types as ptypes
from pydantic import BaseModel, ConfigDict, Field

from analystack.errors import EmptyDataError, InvalidInputError, TargetNotFoundError, UnknownColumnError
from functions.automl.features import (
    CATEGORICAL_MAX_LEVELS,
    NUMERIC_TEXT_SHARE,
    Task,
    coerce_numeric,
    identifier_reason,
    is_datetime_like,
    normalize_name,
    numeric_text_share,
)

__all__ = [
    "CANDIDATE_SAMPLE_ROWS",
    "CLASSIFICATION_MAX_INT_LEVELS",
    "CLASSIFICATION_MAX_LEVEL_SHARE",
    "CONVENTIONAL_TARGETS",
    "SYNONYMS",
    "TargetChoice",
    "Task",
    "candidate_targets",
    "infer_task",
    "resolve_target",
]

#: Candidate targets are judged on at most this many rows (a fixed random sample).
CANDIDATE_SAMPLE_ROWS = 100_000

#: Request words (Korean business terms and a few English aliases) -> column names they stand
#: for, in order of preference; the first name that is a column (normalised) wins. Korean terms
#: match as substrings because particles attach to them (``매출을``, ``매출액은``).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "매출": ("revenue", "sales", "amount"),
    "매출액": ("revenue", "sales", "amount"),
    "판매액": ("revenue", "sales", "amount"),
    "revenue": ("revenue", "sales"),
    "sales": ("sales", "revenue"),
    "turnover": ("revenue", "sales"),
    "수량": ("quantity", "qty"),
    "판매량": ("quantity", "qty"),
    "가격": ("price", "unit_price"),
    "단가": ("unit_price", "price"),
    "이탈": ("churn", "churned"),
    "수익": ("profit",),
    "이익": ("profit",),
    "순이익": ("profit",),
    "할인": ("discount",),
}

#: Column names (normalised) that conventionally hold the value to predict. Used only by the
#: last-resort heuristic, and only when exactly one of them exists and is numeric or binary.
CONVENTIONAL_TARGETS = frozenset({"revenue", "sales", "price", "target", "label", "churn", "churned", "y"})

#: Integer targets are classes (not quantities) when they have at most this many levels *and*
#: levels are few relative to rows (``levels <= share * rows``); two levels always are.
CLASSIFICATION_MAX_INT_LEVELS = 20
CLASSIFICATION_MAX_LEVEL_SHARE = 0.05

#: Only the start of a request is scanned (requests are short; this bounds regex work).
MAX_REQUEST_CHARS = 4_000

#: A close misspelling of a column (difflib ratio) is reported as a suggestion, never used.
SUGGESTION_CUTOFF = 0.75

Source = Literal["plan", "request", "heuristic"]

# Requests that ask for a model at all (needed before the conventional-name heuristic).
_PREDICTION_CUE = re.compile(
    r"(?<![a-z])(?:predict\w*|forecast\w*|estimat\w*|model\w*|regress\w*|classif\w*|machine\s+learning|"
    r"ml|automl|train\w*|what\s+will)(?![a-z])|예측|예상|추정|전망|모델|학습|분류|회귀|머신\s*러닝|기계\s*학습",
    re.IGNORECASE,
)
# Requests about the future over time: a forecast when a date column exists. Korean "예측" alone
# means both "predict" and "forecast", so it needs a time word here.
_FORECAST_CUE = re.compile(
    r"(?<![a-z])(?:forecast\w*|future|upcoming|over\s+time|time[\s-]+series|"
    r"next\s+(?:\d+\s+)?(?:days?|weeks?|months?|quarters?|years?)|coming\s+(?:days|weeks|months|quarters|years))(?![a-z])"
    r"|미래|향후|앞으로|내년|내달|다음\s*(?:달|주|분기|해|년)|시계열",
    re.IGNORECASE,
)
# "predict <column>": the column must follow within a short gap with no clause break and no
# preposition that introduces inputs ("predict using region" names a feature, not a target).
_EN_VERB = re.compile(
    r"(?<![a-z])(?:predict|forecast|estimate|project|model)(?:s|ed|ing)?(?![a-z])", re.IGNORECASE
)
_EN_GAP_BLOCK = re.compile(
    r"[.,;:!?\n]|(?<![a-z])(?:from|using|with|by|based|given|per|across|in|on|for|over|and|or)(?![a-z])",
    re.IGNORECASE,
)
_EN_GAP_MAX = 40
_EN_NOUN_AFTER = re.compile(
    r"\s+(?:prediction|predictions|forecast|forecasts|forecasting|estimate|estimates)\b", re.I
)
_EN_TARGET_BEFORE = re.compile(
    r"(?<![a-z])target(?:\s+(?:column|variable|col|field))?\s*(?:[:=]|\s+is\s+|\s)\s*[\"'`]?$", re.I
)
_EN_TARGET_AFTER = re.compile(r"^[\"'`]?\s+as\s+(?:the\s+)?target(?![a-z])", re.IGNORECASE)
# Korean: "<column>을/를 ... 예측" (object marker, verb within a short clause) or "<column> 예측".
_KO_OBJECT_THEN_VERB = re.compile(
    r"^[\"'`]?\s*(?:컬럼|칼럼|열|변수|값)?\s*(?:을|를)[^.,;:!?\n]{0,15}?(?:예측|예상|추정|전망)"
)
_KO_DIRECT_VERB = re.compile(
    r"^[\"'`]?\s*(?:컬럼|칼럼|열|변수|값)?\s*(?:의\s*)?(?:값\s*)?(?:예측|예상|추정|전망)"
)
_KO_TARGET_BEFORE = re.compile(
    r"(?:타깃|타겟|목표\s*변수|목표\s*컬럼|종속\s*변수)\s*(?:컬럼|변수)?\s*(?:은|는|:|=)?\s*[\"'`]?$"
)
_KO_TARGET_AFTER = re.compile(r"^[\"'`]?\s*(?:을|를)\s*(?:타깃|타겟|목표\s*변수|종속\s*변수)")


class TargetChoice(BaseModel):
    """The chosen target: ``source`` tells where it came from, ``reason`` why, for the user.

    ``candidates`` lists the columns that could serve as targets (numeric or low-cardinality,
    not identifiers, dates, empty or constant), so the agent can offer alternatives.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str
    source: Source
    reason: str
    candidates: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class _Mention:
    start: int
    end: int
    column: str
    term: str
    via_synonym: bool


# --------------------------------------------------------------------------------------------
# Candidates and name matching
# --------------------------------------------------------------------------------------------


def candidate_targets(frame: pd.DataFrame) -> list[str]:
    """Columns that could be predicted: numeric, boolean or low-cardinality text.

    Excludes empty and constant columns, dates and identifiers (see
    :func:`functions.automl.features.identifier_reason`); keeps table order. Tables longer
    than :data:`CANDIDATE_SAMPLE_ROWS` are judged on a fixed random sample of that many rows
    (the same statistics, bounded: on a million rows the full scan took 1.4-2.3 s here).
    """
    if len(frame) > CANDIDATE_SAMPLE_ROWS:
        rng = np.random.default_rng(0)
        frame = frame.iloc[np.sort(rng.choice(len(frame), CANDIDATE_SAMPLE_ROWS, replace=False))]
    out: list[str] = []
    for label in frame.columns:
        name = str(label)
        series = frame[label]
        if not isinstance(series, pd.Series):  # duplicate labels
            continue
        values = series.dropna()
        if values.empty or _nunique(values) <= 1 or is_datetime_like(series):
            continue
        if identifier_reason(name, series):
            continue
        numeric = ptypes.is_bool_dtype(series.dtype) or ptypes.is_numeric_dtype(series.dtype)
        if (
            numeric
            or numeric_text_share(series) >= NUMERIC_TEXT_SHARE
            or _nunique(values) <= CATEGORICAL_MAX_LEVELS
        ):
            out.append(name)
    return out


def _nunique(values: pd.Series) -> int:
    try:
        return int(values.nunique())
    except TypeError:
        return int(values.map(repr).nunique())


def _match_column(columns: list[str], name: str) -> str | None:
    """Exact label first, then the unique column with the same normalised name."""
    if name in columns:
        return name
    wanted = normalize_name(name)
    matches = [c for c in columns if normalize_name(c) == wanted]
    if len(matches) > 1:
        raise InvalidInputError(
            f"'{name}' matches several columns ({', '.join(matches)}); use the exact column name.",
            details={"column": name, "matches": ", ".join(matches)},
        )
    return matches[0] if matches else None


def _synonym_column(columns: list[str], term: str) -> str | None:
    """The column a synonym term stands for (first preferred name that exists), else None."""
    names = SYNONYMS.get(term) or SYNONYMS.get(normalize_name(term))
    if not names:
        return None
    by_norm = {normalize_name(c): c for c in columns}
    for name in names:
        if name in by_norm:
            return by_norm[name]
    return None


def _suggestions(columns: list[str], name: str) -> list[str]:
    by_norm = {normalize_name(c): c for c in columns}
    close = difflib.get_close_matches(normalize_name(name), list(by_norm), n=3, cutoff=SUGGESTION_CUTOFF)
    return [by_norm[c] for c in close]


# --------------------------------------------------------------------------------------------
# Request text
# --------------------------------------------------------------------------------------------


def _is_ascii_word(text: str) -> bool:
    return bool(re.fullmatch(r"[a-z0-9_ ]+", text))


def _find_mentions(text: str, columns: list[str]) -> list[_Mention]:
    """Every place the text names a column, directly or through :data:`SYNONYMS`.

    ASCII names match as whole words (``unit_price`` or ``unit price``); other names and
    Korean synonym terms match as substrings. Overlaps keep the longest mention.
    """
    lowered = text.lower()
    found: list[_Mention] = []

    def scan(term: str, column: str, via_synonym: bool) -> None:
        if not term:
            return
        if _is_ascii_word(term):
            pattern = rf"(?<![a-z0-9_]){re.escape(term)}(?![a-z0-9_])"
        else:
            pattern = re.escape(term)
        for match in re.finditer(pattern, lowered):
            found.append(_Mention(match.start(), match.end(), column, term, via_synonym))

    for name in columns:
        norm = normalize_name(name)
        for form in {norm, norm.replace("_", " "), name.strip().lower()}:
            scan(form, name, via_synonym=False)
    for term in SYNONYMS:
        column = _synonym_column(columns, term)
        if column is not None:
            scan(term.lower(), column, via_synonym=True)
    found.sort(key=lambda m: (m.start, -(m.end - m.start), m.via_synonym))
    kept: list[_Mention] = []
    for mention in found:
        if kept and mention.start < kept[-1].end:
            continue
        kept.append(mention)
    return kept


def _explicit_mention(text: str, mentions: list[_Mention]) -> tuple[_Mention, str] | None:
    """The mention the request designates as the target, with the rule that found it.

    Rules, first hit wins: explicit declarations ("target: X", "X as the target", "타깃은 X",
    "X를 타깃으로"); then "predict/forecast X" (X within a short gap after the verb, no clause
    break or input preposition in between) and "X forecast"; then Korean "X을/를 ... 예측"
    and "X 예측". A column merely mentioned elsewhere is never taken.
    """
    for mention in mentions:
        before, after = text[: mention.start], text[mention.end :]
        if _EN_TARGET_BEFORE.search(before) or _KO_TARGET_BEFORE.search(before):
            return mention, "it is declared as the target"
        if _EN_TARGET_AFTER.match(after) or _KO_TARGET_AFTER.match(after):
            return mention, "it is declared as the target"
    for verb in _EN_VERB.finditer(text):
        for mention in mentions:
            if mention.start < verb.end():
                continue
            gap = text[verb.end() : mention.start]
            if len(gap) > _EN_GAP_MAX or _EN_GAP_BLOCK.search(gap):
                break
            return mention, f"it follows '{verb.group(0)}'"
    for mention in mentions:
        after = text[mention.end :]
        if _EN_NOUN_AFTER.match(after):
            return mention, "it precedes 'forecast'/'prediction'"
        if _KO_OBJECT_THEN_VERB.match(after) or _KO_DIRECT_VERB.match(after):
            return mention, "it is the object of '예측'"
    return None


def _from_request(text: str, columns: list[str]) -> tuple[str, str] | None:
    """(column, reason) for a target named by the request text, else None."""
    if not text.strip():
        return None
    found = _explicit_mention(text, _find_mentions(text, columns))
    if found is None:
        return None
    mention, rule = found
    how = (
        f"'{mention.term}' is a synonym of '{mention.column}'"
        if mention.via_synonym
        else f"'{mention.column}'"
    )
    return mention.column, f"The request names {how} as the value to predict ({rule})."


def _is_strong_target(series: pd.Series) -> bool:
    values = series.dropna()
    if values.empty:
        return False
    levels = _nunique(values)
    if levels <= 1:
        return False
    numeric = ptypes.is_bool_dtype(series.dtype) or ptypes.is_numeric_dtype(series.dtype)
    return numeric or levels == 2 or numeric_text_share(series) >= NUMERIC_TEXT_SHARE


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def resolve_target(frame: pd.DataFrame, *, requested: str | None, request_text: str = "") -> TargetChoice:
    """Choose the column to predict, or refuse with the candidates.

    Order: (1) ``requested`` (the plan's target): exact, then case/space-insensitive, then a
    :data:`SYNONYMS` term; a close misspelling raises with suggestions. A requested name that
    matches nothing falls through to the request text, and the reason says so. (2) A column the
    request text names as the target (see :func:`_explicit_mention`). (3) Only when the request
    asks for a prediction and exactly one column has a conventional target name
    (:data:`CONVENTIONAL_TARGETS`) and is numeric or binary: that column, ``source="heuristic"``.

    Args:
        frame: The table to model.
        requested: Target named by the plan (may be None or blank).
        request_text: The user's request (English or Korean).

    Returns:
        The choice with its source, a human-readable reason and the candidate columns.

    Raises:
        EmptyDataError: The table has no columns.
        UnknownColumnError: ``requested`` looks like a misspelt column (suggestions in details)
            or names nothing and the request names no target either.
        TargetNotFoundError: No target is named and none can be chosen safely.
    """
    columns = [str(c) for c in frame.columns]
    if not columns:
        raise EmptyDataError("The table has no columns.")
    request_text = (request_text or "")[:MAX_REQUEST_CHARS]
    candidates = candidate_targets(frame)
    wanted = (requested or "").strip()
    note = ""
    if wanted:
        column = _match_column(columns, wanted)
        if column is not None:
            return TargetChoice(
                column=column,
                source="plan",
                reason=f"The plan names '{column}' as the target.",
                candidates=candidates,
            )
        column = _synonym_column(columns, wanted)
        if column is not None:
            return TargetChoice(
                column=column,
                source="plan",
                reason=f"The plan's target '{wanted}' is a synonym of the column '{column}'.",
                candidates=candidates,
            )
        suggestions = _suggestions(columns, wanted)
        if suggestions:
            raise UnknownColumnError(
                f"The target '{wanted}' is not a column. Did you mean: {', '.join(suggestions)}?",
                details={"column": wanted, "suggestions": ", ".join(suggestions)},
            )
        note = f" The plan's target '{wanted}' is not a column, so the request text was used."
    found = _from_request(request_text, columns)
    if found is not None:
        column, reason = found
        return TargetChoice(column=column, source="request", reason=reason + note, candidates=candidates)
    if wanted:
        raise UnknownColumnError(
            f"The target '{wanted}' is not a column. Candidates: {_listing(candidates)}.",
            details={"column": wanted, "candidates": _listing(candidates)},
        )
    if _PREDICTION_CUE.search(request_text):
        strong = [
            c for c in columns if normalize_name(c) in CONVENTIONAL_TARGETS and _is_strong_target(frame[c])
        ]
        if len(strong) == 1:
            column = strong[0]
            return TargetChoice(
                column=column,
                source="heuristic",
                reason=(
                    f"No target was named; '{column}' was chosen because it is the only column with a "
                    "conventional target name. Name the column to predict to override this."
                ),
                candidates=candidates,
            )
    raise TargetNotFoundError(
        "No target column was named and none can be chosen safely. Say which column to predict "
        f"(e.g. 'predict <column>'). Candidates: {_listing(candidates)}.",
        details={"candidates": _listing(candidates)},
    )


def _listing(names: list[str], limit: int = 30) -> str:
    shown = ", ".join(names[:limit])
    if len(names) > limit:
        shown += f", … ({len(names) - limit} more)"
    return shown or "none"


def infer_task(frame: pd.DataFrame, target: str, *, request_text: str = "") -> Task:
    """Classification, regression or forecast, from the target's values and the request.

    Rules, in order:

    * ``classification`` for boolean and text targets (numeric text excepted), and for
      integer-valued targets with at most :data:`CLASSIFICATION_MAX_INT_LEVELS` levels that are
      few relative to rows (``levels <= 5 % of rows``; two levels always count).
    * ``forecast`` when the table has a date column (datetime or ISO text) and the request
      talks about the future over time: "forecast", "next month", "future", "over time",
      "미래", "향후", "다음 달", "내년", "시계열". Korean "예측" alone is not enough: it means
      both "predict" and "forecast".
    * ``regression`` otherwise.

    Raises:
        UnknownColumnError: ``target`` is not a column.
    """
    columns = [str(c) for c in frame.columns]
    if target not in columns:
        raise UnknownColumnError(
            f"The target column '{target}' is not in the table.", details={"column": target}
        )
    series = frame[frame.columns[columns.index(target)]]
    values = series.dropna()
    levels = _nunique(values)
    if ptypes.is_bool_dtype(series.dtype):
        return "classification"
    numeric = ptypes.is_numeric_dtype(series.dtype)
    if not numeric and numeric_text_share(series) < NUMERIC_TEXT_SHARE:
        return "classification"
    numbers = coerce_numeric(values).dropna()
    integral = bool(len(numbers)) and bool(((numbers % 1) == 0).all())
    if integral and (
        levels == 2
        or (
            levels <= CLASSIFICATION_MAX_INT_LEVELS and levels <= CLASSIFICATION_MAX_LEVEL_SHARE * len(values)
        )
    ):
        return "classification"
    has_date = any(is_datetime_like(frame[c]) for c in frame.columns if str(c) != target)
    if has_date and _FORECAST_CUE.search((request_text or "")[:MAX_REQUEST_CHARS]):
        return "forecast"
    return "regression"
