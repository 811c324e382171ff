"""The Arrow reading of delimited text gives exactly what the pandas reading gives.

``load_table`` parses UTF-8 CSV/TSV with pyarrow and falls back to ``pd.read_csv`` whenever it
cannot be sure of the same result. These tests load the same bytes both ways (the pandas way
by making the Arrow parse decline) and require the same frame, dtypes, notes, schema and
Parquet round trip; and that the Arrow way was really taken, or really declined.
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pandas._libs.parsers import STR_NA_VALUES

from functions.ingestion import loaders
from functions.ingestion.loaders import LoadedTable, LoadLimits, infer_schema, load_table

pytestmark = pytest.mark.unit

Outcome = tuple[str, Any]


def _outcome(content: bytes, filename: str, limits: LoadLimits) -> Outcome:
    try:
        return "table", load_table(content, filename, limits=limits)
    except Exception as exc:
        return "error", (type(exc), getattr(exc, "message", str(exc)), getattr(exc, "details", None))


def _both_ways(
    monkeypatch: pytest.MonkeyPatch, content: bytes, filename: str, limits: LoadLimits
) -> tuple[Outcome, Outcome, bool]:
    """(Arrow outcome, pandas outcome, whether the Arrow parse accepted the file)."""
    accepted: list[bool] = []
    parse: Callable[..., Any] = loaders._parse_delimited_with_arrow

    def spy(*args: Any, **kwargs: Any) -> Any:
        fields = parse(*args, **kwargs)
        accepted.append(fields is not None)
        return fields

    with monkeypatch.context() as patch:
        patch.setattr(loaders, "_parse_delimited_with_arrow", spy)
        arrow = _outcome(content, filename, limits)
    with monkeypatch.context() as patch:
        patch.setattr(loaders, "_parse_delimited_with_arrow", lambda *args, **kwargs: None)
        pandas = _outcome(content, filename, limits)
    return arrow, pandas, any(accepted)


def _round_trip(frame: pd.DataFrame) -> pd.DataFrame:
    # What hub.write_dataset stores and hub.read_dataset gives back.
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer, compression="zstd")
    table = pq.read_table(io.BytesIO(buffer.getvalue()))
    return table.to_pandas(self_destruct=True, split_blocks=True, use_threads=False)


def _assert_same_table(arrow: LoadedTable, pandas: LoadedTable) -> None:
    pd.testing.assert_frame_equal(arrow.frame, pandas.frame, check_exact=True)
    assert list(arrow.frame.columns) == list(pandas.frame.columns)
    assert arrow.warnings == pandas.warnings
    assert (arrow.format, arrow.encoding, arrow.delimiter, arrow.compression) == (
        pandas.format,
        pandas.encoding,
        pandas.delimiter,
        pandas.compression,
    )
    assert infer_schema(arrow.frame) == infer_schema(pandas.frame)
    pd.testing.assert_frame_equal(_round_trip(arrow.frame), _round_trip(pandas.frame), check_exact=True)


def _dirty_csv(rows: int, seed: int, sep: str = ",") -> bytes:
    """Many kinds of dirt at once, with enough rows for the sampled type checks to matter."""
    rng = np.random.default_rng(seed)

    def pick(options: list[str], blank: float = 0.0) -> np.ndarray:
        values = rng.choice(options, rows).astype(object)
        values[rng.random(rows) < blank] = ""
        return values

    frame = pd.DataFrame(
        {
            "price": [f"${value:,}.50" for value in rng.integers(1, 5000, rows)],
            "amount": [f"{value:,}" for value in rng.integers(1000, 99999, rows)],
            "us_date": pick(["01/02/2024", "12/31/2023", "07/04/2022"], 0.01),
            "iso": pd.date_range("2020-01-01", periods=rows, freq="37min").strftime("%Y-%m-%d %H:%M:%S"),
            "day": pick(["2024-02-29", "2023-12-31", "1999-01-01"], 0.02),
            "zoned": pick(["2024-01-01T10:00:00+01:00", "2024-06-01T00:00:00Z"]),
            "flag": pick(["yes", "no", "Yes"], 0.02),
            "truth": pick(["True", "False", "TRUE"], 0.05),
            "pct": [f"{value}%" for value in rng.integers(0, 100, rows)],
            "text": pick(["plain", "with, comma", 'quote "q"', "ünïcødé ✓", " padded ", "two\nlines"], 0.01),
            "hostile": pick(["ok", "=SUM(A1)", "bad\x01char", "+1"]),
            "ratio": rng.random(rows),
            "count": pd.array(rng.integers(-1000, 1000, rows), dtype="Int64"),
            "mostly_numbers": pick(["1.5", "2.25", "3", "n/a", "#DIV/0!", "-4.125"]),
            "markers": pick(["NA", "None", "null", "12", "7"]),
            "huge": pick(["12345678901234567890", "1"]),
            "signed": pick([" 12", "13 ", "+5"]),
            "scientific": pick(["1e5", "2.5E-3", "7"]),
            "codes": pick(["007", "010", "100"]),
            "empty": pick([""]),
        }
    )
    frame.loc[rng.random(rows) < 0.02, "count"] = pd.NA
    frame.loc[rng.random(rows) < 0.01, "ratio"] = np.nan
    return frame.to_csv(index=False, sep=sep).encode()


SAME_CASES: dict[str, tuple[bytes, str]] = {
    "plain": (b"id,score,name\n1,2.5,ann\n2,3.75,bob\n", "scores.csv"),
    "currency-and-dates": (
        b'order,price,when,flag\nA1,"$1,234.50",2024-01-05,yes\nA2,$99.00,2024-01-06,no\nA3,,,yes\n',
        "orders.csv",
    ),
    "missing-values": (b"a,b,c,d\n1,,NA,x\n,2.5,None,\nnull,3.5,7,n/a\n", "gaps.csv"),
    "all-missing-column": (b"a,b\n1,\n2,\n3,NA\n", "blank.csv"),
    "quoted-commas-and-lines": (
        b'name,note,n\n"Smith, J","said ""hi""",1\n"Lee","line one\nline two",2\n',
        "quoted.csv",
    ),
    "unicode": ('città,価格,emoji\nMilano,１２３,✓\nSeoul,"₩1,000",🙂\n'.encode(), "unicode.csv"),
    "blank-lines": (b"\n\na,b\n1,2\n\n3,4\n\n", "blank_lines.csv"),
    "bom-crlf": (b"\xef\xbb\xbfa,b\r\n1,x\r\n2,y\r\n", "bom.csv"),
    "semicolons-decimal-comma": (b"item;price;qty\nA;1.234,50;3\nB;2,75;4\n", "eu.csv"),
    "tab-separated": (b"x\ty\tz\n1\t2\ta\n3\t4\tb\n", "data.tsv"),
    "tsv-named-but-commas": (b"x,y\n1,2\n", "data.tsv"),
    "booleans-with-blanks": (b"a,b\nTrue,1\n,2\nfalse,3\n", "bools.csv"),
    "numbers-pandas-reads-itself": (
        b"a,b,c,d,e\n 12,1e5,+5,inf,18446744073709551615\n13 ,2.5E-3,-3,-Infinity,1\n",
        "odd_numbers.csv",
    ),
    "long-floats-with-blanks": (
        b"x,y\n0.6931471805599453,1\n,2\n0.1000000000000000055511151231257827,3\n",
        "f.csv",
    ),
    "big-integer-with-markers": (b"a,b\n12345678901234567890,1\nNone,2\n12,3\n", "big.csv"),
    "duplicate-and-blank-headers": (b"a,a,,A\n1,2,3,4\n5,6,7,8\n", "dupes.csv"),
    "missing-marker-header": (b"NA,b\n1,2\n", "na_header.csv"),
    "spreadsheet-formulas-and-controls": (b"a,b\n=SUM(A1),x\x01y\n-12,ok\n", "hostile.csv"),
    "dirty-many-rows": (_dirty_csv(5000, 1), "dirty.csv"),
    "dirty-semicolons": (_dirty_csv(3000, 2, ";"), "dirty_eu.csv"),
    "dirty-tabs": (_dirty_csv(2000, 3, "\t"), "dirty.tsv"),
}


@pytest.mark.parametrize(("content", "filename"), SAME_CASES.values(), ids=SAME_CASES.keys())
def test_arrow_reading_gives_the_pandas_table(
    monkeypatch: pytest.MonkeyPatch, content: bytes, filename: str
) -> None:
    arrow, pandas, accepted = _both_ways(monkeypatch, content, filename, LoadLimits())

    assert accepted, "the Arrow parse declined a file it should read"
    assert arrow[0] == pandas[0] == "table", (arrow, pandas)
    _assert_same_table(arrow[1], pandas[1])


DECLINED_CASES: dict[str, tuple[bytes, str]] = {
    "ragged-row": (b"a,b\n1,2\n3,4,5\n", "ragged.csv"),
    "short-row": (b"a,b\n1,2\n3\n", "short.csv"),
    "r-row-names": (b"x,y\nr1,1,2\nr2,3,4\n", "r_export.csv"),
    "unclosed-quote": (b'a,b\n0,1\n1,"open\n2,3\n', "broken.csv"),
    "unclosed-after-stray-quote": (b'a,b\nx","\n', "stray.csv"),
    "unclosed-with-doubled-quote": (b'a,b\n1,"a""\n', "doubled.csv"),
    "cp949": ("이름,도시\n김철수,서울\n".encode("cp949"), "korean.csv"),
    "utf-16": ("a,b\n1,2\n".encode("utf-16"), "wide.csv"),
    "single-column": (b"a\n1\n2\n", "one.csv"),
    "header-only": (b"a,b\n", "header.csv"),
    "json-in-a-txt": (b'[{"a": 1}]', "data.txt"),
    "html": (b"<html><body>no</body></html>", "page.txt"),
    "nul-bytes": (b"a,b\n1,\x002\n", "nul.csv"),
}


@pytest.mark.parametrize(("content", "filename"), DECLINED_CASES.values(), ids=DECLINED_CASES.keys())
def test_arrow_declines_what_only_pandas_explains(
    monkeypatch: pytest.MonkeyPatch, content: bytes, filename: str
) -> None:
    arrow, pandas, accepted = _both_ways(monkeypatch, content, filename, LoadLimits())

    assert not accepted
    assert arrow[0] == pandas[0]
    if arrow[0] == "error":
        assert arrow[1] == pandas[1]
    else:
        _assert_same_table(arrow[1], pandas[1])


def test_too_many_rows_is_the_same_error(monkeypatch: pytest.MonkeyPatch) -> None:
    content = b"a,b\n" + b"1,2\n" * 11
    arrow, pandas, _ = _both_ways(monkeypatch, content, "rows.csv", LoadLimits(max_rows=10))

    assert arrow == pandas
    assert arrow[0] == "error"
    assert "more than 10 rows" in arrow[1][1]


def test_too_many_columns_is_the_same_error(monkeypatch: pytest.MonkeyPatch) -> None:
    content = b"a,b,c\n1,2,3\n"
    arrow, pandas, accepted = _both_ways(monkeypatch, content, "wide.csv", LoadLimits(max_columns=2))

    assert not accepted
    assert arrow == pandas


def test_the_missing_value_markers_are_pandas_own() -> None:
    assert set(loaders._PANDAS_NA_VALUES) == set(STR_NA_VALUES)


def test_the_spelled_out_whitespace_is_what_python_regex_calls_whitespace() -> None:
    python_whitespace = {chr(code) for code in range(sys.maxunicode + 1) if re.match(r"\s", chr(code))}

    assert set(loaders._UNICODE_WHITESPACE) == python_whitespace


NUMBER_TEXTS = [
    "1", "-3", "007", "-0", "+5", " 12", "1.5", "-0.25", ".5", "1.", ".", "-", "1e5",
    "0.6931471805599453", "12345678901234567890", "123456789012345", "1234567890123456",
    "inf", "nan", "True", "abc", "", None, "١٢٣", "1_000", "0x10", "1.2.3", "NA",
]  # fmt: skip


def _mixed_column(rng: np.random.Generator, usual: list[str], odd: list[Any], longest: int) -> pd.Series:
    """A column of one usual value with odd ones mixed in (a fifth of the rows)."""
    common = rng.choice(usual)
    values = [rng.choice(odd) if rng.random() < 0.2 else common for _ in range(rng.integers(1, longest))]
    return pd.Series(values, dtype="str")


def test_arrow_number_parsing_matches_to_numeric() -> None:
    rng = np.random.default_rng(5)
    fast = 0
    for _ in range(400):
        strings = _mixed_column(rng, ["1", "1.5", "-0.25", "123456789012345", "7", ""], NUMBER_TEXTS, 30)
        parsed = loaders._plain_numbers(strings)
        if parsed is None:
            continue
        fast += 1
        expected = pd.to_numeric(strings, errors="coerce")
        pd.testing.assert_series_equal(parsed, expected, check_exact=True)
        assert np.array_equal(np.signbit(parsed.to_numpy(float)), np.signbit(expected.to_numpy(float)))
    assert fast > 100  # the usual columns do take the Arrow way


DATE_TEXTS = [
    "2023-01-01", "2024-02-29", "2023-02-29", "2023-02-30", "0001-01-01", "0000-01-01", "9999-12-31",
    "2023-13-01", "2023-01-01 10:00:00", "2023-01-01T23:59:59", "2023-01-01 23:59:60",
    "2023-01-01 24:00:00", "2023-01-01T10:00:00Z", "2023-01-01 10:00", "2023-1-1", "", None,
]  # fmt: skip


def test_arrow_date_parsing_matches_to_datetime() -> None:
    rng = np.random.default_rng(6)
    fast = 0
    for _ in range(300):
        strings = _mixed_column(
            rng, ["2023-01-01", "2023-01-01 10:00:00", "1999-12-31T23:59:59"], DATE_TEXTS, 20
        )
        parsed = loaders._plain_iso_dates(strings)
        if parsed is None:
            continue
        fast += 1
        expected = pd.to_datetime(strings, errors="coerce", format="ISO8601")
        pd.testing.assert_series_equal(parsed, expected, check_exact=True)
    assert fast > 30
