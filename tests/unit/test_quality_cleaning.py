"""Treatments on small tables with known answers: what is removed or filled, and the receipt."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analystack.errors import InvalidInputError, UnknownColumnError
from functions.quality.cleaning import clean_table, parse_actions

pytestmark = pytest.mark.unit


def _table(rows: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "order_id": np.arange(rows),
            "units": rng.integers(1, 20, rows).astype(float),
            "price": rng.normal(50, 5, rows).round(2),
            "region": rng.choice(["east", "west", "north"], rows),
        }
    )


def test_planted_outliers_are_dropped_and_ids_are_left_alone() -> None:
    frame = _table()
    frame.loc[3, "units"] = 5000.0
    frame.loc[9, "price"] = -900.0
    frame.loc[11, "order_id"] = 10**9  # an ID is never an outlier
    cleaned, receipt = clean_table(frame, ["outliers"])
    assert receipt.outlier_rows_removed == 2
    assert len(cleaned) == 198
    assert 5000.0 not in cleaned["units"].to_numpy()
    assert 10**9 in cleaned["order_id"].to_numpy()
    assert {t.column for t in receipt.treatments} == {"units", "price"}
    assert frame.loc[3, "units"] == 5000.0  # the original is untouched


def test_a_heavy_tail_is_capped_not_dropped() -> None:
    frame = _table(100)
    frame.loc[:19, "units"] = 10_000.0  # 20 % of the rows: too many to drop
    cleaned, receipt = clean_table(frame, ["outliers"])
    assert len(cleaned) == 100
    assert receipt.values_capped == 20
    assert receipt.notes
    assert "capped" in receipt.notes[0]


def test_duplicates_then_missing_values() -> None:
    frame = _table(50)
    frame = pd.concat([frame, frame.iloc[:5]], ignore_index=True)
    frame.loc[10, "price"] = np.nan  # rows 0-4 are the duplicated ones
    frame.loc[11, "region"] = None
    cleaned, receipt = clean_table(frame, parse_actions("missing,duplicates"))
    assert receipt.actions == ["duplicates", "missing"]
    assert receipt.duplicates_removed == 5
    assert receipt.values_filled == 2
    assert cleaned["price"].isna().sum() == 0
    assert cleaned.loc[10, "price"] == pytest.approx(frame["price"].iloc[:50].median(), abs=0.01)
    assert "55 -> 50 rows" in receipt.summary()


def test_mostly_missing_columns_are_not_invented() -> None:
    frame = _table(20)
    frame.loc[:15, "price"] = np.nan
    cleaned, receipt = clean_table(frame, ["missing"])
    assert cleaned["price"].isna().sum() == 16
    assert any("left as it is" in note for note in receipt.notes)


def test_bad_actions_and_columns_are_typed_errors() -> None:
    with pytest.raises(InvalidInputError):
        parse_actions("explode")
    with pytest.raises(InvalidInputError):
        parse_actions("")
    with pytest.raises(UnknownColumnError):
        clean_table(_table(), ["outliers"], columns=["nope"])
