"""The job's report (orchestrator/report.py): how findings read in HTML and Markdown."""

from __future__ import annotations

import pytest

from orchestrator.report import ReportInputs, build_html, build_markdown

pytestmark = pytest.mark.unit

INSIGHTS = [
    {
        "rank": 1,
        "kind": "group_difference",
        "title": "revenue differs by product",
        "detail": "Kruskal-Wallis H = 1,572",
        "columns": ["revenue", "product"],
        "metric": "epsilon_squared",
        "value": 0.651,
        "p_value": 1e-9,
        "effect_size": 0.807,
        "score": 0.9,
    },
    {
        "rank": 2,
        "kind": "skewed_distribution",
        "title": "revenue is right-skewed <script>",
        "detail": "a few large values",
        "columns": ["revenue"],
        "metric": "skew",
        "value": 27.07,
        "p_value": None,
        "effect_size": None,
        "score": 0.5,
    },
]


def _inputs() -> ReportInputs:
    return ReportInputs(
        job={"job_id": "job-1", "request": "r"}, steps=[], summary="s", eda={"insights": INSIGHTS}
    )


def test_findings_name_their_numbers_and_explain_the_strength_column() -> None:
    page = build_html(_inputs(), plotly_js=None)
    assert "<td>ε² 0.651</td><td>&lt; 0.001</td><td>0.807</td>" in page
    assert "<td>skew 27.070</td><td></td><td></td>" in page
    assert "<th>Strength</th>" in page
    assert "one 0–1 scale" in page
    assert "<script>" not in page.split("Key findings")[1].split("</section>")[0]  # escaped

    markdown = build_markdown(_inputs())
    assert "(ε² 0.651, p < 0.001, strength 0.807)" in markdown
    assert "(skew 27.070)" in markdown
