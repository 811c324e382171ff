"""How the quality score is computed: five dimensions, their weights, one penalty curve, a grade.

Why a module of its own: the score is a claim made to the user ("this table is a C"), so its
definition must be short, documented and shared by the profiler, the Markdown report and the
tests. This module holds only that arithmetic; detection lives in ``profiling``.

The model, in one paragraph (also rendered into every report by :func:`describe_method`):

* Every finding lowers exactly one **dimension** (or none, when it is information only).
* A dimension's **affected share** is the share of the table's *rows* that hold at least one of
  its problems (the union over all its findings and columns), so a problem in one column of a
  wide table counts as much as in a narrow one: clean columns do not dilute it. A problem known
  only at column level (an all-empty column, a column typed as text with no count of offending
  values) counts as :data:`COLUMN_DEFECT_SHARE` of the rows.
* A dimension's **penalty** is ``min(1, sqrt(share / FAILING_SHARE[dimension]))``: the square
  root makes the first affected rows cost the most (a problem that exists at all already forces
  a cleaning step), and the dimension reaches 0 once the share reaches its failing share.
* The **score** is ``sum(SCORE_WEIGHTS[d] * 100 * (1 - penalty_d))``; the **grade** follows
  :data:`GRADE_THRESHOLDS`.
* A finding's **impact** is the score points it would cost on its own
  (``100 * weight * penalty`` of its share alone); findings are ranked by it and its
  severity follows from it (:data:`ERROR_IMPACT`, :data:`WARNING_IMPACT`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal

__all__ = [
    "COLUMN_DEFECT_SHARE",
    "DIMENSIONS",
    "DIMENSION_DEFINITIONS",
    "ERROR_IMPACT",
    "FAILING_SHARE",
    "GRADE_MEANINGS",
    "GRADE_THRESHOLDS",
    "SCORE_WEIGHTS",
    "WARNING_IMPACT",
    "Dimension",
    "Grade",
    "Severity",
    "describe_method",
    "dimension_penalty",
    "dimension_score",
    "grade_for",
    "points_lost",
    "severity_for",
    "total_score",
]

Dimension = Literal["completeness", "validity", "uniqueness", "consistency", "plausibility"]
Grade = Literal["A", "B", "C", "D", "F"]
Severity = Literal["info", "warning", "error"]

DIMENSIONS: tuple[Dimension, ...] = ("completeness", "validity", "uniqueness", "consistency", "plausibility")

#: Weights of the dimensions (they sum to 1):
#:
#: * ``plausibility`` (0.25): absurd values (a quantity of 500 among single digits) dominate
#:   sums and means, so a handful of them falsifies every total; the highest weight.
#: * ``completeness`` (0.20): missing values bias or drop rows, but moderate missingness is
#:   routinely handled (the platform's AutoML imputes medians and missing-value levels).
#: * ``validity`` (0.20): values of the wrong type (numbers stored as text, "$93.46", mixed
#:   types, infinities) silently break casts, sums and group-bys.
#: * ``uniqueness`` (0.20): duplicated records double-count in every count and sum and leak
#:   across train/test splits.
#: * ``consistency`` (0.15): one label spelled several ways (" Home " vs "Home") splits groups;
#:   the cheapest problem to fix, hence the lowest weight.
SCORE_WEIGHTS: dict[str, float] = {
    "completeness": 0.20,
    "validity": 0.20,
    "uniqueness": 0.20,
    "consistency": 0.15,
    "plausibility": 0.25,
}

#: Share of affected rows at which a dimension scores 0 (the table is unusable in that respect
#: without treatment). Absurd values must be rare to be absurd and each one can dominate a
#: total, so plausibility fails soonest (5 %); rows with a missing value stay usable after
#: imputation, so completeness fails last (25 %).
FAILING_SHARE: dict[str, float] = {
    "completeness": 0.25,
    "validity": 0.10,
    "uniqueness": 0.10,
    "consistency": 0.10,
    "plausibility": 0.05,
}

#: What makes a row "affected" in each dimension (shown in the report).
DIMENSION_DEFINITIONS: dict[str, str] = {
    "completeness": "rows with a missing value (null, empty string or a placeholder such as 'n/a')",
    "validity": "rows with a value of the wrong type (numbers stored as text, formatted numbers such as "
    "'$93.46', mixed types, infinities, values the loader could not convert)",
    "uniqueness": "rows that repeat an earlier row exactly, or reuse an identifier with different values",
    "consistency": "rows whose label is a case/whitespace variant of a more frequent spelling, or padded "
    "with whitespace",
    "plausibility": "rows with an absurd value: beyond Tukey's far-out fences (3 x IQR, on a log scale for "
    "non-negative columns), a rare negative in a non-negative column, or a date in the future",
}

#: A problem known only at column level counts as this share of the rows.
COLUMN_DEFECT_SHARE = 0.005

#: Letter grades by minimum score, checked in order; anything lower is "F".
GRADE_THRESHOLDS: tuple[tuple[Literal["A", "B", "C", "D"], float], ...] = (
    ("A", 90.0),
    ("B", 80.0),
    ("C", 70.0),
    ("D", 60.0),
)

#: What each grade tells the user to do.
GRADE_MEANINGS: dict[str, str] = {
    "A": "ready for analysis",
    "B": "usable; fix the listed issues before quoting exact figures",
    "C": "clean it before relying on totals, averages or models",
    "D": "substantial cleaning needed before analysis",
    "F": "not usable as it is",
}

#: A finding costing at least this many score points on its own is an error; at least
#: :data:`WARNING_IMPACT` a warning; otherwise (and when unscored) information.
ERROR_IMPACT = 5.0
WARNING_IMPACT = 1.0


def dimension_penalty(dimension: str, share: float) -> float:
    """``min(1, sqrt(share / FAILING_SHARE[dimension]))``: 0 for a clean dimension, 1 when failed."""
    if share <= 0.0:
        return 0.0
    return min(1.0, math.sqrt(share / FAILING_SHARE[dimension]))


def dimension_score(dimension: str, share: float) -> float:
    """The dimension on a 0-100 scale for the given share of affected rows."""
    return 100.0 * (1.0 - dimension_penalty(dimension, share))


def points_lost(dimension: str, share: float) -> float:
    """Score points a dimension loses at ``share`` affected rows (its weight x its penalty)."""
    return 100.0 * SCORE_WEIGHTS[dimension] * dimension_penalty(dimension, share)


def total_score(shares: Mapping[str, float]) -> float:
    """The 0-100 score for each dimension's affected share (missing dimensions are clean)."""
    score = sum(SCORE_WEIGHTS[d] * dimension_score(d, shares.get(d, 0.0)) for d in DIMENSIONS)
    return min(100.0, max(0.0, round(score, 1)))


def severity_for(impact: float) -> Severity:
    """Error at >= :data:`ERROR_IMPACT` points, warning at >= :data:`WARNING_IMPACT`, else info."""
    if impact >= ERROR_IMPACT:
        return "error"
    if impact >= WARNING_IMPACT:
        return "warning"
    return "info"


def grade_for(score: float) -> Grade:
    """Letter grade for a 0-100 score (A>=90, B>=80, C>=70, D>=60, else F)."""
    for grade, minimum in GRADE_THRESHOLDS:
        if score >= minimum:
            return grade
    return "F"


def describe_method() -> str:
    """The scoring rule in words, with the live constants, for the report a person reads."""
    weights = ", ".join(f"{d} {SCORE_WEIGHTS[d]:.0%}" for d in DIMENSIONS)
    failing = ", ".join(f"{d} {FAILING_SHARE[d]:.0%}" for d in DIMENSIONS)
    grades = ", ".join(f"{g} >= {m:g}" for g, m in GRADE_THRESHOLDS) + ", F below"
    return (
        "Each finding lowers one dimension. A dimension's affected share is the share of rows holding at "
        "least one of its problems (union over columns, so clean columns do not dilute it; a problem known "
        f"only per column counts as {COLUMN_DEFECT_SHARE:.1%} of rows). Dimension score = 100 x (1 - "
        "min(1, sqrt(affected share / failing share))): the first affected rows cost the most, and the "
        f"dimension reaches 0 at its failing share ({failing}). Score = weighted sum of the dimension "
        f"scores ({weights}). Grade: {grades}. A finding's impact is the points it costs on its own; "
        f"findings are ranked by impact (error >= {ERROR_IMPACT:g} points, warning >= {WARNING_IMPACT:g})."
    )
