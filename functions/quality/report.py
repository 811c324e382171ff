"""Markdown rendering of a :class:`~functions.quality.profiling.QualityReport`.

Why a separate module: the JSON report is the machine contract (planner, replanning, other
agents); this Markdown is what a person reads in the UI or in the job's final answer. Keeping
the rendering pure makes it testable and lets the handler publish both artifacts.

Column names and values come from uploaded data and may be hostile: every user-provided string
goes through :func:`escape_markdown`, which neutralises table-breaking pipes and newlines,
inline HTML and link/emphasis syntax, and truncates long values.
"""

import re
from collections.abc import Iterable

from analystack.numbers import format_number
from functions.quality.profiling import SCORE_WEIGHTS, ColumnProfile, QualityReport

__all__ = ["escape_markdown", "render_markdown"]

#: Longest user-provided text shown in a table cell / in running text (characters).
MAX_CELL_CHARS = 60
MAX_TEXT_CHARS = 300
#: Longest tables rendered; the rest is summarised in one line so wide frames stay readable.
MAX_TABLE_ROWS = 200

_LINE_BREAKS = re.compile(r"[\r\n\t\v\f\x85\u2028\u2029]+")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_MD_SPECIAL = re.compile(r"([\\`*\[\]|])")


def escape_markdown(value: object, limit: int = MAX_CELL_CHARS) -> str:
    """Make a user-provided value safe inside a Markdown table cell or paragraph.

    Line breaks become spaces (a newline would end the table row), control characters are
    dropped, the text is truncated to ``limit`` characters *before* escaping (so an escape is
    never cut in half), then ``\\ ` * [ ] |`` are backslash-escaped and ``<``/``>`` become
    entities so no HTML, link or emphasis can be injected.
    """
    text = "" if value is None else str(value)
    text = _CONTROL.sub("", _LINE_BREAKS.sub(" ", text)).strip()
    if len(text) > limit:
        text = text[: max(limit - 1, 0)] + "…"
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return text.replace("<", "&lt;").replace(">", "&gt;")


def _n(value: int) -> str:
    return f"{value:,}"


def _pct(share: float) -> str:
    return f"{share:.1%}"


def _num(value: float | int | None) -> str:
    return format_number(value)


def _bytes(size: int) -> str:
    step = 1024.0
    amount = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if amount < step or unit == "GiB":
            return f"{amount:,.0f} {unit}" if unit == "B" else f"{amount:,.1f} {unit}"
        amount /= step
    return f"{size} B"  # pragma: no cover - loop always returns


def _table(header: Iterable[str], rows: list[list[str]]) -> list[str]:
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines.extend("| " + " | ".join(row) + " |" for row in rows[:MAX_TABLE_ROWS])
    if len(rows) > MAX_TABLE_ROWS:
        lines.append("")
        lines.append(f"_… {_n(len(rows) - MAX_TABLE_ROWS)} more rows not shown (see the JSON report)._")
    return lines


def _range_cells(column: ColumnProfile) -> tuple[str, str, str]:
    """Min / mean / max: values for numbers, bounds for dates, lengths for text."""
    if column.numeric is not None:
        stats = column.numeric
        return _num(stats.min), _num(stats.mean), _num(stats.max)
    if column.datetime_min is not None or column.datetime_max is not None:
        return escape_markdown(column.datetime_min), "—", escape_markdown(column.datetime_max)
    if column.text_length_min is not None:
        return (
            f"{_num(column.text_length_min)} chars",
            f"{_num(column.text_length_mean)} chars",
            f"{_num(column.text_length_max)} chars",
        )
    return "—", "—", "—"


def render_markdown(
    report: QualityReport,
    *,
    title: str = "Data quality report",
    dataset_name: str | None = None,
) -> str:
    """Render the report as Markdown for people.

    Sections: summary (rows, columns, score and grade, duplicates, missing cells), score
    breakdown, ranked issues, per-column table (types, nulls, distinct, min/mean/max),
    outliers and recommendations. Long tables are cut at :data:`MAX_TABLE_ROWS` rows.

    Args:
        report: The result of :func:`functions.quality.profiling.profile_table`.
        title: First-level heading (escaped like any other text).
        dataset_name: Shown under the title when given.

    Returns:
        Markdown text ending with a newline.
    """
    out: list[str] = [f"# {escape_markdown(title, MAX_TEXT_CHARS)}", ""]
    if dataset_name:
        out += [f"Dataset: **{escape_markdown(dataset_name, MAX_TEXT_CHARS)}**", ""]

    out += ["## Summary", ""]
    out += _table(
        ["Metric", "Value"],
        [
            ["Rows", _n(report.rows)],
            ["Columns", _n(report.columns)],
            ["Quality score", f"**{report.score:.1f} / 100** (grade **{report.grade}**)"],
            ["Duplicate rows", f"{_n(report.duplicate_rows)} ({_pct(report.duplicate_share)})"],
            ["Missing cells", f"{_n(report.missing_cells)} ({_pct(report.missing_share)})"],
            ["Issues", _issue_counts(report)],
            ["Memory", _bytes(report.memory_bytes)],
        ],
    )
    out += ["", "### Score breakdown", ""]
    out += _table(
        ["Dimension", "Score", "Weight"],
        [
            [
                escape_markdown(name),
                f"{value:.1f}",
                f"{SCORE_WEIGHTS[name]:.0%}" if name in SCORE_WEIGHTS else "—",
            ]
            for name, value in report.score_breakdown.items()
        ],
    )

    out += ["", "## Issues", ""]
    if report.issues:
        out += _table(
            ["#", "Severity", "Kind", "Column", "Affected", "Details"],
            [
                [
                    str(rank),
                    issue.severity.upper() if issue.severity == "error" else issue.severity,
                    escape_markdown(issue.kind),
                    escape_markdown(issue.column) if issue.column is not None else "(table)",
                    _n(issue.count) if issue.count is not None else "—",
                    escape_markdown(issue.message, MAX_TEXT_CHARS),
                ]
                for rank, issue in enumerate(report.issues, start=1)
            ],
        )
    else:
        out.append("No issues found.")

    out += ["", "## Columns", ""]
    if report.columns_profile:
        rows = []
        for column in report.columns_profile:
            low, mean, high = _range_cells(column)
            rows.append(
                [
                    escape_markdown(column.name),
                    escape_markdown(column.dtype, 30),
                    column.logical_type,
                    _pct(column.null_share),
                    _n(column.distinct),
                    low,
                    mean,
                    high,
                    _n(len(column.issues)),
                ]
            )
        out += _table(
            ["Column", "Type", "Logical type", "Nulls", "Distinct", "Min", "Mean", "Max", "Issues"],
            rows,
        )
    else:
        out.append("The table has no columns.")

    out += ["", "## Outliers", ""]
    flagged = [
        c for c in report.columns_profile if c.outliers and (c.outliers.iqr_count or c.outliers.zscore_count)
    ]
    if flagged:
        threshold = _num(flagged[0].outliers.zscore_threshold if flagged[0].outliers else None)
        out += _table(
            [
                "Column",
                "IQR outliers",
                "IQR fences",
                f"z-score outliers (\\|z\\| > {threshold})",
                "Sample rows",
            ],
            [
                [
                    escape_markdown(c.name),
                    _n(c.outliers.iqr_count),
                    f"[{_num(c.outliers.iqr_lower)}, {_num(c.outliers.iqr_upper)}]",
                    _n(c.outliers.zscore_count),
                    ", ".join(str(i) for i in c.outliers.sample_rows) or "—",
                ]
                for c in flagged
                if c.outliers is not None
            ],
        )
        out += ["", "_Sample rows are 0-based row positions, most extreme first._"]
    else:
        out.append("No outliers detected by the IQR or z-score rules.")

    out += ["", "## Recommendations", ""]
    if report.recommendations:
        shown = report.recommendations[:MAX_TABLE_ROWS]
        out += [f"{i}. {escape_markdown(text, MAX_TEXT_CHARS)}" for i, text in enumerate(shown, start=1)]
        if len(report.recommendations) > len(shown):
            out += ["", f"_… {_n(len(report.recommendations) - len(shown))} more in the JSON report._"]
    else:
        out.append("Nothing to fix: no actionable issues were found.")
    return "\n".join(out) + "\n"


def _issue_counts(report: QualityReport) -> str:
    counts = {"error": 0, "warning": 0, "info": 0}
    for issue in report.issues:
        counts[issue.severity] += 1
    errors, warnings = counts["error"], counts["warning"]
    return (
        f"{errors} error{'' if errors == 1 else 's'}, {warnings} warning{'' if warnings == 1 else 's'}, "
        f"{counts['info']} info"
    )
