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

    Sections: summary (rows, columns, score and grade with its meaning, duplicates, missing
    cells), how the score was computed (per dimension: weight, affected rows, score, points
    lost, and the rule in words), findings ranked by impact (rows, share, examples), the
    recommendations with what the platform already does about each, the per-column table and
    outliers. Long tables are cut at :data:`MAX_TABLE_ROWS` rows.

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

    meaning = f": {escape_markdown(report.grade_meaning, MAX_TEXT_CHARS)}" if report.grade_meaning else ""
    out += ["## Summary", ""]
    out += _table(
        ["Metric", "Value"],
        [
            ["Rows", _n(report.rows)],
            ["Columns", _n(report.columns)],
            ["Quality score", f"**{report.score:.1f} / 100** (grade **{report.grade}**{meaning})"],
            ["Duplicate rows", f"{_n(report.duplicate_rows)} ({_pct(report.duplicate_share)})"],
            ["Missing cells", f"{_n(report.missing_cells)} ({_pct(report.missing_share)})"],
            ["Issues", _issue_counts(report)],
            ["Memory", _bytes(report.memory_bytes)],
        ],
    )
    out += ["", "### How the score was computed", ""]
    if report.dimensions:
        out += _table(
            [
                "Dimension",
                "Weight",
                "Affected rows",
                "Share",
                "Fails at",
                "Score",
                "Points lost",
                "Counts as affected",
            ],
            [
                [
                    escape_markdown(d.name),
                    f"{d.weight:.0%}",
                    _n(d.affected_rows)
                    + (f" + {_n(d.column_defects)} column-level" if d.column_defects else ""),
                    _pct(d.affected_share),
                    _pct(d.failing_share),
                    f"{d.score:.1f}",
                    f"{d.points_lost:.1f}",
                    escape_markdown(d.definition, MAX_TEXT_CHARS),
                ]
                for d in report.dimensions
            ],
        )
    else:
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
    if report.score_method:
        out += ["", escape_markdown(report.score_method, 2000)]

    out += ["", "## Issues", ""]
    if report.issues:
        out += ["_Ranked by impact: the score points each finding costs on its own._", ""]
        out += _table(
            ["#", "Severity", "Impact", "Dimension", "Kind", "Column", "Rows", "Details", "Examples"],
            [
                [
                    str(rank),
                    issue.severity.upper() if issue.severity == "error" else issue.severity,
                    f"{issue.impact:.1f}" if issue.dimension else "—",
                    escape_markdown(issue.dimension) if issue.dimension else "(not scored)",
                    escape_markdown(issue.kind)
                    + (" (from ingestion)" if issue.source == "ingestion" else ""),
                    escape_markdown(issue.column) if issue.column is not None else "(table)",
                    _rows_cell(issue.rows, issue.row_share, issue.count),
                    escape_markdown(issue.message, MAX_TEXT_CHARS),
                    _examples_cell(issue.examples, issue.sample_rows),
                ]
                for rank, issue in enumerate(report.issues, start=1)
            ],
        )
    else:
        out.append("No issues found.")

    out += ["", "## Recommendations", ""]
    actions: list[tuple[str, str | None]] = []
    seen: set[str] = set()
    for issue in report.issues:
        if issue.recommendation and issue.recommendation not in seen:
            seen.add(issue.recommendation)
            actions.append((issue.recommendation, issue.treatment))
    for text in report.recommendations:  # reports built before per-issue recommendations
        if text not in seen:
            seen.add(text)
            actions.append((text, None))
    if actions:
        shown = actions[:MAX_TABLE_ROWS]
        for i, (text, treatment) in enumerate(shown, start=1):
            line = f"{i}. {escape_markdown(text, MAX_TEXT_CHARS)}"
            if treatment:
                line += f" _Platform: {escape_markdown(treatment, MAX_TEXT_CHARS)}_"
            out.append(line)
        if len(actions) > len(shown):
            out += ["", f"_… {_n(len(actions) - len(shown))} more in the JSON report._"]
    else:
        out.append("Nothing to fix: no actionable issues were found.")

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
        c
        for c in report.columns_profile
        if c.outliers and (c.outliers.iqr_count or c.outliers.zscore_count or c.outliers.far_count)
    ]
    if flagged:
        threshold = _num(flagged[0].outliers.zscore_threshold if flagged[0].outliers else None)
        out += _table(
            [
                "Column",
                "IQR outliers",
                "IQR fences",
                f"z-score outliers (\\|z\\| > {threshold})",
                "Implausible (far out)",
                "Far-out fences",
                "Sample rows",
            ],
            [
                [
                    escape_markdown(c.name),
                    _n(c.outliers.iqr_count),
                    f"[{_num(c.outliers.iqr_lower)}, {_num(c.outliers.iqr_upper)}]",
                    _n(c.outliers.zscore_count),
                    _n(c.outliers.far_count),
                    f"[{_num(c.outliers.far_lower)}, {_num(c.outliers.far_upper)}]"
                    + (" (log scale)" if c.outliers.far_scale == "log" else "")
                    if c.outliers.far_scale
                    else "—",
                    ", ".join(str(i) for i in c.outliers.sample_rows) or "—",
                ]
                for c in flagged
                if c.outliers is not None
            ],
        )
        out += [
            "",
            "_Statistical outliers (IQR, z-score) are often genuine and are not scored; implausible values lie "
            "beyond 3 x IQR (on log(1 + x) for non-negative columns) and lower the plausibility score. Sample rows "
            "are 0-based row positions, most extreme first._",
        ]
    else:
        out.append("No outliers detected by the IQR or z-score rules.")
    return "\n".join(out) + "\n"


def _examples_cell(examples: list[str], sample_rows: list[int]) -> str:
    """Offending values when the finding has them, else where to look (0-based row positions)."""
    if examples:
        return escape_markdown(", ".join(examples), MAX_CELL_CHARS)
    if sample_rows:
        return ("row " if len(sample_rows) == 1 else "rows ") + ", ".join(str(i) for i in sample_rows[:5])
    return "—"


def _rows_cell(rows: int | None, share: float | None, count: int | None) -> str:
    if rows is not None:
        return f"{_n(rows)} ({_pct(share or 0.0)})"
    if count is not None:
        return f"{_n(count)} values"
    return "—"


def _issue_counts(report: QualityReport) -> str:
    counts = {"error": 0, "warning": 0, "info": 0}
    for issue in report.issues:
        counts[issue.severity] += 1
    errors, warnings = counts["error"], counts["warning"]
    return (
        f"{errors} error{'' if errors == 1 else 's'}, {warnings} warning{'' if warnings == 1 else 's'}, "
        f"{counts['info']} info"
    )
