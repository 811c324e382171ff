"""Read the ingestion agent's loading notes back as data problems of the user's file.

Why: ingestion repairs some dirt before quality sees the table ("$93.46" becomes 93.46, an
unparseable value becomes NaN) and records each repair as a sentence in the dataset's catalog
metadata (``warnings``). The repaired table no longer shows the problem, but the user's file had
it, so the quality report must still list and score it. The notes are free text written by
``functions.ingestion.loaders`` (``_conversion_note`` and friends); this module recognises the
sentences it knows and ignores every other note (format guesses, encodings: they describe the
reading, not the data, and the final report lists them separately).

Recognised (``'col'`` is a Python-repr-quoted column name):

* ``Column 'col' was read as text but holds numbers; converted it; ...`` -> ``formatted_numbers``
  (the file typed a numeric column as text: currency symbols, thousands separators ...). When the
  note carries ``N value(s) were formatted`` (or ``written``), N is the number of offending values.
* ``...; N value(s) could not be converted and are now empty (NaN|NaT), e.g. 'a', 'b'.`` ->
  ``unparseable_values`` with N and the examples (for numbers and dates).
* ``Column 'col' has N value(s) containing control characters ...`` -> ``control_characters``.
* ``Column K: renamed 'a' to 'b' (... duplicate name ...)`` -> ``duplicate_column_name``;
  ``(blank header)`` -> ``blank_column_name``.
* Any other note starting with ``Column 'col'`` and mentioning ``whitespace`` -> ``whitespace``
  (with N from ``N value(s)`` when present).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

__all__ = ["LoadNote", "parse_load_notes"]

NoteKind = Literal[
    "formatted_numbers",
    "unparseable_values",
    "control_characters",
    "duplicate_column_name",
    "blank_column_name",
    "whitespace",
]

_LITERAL = r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\""
_COLUMN = rf"Column (?P<column>{_LITERAL})"
_CONVERTED = re.compile(
    rf"^{_COLUMN} was read as text but holds (?P<what>numbers|dates); converted it(?P<rest>.*)$", re.S
)
_FAILED = re.compile(
    r"(?P<n>\d[\d,]*) value\(s\) could not be converted[^,]*?(?:, e\.g\. (?P<examples>.*))?$", re.S
)
_FORMATTED = re.compile(
    r"(?P<n>\d[\d,]*) value\(s\) (?:were|was) (?:formatted|written)[^;]*?(?:e\.g\. (?P<examples>.*))?$", re.S
)
_CONTROL = re.compile(rf"^{_COLUMN} has (?P<n>\d[\d,]*) value\(s\) containing control characters", re.S)
_RENAMED = re.compile(
    rf"^Column \d+: renamed (?P<old>{_LITERAL}) to (?P<column>{_LITERAL}) \((?P<why>[^)]*)\)", re.S
)
_COLUMN_FIRST = re.compile(rf"^{_COLUMN}")
_VALUES = re.compile(r"(?P<n>\d[\d,]*) value\(s\)")
_LITERALS = re.compile(_LITERAL)


@dataclass(frozen=True)
class LoadNote:
    """One data problem recorded by ingestion; ``rows`` is None when the note gives no count."""

    kind: NoteKind
    column: str | None
    rows: int | None
    examples: tuple[str, ...]
    target: str | None
    text: str


def _literal(token: str) -> str:
    try:
        value = ast.literal_eval(token)
    except (ValueError, SyntaxError):
        return token.strip("'\"")
    return value if isinstance(value, str) else str(value)


def _count(token: str) -> int:
    return int(token.replace(",", ""))


def _examples(text: str | None) -> tuple[str, ...]:
    return tuple(_literal(t) for t in _LITERALS.findall(text or ""))[:5]


def parse_load_notes(notes: Iterable[object]) -> list[LoadNote]:
    """The data problems among ingestion's notes, in note order; unknown notes are skipped.

    Args:
        notes: The dataset's ``metadata["warnings"]`` (anything else in the list is ignored).

    Returns:
        One :class:`LoadNote` per recognised problem (a conversion note with failures yields two).
    """
    found: list[LoadNote] = []
    for note in notes:
        if not isinstance(note, str):
            continue
        text = note.strip()
        if converted := _CONVERTED.match(text):
            column, what, rest = _literal(converted["column"]), converted["what"], converted["rest"]
            parts = [p.strip() for p in rest.split(";") if p.strip()]
            formatted = next((m for p in parts if (m := _FORMATTED.search(p))), None)
            failed = next((m for p in parts if (m := _FAILED.search(p))), None)
            if what == "numbers":
                found.append(
                    LoadNote(
                        kind="formatted_numbers",
                        column=column,
                        rows=_count(formatted["n"]) if formatted else None,
                        examples=_examples(formatted["examples"]) if formatted else (),
                        target=what,
                        text=text,
                    )
                )
            if failed:
                found.append(
                    LoadNote(
                        kind="unparseable_values",
                        column=column,
                        rows=_count(failed["n"]),
                        examples=_examples(failed["examples"]),
                        target=what,
                        text=text,
                    )
                )
        elif control := _CONTROL.match(text):
            found.append(
                LoadNote(
                    "control_characters", _literal(control["column"]), _count(control["n"]), (), None, text
                )
            )
        elif renamed := _RENAMED.match(text):
            why = renamed["why"]
            kind: NoteKind | None = (
                "duplicate_column_name"
                if "duplicate name" in why
                else "blank_column_name"
                if "blank header" in why
                else None
            )
            if kind is not None:
                found.append(
                    LoadNote(kind, _literal(renamed["column"]), None, (_literal(renamed["old"]),), None, text)
                )
        elif (named := _COLUMN_FIRST.match(text)) and "whitespace" in text.lower():
            counted = _VALUES.search(text)
            found.append(
                LoadNote(
                    "whitespace",
                    _literal(named["column"]),
                    _count(counted["n"]) if counted else None,
                    (),
                    None,
                    text,
                )
            )
    return found
