"""Turn the bytes of an uploaded file into a typed pandas DataFrame.

Pure logic: no AWS, no HTTP, no environment. The ingestion skill reads the bytes and hands
them here; everything that can go wrong with the *content* is reported as a typed error from
``analystack.errors`` whose message is safe to show to the user (no paths, no tracebacks, at
most a short, escaped excerpt of the offending data).

Detection prefers evidence in this order: content signatures ("magic bytes") for binary
formats, then the file extension, then the declared content type, then text sniffing. Magic
bytes win because uploads are often misnamed (a ``.xls`` that is really ``.xlsx``, a ``.csv``
that is really a PNG), while extensions are the only way to tell CSV from TSV cheaply.

Everything that is silently "fixed" (renamed columns, converted types, skipped sheets, guessed
encodings) is listed in ``LoadedTable.warnings`` so the user can see what was done to the data.
"""

from __future__ import annotations

import codecs
import csv
import functools
import gzip
import io
import json
import math
import re
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib.util import find_spec
from typing import Any, Final

import charset_normalizer
import numpy as np
import pandas as pd
from pandas.api.types import (
    infer_dtype,
    is_bool_dtype,
    is_datetime64_any_dtype,
    is_float_dtype,
    is_integer_dtype,
    is_object_dtype,
    is_string_dtype,
)
from pandas.tseries.api import guess_datetime_format

from analystack.errors import (
    DataTooLargeError,
    DecodingError,
    EmptyDataError,
    InvalidInputError,
    ParseError,
    UnsupportedFormatError,
)

__all__ = ["LoadLimits", "LoadedTable", "infer_schema", "load_table"]

FORMAT_CSV: Final = "csv"
FORMAT_TSV: Final = "tsv"
FORMAT_EXCEL: Final = "excel"
FORMAT_JSON: Final = "json"
FORMAT_JSONL: Final = "jsonl"
FORMAT_PARQUET: Final = "parquet"

MAX_COLUMN_NAME_CHARS: Final = 128
# A column converts to numbers/dates when at least this share of its non-empty values parse:
# strict enough that a text column with a few numbers stays text, loose enough that a numeric
# column with a stray "n/a" or "#DIV/0!" is still recognised.
CONVERSION_THRESHOLD: Final = 0.95
CATEGORICAL_MAX_RATIO: Final = 0.05
CATEGORICAL_MAX_DISTINCT: Final = 1000
# Rows of a column infer_schema looks at before counting all its distinct values.
_SCHEMA_PROBE_ROWS: Final = 20_000

# Internal "kinds" are finer than the public formats: "text" means sniff JSON vs delimited,
# "xls" is the legacy binary workbook that needs xlrd.
_TEXT: Final = "text"
_XLS: Final = "xls"
_TEXT_KINDS: Final = frozenset({FORMAT_CSV, FORMAT_TSV, FORMAT_JSON, FORMAT_JSONL, _TEXT})
# Kinds that may hold delimited text (plain text may also turn out to be JSON).
_DELIMITED_KINDS: Final = frozenset({FORMAT_CSV, FORMAT_TSV, _TEXT})
_BINARY_KINDS: Final = frozenset({FORMAT_EXCEL, FORMAT_PARQUET, _XLS})

_EXTENSIONS: Final[dict[str, str]] = {
    "csv": FORMAT_CSV,
    "tsv": FORMAT_TSV,
    "tab": FORMAT_TSV,
    "txt": _TEXT,
    "xlsx": FORMAT_EXCEL,
    "xlsm": FORMAT_EXCEL,
    "xls": _XLS,
    "json": FORMAT_JSON,
    "jsonl": FORMAT_JSONL,
    "ndjson": FORMAT_JSONL,
    "parquet": FORMAT_PARQUET,
    "pq": FORMAT_PARQUET,
}
# Only text hints are useful: binary formats are recognised from their bytes, and browsers
# label CSV uploads "application/vnd.ms-excel" on Windows, so Excel hints would mislead.
_CONTENT_TYPES: Final[dict[str, str]] = {
    "text/csv": FORMAT_CSV,
    "application/csv": FORMAT_CSV,
    "text/tab-separated-values": FORMAT_TSV,
    "application/json": FORMAT_JSON,
    "text/json": FORMAT_JSON,
    "application/x-ndjson": FORMAT_JSONL,
    "application/ndjson": FORMAT_JSONL,
    "application/jsonl": FORMAT_JSONL,
    "application/x-jsonlines": FORMAT_JSONL,
    "text/plain": _TEXT,
}
_KIND_LABELS: Final[dict[str, str]] = {
    FORMAT_CSV: "CSV",
    FORMAT_TSV: "TSV",
    FORMAT_JSON: "JSON",
    FORMAT_JSONL: "JSON Lines",
    _TEXT: "text",
    FORMAT_EXCEL: "Excel (.xlsx)",
    FORMAT_PARQUET: "Parquet",
    _XLS: "Excel 97-2003 (.xls)",
}
_SUPPORTED_HINT: Final = "Supported formats: CSV/TSV, Excel (.xlsx/.xlsm), JSON, JSON Lines and Parquet."

_GZIP_MAGIC: Final = b"\x1f\x8b"
_ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"
# Compression recognised by the file name's last suffix: ``(codec, magic bytes, label)``.
_COMPRESSED_SUFFIXES: Final[dict[str, tuple[str, bytes, str]]] = {
    ".gz": ("gzip", _GZIP_MAGIC, "Gzip"),
    ".zst": ("zstd", _ZSTD_MAGIC, "Zstandard"),
    ".zstd": ("zstd", _ZSTD_MAGIC, "Zstandard"),
}
_PARQUET_MAGIC: Final = b"PAR1"
_ZIP_MAGICS: Final = (b"PK\x03\x04", b"PK\x05\x06")
_OLE_MAGIC: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Signatures of things people upload by mistake; naming them makes the error actionable.
_UNSUPPORTED_MAGIC: Final[tuple[tuple[bytes, str], ...]] = (
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"%PDF-", "PDF document"),
    (b"SQLite format 3\x00", "SQLite database"),
    (b"ARROW1", "Arrow IPC/Feather file"),
    (b"Obj\x01", "Avro file"),
    (b"Rar!\x1a\x07", "RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
    (b"\xfd7zXZ\x00", "XZ archive"),
    (_ZSTD_MAGIC, "Zstandard-compressed file"),
    (b"\x7fELF", "ELF executable"),
    (b"RIFF", "RIFF media file"),
    (b"OggS", "Ogg media file"),
    (b"ID3", "MP3 audio file"),
)
_BOMS: Final[tuple[tuple[bytes, str], ...]] = (
    # UTF-32 LE must come before UTF-16 LE: its BOM starts with the UTF-16 one.
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
_NOT_BLANK: Final = re.compile(rb"[^\s\x00]")

# Zipped XML expands a lot; a workbook that claims more than this multiple of the byte limit
# when unpacked is treated as a zip bomb rather than parsed.
_XLSX_EXPANSION_FACTOR: Final = 10
_SNIFF_BYTES: Final = 8192
_DELIMITER_SAMPLE_CHARS: Final = 65536
_ENCODING_SAMPLE_BYTES: Final = 1 << 20
_TYPE_SAMPLE_SIZE: Final = 1000
_DELIMITERS: Final = (",", ";", "\t", "|")

_CONTROL_CHARS: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
# Zero-width and bidirectional-override characters make two names look identical or make a
# name render backwards ("Trojan Source"); in a column name they are never intended.
_INVISIBLE_CHARS: Final = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_VALUE_CONTROL_PATTERN: Final = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
# Every byte but those of _VALUE_CONTROL_PATTERN: bytes.translate deleting them leaves the hits.
_NOT_VALUE_CONTROL_BYTES: Final = bytes(
    value for value in range(256) if not re.fullmatch(_VALUE_CONTROL_PATTERN.encode(), bytes([value]))
)
_FORMULA_PATTERN: Final = r"[=+\-@\t\r]"
_SIGNED_NUMBER_PATTERN: Final = r"[+\-]?[\d.,]+%?"
# What Python's re matches with \s in text (str.isspace(); a test pins the list). Spelled out
# because pandas runs a pattern containing \s through Python's re one value at a time (RE2's
# \s is ASCII-only), while a literal class goes to Arrow's RE2: same matches, ~10x faster.
_UNICODE_WHITESPACE: Final = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
# Fullwidth ￦/￥ are what CP949/Shift-JIS text uses for the won and yen signs.
_NUMBER_NOISE_PATTERN: Final = f"[{_UNICODE_WHITESPACE}$€£¥₩￦￥]"
_US_NUMBER: Final = r"[+\-]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:[eE][+\-]?\d+)?"
_EU_NUMBER: Final = r"[+\-]?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+)?"
# A four-digit year, a d/m/y triple, or a month name.
_DATE_PART_PATTERN: Final = r"\d{4}|\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2}|[A-Za-z]{3}"
_BOOLEANS: Final[dict[str, bool]] = {"true": True, "false": False, "yes": True, "no": False}
_CSV_FIELDS_ERROR: Final = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_CSV_EOF_ERROR: Final = re.compile(r"EOF inside string starting at row (\d+)")


@dataclass(frozen=True)
class LoadLimits:
    """Upper bounds that keep one upload from exhausting a Lambda's memory or time.

    Attributes:
        max_bytes: Largest accepted input, also applied to decompressed (gzip, zstd) content
            so a small compressed upload cannot expand past it.
        max_rows: Largest number of data rows (the header does not count).
        max_columns: Largest number of columns after JSON/Parquet flattening.
    """

    max_bytes: int = 512 * 1024 * 1024
    max_rows: int = 20_000_000
    max_columns: int = 2_000

    def __post_init__(self) -> None:
        # Limits are configuration, not user input: a bad value is a programming error.
        for name in ("max_bytes", "max_rows", "max_columns"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"LoadLimits.{name} must be a positive integer, got {value!r}")


@dataclass
class LoadedTable:
    """A parsed table plus what was detected and changed on the way.

    Attributes:
        frame: The data, with unique string column names and inferred dtypes.
        format: One of ``csv``, ``tsv``, ``excel``, ``json``, ``jsonl``, ``parquet``.
        encoding: Text encoding used to decode the bytes; ``None`` for binary formats.
        delimiter: Field separator of delimited text; ``None`` otherwise.
        warnings: Human-readable notes on everything that was guessed, renamed or converted.
        sheet_name: The Excel sheet that was loaded; ``None`` for other formats.
        compression: ``"gzip"`` or ``"zstd"`` when the upload was compressed, else ``None``.
    """

    frame: pd.DataFrame
    format: str
    encoding: str | None
    delimiter: str | None
    warnings: list[str] = field(default_factory=list)
    sheet_name: str | None = None
    compression: str | None = None


_DEFAULT_LIMITS: Final = LoadLimits()


def load_table(
    data: bytes,
    filename: str,
    *,
    limits: LoadLimits = _DEFAULT_LIMITS,
    content_type: str | None = None,
) -> LoadedTable:
    """Detect the format of ``data``, parse it and infer column types.

    Args:
        data: The raw bytes of the upload.
        filename: The user's file name; only its extension is used (it may include a path,
            which is never echoed back in messages).
        limits: Size bounds; checked before parsing wherever the format allows it.
        content_type: Optional MIME type from the upload, used only when the extension is
            missing or unknown.

    Returns:
        The parsed table with detection results and warnings.

    Raises:
        InvalidInputError: ``data`` is not bytes or ``filename`` is not a string.
        EmptyDataError: No content, or a table with no columns or no rows.
        DataTooLargeError: Over ``limits`` (bytes, decompressed bytes, rows or columns).
        UnsupportedFormatError: A recognisably different file type (image, PDF, archive...).
        DecodingError: Text whose encoding cannot be determined.
        ParseError: Malformed content; the message locates the problem when possible.
    """
    payload = _as_bytes(data)
    # Only ``payload`` refers to the upload from here on, so a caller that keeps no reference
    # of its own lets the compressed bytes go once decompressed and the text once parsed.
    del data
    if not isinstance(filename, str):
        raise InvalidInputError("The file name must be a string.")
    _check_size(len(payload), limits.max_bytes, what="The file")
    _ensure_not_blank(payload)

    notes: list[str] = []
    kind, suffix = _kind_from_filename(filename)
    compression: str | None = None
    named = _COMPRESSED_SUFFIXES.get(suffix)
    if named is None and kind is None and payload.startswith(_GZIP_MAGIC):
        named = _COMPRESSED_SUFFIXES[".gz"]
    elif named is None and payload.startswith(_ZSTD_MAGIC):
        # Also under the table's own name: the CLI uploads text tables zstd-compressed and
        # keeps the user's file name (sales.csv).
        named = _COMPRESSED_SUFFIXES[".zst"]
    if named is not None:
        codec, magic, label = named
        if kind is not None and kind not in _TEXT_KINDS:
            raise UnsupportedFormatError(
                f"{label}-compressed {_KIND_LABELS[kind]} files are not supported; upload the file "
                f"uncompressed (only CSV, TSV, JSON and JSON Lines may be {codec}-compressed)."
            )
        if payload.startswith(magic):
            payload = _decompress(payload, codec, limits.max_bytes)
            compression = codec
            _ensure_not_blank(payload)
        else:
            notes.append(
                f"The file name ends in {suffix} but the content is not {codec}-compressed; read it as is."
            )
    if kind is None:
        kind = _kind_from_content_type(content_type)
    kind = _reconcile_with_content(kind, payload, compressed=compression is not None, notes=notes)

    fields = _parse_delimited_with_arrow(payload, kind, limits) if kind in _DELIMITED_KINDS else None
    if fields is not None:
        del payload  # Arrow holds every field: the upload's bytes go before the columns are typed
        table = _arrow_fields_table(fields, notes)
    else:
        table = _load_kind(payload, kind, limits, notes)
        del payload  # parsed: type inference below needs only the frame
    table.compression = compression

    table.frame = _finalise(table, limits, notes, decimal_comma=table.delimiter == ";")
    return table


def _load_kind(payload: bytes, kind: str, limits: LoadLimits, notes: list[str]) -> LoadedTable:
    if kind == FORMAT_PARQUET:
        return LoadedTable(_load_parquet(payload, limits), FORMAT_PARQUET, None, None, notes)
    if kind == FORMAT_EXCEL:
        frame, sheet = _load_excel(payload, limits, notes)
        return LoadedTable(frame, FORMAT_EXCEL, None, None, notes, sheet_name=sheet)
    if kind == _XLS:
        frame, sheet = _load_xls(payload)
        return LoadedTable(frame, FORMAT_EXCEL, None, None, notes, sheet_name=sheet)
    return _load_text(payload, kind, limits, notes)


def infer_schema(frame: pd.DataFrame) -> list[dict[str, str]]:
    """Describe each column with its pandas dtype and a coarse logical type.

    The logical type is what the analysis agents and the LLM planner reason about, so it is
    deliberately small: ``integer``, ``float``, ``boolean``, ``datetime``, ``string`` or
    ``categorical`` (text with few distinct values: at most 5% of the rows and at most 1000,
    which is what makes a column useful for grouping).

    Args:
        frame: Any DataFrame, typically ``LoadedTable.frame``.

    Returns:
        One ``{"name", "dtype", "logical_type"}`` dict per column, in column order.

    Raises:
        InvalidInputError: ``frame`` is not a DataFrame.
    """
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInputError("infer_schema expects a pandas DataFrame.")
    rows = len(frame)
    schema: list[dict[str, str]] = []
    for position in range(frame.shape[1]):
        column = frame.iloc[:, position]
        schema.append(
            {
                "name": str(frame.columns[position]),
                "dtype": str(column.dtype),
                "logical_type": _logical_type(column, rows),
            }
        )
    return schema


def _logical_type(column: pd.Series, rows: int) -> str:
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if is_bool_dtype(dtype):
        return "boolean"
    if is_integer_dtype(dtype):
        return "integer"
    if is_float_dtype(dtype):
        return "float"
    if is_datetime64_any_dtype(dtype):
        return "datetime"
    if is_string_dtype(dtype) or is_object_dtype(dtype):
        limit = min(CATEGORICAL_MAX_DISTINCT, CATEGORICAL_MAX_RATIO * rows)
        try:
            # A part of the column never has more distinct values than the whole, so an evenly
            # spaced part over the limit settles it exactly: identifiers and free text on 1M
            # rows are decided from ~20k values instead of hashing them all (0.3 s per column).
            step = max(1, len(column) // _SCHEMA_PROBE_ROWS)
            if step > 1 and int(column.iloc[::step].nunique(dropna=True)) > limit:
                return "string"
            distinct = int(column.nunique(dropna=True))
        except TypeError:  # lists or dicts: unhashable, so never a grouping key
            return "string"
        if 0 < distinct <= limit:
            return "categorical"
    return "string"


# --------------------------------------------------------------------------- input checks


def _as_bytes(data: object) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, bytearray | memoryview):
        return bytes(data)
    raise InvalidInputError("The file content must be bytes.")


def _human_bytes(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    text = f"{value:.1f}".removesuffix(".0")
    return f"{text} {unit}"


def _check_size(size: int, limit: int, *, what: str) -> None:
    if size > limit:
        raise DataTooLargeError(
            f"{what} is {_human_bytes(size)}, over the {_human_bytes(limit)} limit.",
            details={"size_bytes": str(size), "limit_bytes": str(limit)},
        )


def _ensure_not_blank(payload: bytes) -> None:
    start = 0
    for bom, _ in _BOMS:
        if payload.startswith(bom):
            start = len(bom)
            break
    # Searching for the first meaningful byte avoids copying a large payload just to strip it.
    if _NOT_BLANK.search(payload, start) is None:
        raise EmptyDataError("The file is empty (no data, only whitespace or a byte-order mark).")


def _decompress(payload: bytes, codec: str, max_bytes: int) -> bytes:
    # Read one byte past the limit so a decompression bomb is detected without ever holding
    # more than the limit in memory.
    if codec == "zstd":
        import pyarrow as pa

        try:
            with pa.CompressedInputStream(pa.BufferReader(payload), "zstd") as zstd_stream:
                content = zstd_stream.read(max_bytes + 1)
        except (OSError, pa.ArrowException, ValueError) as exc:
            raise ParseError("The zstd-compressed file is damaged or truncated.") from exc
    else:
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(payload)) as gzip_stream:
                content = gzip_stream.read(max_bytes + 1)
        except (OSError, EOFError, zlib.error) as exc:
            raise ParseError("The gzip-compressed file is damaged or truncated.") from exc
    if len(content) > max_bytes:
        raise DataTooLargeError(
            f"The file decompresses to more than {_human_bytes(max_bytes)}, over the limit.",
            details={"limit_bytes": str(max_bytes)},
        )
    return content


# ------------------------------------------------------------------------- format detection


def _kind_from_filename(filename: str) -> tuple[str | None, str]:
    """The table kind the name suggests and its compression suffix (``".gz"``, ``".zst"`` or ``""``)."""
    name = re.split(r"[\\/]", filename.strip())[-1].lower()
    suffix = next((item for item in _COMPRESSED_SUFFIXES if name.endswith(item)), "")
    name = name[: len(name) - len(suffix)]
    if "." not in name:
        return None, suffix
    return _EXTENSIONS.get(name.rsplit(".", 1)[1]), suffix


def _kind_from_content_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    return _CONTENT_TYPES.get(content_type.split(";", 1)[0].strip().lower())


def _zip_kind(payload: bytes) -> tuple[str | None, str]:
    """Classify a zip container by its members: only xlsx/xlsm workbooks are tables."""
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            names = archive.namelist()
            mimetype = archive.read("mimetype")[:100] if "mimetype" in names else b""
    except (zipfile.BadZipFile, OSError, ValueError, KeyError, EOFError, zlib.error):
        return None, "damaged ZIP archive"
    if "xl/workbook.xml" in names:
        return FORMAT_EXCEL, "Excel workbook"
    if "xl/workbook.bin" in names:
        return None, "Excel binary workbook (.xlsb)"
    if b"opendocument.spreadsheet" in mimetype:
        return None, "OpenDocument spreadsheet (.ods)"
    if any(name.startswith("word/") for name in names):
        return None, "Word document (.docx)"
    if any(name.startswith("ppt/") for name in names):
        return None, "PowerPoint presentation (.pptx)"
    return None, "ZIP archive"


def _signature(payload: bytes) -> tuple[str | None, str | None]:
    """Return ``(kind, description)`` from magic bytes; ``(None, None)`` when nothing matched.

    A description with ``kind=None`` names a recognised but unsupported file type.
    """
    if payload.startswith(_PARQUET_MAGIC):
        return FORMAT_PARQUET, "Parquet file"
    if payload.startswith(_ZIP_MAGICS):
        return _zip_kind(payload)
    if payload.startswith(_OLE_MAGIC):
        return _XLS, "legacy Office (OLE2) document such as an Excel 97-2003 .xls workbook"
    if payload.startswith(_GZIP_MAGIC):
        return None, "gzip-compressed file"
    for magic, description in _UNSUPPORTED_MAGIC:
        if payload.startswith(magic):
            return None, description
    if payload[4:8] == b"ftyp":
        return None, "MP4/QuickTime media file"
    return None, None


def _looks_binary(payload: bytes) -> bool:
    head = payload[:_SNIFF_BYTES]
    if head.startswith(tuple(bom for bom, _ in _BOMS)):
        return False
    if head.count(0) == 0:
        return False
    # UTF-16 without a BOM has a NUL in every other byte for Latin text; that is text.
    return _utf16_without_bom(head) is None


def _utf16_without_bom(head: bytes) -> str | None:
    half = len(head) // 2
    if half < 2:
        return None
    even_nuls = head[0::2].count(0)
    odd_nuls = head[1::2].count(0)
    if odd_nuls >= 0.4 * half and even_nuls <= 0.05 * half:
        return "utf-16-le"
    if even_nuls >= 0.4 * half and odd_nuls <= 0.05 * half:
        return "utf-16-be"
    return None


def _reconcile_with_content(kind: str | None, payload: bytes, *, compressed: bool, notes: list[str]) -> str:
    sig_kind, description = _signature(payload)
    if description is not None and sig_kind is None:
        prefix = "The decompressed content" if compressed else "The file"
        raise UnsupportedFormatError(
            f"{prefix} is a {description}, which is not a supported table format. {_SUPPORTED_HINT}",
            details={"detected_type": description},
        )
    if sig_kind is not None:
        if kind is not None and kind != sig_kind:
            notes.append(
                f"The file name suggests {_KIND_LABELS[kind]} but the content is {_KIND_LABELS[sig_kind]}; "
                f"loaded it as {_KIND_LABELS[sig_kind]}."
            )
        return sig_kind
    if kind in _BINARY_KINDS:
        assert kind is not None
        if _looks_binary(payload):
            raise ParseError(f"The file is not a valid {_KIND_LABELS[kind]} file; it may be damaged.")
        notes.append(
            f"The file name suggests {_KIND_LABELS[kind]} but the content is text; loaded it as text."
        )
        return _TEXT
    if kind is None:
        if _looks_binary(payload):
            raise UnsupportedFormatError(
                f"The file is binary data of an unrecognised type. {_SUPPORTED_HINT}",
                details={"detected_type": "unknown binary"},
            )
        return _TEXT
    return kind


# --------------------------------------------------------------------------------- text


def _decode(payload: bytes, notes: list[str]) -> tuple[str, str]:
    """Decode text, preferring certain evidence (BOMs, UTF-8 validity) over statistical guesses."""
    for bom, codec in _BOMS:
        if payload.startswith(bom):
            try:
                return payload.decode(codec), codecs.lookup(codec).name
            except UnicodeDecodeError as exc:
                raise DecodingError(
                    f"The file starts with a {codec.upper()} byte-order mark but is not valid "
                    f"{codec.upper()} (invalid bytes at offset {exc.start}).",
                    details={"offset": str(exc.start)},
                ) from None
    utf16 = _utf16_without_bom(payload[:_SNIFF_BYTES])
    if utf16 is not None:
        try:
            text = payload.decode(utf16)
        except UnicodeDecodeError:
            pass
        else:
            notes.append(
                f"The text has no byte-order mark; decoded it as {utf16.upper()} from its byte pattern."
            )
            return text, utf16
    try:
        return payload.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        utf8_error = exc
    for candidate in _guess_encodings(payload):
        try:
            text = payload.decode(candidate)
        except (UnicodeDecodeError, LookupError):
            continue
        notes.append(
            f"The text is not UTF-8; decoded it as {candidate} (detected automatically, please check)."
        )
        return text, candidate
    raise DecodingError(
        "Could not decode the file as text: it is not valid UTF-8 (first invalid byte at offset "
        f"{utf8_error.start}) and no other encoding fits. Save it as UTF-8 and upload it again.",
        details={"offset": str(utf8_error.start)},
    )


def _guess_encodings(payload: bytes) -> list[str]:
    sample = payload[:_ENCODING_SAMPLE_BYTES]
    if len(payload) > len(sample):
        # Cut at a newline so the sample does not end inside a multi-byte character (0x0A is
        # never a trail byte in the legacy CJK encodings).
        cut = sample.rfind(b"\n")
        if cut > 0:
            sample = sample[: cut + 1]
    candidates: list[str] = []
    for match in charset_normalizer.from_bytes(sample):
        name = codecs.lookup(match.encoding).name
        # UTF-16/32 without a BOM is handled by the NUL-pattern check; charset-normalizer
        # sometimes proposes it for short CJK text, where it produces garbage.
        if name.startswith(("utf-16", "utf-32")):
            continue
        # CP949 is a strict superset of EUC-KR and is what Korean Windows actually writes.
        if name == "euc_kr":
            name = "cp949"
        if name not in candidates:
            candidates.append(name)
    return candidates


def _sample_text(text: str) -> str:
    if len(text) <= _DELIMITER_SAMPLE_CHARS:
        return text
    sample = text[:_DELIMITER_SAMPLE_CHARS]
    cut = sample.rfind("\n")
    return sample[: cut + 1] if cut > 0 else sample


def _load_text(payload: bytes, kind: str, limits: LoadLimits, notes: list[str]) -> LoadedTable:
    text, encoding = _decode(payload, notes)
    head = _sample_text(text)
    if head.count("\x00") > 0.01 * len(head):
        raise DecodingError(
            "The file contains NUL characters: it is not a text table, or its encoding was not recognised."
        )
    stripped = head.lstrip("\ufeff \t\r\n")
    if kind == _TEXT:
        if stripped.startswith(("[", "{")):
            kind = FORMAT_JSON
        elif stripped.startswith("<"):
            raise UnsupportedFormatError(
                "The file is an HTML or XML document, which is not a supported table format. "
                + _SUPPORTED_HINT,
                details={"detected_type": "HTML/XML document"},
            )
    if kind in (FORMAT_JSON, FORMAT_JSONL):
        frame, fmt = _load_json(
            text,
            functools.partial(_utf8_bytes, payload, text, encoding),
            prefer_lines=kind == FORMAT_JSONL,
            limits=limits,
            notes=notes,
        )
        return LoadedTable(frame, fmt, encoding, None, notes)

    preferred = "\t" if kind == FORMAT_TSV else None
    delimiter = _detect_delimiter(head, preferred)
    if preferred and delimiter != preferred:
        notes.append(
            f"The file name suggests tab-separated values but the fields are separated by {delimiter!r}."
        )
    # pandas' C parser is about 6x faster on UTF-8 bytes than on a Python string.
    buffer = _utf8_bytes(payload, text, encoding)
    del text
    frame = _read_delimited(buffer, delimiter, head, limits, notes)
    fmt = FORMAT_TSV if delimiter == "\t" else FORMAT_CSV
    return LoadedTable(frame, fmt, encoding, delimiter, notes)


def _utf8_bytes(payload: bytes, text: str, encoding: str) -> bytes:
    if encoding == "utf-8":
        return payload
    if encoding == "utf-8-sig":
        return payload[len(codecs.BOM_UTF8) :]
    return text.encode("utf-8")


def _records(sample: str, delimiter: str) -> list[list[str]]:
    truncated = not sample.endswith(("\n", "\r"))
    try:
        rows = [row for row in csv.reader(io.StringIO(sample), delimiter=delimiter) if _is_content_row(row)]
    except csv.Error:
        return []
    if truncated and len(rows) > 1:
        rows.pop()  # the last record may have been cut mid-way by the sampling
    return rows[:500]


def _is_content_row(row: list[str]) -> bool:
    # pandas skips empty and whitespace-only lines; a header guess must skip the same ones.
    return bool(row) and not (len(row) == 1 and not row[0].strip())


def _delimiter_score(sample: str, delimiter: str) -> tuple[float, int]:
    rows = _records(sample, delimiter)
    if not rows or len(rows[0]) < 2:
        return 0.0, 0
    width = len(rows[0])
    consistent = sum(1 for row in rows if len(row) == width) / len(rows)
    return consistent, width


def _detect_delimiter(sample: str, preferred: str | None) -> str:
    """Pick the separator that splits the sample into a consistent number of fields.

    ``csv.Sniffer`` is tried first but its answer is only trusted when the field counts agree,
    because it is easily fooled by decimal commas and by separators inside quoted values.
    """
    if preferred is not None and _delimiter_score(sample, preferred)[0] >= 0.9:
        return preferred
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters="".join(_DELIMITERS)).delimiter
    except csv.Error:
        sniffed = None
    if sniffed in _DELIMITERS and _delimiter_score(sample, sniffed)[0] >= 0.9:
        return sniffed
    scores = {delimiter: _delimiter_score(sample, delimiter) for delimiter in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda delimiter: scores[delimiter])
    if scores[best][1] == 0:
        return preferred or ","  # a single column: any delimiter reads it the same way
    return best


def _read_delimited(
    buffer: bytes, delimiter: str, head: str, limits: LoadLimits, notes: list[str]
) -> pd.DataFrame:
    header_rows = _records(head, delimiter)
    header = header_rows[0] if header_rows else None
    if header is not None and len(header) > limits.max_columns:
        raise _too_many_columns(len(header), limits.max_columns)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", pd.errors.ParserWarning)
            frame = pd.read_csv(
                io.BytesIO(buffer),
                sep=delimiter,
                encoding="utf-8",
                engine="c",
                low_memory=False,  # one dtype per column instead of per chunk
                nrows=limits.max_rows + 1,  # enough to detect "too many rows" without reading them all
                on_bad_lines="error",
            )
    except pd.errors.EmptyDataError as exc:
        raise EmptyDataError("The file has no columns to read.") from exc
    except pd.errors.ParserError as exc:
        raise _csv_parse_error(str(exc)) from None
    except (ValueError, OverflowError, UnicodeDecodeError) as exc:
        raise ParseError(f"Could not parse the delimited text: {_clean_message(str(exc))}") from None

    if not isinstance(frame.index, pd.RangeIndex):
        # The first data row had more fields than the header, so pandas turned the extra
        # leading fields into an index. One extra field is R's write.table layout (row names
        # without a header cell): keep it as data. More than one is a malformed file.
        extra = frame.index.nlevels
        if extra > 1:
            raise ParseError(
                f"The first data row has {frame.shape[1] + extra} fields but the header has "
                f"{frame.shape[1]}; the row may contain unquoted delimiters."
            )
        frame = frame.reset_index()
        if header is not None:
            header = ["", *header]
        notes.append(
            "The header has one field fewer than the data rows; the first field of each row was "
            "kept as an unnamed first column."
        )
    # pandas rewrites blank and duplicate headers ("Unnamed: 1", "a.1"); use the raw header so
    # that the one naming policy in _normalise_names applies to every format.
    if header is not None and len(header) == frame.shape[1]:
        frame.columns = pd.Index(header, dtype=object)
    return frame


def _csv_parse_error(message: str) -> ParseError:
    fields = _CSV_FIELDS_ERROR.search(message)
    if fields:
        expected, line, saw = fields.groups()
        return ParseError(
            f"Line {line} has {saw} fields but {expected} were expected from the header; the row may "
            "contain an unquoted delimiter or a stray quote. (Lines are counted from the header as line 1; "
            "line breaks inside quoted values do not count.)",
            details={"line": line},
        )
    eof = _CSV_EOF_ERROR.search(message)
    if eof:
        # pandas counts this one from 0 at the header; report it like the other error (header = 1).
        line = str(int(eof.group(1)) + 1)
        return ParseError(
            f"A quoted value starting on line {line} is never closed (unbalanced double quote). "
            "(Lines are counted from the header as line 1.)",
            details={"line": line},
        )
    return ParseError(f"Could not parse the delimited text: {_clean_message(message)}")


def _clean_message(message: str) -> str:
    text = message.replace("Error tokenizing data. C error: ", "")
    text = _CONTROL_CHARS.sub(" ", text).strip()
    # Drop anything that looks like a filesystem path; the input never comes from a file, but
    # library messages should not be trusted to stay that way.
    text = re.sub(r"(?:[A-Za-z]:)?[\\/][^\s'\"]+", "<path>", text)
    return text[:200] or "malformed content"


# ---------------------------------------------------------------- delimited text with Arrow

# pandas' default missing-value markers (pandas._libs.parsers.STR_NA_VALUES; a test pins the
# copy): Arrow has to blank exactly the fields pandas blanks.
_PANDAS_NA_VALUES: Final = (
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
)
_PANDAS_TRUE: Final = ("True", "TRUE", "true")
_PANDAS_FALSE: Final = ("False", "FALSE", "false")
# RE2 patterns, run by Arrow. _NUMERIC_LIKE is a superset of what pandas' C parser reads as a
# number or a boolean (it skips surrounding whitespace and takes "+", exponents, inf/infinity,
# and true/false in any case), so a column with a value outside it is text for pandas too.
_NUMERIC_LIKE: Final = (
    r"(?i)^[ \t\n\v\f\r]*(?:[+\-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+\-]?[0-9]*)?"
    r"|[+\-]?inf(?:inity)?|true|false)[ \t\n\v\f\r]*$"
)
# Plain integers and decimals. Arrow and pandas read them alike as int64 up to 18 digits (19
# can overflow), and as doubles up to 15 digits: pandas accumulates the digits exactly and
# divides once by an exact power of ten (one correctly rounded operation), and Arrow's parser
# rounds correctly. Arrow also reads "0x1F", and exponents are read differently; not plain.
_PLAIN_DECIMAL: Final = r"^-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)$"
_EXACT_DIGITS: Final = 15
_PLAIN_NUMBER_BYTES: Final = b"0123456789.-"
# Dates and times Arrow's ISO-8601 cast reads as pandas' format="ISO8601" does (fields in range:
# Arrow takes second 60 and year 0, pandas does not).
_PLAIN_ISO_DATE: Final = (
    r"^[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}(?:[ T](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9])?$"
)
_ARROW_PROBE_VALUES: Final = 1000
# Arrow's default; larger blocks gained no speed here and raised the peak.
_ARROW_BLOCK_BYTES: Final = 1 << 20


@dataclass
class _ArrowFields:
    """Delimited text parsed by Arrow, not typed yet: per column the fields as written (the
    header row left out) and the same fields with pandas' missing-value markers as nulls."""

    raw: list[Any]
    blanked: list[Any]
    header: list[str]
    delimiter: str
    encoding: str
    notes: list[str]


def _parse_delimited_with_arrow(payload: bytes, kind: str, limits: LoadLimits) -> _ArrowFields | None:
    """Split UTF-8 delimited text into Arrow strings exactly as ``_read_delimited`` would.

    pandas' parser holds every text field as a Python object (~50 bytes each, several times
    the data's size) while the payload and its decoded copy are held too; Arrow splits it into
    compact strings without decoding the whole text, and needs nothing of the payload
    afterwards (the caller drops it). Returns ``None`` whenever the result could differ from the
    pandas path or that path has something to say about the file (another encoding, NUL
    bytes, ragged rows, R row names, a single column, no data rows, an unclosed quote); the
    caller then takes the pandas path, so every message and warning stays as it was.
    """
    if b"\x00" in payload or payload.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None
    quotes = payload.count(b'"')
    if quotes % 2:
        return None  # a quoted value left open (see _ends_inside_quotes)
    bom = payload.startswith(codecs.BOM_UTF8)
    start = len(codecs.BOM_UTF8) if bom else 0
    head = _utf8_head(payload, start)
    if head is None:
        return None
    if kind == _TEXT and head.lstrip("\ufeff \t\r\n").startswith(("[", "{", "<")):
        return None  # JSON, HTML or XML: the pandas path tells them apart
    notes: list[str] = []
    preferred = "\t" if kind == FORMAT_TSV else None
    delimiter = _detect_delimiter(head, preferred)
    if preferred and delimiter != preferred:
        notes.append(
            f"The file name suggests tab-separated values but the fields are separated by {delimiter!r}."
        )
    header_rows = _records(head, delimiter)
    if not header_rows or not 2 <= len(header_rows[0]) <= limits.max_columns:
        return None
    header = header_rows[0]
    columns = _arrow_fields(payload, start, delimiter, len(header), quoted=quotes > 0)
    if columns is None:
        return None
    rows = len(columns[0]) - 1  # the first row is the header
    if rows > limits.max_rows:
        raise _too_many_rows(limits.max_rows)
    if rows == 0 or [column[0].as_py() for column in columns] != header:
        return None
    if quotes and _ends_inside_quotes(payload, columns[-1][-1].as_py()):
        return None
    # Blanked before the header row is sliced off: the null bitmaps then line up with the data.
    blanked = [_blank_as_pandas_does(column).slice(1) for column in columns]
    raw = [column.slice(1) for column in columns]
    return _ArrowFields(raw, blanked, header, delimiter, "utf-8-sig" if bom else "utf-8", notes)


def _ends_inside_quotes(payload: bytes, last_field: str) -> bool:
    """Whether the last field looks like a quote opened and never closed.

    pandas reports a quoted value still open at the end of the file; Arrow ends it there, so
    that field is everything after its opening quote. (An odd number of quotes says the same
    but not alone: a stray quote inside an unquoted field is kept as a character by both.)
    """
    tail = last_field.replace('"', '""').encode()  # as written inside quotes
    opening = len(payload) - len(tail) - 1
    return opening >= 0 and payload.endswith(tail) and payload[opening : opening + 1] == b'"'


def _utf8_head(payload: bytes, start: int) -> str | None:
    """The sample ``_load_text`` takes (``_sample_text`` of the decoded text), decoding only the
    start of the payload; ``None`` when that is not UTF-8 or the sample could differ."""
    end = start + 4 * _DELIMITER_SAMPLE_CHARS  # a character is at most 4 bytes in UTF-8
    chunk = payload[start:end]
    partial = end < len(payload)
    if partial:
        cut = chunk.rfind(b"\n")  # so that no multi-byte character is split
        if cut < 0:
            return None
        chunk = chunk[: cut + 1]
    try:
        text = chunk.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if partial and len(text) < _DELIMITER_SAMPLE_CHARS:
        return None  # very long lines: the whole text's sample could reach further
    return _sample_text(text)


def _arrow_fields(
    payload: bytes, start: int, delimiter: str, width: int, *, quoted: bool
) -> list[Any] | None:
    """Every field of every row (the header row included) as an Arrow string, as written.

    The streaming reader converts block by block; reading all blocks at once (read_csv) held
    about twice the table's size in parse buffers at its peak.
    """
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    names = [f"f{position}" for position in range(width)]
    try:
        reader = pa_csv.open_csv(
            pa.BufferReader(pa.py_buffer(memoryview(payload)[start:])),
            read_options=pa_csv.ReadOptions(autogenerate_column_names=True, block_size=_ARROW_BLOCK_BYTES),
            # pandas' dialect: '"' quotes, doubled inside quotes, no escape character. Quoted
            # line breaks need the slower quote-aware splitting: only asked for when a quote is there.
            parse_options=pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=quoted),
            # Text, never null: pandas' missing-value markers are applied afterwards, when it is
            # known which column pandas could type (one that it cannot keeps them as text).
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False
            ),
        )
        table = pa.Table.from_batches(list(reader), schema=reader.schema)
    except (pa.ArrowException, OSError, ValueError):
        return None  # ragged rows, invalid UTF-8...: the pandas path explains
    if table.column_names != names or any(item != pa.string() for item in table.schema.types):
        return None
    return list(table.columns)


def _blank_as_pandas_does(column: Any) -> Any:
    """The column with pandas' missing-value markers as nulls, sharing the strings' buffers."""
    import pyarrow as pa
    import pyarrow.compute as pc

    markers = pa.array(_PANDAS_NA_VALUES, column.type)
    chunks = []
    for chunk in column.chunks:
        valid = pc.invert(pc.is_in(chunk, value_set=markers))
        blanks = len(chunk) - int(pc.sum(valid).as_py() or 0)
        if not blanks:
            chunks.append(chunk)
        elif chunk.offset or valid.offset or chunk.null_count:
            chunks.append(pc.if_else(valid, chunk, pa.scalar(None, chunk.type)))
        else:
            _, offsets, data = chunk.buffers()
            bitmap = valid.buffers()[1]
            chunks.append(
                pa.Array.from_buffers(chunk.type, len(chunk), [bitmap, offsets, data], null_count=blanks)
            )
    return pa.chunked_array(chunks, type=column.type)


def _arrow_fields_table(fields: _ArrowFields, notes: list[str]) -> LoadedTable:
    """The frame ``_read_delimited`` returns, typed column by column as pandas' parser types it."""
    raw, blanked = fields.raw, fields.blanked
    fields.raw, fields.blanked = [], []  # taken over: each column is released once typed
    raw.reverse()
    blanked.reverse()
    converted = {
        position: _as_read_csv_column(raw.pop(), blanked.pop()) for position in range(len(fields.header))
    }
    frame = pd.DataFrame(converted, copy=False)
    frame.columns = pd.Index(fields.header, dtype=object)
    notes.extend(fields.notes)
    fmt = FORMAT_TSV if fields.delimiter == "\t" else FORMAT_CSV
    return LoadedTable(frame, fmt, fields.encoding, fields.delimiter, notes)


def _as_read_csv_column(raw: Any, values: Any) -> pd.Series:
    """The column ``pd.read_csv`` makes of these fields (``values``: ``raw`` with pandas' blanks):
    int64, float64, bool (object with blanks), or str."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if values.null_count == len(values):
        return pd.Series(np.full(len(values), np.nan), copy=False)
    # A few values settle most text columns; each full scan below is a regex over the column.
    if not _all_match(values.slice(0, _ARROW_PROBE_VALUES), _NUMERIC_LIKE):
        return values.to_pandas()
    if _all_plain_decimals(values):
        parsed = _plain_number_array(values)
        return pd.Series(parsed, copy=False) if parsed is not None else _read_csv_one_column(raw)
    if not _all_match(values, _NUMERIC_LIKE):
        return values.to_pandas()  # text
    if bool(pc.all(pc.is_in(values.drop_null(), value_set=pa.array(_PANDAS_TRUE + _PANDAS_FALSE))).as_py()):
        truth = pc.is_in(values, value_set=pa.array(_PANDAS_TRUE)).to_numpy()
        if not values.null_count:
            return pd.Series(truth, copy=False)
        flags = np.full(len(values), np.nan, dtype=object)
        flags[truth] = True
        flags[pc.is_in(values, value_set=pa.array(_PANDAS_FALSE)).to_numpy()] = False
        return pd.Series(flags, copy=False)
    return _read_csv_one_column(raw)


def _all_match(values: Any, pattern: str) -> bool:
    import pyarrow.compute as pc

    return bool(pc.all(pc.match_substring_regex(values, pattern), min_count=0).as_py())


def _all_plain_decimals(values: Any) -> bool:
    """Whether every value matches _PLAIN_DECIMAL (nulls aside).

    Quick answer for the usual numeric column: if its bytes are all digits, "." and "-" and
    Arrow parses every value, each one is plain (Arrow rejects "1-2", "1.2.3", "-" and "."). A
    bytes.translate pass and a cast take ~20 ms per million values, the regex ~50 ms.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if not any(bytes(_string_data(chunk)).translate(None, _PLAIN_NUMBER_BYTES) for chunk in values.chunks):
        try:
            pc.cast(values, pa.float64())
        except pa.ArrowInvalid:
            pass
        else:
            return True
    return _all_match(values, _PLAIN_DECIMAL)


def _plain_number_array(numbers: Any) -> Any:
    """What pandas' parsers (``read_csv`` and ``to_numeric``, both precise_xstrtod) make of
    Arrow strings that all match _PLAIN_DECIMAL or are null: int64 for integers without
    nulls, else float64; ``None`` where Arrow's reading could differ (more than 18 integer
    digits, or more than 15 digits in a double)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    lengths = pc.binary_length(numbers)
    longest = int(pc.max(lengths).as_py() or 0)
    has_point = pc.match_substring(numbers, ".")
    if numbers.null_count == 0 and not bool(pc.any(has_point, min_count=0).as_py()):
        return pc.cast(numbers, pa.int64()).to_numpy() if longest <= 18 else None
    if longest > _EXACT_DIGITS:
        marks = pc.add(pc.cast(has_point, pa.int32()), pc.cast(pc.starts_with(numbers, "-"), pa.int32()))
        if int(pc.max(pc.subtract(lengths, marks)).as_py() or 0) > _EXACT_DIGITS:
            return None
    return pc.cast(numbers, pa.float64()).to_numpy()


def _read_csv_one_column(raw: Any) -> pd.Series:
    """Let pandas' own parser type a numeric-looking column whose reading is not plain (signs,
    exponents, whitespace, long digit strings, inf...): the same code gives the same values.
    Each field, as written, goes quoted on a line of its own (quoting changes no type pandas
    infers, and none of these fields holds a quote)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def text(value: str) -> Any:
        return pa.scalar(value, raw.type)

    lines = pc.binary_join_element_wise(text('"'), raw, text('"\n'), text(""))
    body = b"".join(_string_data(chunk) for chunk in lines.chunks)
    del lines
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pd.errors.ParserWarning)
        parsed = pd.read_csv(io.BytesIO(body), header=None, encoding="utf-8", engine="c", low_memory=False)
    if parsed.shape != (len(raw), 1):  # every line holds one field, so this cannot happen
        raise RuntimeError("pandas did not read one value per line")
    return parsed.iloc[:, 0].rename(None)


def _string_data(chunk: Any) -> memoryview:
    """The concatenated values of an Arrow string array, without copying (its data buffer
    between the first and the last offset)."""
    import pyarrow as pa

    _, offsets, data = chunk.buffers()
    if data is None or len(chunk) == 0:
        return memoryview(b"")
    width = 8 if pa.types.is_large_string(chunk.type) else 4
    bounds = np.frombuffer(offsets, dtype=f"<i{width}", count=len(chunk) + 1, offset=width * chunk.offset)
    return memoryview(data)[int(bounds[0]) : int(bounds[-1])]


# --------------------------------------------------------------------------------- JSON


def _load_json(
    text: str,
    utf8: Callable[[], bytes],
    *,
    prefer_lines: bool,
    limits: LoadLimits,
    notes: list[str],
) -> tuple[pd.DataFrame, str]:
    if prefer_lines:
        try:
            return _load_json_lines(text, utf8, limits), FORMAT_JSONL
        except ParseError as lines_error:
            try:
                document = json.loads(text)
            except (ValueError, RecursionError):
                raise lines_error from None
            notes.append(
                "The file is named as JSON Lines but holds a single JSON document; loaded it as JSON."
            )
            return _frame_from_document(document, limits, notes), FORMAT_JSON
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":
            # One complete value followed by more: the usual shape of JSON Lines.
            return _load_json_lines(text, utf8, limits), FORMAT_JSONL
        raise ParseError(
            f"Invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}.",
            details={"line": str(exc.lineno), "column": str(exc.colno)},
        ) from None
    except RecursionError:
        raise ParseError("The JSON is nested too deeply to read.") from None
    return _frame_from_document(document, limits, notes), FORMAT_JSON


def _load_json_lines(text: str, utf8: Callable[[], bytes], limits: LoadLimits) -> pd.DataFrame:
    frame = _json_lines_with_arrow(utf8())
    if frame is not None:
        return frame
    return _records_frame(_parse_json_lines(text, limits), limits)


def _json_lines_with_arrow(utf8: bytes) -> pd.DataFrame | None:
    """Parse JSON Lines with pyarrow's C++ reader, about 6x faster than the stdlib per record.

    Returns ``None`` whenever its result could differ from the stdlib path (a field changing
    type, lists, invalid lines, oversized records), so the caller falls back to the path that
    also produces precise error messages.
    """
    import pyarrow as pa
    import pyarrow.json as pa_json

    read_options = pa_json.ReadOptions(block_size=8 << 20)
    try:
        table = pa_json.read_json(io.BytesIO(utf8), read_options=read_options)
        schema = _arrow_schema_for_pandas(table.schema)
        if schema is None:
            return None
        if not schema.equals(table.schema):
            # pyarrow turns ISO-looking strings into naive second-resolution timestamps (and
            # drops "Z"); re-read them as text so dates get the same inference as every format.
            parse_options = pa_json.ParseOptions(explicit_schema=schema)
            table = pa_json.read_json(
                io.BytesIO(utf8), read_options=read_options, parse_options=parse_options
            )
        while any(pa.types.is_struct(item.type) for item in table.schema):
            table = table.flatten()
        return table.to_pandas()
    except (pa.ArrowException, ValueError, OSError):
        return None


def _arrow_schema_for_pandas(schema: Any) -> Any:
    import pyarrow as pa

    def rewrite(data_type: Any) -> Any:
        if pa.types.is_timestamp(data_type):
            return pa.string()
        if pa.types.is_struct(data_type):
            fields = [data_type.field(index) for index in range(data_type.num_fields)]
            children = [rewrite(item.type) for item in fields]
            if any(child is None for child in children):
                return None
            return pa.struct(
                [pa.field(item.name, child) for item, child in zip(fields, children, strict=True)]
            )
        if pa.types.is_nested(data_type):
            return None  # lists and maps: the stdlib path stores them as JSON text
        return data_type

    rewritten = [rewrite(item.type) for item in schema]
    if any(data_type is None for data_type in rewritten):
        return None
    return pa.schema(
        [pa.field(item.name, data_type) for item, data_type in zip(schema, rewritten, strict=True)]
    )


def _parse_json_lines(text: str, limits: LoadLimits) -> list[dict[str, Any]]:
    # Split on "\n" only: str.splitlines also splits on U+2028 and friends, which JSON strings
    # may contain unescaped.
    lines = [(number, line) for number, line in enumerate(text.split("\n"), 1) if line.strip()]
    if not lines:
        raise EmptyDataError("The JSON Lines file has no records.")
    if len(lines) > limits.max_rows:
        raise _too_many_rows(limits.max_rows)
    # Fast path: one json.loads over all lines is several times quicker than one per line;
    # the per-line loop below only runs to locate an error precisely.
    try:
        joined = json.loads("[" + ",".join(line for _, line in lines) + "]")
    except (ValueError, RecursionError):
        joined = None
    if (
        isinstance(joined, list)
        and len(joined) == len(lines)
        and all(isinstance(item, dict) for item in joined)
    ):
        return joined
    records: list[dict[str, Any]] = []
    for number, line in lines:
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ParseError(
                f"Invalid JSON on line {number}, column {exc.colno}: {exc.msg}.",
                details={"line": str(number), "column": str(exc.colno)},
            ) from None
        except RecursionError:
            raise ParseError(f"The JSON on line {number} is nested too deeply to read.") from None
        if not isinstance(item, dict):
            raise ParseError(
                f"Line {number} holds a JSON {_json_type(item)}; every JSON Lines record must be an object.",
                details={"line": str(number)},
            )
        records.append(item)
    return records


def _json_type(value: object) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


def _is_records(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(item, dict) for item in value)


def _frame_from_document(document: object, limits: LoadLimits, notes: list[str]) -> pd.DataFrame:
    if isinstance(document, list):
        return _records_frame(document, limits)
    if not isinstance(document, dict):
        raise ParseError(f"The JSON holds a single {_json_type(document)}; expected an array or an object.")
    if not document:
        raise EmptyDataError("The JSON object is empty.")
    values = list(document.values())
    if len(document) == 1 and _is_records(values[0]):
        key = next(iter(document))
        notes.append(f"Loaded the records under the JSON key {_quote(str(key))}.")
        return _records_frame(values[0], limits)
    if all(isinstance(value, list) for value in values):
        lengths = {len(value) for value in values}
        if len(lengths) == 1:
            return _columns_frame(document, limits)
        described = ", ".join(
            f"{_quote(str(key))}: {len(value)}" for key, value in list(document.items())[:5]
        )
        raise ParseError(
            f"The JSON object's arrays have different lengths ({described}); they cannot be columns."
        )
    record_keys = [key for key, value in document.items() if _is_records(value)]
    if record_keys:
        chosen = record_keys[0]
        others = [key for key in document if key != chosen]
        note = f"Loaded the records under the JSON key {_quote(str(chosen))}"
        if others:
            note += "; ignored the other keys: " + ", ".join(_quote(str(key)) for key in others[:10])
        notes.append(note + ".")
        return _records_frame(document[chosen], limits)
    if not any(isinstance(value, list) for value in values):
        notes.append("The JSON is a single object; loaded it as a table with one row.")
        return _records_frame([document], limits)
    raise ParseError(
        "Unsupported JSON layout: expected an array of objects, an object of equal-length arrays, "
        'or an object holding an array of objects under one key such as "data".'
    )


def _records_frame(items: list[Any], limits: LoadLimits) -> pd.DataFrame:
    if not items:
        raise EmptyDataError("The JSON array is empty.")
    if len(items) > limits.max_rows:
        raise _too_many_rows(limits.max_rows)
    dict_count = sum(1 for item in items if isinstance(item, dict))
    if dict_count == len(items):
        frame = pd.DataFrame(items)
        # json_normalize is ~4x slower than the DataFrame constructor, so only pay for it when
        # some value is actually a nested object.
        if any(_has_dicts(frame[column]) for column in frame.columns):
            frame = pd.json_normalize(items, sep=".")
        return frame
    if dict_count:
        position = next(index for index, item in enumerate(items) if not isinstance(item, dict))
        raise ParseError(
            f"The JSON array mixes objects with other values (item {position + 1} is a "
            f"{_json_type(items[position])})."
        )
    if all(isinstance(item, list) for item in items):
        width = max(len(item) for item in items)
        if width > limits.max_columns:
            raise _too_many_columns(width, limits.max_columns)
        return pd.DataFrame(items, columns=[f"column_{index}" for index in range(1, width + 1)])
    return pd.DataFrame({"value": items})


def _columns_frame(document: dict[str, Any], limits: LoadLimits) -> pd.DataFrame:
    if len(document) > limits.max_columns:
        raise _too_many_columns(len(document), limits.max_columns)
    frame = pd.DataFrame({str(key): pd.Series(value, dtype=object) for key, value in document.items()})
    frame = frame.infer_objects()
    if any(_has_dicts(frame[column]) for column in frame.columns):
        frame = pd.json_normalize(frame.to_dict("records"), sep=".")
    return frame


def _has_dicts(column: pd.Series) -> bool:
    if not is_object_dtype(column.dtype):
        return False
    return any(isinstance(value, dict) for value in column.to_numpy())


# -------------------------------------------------------------------------- Excel / Parquet


def _load_excel(payload: bytes, limits: LoadLimits, notes: list[str]) -> tuple[pd.DataFrame, str]:
    import openpyxl  # deferred: only Excel uploads pay its import time

    _guard_zip_expansion(payload, limits)
    try:
        with warnings.catch_warnings():
            # openpyxl warns about workbook features it drops (data validation, styles);
            # those do not affect the cell values read here.
            warnings.simplefilter("ignore")
            workbook = openpyxl.load_workbook(io.BytesIO(payload), read_only=True, data_only=True)
    except Exception as exc:
        # openpyxl raises a wide variety of types for a damaged workbook (KeyError for a
        # missing part, XML errors, zipfile errors); all mean the same thing to the user.
        raise ParseError(
            "The Excel workbook could not be opened; it may be damaged or password-protected."
        ) from exc
    try:
        sheet_names = list(workbook.sheetnames)
        skipped: list[str] = []
        for worksheet in workbook.worksheets:
            try:
                rows = _sheet_rows(worksheet, limits)
            except (DataTooLargeError, EmptyDataError):
                raise
            except Exception as exc:
                raise ParseError(
                    f"The Excel sheet {_quote(worksheet.title)} could not be read; "
                    "the workbook may be damaged."
                ) from exc
            if rows is None:
                skipped.append(worksheet.title)
                continue
            others = [name for name in sheet_names if name != worksheet.title and name not in skipped]
            if skipped:
                notes.append("Skipped empty sheets: " + ", ".join(_quote(name) for name in skipped) + ".")
            if others:
                shown = ", ".join(_quote(name) for name in others[:10])
                more = f" and {len(others) - 10} more" if len(others) > 10 else ""
                notes.append(
                    f"Loaded sheet {_quote(worksheet.title)}; the workbook's other sheets were not "
                    f"loaded: {shown}{more}."
                )
            header, body = rows
            frame = pd.DataFrame(body, columns=range(len(header)), dtype=object)
            frame.columns = pd.Index(header, dtype=object)
            return frame.infer_objects(), worksheet.title
    finally:
        workbook.close()
    raise EmptyDataError("The workbook has no sheet with data.")


def _sheet_rows(worksheet: Any, limits: LoadLimits) -> tuple[list[Any], list[list[Any]]] | None:
    """Read a sheet as ``(header, rows)``; ``None`` when it has no non-empty cell.

    The header is the first non-empty row; trailing empty rows and columns (often left by
    formatting) are dropped, and rows are padded to a common width.
    """
    header: list[Any] | None = None
    body: list[list[Any]] = []
    last_content = 0
    width = 0
    for values in worksheet.iter_rows(values_only=True):
        row = list(values)
        filled = [index for index, value in enumerate(row) if not _is_blank_cell(value)]
        if header is None:
            if filled:
                header = row
                width = filled[-1] + 1
            continue
        body.append(row)
        if filled:
            last_content = len(body)
            width = max(width, filled[-1] + 1)
            if last_content > limits.max_rows:
                raise _too_many_rows(limits.max_rows)
    if header is None:
        return None
    if width > limits.max_columns:
        raise _too_many_columns(width, limits.max_columns)
    body = body[:last_content]

    def fit(row: list[Any]) -> list[Any]:
        return row[:width] + [None] * (width - len(row))

    return fit(header), [fit(row) for row in body]


def _is_blank_cell(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _guard_zip_expansion(payload: bytes, limits: LoadLimits) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            expanded = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ParseError("The Excel workbook is damaged (its zip container cannot be read).") from exc
    limit = limits.max_bytes * _XLSX_EXPANSION_FACTOR
    if expanded > limit:
        raise DataTooLargeError(
            f"The workbook unpacks to {_human_bytes(expanded)}, over the {_human_bytes(limit)} limit.",
            details={"size_bytes": str(expanded), "limit_bytes": str(limit)},
        )


def _load_xls(payload: bytes) -> tuple[pd.DataFrame, str]:
    # Legacy .xls needs xlrd, which this project does not ship; support it when a deployment
    # adds it rather than failing with an import error.
    if find_spec("xlrd") is None:
        raise UnsupportedFormatError(
            "The file is a legacy Excel 97-2003 (.xls) workbook, which is not supported; save it as "
            ".xlsx or CSV and upload it again.",
            details={"detected_type": "Excel 97-2003 workbook (.xls)"},
        )
    try:  # pragma: no cover - exercised only where xlrd is installed
        sheets = pd.read_excel(io.BytesIO(payload), sheet_name=None, engine="xlrd")
    except Exception as exc:  # pragma: no cover
        raise ParseError("The .xls workbook could not be read; it may be damaged.") from exc
    for name, frame in sheets.items():  # pragma: no cover
        if not frame.empty:
            return frame, str(name)
    raise EmptyDataError("The workbook has no sheet with data.")  # pragma: no cover


def _load_parquet(payload: bytes, limits: LoadLimits) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(pa.BufferReader(payload))
        metadata = parquet.metadata
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise ParseError("The Parquet file could not be read; it may be damaged or truncated.") from exc
    # The footer knows the shape: refuse oversize files before decompressing any column.
    if metadata.num_rows > limits.max_rows:
        raise _too_many_rows(limits.max_rows)
    if metadata.num_columns > limits.max_columns:
        raise _too_many_columns(metadata.num_columns, limits.max_columns)
    try:
        table = parquet.read()
        # Flatten structs to "parent.child" columns, the same shape JSON gets.
        while any(pa.types.is_struct(item.type) for item in table.schema):
            table = table.flatten()
        return table.to_pandas()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise ParseError(
            "The Parquet file could not be read; it may be damaged or use an unsupported type."
        ) from exc


# ---------------------------------------------------------------------------- finishing


def _too_many_rows(limit: int) -> DataTooLargeError:
    return DataTooLargeError(
        f"The table has more than {limit:,} rows, over the limit.", details={"limit_rows": str(limit)}
    )


def _too_many_columns(count: int, limit: int) -> DataTooLargeError:
    return DataTooLargeError(
        f"The table has {count:,} columns, over the {limit:,} column limit.",
        details={"columns": str(count), "limit_columns": str(limit)},
    )


def _finalise(
    table: LoadedTable, limits: LoadLimits, notes: list[str], *, decimal_comma: bool
) -> pd.DataFrame:
    """The parsed ``table.frame`` with checked shape, clean names and inferred column types.

    Takes the parsed frame out of ``table`` so that each parsed column is released once its
    typed version exists, rather than holding the parsed and the typed frame whole at once.
    """
    frame = table.frame
    rows, columns = frame.shape
    if columns == 0:
        raise EmptyDataError("The table has no columns.")
    if rows == 0:
        raise EmptyDataError("The table has a header but no data rows.")
    if rows > limits.max_rows:
        raise _too_many_rows(limits.max_rows)
    if columns > limits.max_columns:
        raise _too_many_columns(columns, limits.max_columns)
    names = _normalise_names(list(frame.columns), notes)
    parsed = [frame.iloc[:, position] for position in range(columns)]
    parsed.reverse()  # popped from the end, in column order
    table.frame = pd.DataFrame()
    del frame
    converted: dict[str, pd.Series] = {}
    for name in names:
        column = parsed.pop().reset_index(drop=True)
        column, note = _infer_column(column, name, decimal_comma=decimal_comma)
        if note:
            notes.append(note)
        converted[name] = column
    # copy=False keeps one block per column instead of copying same-typed columns into one.
    result = pd.DataFrame(converted, copy=False)
    del converted
    _scan_hostile_values(result, notes)
    return result


def _quote(text: str, limit: int = 60) -> str:
    # repr() escapes control characters, so hostile names cannot break a log line or a UI.
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def _normalise_names(raw_names: Sequence[object], notes: list[str]) -> list[str]:
    """Make column names non-empty, printable, at most 128 characters and unique.

    Uniqueness is case-insensitive because the SQL engines downstream (DuckDB, Athena) treat
    ``Name`` and ``name`` as the same column.
    """
    cleaned: list[str] = []
    reasons: list[list[str]] = []
    originals: list[str] = []
    for position, raw in enumerate(raw_names, 1):
        original = "" if raw is None or (isinstance(raw, float) and math.isnan(raw)) else str(raw)
        why: list[str] = []
        name = _CONTROL_CHARS.sub(" ", original)
        if name != original:
            why.append("control characters removed")
        visible = _INVISIBLE_CHARS.sub("", name)
        if visible != name:
            why.append("invisible formatting characters removed")
        name = visible
        stripped = name.strip()
        if stripped != name and stripped:
            why.append("surrounding whitespace removed")
        name = stripped
        if len(name) > MAX_COLUMN_NAME_CHARS:
            name = name[:MAX_COLUMN_NAME_CHARS].rstrip()
            why.append(f"truncated to {MAX_COLUMN_NAME_CHARS} characters")
        if not name:
            name = f"column_{position}"
            why = ["blank header"]
        cleaned.append(name)
        reasons.append(why)
        originals.append(original)

    reserved = {name.casefold() for name in cleaned}
    taken: set[str] = set()
    final: list[str] = []
    for position, name in enumerate(cleaned):
        candidate = name
        if candidate.casefold() in taken:
            suffix = 2
            while True:
                tail = f"_{suffix}"
                candidate = name[: MAX_COLUMN_NAME_CHARS - len(tail)] + tail
                key = candidate.casefold()
                if key not in taken and key not in reserved:
                    break
                suffix += 1
            reasons[position].append("duplicate name")
        taken.add(candidate.casefold())
        final.append(candidate)
        if reasons[position]:
            notes.append(
                f"Column {position + 1}: renamed {_quote(originals[position])} to {_quote(candidate)} "
                f"({', '.join(reasons[position])})."
            )
    return final


# ------------------------------------------------------------------------ type inference


def _infer_column(column: pd.Series, name: str, *, decimal_comma: bool) -> tuple[pd.Series, str | None]:
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype) or not (is_object_dtype(dtype) or is_string_dtype(dtype)):
        return column, None
    if is_string_dtype(dtype) and not is_object_dtype(dtype):
        return _infer_from_strings(column, name, decimal_comma=decimal_comma)
    present = column.dropna()
    if present.empty:
        return column, None
    kind = infer_dtype(present, skipna=True)
    if kind == "boolean":
        return column.astype("boolean" if len(present) < len(column) else bool), None
    if kind in ("integer", "floating", "mixed-integer-float"):
        return pd.to_numeric(column, errors="coerce"), None
    if kind in ("datetime", "datetime64", "date"):
        converted = _attempt_datetime(column, {})
        return (converted, None) if converted is not None else (column, None)
    if kind in ("mixed", "mixed-integer") and any(
        isinstance(value, list | dict | tuple) for value in present
    ):
        # Containers cannot go to Parquet reliably when mixed with scalars; JSON text keeps
        # them readable and lossless.
        encoded = column.map(lambda value: value if _is_missing(value) else json.dumps(value, default=str))
        return encoded.astype("str"), (
            f"Column {_quote(name)} holds nested lists/objects; stored them as JSON text."
        )
    if kind in ("string", "mixed", "mixed-integer", "empty"):
        return _infer_from_strings(column.astype("str"), name, decimal_comma=decimal_comma)
    return column, None  # bytes, times, decimals, periods...: leave them as they came


def _is_missing(value: object) -> bool:
    if isinstance(value, list | dict | tuple):
        return False
    return bool(pd.isna(value))


def _spread_sample(values: pd.Series, size: int = _TYPE_SAMPLE_SIZE) -> pd.Series:
    # Evenly spaced rather than the head: files are often sorted, and the first rows of a
    # column are not representative of the last.
    if len(values) <= size:
        return values
    step = len(values) // size
    return values.iloc[::step].iloc[:size]


def _spread_sample_of(values: pd.Series, keep: pd.Series, size: int = _TYPE_SAMPLE_SIZE) -> pd.Series:
    """``_spread_sample(values[keep])`` without copying the kept values first."""
    positions = np.flatnonzero(keep.to_numpy(dtype=bool))
    if len(positions) > size:
        positions = positions[:: len(positions) // size][:size]
    return values.iloc[positions]


def _infer_from_strings(column: pd.Series, name: str, *, decimal_comma: bool) -> tuple[pd.Series, str | None]:
    stripped = column.str.strip()
    valid = stripped.notna() & (stripped != "")
    total = int(valid.sum())
    if total == 0:
        return column, None
    sample = _spread_sample_of(stripped, valid)

    lowered = sample.str.lower()
    if bool(lowered.isin(_BOOLEANS).all()):
        full = stripped.str.lower()
        if bool(full[valid].isin(_BOOLEANS).all()):
            mapped = full.map(_BOOLEANS)
            if total == len(column):
                return mapped.astype(bool), None
            return mapped.astype("boolean"), None

    if _parsed_share(_to_number(sample, decimal_comma), len(sample)) >= 0.9:
        numbers = _to_number(stripped, decimal_comma)
        failed = valid & numbers.isna()
        bad = int(failed.sum())
        if 1 - bad / total >= CONVERSION_THRESHOLD:
            return numbers, _conversion_note(name, "numbers", bad, stripped[failed], "NaN")

    if _looks_like_dates(sample):
        for options in _datetime_strategies(sample):
            trial = _attempt_datetime(sample, options)
            if trial is None or _parsed_share(trial, len(sample)) < 0.9:
                continue
            dates = _attempt_datetime(stripped, options)
            if dates is None:
                continue
            failed = valid & dates.isna()
            bad = int(failed.sum())
            if 1 - bad / total >= CONVERSION_THRESHOLD:
                note = _conversion_note(name, "dates", bad, stripped[failed], "NaT")
                if getattr(dates.dtype, "tz", None) is not None and not _all_utc(sample):
                    note += " Mixed time zones were converted to UTC."
                return dates, note
    return column, None


def _parsed_share(converted: pd.Series, total: int) -> float:
    return float(converted.notna().sum()) / total if total else 0.0


def _conversion_note(name: str, what: str, bad: int, failed_values: pd.Series, missing: str) -> str:
    note = f"Column {_quote(name)} was read as text but holds {what}; converted it"
    if bad:
        examples = ", ".join(_quote(str(value), 30) for value in failed_values.drop_duplicates().head(3))
        note += f"; {bad:,} value(s) could not be converted and are now empty ({missing}), e.g. {examples}."
    else:
        note += "; every value converted."
    return note


def _to_number(strings: pd.Series, decimal_comma: bool) -> pd.Series:
    """Parse numbers written for humans: "$1,234.50", "₩1,000", "(12)", "1.234,5"."""
    cleaned = _replace_if_present(strings, _NUMBER_NOISE_PATTERN, "", regex=True)
    # Accounting negatives "(12)"; a backreference regex would fall back to a Python loop.
    negative = (cleaned.str.startswith("(") & cleaned.str.endswith(")")).fillna(False).astype(bool)
    if bool(negative.any()):
        cleaned = cleaned.where(~negative, "-" + cleaned.str.slice(1, -1))
    us_style = cleaned.str.fullmatch(_US_NUMBER).fillna(False).astype(bool)
    eu_style = cleaned.str.fullmatch(_EU_NUMBER).fillna(False).astype(bool)
    us_only = int((us_style & ~eu_style).sum())
    eu_only = int((eu_style & ~us_style).sum())
    # "1,234" fits both styles; a semicolon-separated file is the usual sign of a decimal-comma
    # locale, so it breaks the tie.
    use_eu = eu_only > us_only or (eu_only == us_only and decimal_comma)
    if use_eu:
        cleaned = _replace_if_present(cleaned, ".", "", regex=False)
        cleaned = _replace_if_present(cleaned, ",", ".", regex=False)
    else:
        cleaned = _replace_if_present(cleaned, ",", "", regex=False)
    plain = _plain_numbers(cleaned)
    return plain if plain is not None else pd.to_numeric(cleaned, errors="coerce")


def _replace_if_present(strings: pd.Series, pattern: str, replacement: str, *, regex: bool) -> pd.Series:
    # A replacement copies the whole column even when nothing matches (as for most columns).
    if not bool(strings.str.contains(pattern, regex=regex).fillna(False).any()):
        return strings
    return strings.str.replace(pattern, replacement, regex=regex)


def _arrow_strings(strings: pd.Series) -> Any:
    """The Arrow strings behind a pandas ``str`` column; ``None`` for other storage."""
    if not isinstance(strings.dtype, pd.StringDtype) or strings.dtype.storage != "pyarrow":
        return None
    return strings.array.__arrow_array__()


def _plain_numbers(strings: pd.Series) -> pd.Series | None:
    """``pd.to_numeric(strings, errors="coerce")`` computed by Arrow, for the usual case: every
    value a plain integer or decimal (see _PLAIN_DECIMAL), blank, or ASCII text without digits
    or inf/nan (which pandas turns into NaN). ``None`` for anything else; pandas then parses
    the column itself, one Python object per value (~0.5 s and ~60 MB per million values).
    """
    numbers = _arrow_strings(strings)
    if numbers is None:
        return None
    import pyarrow as pa
    import pyarrow.compute as pc

    if _all_plain_decimals(numbers):
        parsed = _plain_number_array(numbers)
        return (
            None if parsed is None else pd.Series(parsed, index=strings.index, name=strings.name, copy=False)
        )
    decimal = pc.match_substring_regex(numbers, _PLAIN_DECIMAL)
    if int(pc.sum(decimal).as_py() or 0) < len(numbers) - numbers.null_count:
        others = numbers.filter(pc.invert(decimal))  # NaN if text without a number in it
        if not bool(pc.all(pc.string_is_ascii(others), min_count=0).as_py()) or bool(
            pc.any(pc.match_substring_regex(others, r"(?i)[0-9]|inf|nan"), min_count=0).as_py()
        ):
            return None
        numbers = pc.if_else(decimal, numbers, pa.scalar(None, numbers.type))
    parsed = _plain_number_array(numbers)
    return None if parsed is None else pd.Series(parsed, index=strings.index, name=strings.name, copy=False)


def _looks_like_dates(sample: pd.Series) -> bool:
    # The parsers are lenient and fill in what is missing from today's date, so require a
    # visible date part: without one "March" becomes this year's March 1st and "10:30:00"
    # today at 10:30. Very short tokens like "10-20" are more often codes than dates.
    has_digit = sample.str.contains(r"\d", regex=True).fillna(False)
    has_date_part = sample.str.contains(_DATE_PART_PATTERN, regex=True).fillna(False)
    long_enough = sample.str.len() >= 6
    return float((has_digit & has_date_part & long_enough).mean()) >= CONVERSION_THRESHOLD


def _datetime_strategies(sample: pd.Series) -> Iterable[dict[str, Any]]:
    yield {"format": "ISO8601"}
    first = str(sample.iloc[0])
    seen: set[str] = set()
    for dayfirst in (False, True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            guessed = guess_datetime_format(first, dayfirst=dayfirst)
        if guessed and guessed not in seen:
            seen.add(guessed)
            yield {"format": guessed}
    # Element-wise parsing is slow, so it is last and only reached when the sample says the
    # formats really are mixed.
    yield {"format": "mixed"}


def _attempt_datetime(values: pd.Series, options: dict[str, Any]) -> pd.Series | None:
    if options == {"format": "ISO8601"}:
        plain = _plain_iso_dates(values)
        if plain is not None:
            return plain
    parse: Callable[..., Any] = pd.to_datetime
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = parse(values, errors="coerce", **options)
        except (ValueError, TypeError, OverflowError):
            # Mixed UTC offsets cannot share one dtype unless normalised to UTC.
            try:
                result = parse(values, errors="coerce", utc=True, **options)
            except (ValueError, TypeError, OverflowError):
                return None
    if not isinstance(result, pd.Series) or not is_datetime64_any_dtype(result.dtype):
        return None
    return result


def _plain_iso_dates(values: pd.Series) -> pd.Series | None:
    """``pd.to_datetime(values, format="ISO8601", errors="coerce")`` computed by Arrow when every
    value is a valid plain date or date and time (no fraction, no zone), for which pandas
    returns datetime64[us]; ``None`` otherwise. pandas turns each value into a Python object
    first (~60 MB and 0.2 s per million values)."""
    strings = _arrow_strings(values)
    if strings is None or strings.null_count == len(strings) or not _all_match(strings, _PLAIN_ISO_DATE):
        return None
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        stamps = pc.cast(strings, pa.timestamp("us"))
    except pa.ArrowInvalid:
        return None  # an impossible date such as 2023-02-30: NaT for pandas, which decides
    return pd.Series(stamps.to_numpy(), index=values.index, name=values.name, copy=False)


def _all_utc(sample: pd.Series) -> bool:
    return bool(sample.str.contains(r"(?:Z|[+-]00:?00)$", regex=True).fillna(False).all())


def _scan_hostile_values(frame: pd.DataFrame, notes: list[str]) -> None:
    """Flag, never alter, values that are dangerous when the data is exported or displayed."""
    for name in frame.columns:
        column = frame[name]
        if not is_string_dtype(column.dtype) or is_object_dtype(column.dtype):
            continue
        formulas = column.str.match(_FORMULA_PATTERN).fillna(False).astype(bool)
        if bool(formulas.any()):
            formulas &= ~column.str.fullmatch(_SIGNED_NUMBER_PATTERN).fillna(False).astype(bool)
        count = int(formulas.sum())
        if count:
            example = _quote(str(column[formulas].iloc[0]), 30)
            notes.append(
                f"Column {_quote(str(name))} has {count:,} value(s) that look like spreadsheet formulas "
                f"(e.g. {example}); they are kept as plain text and never evaluated. Escape them before "
                "exporting to a spreadsheet."
            )
        controls = _count_control_values(column)
        if controls:
            notes.append(
                f"Column {_quote(str(name))} has {controls:,} value(s) containing control characters; "
                "they are kept as is."
            )


def _count_control_values(column: pd.Series) -> int:
    strings = _arrow_strings(column)
    # Control characters are ASCII, and no byte of a multi-byte UTF-8 character is ASCII: one
    # pass over the column's bytes clears the usual column without a per-value regex.
    if strings is not None and not any(
        bytes(_string_data(chunk)).translate(None, _NOT_VALUE_CONTROL_BYTES) for chunk in strings.chunks
    ):
        return 0
    return int(column.str.contains(_VALUE_CONTROL_PATTERN, regex=True).fillna(False).sum())
