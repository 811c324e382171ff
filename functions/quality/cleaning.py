"""Treatments the user asks for ("remove the outliers", "중복 제거"): a cleaned copy and a receipt.

The original dataset is never changed: the treated table is a new dataset whose lineage points to
the original, and the receipt says exactly what was removed or filled, column by column, so a
follow-up model trained on it can be compared with the one before.

Rules (deliberately conservative — a treatment the user did not expect is worse than none):

* ``duplicates``: exact duplicate rows are dropped (the first occurrence stays).
* ``outliers``: rows with a value beyond the *far* Tukey fences in a numeric measure column are
  dropped — the quality report's own definition of an absurd value
  (:func:`functions.quality.profiling.far_out_fences`: 3 IQR, on a log scale for non-negative
  columns so genuinely expensive items stay), so the treatment removes what the report flagged. ID-like columns and columns with fewer than
  :data:`MIN_DISTINCT_FOR_OUTLIERS` distinct values are skipped. When the drop would remove more
  than :data:`MAX_OUTLIER_ROW_SHARE` of the rows the values are capped at the fences instead (a
  heavy tail is data, not dirt), and the receipt says so.
* ``missing``: numeric columns get their median, other columns their most frequent value; a
  column that is mostly missing (over :data:`MAX_MISSING_SHARE_TO_FILL`) is left as it is and
  reported, because filling it would invent most of it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from analystack.errors import InvalidInputError, UnknownColumnError

Action = Literal["duplicates", "outliers", "missing"]
ACTIONS: tuple[Action, ...] = ("duplicates", "outliers", "missing")
#: Share of negative values up to which a column still counts as non-negative (log-scale fences).
RARE_NEGATIVE_SHARE = 0.01
MIN_DISTINCT_FOR_OUTLIERS = 10
MAX_OUTLIER_ROW_SHARE = 0.10
MAX_MISSING_SHARE_TO_FILL = 0.5
_ID_LIKE = re.compile(r"(^|_)(id|uuid|key|code|no|number)$|^id_", re.IGNORECASE)


class ColumnTreatment(BaseModel):
    column: str
    action: Action
    method: str
    affected: int
    details: dict[str, float | str] = Field(default_factory=dict)


class CleaningReceipt(BaseModel):
    actions: list[Action]
    rows_before: int
    rows_after: int
    duplicates_removed: int = 0
    outlier_rows_removed: int = 0
    values_capped: int = 0
    values_filled: int = 0
    treatments: list[ColumnTreatment] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    def summary(self) -> str:
        parts = []
        if "duplicates" in self.actions:
            parts.append(f"{self.duplicates_removed:,} duplicate rows removed")
        if "outliers" in self.actions:
            parts.append(
                f"{self.outlier_rows_removed:,} outlier rows removed"
                + (f", {self.values_capped:,} values capped" if self.values_capped else "")
            )
        if "missing" in self.actions:
            parts.append(f"{self.values_filled:,} missing values filled")
        return f"{self.rows_before:,} -> {self.rows_after:,} rows: " + "; ".join(parts)


def parse_actions(text: str | None) -> list[Action]:
    """``"outliers,duplicates"`` -> the actions, in the order they are applied."""
    wanted = {part.strip().lower() for part in (text or "").split(",") if part.strip()}
    unknown = sorted(wanted - set(ACTIONS))
    if unknown:
        raise InvalidInputError(
            f"Unknown treatment(s): {', '.join(unknown)[:200]}; choose from {', '.join(ACTIONS)}"
        )
    if not wanted:
        raise InvalidInputError(f"Name at least one treatment: {', '.join(ACTIONS)}")
    return [action for action in ACTIONS if action in wanted]


def clean_table(
    frame: pd.DataFrame, actions: Sequence[Action], *, columns: Sequence[str] | None = None
) -> tuple[pd.DataFrame, CleaningReceipt]:
    """Apply ``actions`` (duplicates, then outliers, then missing) to a copy of ``frame``.

    Args:
        frame: the table.
        actions: the treatments.
        columns: restrict outlier and missing-value treatment to these columns (default: all).

    Raises:
        UnknownColumnError: a named column is not in the table.
    """
    names = [str(c) for c in frame.columns]
    if columns:
        missing_names = [c for c in columns if c not in names]
        if missing_names:
            raise UnknownColumnError(
                f"Not columns of the table: {', '.join(missing_names)[:200]}",
                details={"columns": ", ".join(missing_names)[:500]},
            )
    scope = list(columns) if columns else names
    receipt = CleaningReceipt(actions=list(actions), rows_before=len(frame), rows_after=len(frame))
    table = frame.copy()
    if "duplicates" in actions:
        before = len(table)
        table = table.drop_duplicates(keep="first")
        receipt.duplicates_removed = before - len(table)
    if "outliers" in actions:
        table = _treat_outliers(table, scope, receipt)
    if "missing" in actions:
        _fill_missing(table, scope, receipt)
    table = table.reset_index(drop=True)
    receipt.rows_after = len(table)
    return table, receipt


def _measure_columns(table: pd.DataFrame, scope: Sequence[str]) -> list[str]:
    measures = []
    for name in scope:
        series = table[name]
        if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            continue
        if _ID_LIKE.search(name) or series.nunique(dropna=True) < MIN_DISTINCT_FOR_OUTLIERS:
            continue
        measures.append(name)
    return measures


def _treat_outliers(table: pd.DataFrame, scope: Sequence[str], receipt: CleaningReceipt) -> pd.DataFrame:
    flagged = pd.Series(False, index=table.index)
    fences: dict[str, tuple[float, float, pd.Series]] = {}
    from functions.quality.profiling import far_out_fences

    for name in _measure_columns(table, scope):
        values = table[name].astype("float64")
        q1, q3 = float(values.quantile(0.25)), float(values.quantile(0.75))
        if not np.isfinite(q3 - q1) or q3 - q1 <= 0:
            continue
        non_negative = float((values < 0).mean()) <= RARE_NEGATIVE_SHARE
        low, high, _ = far_out_fences(q1, q3, non_negative=non_negative)
        outside = (values < low) | (values > high)
        if outside.any():
            fences[name] = (float(low), float(high), outside)
            flagged |= outside
    share = float(flagged.mean()) if len(table) else 0.0
    if share > MAX_OUTLIER_ROW_SHARE:
        receipt.notes.append(
            f"{share:.1%} of the rows have far outliers (over {MAX_OUTLIER_ROW_SHARE:.0%}): values were "
            "capped at the fences instead of dropping the rows"
        )
        for name, (low, high, outside) in fences.items():
            table[name] = table[name].clip(lower=low, upper=high)
            count = int(outside.sum())
            receipt.values_capped += count
            receipt.treatments.append(
                ColumnTreatment(
                    column=name,
                    action="outliers",
                    method="capped",
                    affected=count,
                    details={"low": low, "high": high},
                )
            )
        return table
    for name, (low, high, outside) in fences.items():
        receipt.treatments.append(
            ColumnTreatment(
                column=name,
                action="outliers",
                method="rows dropped",
                affected=int(outside.sum()),
                details={"low": low, "high": high},
            )
        )
    receipt.outlier_rows_removed = int(flagged.sum())
    return table.loc[~flagged]


def _fill_missing(table: pd.DataFrame, scope: Sequence[str], receipt: CleaningReceipt) -> None:
    for name in scope:
        series = table[name]
        count = int(series.isna().sum())
        if count == 0:
            continue
        share = count / max(1, len(series))
        if share > MAX_MISSING_SHARE_TO_FILL:
            receipt.notes.append(
                f"'{name}' is {share:.0%} missing: left as it is rather than invent most of it"
            )
            continue
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            value = series.median()
            method = "median"
            table[name] = series.fillna(value)
            shown: float | str = float(value)
        else:
            modes = series.mode(dropna=True)
            if modes.empty:
                continue
            value = modes.iloc[0]
            method = "most frequent value"
            table[name] = series.fillna(value)
            shown = str(value)[:60]
        receipt.values_filled += count
        receipt.treatments.append(
            ColumnTreatment(
                column=name, action="missing", method=method, affected=count, details={"value": shown}
            )
        )
