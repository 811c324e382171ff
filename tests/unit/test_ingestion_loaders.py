"""Unit tests for the ingestion loaders: every input is built in memory by the test."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import zipfile
from collections.abc import Sequence

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analystack.errors import (
    DataTooLargeError,
    DecodingError,
    EmptyDataError,
    InvalidInputError,
    ParseError,
    UnsupportedFormatError,
)
from functions.ingestion.loaders import LoadedTable, LoadLimits, infer_schema, load_table

pytestmark = pytest.mark.unit


# ----------------------------------------------------------------------------- helpers


def _xlsx(sheets: dict[str, Sequence[Sequence[object]]]) -> bytes:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _parquet(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _dtypes(table: LoadedTable) -> dict[str, str]:
    return {str(name): str(dtype) for name, dtype in table.frame.dtypes.items()}


def _warned(table: LoadedTable, *fragments: str) -> bool:
    return any(all(fragment in note for fragment in fragments) for note in table.warnings)


# --------------------------------------------------------------------------------- CSV


def test_csv_basic_types_and_detection() -> None:
    table = load_table(b"id,score,name\n1,2.5,ann\n2,3.75,bob\n", "scores.csv")

    assert (table.format, table.encoding, table.delimiter) == ("csv", "utf-8", ",")
    assert _dtypes(table) == {"id": "int64", "score": "float64", "name": "str"}
    assert table.frame["id"].tolist() == [1, 2]
    assert table.frame["score"].tolist() == [2.5, 3.75]
    assert table.frame["name"].tolist() == ["ann", "bob"]
    assert table.warnings == []
    assert table.sheet_name is None
    assert table.compression is None
    assert isinstance(table.frame.index, pd.RangeIndex)


def test_extension_is_case_insensitive_and_paths_are_ignored() -> None:
    table = load_table(b"a,b\n1,2\n", r"C:\Users\kim\Downloads\REPORT.CSV")

    assert table.format == "csv"
    assert table.frame.to_dict("list") == {"a": [1], "b": [2]}


@pytest.mark.parametrize(
    ("content", "filename", "delimiter", "fmt"),
    [
        (b"a;b;c\nx;1;2\ny;3;4\n", "semi.csv", ";", "csv"),
        (b"a|b|c\nx|1|2\ny|3|4\n", "pipe.txt", "|", "csv"),
        (b"a\tb\tc\nx\t1\t2\ny\t3\t4\n", "tabs.tsv", "\t", "tsv"),
        (b"a\tb\tc\nx\t1\t2\ny\t3\t4\n", "tabs.tab", "\t", "tsv"),
        (b"a\tb\tc\nx\t1\t2\ny\t3\t4\n", "tabs.txt", "\t", "tsv"),
    ],
)
def test_delimiter_detection(content: bytes, filename: str, delimiter: str, fmt: str) -> None:
    table = load_table(content, filename)

    assert (table.delimiter, table.format) == (delimiter, fmt)
    assert list(table.frame.columns) == ["a", "b", "c"]
    assert table.frame["b"].tolist() == [1, 3]
    assert table.frame["c"].tolist() == [2, 4]


def test_delimiter_detection_ignores_delimiters_inside_quotes() -> None:
    content = b'name;note;qty\n"Kim, J.";"a, b, c";1\n"Lee, S.";"x, y";2\n"Park";"z";3\n'

    table = load_table(content, "people.csv")

    assert table.delimiter == ";"
    assert table.frame["name"].tolist() == ["Kim, J.", "Lee, S.", "Park"]
    assert table.frame["qty"].tolist() == [1, 2, 3]


def test_tsv_extension_with_comma_content_uses_the_real_delimiter() -> None:
    table = load_table(b"a,b\n1,2\n3,4\n", "mislabelled.tsv")

    assert (table.format, table.delimiter) == ("csv", ",")
    assert table.frame["b"].tolist() == [2, 4]
    assert _warned(table, "tab-separated", "','")


def test_semicolon_csv_with_decimal_commas_becomes_float() -> None:
    content = b"item;price;weight\nA;1.234,50;0,5\nB;12,25;1,75\nC;3,00;2\n"

    table = load_table(content, "eu.csv")

    assert table.delimiter == ";"
    assert table.frame["price"].tolist() == [1234.5, 12.25, 3.0]
    assert table.frame["weight"].tolist() == [0.5, 1.75, 2.0]
    assert _dtypes(table)["price"] == "float64"


def test_quoted_fields_with_embedded_newlines() -> None:
    content = b'id,comment,amount\n1,"line one\nline two",10\n2,"say ""hi"", then\r\nleave",20\n'

    table = load_table(content, "notes.csv")

    assert table.frame["comment"].tolist() == ["line one\nline two", 'say "hi", then\r\nleave']
    assert table.frame["amount"].tolist() == [10, 20]


def test_ragged_row_raises_parse_error_with_line_number() -> None:
    content = b"a,b\n1,2\n3,4\n5,6,7\n8,9\n"

    with pytest.raises(ParseError) as caught:
        load_table(content, "ragged.csv")

    assert caught.value.details["line"] == "4"
    assert "Line 4 has 3 fields but 2 were expected" in caught.value.message


def test_unterminated_quote_raises_parse_error() -> None:
    with pytest.raises(ParseError, match="line 3 is never closed") as caught:
        load_table(b'a,b\n0,1\n1,"open\n2,3\n', "broken.csv")

    assert caught.value.details["line"] == "3"


def test_header_one_field_short_keeps_first_field_as_data() -> None:
    # R's write.table(row.names=TRUE) writes a header without the row-name column.
    table = load_table(b"x,y\nr1,1,2\nr2,3,4\n", "r_export.csv")

    assert list(table.frame.columns) == ["column_1", "x", "y"]
    assert table.frame["column_1"].tolist() == ["r1", "r2"]
    assert table.frame["y"].tolist() == [2, 4]
    assert _warned(table, "one field fewer")


def test_first_row_with_several_extra_fields_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="first data row has 4 fields but the header has 2"):
        load_table(b"a,b\n1,2,3,4\n5,6\n", "extra.csv")


def test_single_column_csv() -> None:
    table = load_table(b"city\nSeoul\nBusan\n", "cities.csv")

    assert table.frame["city"].tolist() == ["Seoul", "Busan"]
    assert table.delimiter == ","


# ---------------------------------------------------------------------------- encodings


def test_cp949_korean_headers_and_values() -> None:
    text = (
        "이름,도시,금액,가입일\n"
        '김철수,서울,"￦1,000",2024-01-05\n'
        '이영희,부산,"￦2,500",2024-02-10\n'
        '박민수,대구,"￦30,000",2024-03-15\n'
    )
    content = text.encode("cp949")
    with pytest.raises(UnicodeDecodeError):
        content.decode("utf-8")

    table = load_table(content, "고객.csv")

    assert table.encoding == "cp949"
    assert list(table.frame.columns) == ["이름", "도시", "금액", "가입일"]
    assert table.frame["이름"].tolist() == ["김철수", "이영희", "박민수"]
    assert table.frame["금액"].tolist() == [1000, 2500, 30000]
    assert _dtypes(table)["금액"] == "int64"
    assert _dtypes(table)["가입일"] == "datetime64[us]"
    assert _warned(table, "cp949")


def test_euc_kr_is_decoded_as_its_cp949_superset() -> None:
    content = "상품,수량\n사과,3\n배,5\n포도,7\n".encode("euc-kr")

    table = load_table(content, "fruit.csv")

    assert table.encoding == "cp949"
    assert table.frame.to_dict("list") == {"상품": ["사과", "배", "포도"], "수량": [3, 5, 7]}


def test_utf8_bom_is_removed_from_first_header() -> None:
    table = load_table("\ufeffname,qty\n테스트,1\n".encode(), "bom.csv")

    assert table.encoding == "utf-8-sig"
    assert list(table.frame.columns) == ["name", "qty"]
    assert table.frame["name"].tolist() == ["테스트"]


def test_utf16_with_bom_tab_separated() -> None:
    # Excel's "Unicode text" export: UTF-16 with a BOM, tab-separated.
    content = "name\tqty\nÅsa\t1\n명수\t2\n".encode("utf-16")

    table = load_table(content, "export.txt")

    assert (table.encoding, table.format, table.delimiter) == ("utf-16", "tsv", "\t")
    assert table.frame.to_dict("list") == {"name": ["Åsa", "명수"], "qty": [1, 2]}


def test_utf16_without_bom_is_recognised_from_nul_pattern() -> None:
    content = "city,pop\nOslo,700000\nBergen,290000\n".encode("utf-16-le")

    table = load_table(content, "cities.csv")

    assert table.encoding == "utf-16-le"
    assert table.frame["pop"].tolist() == [700000, 290000]


def test_cp1252_text_is_decoded() -> None:
    content = "name,city\nJosé,Zürich\nFrançois,Genève\nRenée,Köln\n".encode("cp1252")

    table = load_table(content, "latin.csv")

    assert table.encoding is not None
    assert table.encoding != "utf-8"
    assert table.frame["name"].tolist() == ["José", "François", "Renée"]
    assert table.frame["city"].tolist() == ["Zürich", "Genève", "Köln"]


def test_undecodable_bytes_raise_decoding_error() -> None:
    content = b"a,b\n" + bytes(range(128, 256)) * 3

    with pytest.raises(DecodingError, match="offset 4") as caught:
        load_table(content, "garbage.csv")

    assert caught.value.details["offset"] == "4"


def test_invalid_bytes_after_utf16_bom_raise_decoding_error() -> None:
    with pytest.raises(DecodingError, match="UTF-16"):
        load_table(b"\xff\xfea\x00,\x00\x00\xd8", "bad.csv")


# ------------------------------------------------------------------------ type inference


def test_currency_and_thousands_separators_become_numbers() -> None:
    content = (
        'usd,krw,acct,plain\n"$1,234.50","₩1,000",(12),"1,000,000"\n"$12.50","₩250",5,"2,500"\n'
        '"-$3.00","₩ 99,000",(1.5),"3"\n'
    ).encode()

    table = load_table(content, "money.csv")

    assert table.frame["usd"].tolist() == [1234.5, 12.5, -3.0]
    assert table.frame["krw"].tolist() == [1000, 250, 99000]
    assert table.frame["acct"].tolist() == [-12.0, 5.0, -1.5]
    assert table.frame["plain"].tolist() == [1000000, 2500, 3]
    assert _dtypes(table) == {"usd": "float64", "krw": "int64", "acct": "float64", "plain": "int64"}
    assert _warned(table, "'usd'", "numbers", "every value converted")


def test_mostly_numeric_column_converts_and_counts_failures() -> None:
    values = [f'"${index},000.25"' for index in range(1, 20)] + ["TBD"]
    content = ("amount\n" + "\n".join(values) + "\n").encode()

    table = load_table(content, "amounts.csv")

    column = table.frame["amount"]
    assert str(column.dtype) == "float64"
    assert column.iloc[0] == 1000.25
    assert column.iloc[18] == 19000.25
    assert np.isnan(column.iloc[19])
    assert int(column.isna().sum()) == 1
    assert _warned(table, "'amount'", "1 value(s) could not be converted", "'TBD'")


def test_column_below_numeric_threshold_stays_text() -> None:
    values = [str(index) for index in range(18)] + ["n.a.", "unknown"]
    content = ("code\n" + "\n".join(values) + "\n").encode()

    table = load_table(content, "codes.csv")

    assert _dtypes(table)["code"] == "str"
    assert table.frame["code"].iloc[18] == "n.a."
    assert not _warned(table, "'code'")


def test_dates_become_datetime() -> None:
    content = (
        b"iso,us,text,stamp\n"
        b'2024-01-05,01/31/2024,"Jan 5, 2024",2024-01-05T10:00:00\n'
        b'2024-02-10,02/29/2024,"Feb 10, 2024",2024-02-10T11:30:15\n'
        b'2024-03-15,12/01/2023,"Mar 15, 2024",2024-03-15T23:59:59\n'
    )

    table = load_table(content, "dates.csv")

    assert _dtypes(table) == {
        "iso": "datetime64[us]",
        "us": "datetime64[us]",
        "text": "datetime64[us]",
        "stamp": "datetime64[us]",
    }
    assert table.frame["us"].tolist() == [
        pd.Timestamp("2024-01-31"),
        pd.Timestamp("2024-02-29"),
        pd.Timestamp("2023-12-01"),
    ]
    assert table.frame["text"].iloc[2] == pd.Timestamp("2024-03-15")
    assert table.frame["stamp"].iloc[1] == pd.Timestamp("2024-02-10 11:30:15")


def test_day_first_dates_are_recognised() -> None:
    content = b"when\n31/01/2024\n15/02/2024\n01/03/2024\n"

    table = load_table(content, "eu_dates.csv")

    assert table.frame["when"].tolist() == [
        pd.Timestamp("2024-01-31"),
        pd.Timestamp("2024-02-15"),
        pd.Timestamp("2024-03-01"),
    ]


def test_mixed_offsets_are_converted_to_utc() -> None:
    content = b"at\n2024-01-05T10:00:00+09:00\n2024-01-05T10:00:00Z\n2024-01-05T10:00:00-05:00\n"

    table = load_table(content, "tz.csv")

    assert _dtypes(table)["at"] == "datetime64[us, UTC]"
    assert table.frame["at"].tolist() == [
        pd.Timestamp("2024-01-05T01:00:00Z"),
        pd.Timestamp("2024-01-05T10:00:00Z"),
        pd.Timestamp("2024-01-05T15:00:00Z"),
    ]
    assert _warned(table, "'at'", "UTC")


def test_mostly_dates_with_a_bad_value() -> None:
    values = [f"2024-01-{day:02d}" for day in range(1, 21)] + ["not a date"]
    content = ("day\n" + "\n".join(values) + "\n").encode()

    table = load_table(content, "days.csv")

    assert _dtypes(table)["day"] == "datetime64[us]"
    assert table.frame["day"].iloc[19] == pd.Timestamp("2024-01-20")
    assert pd.isna(table.frame["day"].iloc[20])
    assert _warned(table, "'day'", "dates", "1 value(s)", "NaT")


def test_codes_times_and_month_names_are_not_dates() -> None:
    content = (
        b"range,month,time,phone,version,ip\n"
        b"10-20,March,10:30:00,010-1234-5678,1.2.3,192.168.0.1\n"
        b"5-3,April,11:45:00,010-9876-5432,1.10.0,10.0.0.1\n"
        b"7-12,May,23:59:59,011-222-3333,2.0.1,8.8.8.8\n"
    )

    table = load_table(content, "codes.csv")

    assert set(_dtypes(table).values()) == {"str"}
    assert table.frame["time"].tolist() == ["10:30:00", "11:45:00", "23:59:59"]


def test_yes_no_and_true_false_become_booleans() -> None:
    content = b"yn,tf,partial,maybe\nYes,true,yes,yes\nno,FALSE,,no\n yes ,True,no,maybe\n"

    table = load_table(content, "flags.csv")

    assert _dtypes(table) == {"yn": "bool", "tf": "bool", "partial": "boolean", "maybe": "str"}
    assert table.frame["yn"].tolist() == [True, False, True]
    assert table.frame["tf"].tolist() == [True, False, True]
    assert table.frame["partial"].tolist() == [True, pd.NA, False]


# -------------------------------------------------------------------------------- JSON


def test_json_array_of_objects_with_nested_flattening() -> None:
    records = [
        {"id": 1, "user": {"name": "kim", "address": {"city": "Seoul"}}, "paid": True},
        {"id": 2, "user": {"name": "lee", "address": {"city": "Busan"}}, "paid": False},
    ]

    table = load_table(json.dumps(records).encode(), "orders.json")

    assert (table.format, table.encoding, table.delimiter) == ("json", "utf-8", None)
    assert list(table.frame.columns) == ["id", "paid", "user.name", "user.address.city"] or list(
        table.frame.columns
    ) == ["id", "user.name", "user.address.city", "paid"]
    assert table.frame["user.address.city"].tolist() == ["Seoul", "Busan"]
    assert table.frame["paid"].tolist() == [True, False]
    assert _dtypes(table)["id"] == "int64"


def test_json_object_of_columns() -> None:
    document = {"city": ["Seoul", "Busan", "Daegu"], "pop": [9.7, 3.4, 2.4], "rank": [1, 2, 3]}

    table = load_table(json.dumps(document).encode(), "cities.json")

    assert table.frame.to_dict("list") == document
    assert _dtypes(table) == {"city": "str", "pop": "float64", "rank": "int64"}


def test_json_object_with_records_under_a_key() -> None:
    document = {"count": 2, "next": None, "data": [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]}

    table = load_table(json.dumps(document).encode(), "api.json")

    assert table.frame.to_dict("list") == {"a": [1, 2], "b": ["x", "y"]}
    assert _warned(table, "'data'", "'count'", "'next'")


def test_json_single_key_records() -> None:
    table = load_table(b'{"rows": [{"v": 1.5}, {"v": 2.5}]}', "rows.json")

    assert table.frame["v"].tolist() == [1.5, 2.5]
    assert _warned(table, "'rows'")


def test_json_single_object_becomes_one_row() -> None:
    table = load_table(b'{"name": "kim", "age": 30, "tags": {"vip": true}}', "one.json")

    assert table.frame.to_dict("list") == {"name": ["kim"], "age": [30], "tags.vip": [True]}
    assert _warned(table, "one row")


def test_json_lists_inside_values_are_kept_as_json_text() -> None:
    table = load_table(
        b'[{"id": 1, "tags": ["a", "b"]}, {"id": 2, "tags": []}, {"id": 3, "tags": null}]', "t.json"
    )

    assert table.frame["tags"].iloc[0] == '["a", "b"]'
    assert table.frame["tags"].iloc[1] == "[]"
    assert pd.isna(table.frame["tags"].iloc[2])
    assert _warned(table, "'tags'", "JSON text")


def test_json_mixed_value_types_are_inferred_from_text() -> None:
    table = load_table(b'[{"v": 1}, {"v": "2"}, {"v": "$3.50"}, {"v": null}]', "mixed.json")

    assert str(table.frame["v"].dtype) == "float64"
    assert table.frame["v"].tolist()[:3] == [1.0, 2.0, 3.5]


def test_json_scalar_array_becomes_value_column() -> None:
    table = load_table(b"[3, 1, 2]", "numbers.json")

    assert table.frame.to_dict("list") == {"value": [3, 1, 2]}


def test_json_array_of_arrays_gets_positional_names() -> None:
    table = load_table(b'[[1, "a"], [2, "b"]]', "grid.json")

    assert table.frame.to_dict("list") == {"column_1": [1, 2], "column_2": ["a", "b"]}


def test_invalid_json_reports_line_and_column() -> None:
    content = b'[\n  {"a": 1},\n  {"a": 2,,}\n]'

    with pytest.raises(ParseError, match="line 3, column 11") as caught:
        load_table(content, "bad.json")

    assert caught.value.details == {"line": "3", "column": "11"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'[{"a": 1}, 2]', "mixes objects"),
        (b'"just text"', "single string"),
        (b'{"a": [1, 2], "b": [1]}', "different lengths"),
        (b'{"a": [1, 2], "b": {"c": 1}}', "Unsupported JSON layout"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ],
)
def test_json_layouts_that_cannot_be_tables(content: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        load_table(content, "x.json")


@pytest.mark.parametrize("content", [b"[]", b"{}", b"  []  "])
def test_empty_json_raises_empty_data(content: bytes) -> None:
    with pytest.raises(EmptyDataError):
        load_table(content, "empty.json")


def test_json_lines() -> None:
    content = (
        b'{"id": 1, "name": "kim", "at": "2024-01-05T10:00:00Z", "meta": {"src": "web"}}\n'
        b"\n"
        b'{"id": 2, "name": "lee", "at": "2024-01-06T11:00:00Z", "meta": {"src": "app"}}\r\n'
    )

    for filename in ("events.jsonl", "events.ndjson"):
        table = load_table(content, filename)
        assert (table.format, table.delimiter) == ("jsonl", None)
        assert table.frame["id"].tolist() == [1, 2]
        assert table.frame["meta.src"].tolist() == ["web", "app"]
        assert _dtypes(table)["at"] == "datetime64[us, UTC]"
        assert table.frame["at"].iloc[1] == pd.Timestamp("2024-01-06T11:00:00Z")


def test_json_lines_fallback_path_handles_type_changes_and_lists() -> None:
    # A field changing type and a list value make pyarrow's fast reader bail out.
    content = b'{"k": 1, "l": [1, 2]}\n{"k": "x", "l": [3]}\n'

    table = load_table(content, "mixed.jsonl")

    assert table.frame["k"].tolist() == ["1", "x"]
    assert table.frame["l"].tolist() == ["[1, 2]", "[3]"]


def test_json_lines_detected_from_json_extension() -> None:
    table = load_table(b'{"a": 1}\n{"a": 2}\n{"a": 3}\n', "actually_lines.json")

    assert table.format == "jsonl"
    assert table.frame["a"].tolist() == [1, 2, 3]


def test_jsonl_extension_holding_a_json_array() -> None:
    table = load_table(b'[{"a": 1},\n {"a": 2}]', "array.jsonl")

    assert table.format == "json"
    assert table.frame["a"].tolist() == [1, 2]
    assert _warned(table, "single JSON document")


def test_json_lines_error_names_the_line() -> None:
    content = b'{"a": 1}\n{"a": 2}\n{"a": 3\n{"a": 4}\n'

    with pytest.raises(ParseError, match="line 3") as caught:
        load_table(content, "bad.jsonl")

    assert caught.value.details["line"] == "3"


def test_json_lines_rejects_non_object_lines() -> None:
    with pytest.raises(ParseError, match="Line 2 holds a JSON array"):
        load_table(b'{"a": 1}\n[1, 2]\n', "bad.jsonl")


# ------------------------------------------------------------------------------- Excel


def test_excel_first_non_empty_sheet_with_types() -> None:
    content = _xlsx(
        {
            "Cover": [],
            "Sales": [
                ["region", "amount", "date", None, "note"],
                ["north", 10, dt.datetime(2024, 1, 5), 1.5, "ok"],
                ["south", 20, dt.datetime(2024, 2, 6), 2.5, None],
                [None, None, None, None, None],
            ],
            "Notes": [["text"], ["hello"]],
        }
    )

    table = load_table(content, "book.xlsx")

    assert (table.format, table.sheet_name, table.encoding, table.delimiter) == ("excel", "Sales", None, None)
    assert list(table.frame.columns) == ["region", "amount", "date", "column_4", "note"]
    assert len(table.frame) == 2
    assert table.frame["amount"].tolist() == [10, 20]
    assert table.frame["date"].tolist() == [pd.Timestamp("2024-01-05"), pd.Timestamp("2024-02-06")]
    assert _dtypes(table)["amount"] == "int64"
    assert _dtypes(table)["date"] == "datetime64[us]"
    assert _dtypes(table)["column_4"] == "float64"
    assert _warned(table, "Skipped empty sheets", "'Cover'")
    assert _warned(table, "Loaded sheet 'Sales'", "'Notes'")
    assert _warned(table, "Column 4", "blank header")


def test_excel_header_not_in_first_row_and_error_cells() -> None:
    rows: list[list[object]] = [[], [None, None], ["id", "value"]]
    rows += [[index, float(index)] for index in range(1, 21)]
    rows.append([21, "#DIV/0!"])
    content = _xlsx({"Data": rows})

    table = load_table(content, "report.xlsm")

    assert list(table.frame.columns) == ["id", "value"]
    assert len(table.frame) == 21
    assert _dtypes(table) == {"id": "int64", "value": "float64"}
    assert pd.isna(table.frame["value"].iloc[20])
    assert _warned(table, "'value'", "1 value(s)", "#DIV/0!")


def test_xlsx_named_xls_is_loaded_with_a_warning() -> None:
    content = _xlsx({"S": [["a"], [1]]})

    table = load_table(content, "legacy_name.xls")

    assert table.format == "excel"
    assert table.frame["a"].tolist() == [1]
    assert _warned(table, "Excel 97-2003", "Excel (.xlsx)")


def test_xlsx_detected_without_extension() -> None:
    table = load_table(_xlsx({"S": [["a", "b"], [1, "x"]]}), "download")

    assert table.format == "excel"
    assert table.frame.to_dict("list") == {"a": [1], "b": ["x"]}


def test_workbook_without_data_is_empty() -> None:
    with pytest.raises(EmptyDataError, match="no sheet with data"):
        load_table(_xlsx({"A": [], "B": [[None, "  "]]}), "blank.xlsx")


def test_damaged_xlsx_raises_parse_error() -> None:
    content = _zip({"xl/workbook.xml": b"<not really xml", "[Content_Types].xml": b"nope"})

    with pytest.raises(ParseError, match="could not be opened"):
        load_table(content, "broken.xlsx")


def test_legacy_xls_is_unsupported() -> None:
    content = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504

    with pytest.raises(UnsupportedFormatError, match=r"\.xls") as caught:
        load_table(content, "old.xls")

    assert "Excel 97-2003" in caught.value.details["detected_type"]


# ------------------------------------------------------------------------------ Parquet


def test_parquet_roundtrip_with_struct_flattening() -> None:
    table_in = pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int32()),
            "price": [1.5, None, 3.0],
            "name": ["a", "b", None],
            "when": pa.array([dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 2), None], pa.timestamp("ms")),
            "geo": [{"lat": 1.0, "lon": 2.0}, {"lat": 3.0, "lon": 4.0}, None],
        }
    )

    for filename in ("data.parquet", "data.PQ", "no_extension"):
        table = load_table(_parquet(table_in), filename)
        assert (table.format, table.encoding, table.delimiter) == ("parquet", None, None)
        assert list(table.frame.columns) == ["id", "price", "name", "when", "geo.lat", "geo.lon"]
        assert _dtypes(table)["id"] == "int32"
        assert _dtypes(table)["when"] == "datetime64[ms]"
        assert table.frame["geo.lon"].tolist()[:2] == [2.0, 4.0]
        assert table.frame["id"].tolist() == [1, 2, 3]


def test_parquet_with_csv_extension_is_loaded_as_parquet() -> None:
    table = load_table(_parquet(pa.table({"a": [1]})), "wrong.csv")

    assert table.format == "parquet"
    assert _warned(table, "suggests CSV", "Parquet")


def test_truncated_parquet_raises_parse_error() -> None:
    content = _parquet(pa.table({"a": list(range(100))}))[:60]

    with pytest.raises(ParseError, match="Parquet"):
        load_table(content, "cut.parquet")


def test_parquet_row_limit_checked_from_footer() -> None:
    content = _parquet(pa.table({"a": list(range(50))}))

    with pytest.raises(DataTooLargeError, match="more than 10 rows"):
        load_table(content, "big.parquet", limits=LoadLimits(max_rows=10))


def test_parquet_without_rows_is_empty() -> None:
    content = _parquet(pa.table({"a": pa.array([], pa.int64())}))

    with pytest.raises(EmptyDataError, match="no data rows"):
        load_table(content, "empty.parquet")


# --------------------------------------------------------------------- format detection


def test_gzip_csv_and_jsonl() -> None:
    table = load_table(gzip.compress(b"a,b\n1,2\n3,4\n"), "data.csv.gz")
    assert (table.format, table.compression) == ("csv", "gzip")
    assert table.frame["b"].tolist() == [2, 4]

    table = load_table(gzip.compress(b'{"a": 1}\n{"a": 2}\n'), "events.JSONL.GZ")
    assert (table.format, table.compression) == ("jsonl", "gzip")
    assert table.frame["a"].tolist() == [1, 2]

    table = load_table(gzip.compress(b"x\ty\n1\t2\n"), "blob.gz")
    assert (table.format, table.compression, table.delimiter) == ("tsv", "gzip", "\t")


def test_gzip_without_extension_is_sniffed() -> None:
    table = load_table(gzip.compress(b'[{"a": 1}]'), "upload")

    assert (table.format, table.compression) == ("json", "gzip")


def test_gz_name_with_plain_content_is_read_as_is() -> None:
    table = load_table(b"a\n1\n", "plain.csv.gz")

    assert table.compression is None
    assert table.frame["a"].tolist() == [1]
    assert _warned(table, "not gzip-compressed")


def test_corrupt_gzip_raises_parse_error() -> None:
    content = gzip.compress(b"a,b\n" + b"1,2\n" * 1000)[:40]

    with pytest.raises(ParseError, match="gzip"):
        load_table(content, "cut.csv.gz")


def test_gzip_of_binary_format_is_unsupported() -> None:
    with pytest.raises(UnsupportedFormatError, match="Parquet"):
        load_table(gzip.compress(b"PAR1"), "data.parquet.gz")


def test_gzip_bomb_is_stopped_at_the_byte_limit() -> None:
    content = gzip.compress(b"a\n" + b"1\n" * 50_000)
    assert len(content) < 1000

    with pytest.raises(DataTooLargeError, match="decompresses to more than 1000 bytes"):
        load_table(content, "bomb.csv.gz", limits=LoadLimits(max_bytes=1000))


def _zstd(content: bytes) -> bytes:
    # What the CLI sends: one zstd frame at level 1.
    return pa.Codec("zstd", compression_level=1).compress(content, asbytes=True)


def test_zstd_under_the_tables_own_name_is_recognised_by_its_magic() -> None:
    table = load_table(_zstd(b"a,b\n1,2\n3,4\n"), "sales.csv")
    assert (table.format, table.compression) == ("csv", "zstd")
    assert table.frame["b"].tolist() == [2, 4]
    assert table.warnings == []

    table = load_table(_zstd(b'{"a": 1}\n{"a": 2}\n'), "events.jsonl")
    assert (table.format, table.compression) == ("jsonl", "zstd")
    assert table.frame["a"].tolist() == [1, 2]


def test_zstd_by_suffix_and_without_extension() -> None:
    table = load_table(_zstd(b"x\ty\n1\t2\n"), "blob.zst")
    assert (table.format, table.compression, table.delimiter) == ("tsv", "zstd", "\t")

    table = load_table(_zstd(b"a;b\n1;2\n"), "data.CSV.ZSTD")
    assert (table.format, table.compression, table.delimiter) == ("csv", "zstd", ";")

    table = load_table(_zstd(b'[{"a": 1}]'), "upload")
    assert (table.format, table.compression) == ("json", "zstd")


def test_zstd_and_gzip_give_the_same_table() -> None:
    content = b"id,price,when\n1,$1.50,2024-01-02\n2,,2024-01-03\n"

    zstd_table = load_table(_zstd(content), "t.csv")
    gzip_table = load_table(gzip.compress(content), "t.csv.gz")

    pd.testing.assert_frame_equal(zstd_table.frame, gzip_table.frame)
    assert zstd_table.warnings == gzip_table.warnings


def test_zst_name_with_plain_content_is_read_as_is() -> None:
    table = load_table(b"a\n1\n", "plain.csv.zst")

    assert table.compression is None
    assert table.frame["a"].tolist() == [1]
    assert _warned(table, "ends in .zst but the content is not zstd-compressed")


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"\x28\xb5\x2f\xfd" + b"not a zstd frame" * 4, id="garbage-after-magic"),
        pytest.param("truncated", id="truncated"),
    ],
)
def test_damaged_zstd_raises_parse_error(content: bytes | str) -> None:
    if content == "truncated":
        noise = np.random.default_rng(3).integers(0, 10**9, 5000).astype(str)
        whole = _zstd(("n\n" + "\n".join(noise) + "\n").encode())
        content = whole[: len(whole) // 2]
    assert isinstance(content, bytes)

    with pytest.raises(ParseError, match="zstd-compressed file is damaged or truncated"):
        load_table(content, "cut.csv")


def test_zstd_of_binary_format_is_unsupported() -> None:
    with pytest.raises(UnsupportedFormatError, match="Zstandard-compressed Parquet files are not supported"):
        load_table(_zstd(b"PAR1"), "data.parquet")
    with pytest.raises(UnsupportedFormatError, match="Zstandard-compressed Excel"):
        load_table(_zstd(b"PK\x03\x04"), "book.xlsx.zst")


def test_zstd_bomb_is_stopped_at_the_byte_limit() -> None:
    content = _zstd(b"a\n" + b"1\n" * 50_000)
    assert len(content) < 1000

    with pytest.raises(DataTooLargeError, match="decompresses to more than 1000 bytes"):
        load_table(content, "bomb.csv", limits=LoadLimits(max_bytes=1000))


def test_zstd_of_only_whitespace_is_empty() -> None:
    with pytest.raises(EmptyDataError):
        load_table(_zstd(b"  \n"), "empty.csv")


def test_sniffing_without_extension() -> None:
    assert load_table(b"a;b\n1;2\n", "noext").format == "csv"
    assert load_table(b'  {"a": [1, 2]}', "noext").format == "json"
    assert load_table(b'[{"a": 1}]', "data.unknown").format == "json"
    assert load_table(b'{"a": 1}\n{"a": 2}', "noext").format == "jsonl"


def test_content_type_hint_is_used_for_unknown_extensions() -> None:
    table = load_table(b"a\tb\n1\t2\n", "blob.bin", content_type="text/tab-separated-values; charset=utf-8")
    assert (table.format, table.delimiter) == ("tsv", "\t")

    table = load_table(b'{"a": 1}\n{"a": 2}\n', "stream", content_type="application/x-ndjson")
    assert table.format == "jsonl"


@pytest.mark.parametrize(
    ("content", "filename", "detected"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, "chart.png", "PNG image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, "renamed.csv", "PNG image"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "report.pdf", "PDF document"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 16, "photo", "JPEG image"),
        (_zip({"data.csv": b"a,b\n1,2\n"}), "archive.zip", "ZIP archive"),
        (_zip({"word/document.xml": b"<w/>"}), "letter.csv", "Word document (.docx)"),
        (_zip({"xl/workbook.bin": b"\x00"}), "book.xlsb", "Excel binary workbook (.xlsb)"),
        (b"\x00\x01\x02\x03\x04\x05\x00\x00\xff\x10" * 20, "blob", "unknown binary"),
        (b"<!DOCTYPE html><html><body><table></table></body></html>", "page", "HTML/XML document"),
    ],
)
def test_unsupported_content_names_the_detected_type(content: bytes, filename: str, detected: str) -> None:
    with pytest.raises(UnsupportedFormatError) as caught:
        load_table(content, filename)

    assert caught.value.details["detected_type"] == detected
    assert caught.value.http_status == 415


def test_binary_extension_with_text_content_is_loaded_as_text() -> None:
    table = load_table(b"a,b\n1,2\n", "export.xlsx")

    assert table.format == "csv"
    assert _warned(table, "suggests Excel", "text")


def test_binary_extension_with_binary_garbage_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="not a valid Parquet"):
        load_table(b"\x00\x01\x02\x00" * 10, "data.parquet")


# ------------------------------------------------------------------------ empty / limits


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"   \n\t\r\n",
        b"\xef\xbb\xbf",
        b"\xef\xbb\xbf  \n",
        "  \n".encode("utf-16"),
        gzip.compress(b"  \n"),
    ],
)
def test_empty_input_raises_empty_data(content: bytes) -> None:
    with pytest.raises(EmptyDataError):
        load_table(content, "empty.csv.gz" if content.startswith(b"\x1f\x8b") else "empty.csv")


def test_header_only_csv_is_empty() -> None:
    with pytest.raises(EmptyDataError, match="no data rows"):
        load_table(b"a,b,c\n", "header.csv")


def test_byte_limit_message_uses_human_units() -> None:
    with pytest.raises(DataTooLargeError) as caught:
        load_table(b"a\n" + b"1\n" * 1536, "big.csv", limits=LoadLimits(max_bytes=2048))

    assert caught.value.message == "The file is 3 KiB, over the 2 KiB limit."
    assert caught.value.details == {"size_bytes": "3074", "limit_bytes": "2048"}
    assert caught.value.http_status == 413


def test_default_limit_reads_as_512_mib() -> None:
    limits = LoadLimits()
    assert (limits.max_bytes, limits.max_rows, limits.max_columns) == (512 * 1024 * 1024, 20_000_000, 2_000)

    with pytest.raises(DataTooLargeError, match=r"1\.5 MiB, over the 1 MiB limit"):
        load_table(b"x" * (1536 * 1024), "big.csv", limits=LoadLimits(max_bytes=1024 * 1024))


@pytest.mark.parametrize(
    ("content", "filename"),
    [
        (b"a\n" + b"1\n" * 11, "rows.csv"),
        (json.dumps([{"a": index} for index in range(11)]).encode(), "rows.json"),
        (b'{"a": 1}\n' * 11, "rows.jsonl"),
    ],
)
def test_row_limit(content: bytes, filename: str) -> None:
    with pytest.raises(DataTooLargeError, match="more than 10 rows"):
        load_table(content, filename, limits=LoadLimits(max_rows=10))


def test_row_limit_at_exactly_the_limit_is_accepted() -> None:
    table = load_table(b"a\n" + b"1\n" * 10, "rows.csv", limits=LoadLimits(max_rows=10))

    assert len(table.frame) == 10


def test_excel_row_limit() -> None:
    content = _xlsx({"S": [["a"]] + [[index] for index in range(11)]})

    with pytest.raises(DataTooLargeError, match="more than 10 rows"):
        load_table(content, "rows.xlsx", limits=LoadLimits(max_rows=10))


@pytest.mark.parametrize(
    ("content", "filename"),
    [
        (
            b",".join(b"c%d" % index for index in range(6))
            + b"\n"
            + b",".join(b"1" for _ in range(6))
            + b"\n",
            "w.csv",
        ),
        (json.dumps([{f"c{index}": 1 for index in range(6)}]).encode(), "w.json"),
        (json.dumps({"n": {f"c{index}": 1 for index in range(6)}}).encode(), "nested.json"),
    ],
)
def test_column_limit(content: bytes, filename: str) -> None:
    with pytest.raises(DataTooLargeError, match="6 columns, over the 5 column limit"):
        load_table(content, filename, limits=LoadLimits(max_columns=5))


def test_parquet_and_excel_column_limits() -> None:
    parquet = _parquet(pa.table({f"c{index}": [1] for index in range(6)}))
    with pytest.raises(DataTooLargeError, match="6 columns"):
        load_table(parquet, "w.parquet", limits=LoadLimits(max_columns=5))

    excel = _xlsx({"S": [[f"c{index}" for index in range(6)], [1] * 6]})
    with pytest.raises(DataTooLargeError, match="6 columns"):
        load_table(excel, "w.xlsx", limits=LoadLimits(max_columns=5))


def test_xlsx_that_unpacks_far_beyond_the_byte_limit_is_refused() -> None:
    content = _xlsx({"S": [["text"]] + [["the same long sentence repeated " * 4] for _ in range(3000)]})
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        expanded = sum(info.file_size for info in archive.infolist())
    assert expanded > 10 * len(content)  # precondition: a highly compressible workbook

    with pytest.raises(DataTooLargeError, match="unpacks to"):
        load_table(content, "dense.xlsx", limits=LoadLimits(max_bytes=len(content)))


def test_invalid_limits_are_programming_errors() -> None:
    with pytest.raises(ValueError, match="max_rows"):
        LoadLimits(max_rows=0)
    with pytest.raises(ValueError, match="max_bytes"):
        LoadLimits(max_bytes=True)


def test_invalid_arguments() -> None:
    with pytest.raises(InvalidInputError, match="bytes"):
        load_table("a,b\n1,2", "text.csv")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="file name"):
        load_table(b"a\n1\n", None)  # type: ignore[arg-type]

    table = load_table(bytearray(b"a\n1\n"), "bytes.csv")  # type: ignore[arg-type]
    assert table.frame["a"].tolist() == [1]


# ------------------------------------------------------------------ names and hostile data


def test_blank_duplicate_and_padded_headers_are_renamed() -> None:
    content = b"id, name ,,id,ID,,id_2\n1,a,b,2,3,c,4\n"

    table = load_table(content, "names.csv")

    assert list(table.frame.columns) == ["id", "name", "column_3", "id_3", "ID_4", "column_6", "id_2"]
    assert table.frame.iloc[0].tolist() == [1, "a", "b", 2, 3, "c", 4]
    assert _warned(table, "Column 2", "' name '", "'name'", "whitespace")
    assert _warned(table, "Column 3", "'column_3'", "blank header")
    assert _warned(table, "Column 4", "'id'", "'id_3'", "duplicate")
    assert _warned(table, "Column 5", "'ID'", "'ID_4'", "duplicate")
    assert sum("renamed" in note for note in table.warnings) == 5


def test_control_characters_and_long_names_are_cleaned() -> None:
    long_name = "x" * 300
    content = f'"a\x07b","multi\nline",{long_name},{long_name}\n1,2,3,4\n'.encode()

    table = load_table(content, "hostile.csv")

    columns = list(table.frame.columns)
    assert columns[0] == "a b"
    assert columns[1] == "multi line"
    assert columns[2] == "x" * 128
    assert columns[3] == "x" * 126 + "_2"
    assert all(len(name) <= 128 for name in columns)
    assert _warned(table, "Column 1", "control characters")
    assert _warned(table, "Column 3", "truncated to 128")
    # Warning texts escape hostile characters rather than echoing them raw.
    assert not any("\x07" in note for note in table.warnings)


def test_invisible_characters_are_removed_from_names() -> None:
    content = "\u202eevil\u202c,to\u200btal\n1,2\n".encode()

    table = load_table(content, "bidi.csv")

    assert list(table.frame.columns) == ["evil", "total"]
    assert _warned(table, "Column 1", "invisible formatting characters removed")
    assert _warned(table, "Column 2", "invisible formatting characters removed")


def test_non_string_column_names_become_strings() -> None:
    content = _xlsx({"S": [[2023, 2024, 1.5], [1, 2, 3]]})

    table = load_table(content, "years.xlsx")

    assert list(table.frame.columns) == ["2023", "2024", "1.5"]
    assert all(isinstance(name, str) for name in table.frame.columns)


def test_formula_looking_cells_are_kept_as_text_with_a_warning() -> None:
    content = b"name,cmd\nkim,\"=cmd|' /C calc'!A0\"\nlee,@SUM(1+1)\npark,-5\nchoi,+hyperlink\n"

    table = load_table(content, "inject.csv")

    assert table.frame["cmd"].tolist() == ["=cmd|' /C calc'!A0", "@SUM(1+1)", "-5", "+hyperlink"]
    assert _warned(table, "'cmd'", "3 value(s)", "spreadsheet formulas", "never evaluated")
    assert not _warned(table, "'name'", "formulas")


def test_control_characters_in_values_are_kept_with_a_warning() -> None:
    content = b"id,text\n1,ok\n2,bell\x07here\n3,esc\x1b[31m\n"

    table = load_table(content, "ctrl.csv")

    assert table.frame["text"].tolist() == ["ok", "bell\x07here", "esc\x1b[31m"]
    assert _warned(table, "'text'", "2 value(s)", "control characters")


def test_error_messages_never_contain_the_path() -> None:
    with pytest.raises(ParseError) as caught:
        load_table(b"a,b\n1,2\n3,4,5\n", "/srv/uploads/secret-tenant/file.csv")

    assert "secret-tenant" not in caught.value.message
    assert "/srv" not in caught.value.message


# -------------------------------------------------------------------------- infer_schema


def test_infer_schema_logical_types() -> None:
    rows = 100
    frame = pd.DataFrame(
        {
            "i": np.arange(rows, dtype="int64"),
            "f": np.linspace(0, 1, rows),
            "b": [True, False] * (rows // 2),
            "nb": pd.array([True, None] * (rows // 2), dtype="boolean"),
            "d": pd.date_range("2024-01-01", periods=rows, freq="D"),
            "dz": pd.date_range("2024-01-01", periods=rows, freq="h", tz="UTC"),
            "cat": ["a", "b", "c", "d", "e"] * (rows // 5),
            "s": [f"id-{index}" for index in range(rows)],
            "pc": pd.Categorical(["x", "y"] * (rows // 2)),
            "empty": pd.Series([None] * rows, dtype=object),
        }
    )

    schema = infer_schema(frame)

    assert schema == [
        {"name": "i", "dtype": "int64", "logical_type": "integer"},
        {"name": "f", "dtype": "float64", "logical_type": "float"},
        {"name": "b", "dtype": "bool", "logical_type": "boolean"},
        {"name": "nb", "dtype": "boolean", "logical_type": "boolean"},
        {"name": "d", "dtype": "datetime64[us]", "logical_type": "datetime"},
        {"name": "dz", "dtype": "datetime64[us, UTC]", "logical_type": "datetime"},
        {"name": "cat", "dtype": "str", "logical_type": "categorical"},
        {"name": "s", "dtype": "str", "logical_type": "string"},
        {"name": "pc", "dtype": "category", "logical_type": "categorical"},
        {"name": "empty", "dtype": "object", "logical_type": "string"},
    ]


def test_infer_schema_categorical_thresholds() -> None:
    # 6 distinct values in 100 rows is above 5%: free text, not a category.
    frame = pd.DataFrame({"six": [str(index % 6) + "x" for index in range(100)]})
    assert infer_schema(frame)[0]["logical_type"] == "string"

    # More than 1000 distinct values is never categorical, however many rows there are.
    big = pd.DataFrame({"k": [f"k{index % 1001}" for index in range(30_000)]})
    assert infer_schema(big)[0]["logical_type"] == "string"
    small = pd.DataFrame({"k": [f"k{index % 1000}" for index in range(30_000)]})
    assert infer_schema(small)[0]["logical_type"] == "categorical"


def test_infer_schema_counts_every_row_when_the_probe_is_not_decisive() -> None:
    rows = 100_000  # over the probe size, so an evenly spaced part is looked at first
    ids = pd.DataFrame({"id": [f"order-{index}" for index in range(rows)]})
    assert infer_schema(ids)[0]["logical_type"] == "string"
    # 1,001 distinct values, all of them between the probed rows (every 5th row is "same"):
    # the probe sees one value, the full count decides.
    hidden = ["same" if index % 5 == 0 else f"k{index % 1001}" for index in range(rows)]
    assert pd.Series(hidden)[::5].nunique() == 1
    assert infer_schema(pd.DataFrame({"k": hidden}))[0]["logical_type"] == "string"
    few = ["same" if index % 5 == 0 else f"k{index % 999}" for index in range(rows)]
    assert infer_schema(pd.DataFrame({"k": few}))[0]["logical_type"] == "categorical"


def test_infer_schema_on_loaded_table_and_bad_input() -> None:
    table = load_table(
        b"n,p,flag,day,region\n1,$2.50,yes,2024-01-01,east\n2,$3.00,no,2024-01-02,west\n", "s.csv"
    )

    assert [(item["name"], item["logical_type"]) for item in infer_schema(table.frame)] == [
        ("n", "integer"),
        ("p", "float"),
        ("flag", "boolean"),
        ("day", "datetime"),
        ("region", "string"),
    ]
    with pytest.raises(InvalidInputError):
        infer_schema([1, 2, 3])


# --------------------------------------------------------------------------- performance


def test_a_wide_mixed_table_gets_every_type_right() -> None:
    # The same table at 1M rows is timed by bench/bench_ingestion.py (tests never time).
    rows = 20_000
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "id": np.arange(rows),
            "price": "$" + pd.Series(rng.integers(1, 5000, rows)).astype(str) + ".50",
            "amount": pd.Series(rng.integers(1000, 9999, rows)).map("{:,}".format),
            "when": pd.date_range("2020-01-01", periods=rows, freq="min").strftime("%Y-%m-%d %H:%M:%S"),
            "flag": rng.choice(["yes", "no"], rows),
            "region": rng.choice(["north", "south", "east", "west"], rows),
            "name": "user" + pd.Series(np.arange(rows)).astype(str),
            "x": rng.random(rows),
            "y": rng.integers(0, 100, rows),
            "us_date": rng.choice(["01/02/2024", "12/31/2023"], rows),
        }
    )
    content = frame.to_csv(index=False).encode()
    table = load_table(content, "big.csv")

    assert table.frame.shape == (rows, 10)
    assert _dtypes(table) == {
        "id": "int64",
        "price": "float64",
        "amount": "int64",
        "when": "datetime64[us]",
        "flag": "bool",
        "region": "str",
        "name": "str",
        "x": "float64",
        "y": "int64",
        "us_date": "datetime64[us]",
    }
    assert table.frame["amount"].iloc[0] == int(frame["amount"].iloc[0].replace(",", ""))


def test_loader_module_stays_pure_logic() -> None:
    import ast
    from pathlib import Path

    import functions.ingestion.loaders as loaders

    tree = ast.parse(Path(loaders.__file__).read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])

    assert imported.isdisjoint({"boto3", "botocore", "fastapi", "a2a", "os"})
