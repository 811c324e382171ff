"""Known-answer tests for the quality score: dimensions, findings with their rows, the demo table.

Expected figures come from the planted dirt (counted independently with plain pandas, or taken
from ``scripts/make_sample_sales.py``) and from the documented scoring rule in
``functions.quality.scoring`` (recomputed here from its constants), never from a previous run.
"""

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from analystack.a2a_kit.executor import SkillRequest
from analystack.models import CatalogItem, Producer
from functions.ingestion.loaders import load_table
from functions.quality.load_notes import parse_load_notes
from functions.quality.profiling import Issue, QualityReport, profile_table
from functions.quality.report import render_markdown
from functions.quality.scoring import (
    COLUMN_DEFECT_SHARE,
    DIMENSIONS,
    FAILING_SHARE,
    SCORE_WEIGHTS,
    dimension_penalty,
    dimension_score,
    grade_for,
    points_lost,
    severity_for,
    total_score,
)
from functions.quality.skills import AssessQualitySkill

pytestmark = pytest.mark.unit

SALES_CSV = Path(__file__).resolve().parents[2] / "layers/core/analystack/samples/sales.csv"
#: The absurd quantities ``scripts/make_sample_sales.py`` plants.
PLANTED_QUANTITIES = {250, 400, 310, 500, 275, 380}


def _issues(report: QualityReport, kind: str, column: str | None = None) -> list[Issue]:
    return [i for i in report.issues if i.kind == kind and (column is None or i.column == column)]


def _one(report: QualityReport, kind: str, column: str | None = None) -> Issue:
    found = _issues(report, kind, column)
    assert len(found) == 1, (kind, column, [(i.kind, i.column) for i in report.issues])
    return found[0]


def _dimension(report: QualityReport, name: str) -> Any:
    return next(d for d in report.dimensions if d.name == name)


def _expected_dimension_score(name: str, share: float) -> float:
    return 100.0 * (1.0 - min(1.0, math.sqrt(share / FAILING_SHARE[name])))


def _clean(rows: int = 200, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "order_id": [f"O{i:05d}" for i in range(rows)],
            "amount": np.round(rng.lognormal(4.0, 0.5, rows), 2),
            "quantity": rng.poisson(3, rows) + 1,
            "region": rng.choice(["North", "South", "East", "West"], rows),
            "ordered_at": pd.date_range("2023-01-01", periods=rows, freq="h"),
        }
    )


# --------------------------------------------------------------------------------------------
# The scoring rule itself
# --------------------------------------------------------------------------------------------


def test_weights_sum_to_one_and_every_dimension_has_a_failing_share() -> None:
    assert math.isclose(sum(SCORE_WEIGHTS.values()), 1.0)
    assert set(SCORE_WEIGHTS) == set(FAILING_SHARE) == set(DIMENSIONS)


@pytest.mark.parametrize("dimension", DIMENSIONS)
def test_penalty_is_the_square_root_of_the_share_relative_to_the_failing_share(dimension: str) -> None:
    failing = FAILING_SHARE[dimension]
    assert dimension_penalty(dimension, 0.0) == 0.0
    assert dimension_penalty(dimension, failing / 4) == pytest.approx(0.5)
    assert dimension_penalty(dimension, failing) == pytest.approx(1.0)
    assert dimension_penalty(dimension, 3 * failing) == 1.0  # capped
    assert dimension_score(dimension, failing / 100) == pytest.approx(90.0)
    assert points_lost(dimension, failing / 4) == pytest.approx(50.0 * SCORE_WEIGHTS[dimension])


def test_total_score_is_the_weighted_sum_and_grades_follow_it() -> None:
    assert total_score({}) == 100.0
    failed_all: dict[str, float] = dict.fromkeys(DIMENSIONS, 1.0)
    assert total_score(failed_all) == 0.0
    only_plausibility = total_score({"plausibility": FAILING_SHARE["plausibility"]})
    assert only_plausibility == pytest.approx(100.0 - 100.0 * SCORE_WEIGHTS["plausibility"])
    assert [grade_for(s) for s in (95.0, 85.0, 75.0, 65.0, 10.0)] == ["A", "B", "C", "D", "F"]
    assert [severity_for(x) for x in (0.0, 0.99, 1.0, 4.99, 5.0)] == [
        "info",
        "info",
        "warning",
        "warning",
        "error",
    ]


# --------------------------------------------------------------------------------------------
# Planted problems with known answers
# --------------------------------------------------------------------------------------------


def test_a_clean_table_scores_a_with_nothing_scored() -> None:
    report = profile_table(_clean(), now=pd.Timestamp("2030-01-01", tz="UTC"))
    assert report.score == 100.0
    assert report.grade == "A"
    assert all(d.score == 100.0 and d.affected_rows == 0 for d in report.dimensions)
    assert [i for i in report.issues if i.dimension is not None] == []
    # Genuine right-skewed prices (log-normal) are not called implausible.
    assert _issues(report, "implausible_values") == []
    assert report.score_method
    assert "plausibility 25%" in report.score_method


def test_planted_duplicates_are_counted_exactly_with_their_rows() -> None:
    base = _clean()
    copies = [3, 50, 77, 120, 199]
    frame = pd.concat([base, base.iloc[copies]], ignore_index=True)
    report = profile_table(frame, now=pd.Timestamp("2030-01-01", tz="UTC"))

    assert report.duplicate_rows == len(copies) == int(frame.duplicated().sum())
    issue = _one(report, "duplicate_rows")
    assert issue.rows == len(copies)
    assert issue.sample_rows == [200, 201, 202, 203, 204]
    assert issue.examples[0] == "row 200 = row 3"
    assert issue.dimension == "uniqueness"
    assert "'order_id'" in issue.message  # its id repeats too, so no separate duplicate_ids finding
    assert _issues(report, "duplicate_ids") == []
    share = len(copies) / len(frame)
    assert _dimension(report, "uniqueness").score == pytest.approx(
        _expected_dimension_score("uniqueness", share), abs=0.05
    )
    assert issue.impact == pytest.approx(points_lost("uniqueness", share), abs=0.01)
    assert report.score == pytest.approx(100.0 - points_lost("uniqueness", share), abs=0.05)


def test_an_identifier_reused_by_different_records_is_a_uniqueness_finding() -> None:
    frame = _clean()
    frame.loc[10, "order_id"] = frame.loc[4, "order_id"]  # same id, different order
    report = profile_table(frame)
    assert report.duplicate_rows == 0
    issue = _one(report, "duplicate_ids", "order_id")
    assert issue.rows == 1
    assert issue.sample_rows == [10]
    assert _one(report, "identifier", "order_id").dimension is None


def test_planted_absurd_and_negative_quantities_are_implausible_but_skewed_prices_are_not() -> None:
    frame = _clean(1000)
    frame.loc[123, "quantity"] = 480
    frame.loc[456, "quantity"] = -3
    report = profile_table(frame, now=pd.Timestamp("2030-01-01", tz="UTC"))

    absurd = _one(report, "implausible_values", "quantity")
    assert absurd.rows == 1
    assert absurd.sample_rows == [123]
    assert absurd.examples == ["480"]
    negative = _one(report, "negative_values", "quantity")
    assert negative.rows == 1
    assert negative.sample_rows == [456]
    assert _issues(report, "implausible_values", "amount") == []
    assert _dimension(report, "plausibility").affected_rows == 2  # union of both findings
    assert _dimension(report, "plausibility").score == pytest.approx(
        _expected_dimension_score("plausibility", 2 / 1000), abs=0.05
    )


def test_case_and_whitespace_variants_are_grouped_under_the_most_frequent_spelling() -> None:
    labels = ["West"] * 50 + ["west"] * 5 + [" West"] * 3 + ["WEST "] * 2 + ["East"] * 40 + ["east"] * 1
    labels += [" North"] * 4  # padded, but no other spelling of North exists
    frame = pd.DataFrame({"region": labels, "n": range(len(labels))})
    report = profile_table(frame)

    issue = _one(report, "inconsistent_labels", "region")
    assert issue.rows == 5 + 3 + 2 + 1
    assert issue.count == 11
    assert "spells 2 labels in 6 ways" in issue.message
    assert "'West' (50) also as 'west' (5), ' West' (3), 'WEST ' (2)" in issue.message
    assert set(issue.examples) >= {"'west'", "' West'", "'WEST '", "'east'"}
    assert "unify case" in (issue.recommendation or "")
    padded = _one(report, "whitespace", "region")  # only the value outside any variant group
    assert padded.rows == 4
    assert padded.examples == ["' North'"]
    assert _dimension(report, "consistency").affected_rows == 15


def test_a_problem_is_not_diluted_by_clean_columns() -> None:
    narrow = pd.DataFrame({"x": [None] * 10 + list(range(90))})
    wide = narrow.assign(**{f"clean_{i}": range(100) for i in range(19)})
    narrow_report, wide_report = profile_table(narrow), profile_table(wide)
    assert _dimension(narrow_report, "completeness").score == _dimension(wide_report, "completeness").score
    assert _dimension(wide_report, "completeness").score == pytest.approx(
        _expected_dimension_score("completeness", 0.10), abs=0.05
    )
    assert wide_report.missing_share == pytest.approx(10 / 2000)  # the cell share, for comparison


def test_affected_rows_are_a_union_across_columns() -> None:
    values = list(range(100))
    same = pd.DataFrame({"a": [None] * 10 + values[10:], "b": [None] * 10 + values[10:]})
    apart = pd.DataFrame({"a": [None] * 10 + values[10:], "b": values[:90] + [None] * 10})
    assert _dimension(profile_table(same), "completeness").affected_rows == 10
    assert _dimension(profile_table(apart), "completeness").affected_rows == 20


def test_findings_are_ranked_by_impact_and_their_severity_follows_it() -> None:
    frame = _clean(400)
    frame.loc[:59, "region"] = None  # 15 % of rows
    frame.loc[7, "quantity"] = 900
    frame = pd.concat([frame, frame.iloc[[1]]], ignore_index=True)
    report = profile_table(frame)
    impacts = [i.impact for i in report.issues]
    assert impacts == sorted(impacts, reverse=True)
    assert report.issues[0].kind == "missing_values"
    for issue in report.issues:
        assert issue.severity == (severity_for(issue.impact) if issue.dimension else "info")
    lost = sum(d.points_lost for d in report.dimensions)
    assert report.score == pytest.approx(100.0 - lost, abs=0.1)


def test_an_all_empty_column_counts_as_a_column_level_defect() -> None:
    frame = _clean().assign(notes=None)
    report = profile_table(frame)
    completeness = _dimension(report, "completeness")
    assert completeness.affected_rows == 0
    assert completeness.column_defects == 1
    assert completeness.affected_share == pytest.approx(COLUMN_DEFECT_SHARE)


# --------------------------------------------------------------------------------------------
# Loading notes: what ingestion repaired still counts
# --------------------------------------------------------------------------------------------


def test_loader_conversion_notes_become_findings_of_the_uploaded_file() -> None:
    prices = ["$1.50", "2.00", "3.25", "abc"] + [f"{i}.00" for i in range(4, 80)]
    csv = "price,qty\n" + "\n".join(f"{p},{i}" for i, p in enumerate(prices)) + "\n"
    table = load_table(csv.encode(), "prices.csv")
    assert pd.api.types.is_float_dtype(table.frame["price"])  # ingestion repaired the column
    report = profile_table(table.frame, load_notes=table.warnings)

    typed = _one(report, "numeric_as_text", "price")
    assert typed.source == "ingestion"
    assert typed.dimension == "validity"
    unparseable = _one(report, "unparseable_values", "price")
    assert unparseable.rows == 1
    assert unparseable.examples == ["'abc'"]
    assert _one(report, "missing_values", "price").rows == 1  # the value ingestion blanked
    assert _dimension(report, "validity").score < 100.0


def test_load_notes_with_a_formatted_count_and_unknown_notes() -> None:
    notes = parse_load_notes(
        [
            "Column 'unit_price' was read as text but holds numbers; converted it; 8 value(s) were formatted "
            "(currency symbols, thousands separators or percent signs), e.g. '$93.46', '$55.39'.",
            "Column 'order_date' was read as text but holds dates; converted it; every value converted.",
            "The text is not UTF-8; decoded it as cp949 (detected automatically, please check).",
            "Column 3: renamed 'a' to 'a_2' (duplicate name).",
            "Column 'category': stripped surrounding whitespace from 30 value(s).",
            42,
        ]
    )
    assert [(n.kind, n.column, n.rows) for n in notes] == [
        ("formatted_numbers", "unit_price", 8),
        ("duplicate_column_name", "a_2", None),
        ("whitespace", "category", 30),
    ]
    assert notes[0].examples == ("$93.46", "$55.39")

    frame = pd.DataFrame({"unit_price": np.linspace(10.0, 99.0, 400)})
    report = profile_table(frame, load_notes=[notes[0].text])
    typed = _one(report, "numeric_as_text", "unit_price")
    assert typed.rows == 8
    assert "8 values were written as formatted numbers" in typed.message
    assert _dimension(report, "validity").affected_rows == 8
    assert _dimension(report, "validity").column_defects == 0


# --------------------------------------------------------------------------------------------
# The demo table
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo() -> tuple[QualityReport, pd.DataFrame]:
    table = load_table(SALES_CSV.read_bytes(), "sales.csv")
    return profile_table(table.frame, load_notes=table.warnings), pd.read_csv(SALES_CSV, dtype=str)


def test_demo_table_grades_c_with_every_dimension_hit(demo: tuple[QualityReport, pd.DataFrame]) -> None:
    report, _ = demo
    # Every dimension has planted dirt (about 6 % of rows in all): usable only after cleaning.
    assert report.grade == "C"
    assert 65.0 <= report.score < 80.0
    assert all(d.score < 100.0 for d in report.dimensions)
    assert {i.kind for i in report.issues[:6]} >= {
        "implausible_values",
        "inconsistent_labels",
        "missing_values",
        "duplicate_rows",
    }


def test_demo_table_findings_match_the_planted_dirt(demo: tuple[QualityReport, pd.DataFrame]) -> None:
    report, raw = demo
    assert _one(report, "duplicate_rows").rows == int(raw.duplicated().sum()) == 15

    absurd = _one(report, "implausible_values", "quantity")
    assert {int(v.replace(",", "")) for v in absurd.examples} <= PLANTED_QUANTITIES
    flagged_quantities = {int(raw.loc[r, "quantity"]) for r in absurd.sample_rows}
    planted_rows = int(raw["quantity"].astype(int).isin(PLANTED_QUANTITIES).sum())
    assert flagged_quantities == PLANTED_QUANTITIES
    assert absurd.rows == planted_rows
    assert _issues(report, "implausible_values", "unit_price") == []  # tablets are expensive, not absurd

    padded = raw["category"].str.strip() != raw["category"]
    labels = _one(report, "inconsistent_labels", "category")
    assert labels.rows == int(padded.sum()) == 30
    assert labels.treatment
    assert "strips surrounding whitespace" in labels.treatment

    missing = {i.column: i.rows for i in _issues(report, "missing_values")}
    assert missing == {c: int(n) for c, n in raw.isna().sum().items() if n}

    typed = _one(report, "numeric_as_text", "unit_price")
    assert typed.source == "ingestion"
    assert typed.treatment
    assert typed.treatment.startswith("Already treated")


def test_demo_csv_read_without_ingestion_counts_the_dollar_prices(
    demo: tuple[QualityReport, pd.DataFrame],
) -> None:
    _, raw = demo
    report = profile_table(pd.read_csv(SALES_CSV))
    typed = _one(report, "numeric_as_text", "unit_price")
    dollars = raw["unit_price"].str.startswith("$", na=False)
    assert typed.rows == int(dollars.sum()) == 8
    assert all(e.startswith("'$") for e in typed.examples)
    assert report.grade == "C"


def test_demo_markdown_explains_the_score_and_keeps_tables_aligned(
    demo: tuple[QualityReport, pd.DataFrame],
) -> None:
    report, _ = demo
    markdown = render_markdown(report, dataset_name="sales.csv")
    assert "### How the score was computed" in markdown
    assert "Points lost" in markdown
    assert "_Platform: " in markdown
    assert f"{report.score:.1f} / 100" in markdown
    header_pipes: int | None = None
    for line in markdown.splitlines():
        if not line.startswith("|"):
            header_pipes = None
            continue
        pipes = len(re.findall(r"(?<!\\)\|", line))
        header_pipes = pipes if header_pipes is None else header_pipes
        assert pipes == header_pipes, line


# --------------------------------------------------------------------------------------------
# The skill's outputs and the orchestrator's readers
# --------------------------------------------------------------------------------------------


class _FakeHub:
    """The two hub calls the skill makes, in memory."""

    def __init__(self, frame: pd.DataFrame, warnings: list[str]) -> None:
        self.frame = frame
        self.item = CatalogItem(
            item_id="ds-1",
            kind="dataset",
            name="sales.csv",
            s3_uri="s3://hub/datasets/ds-1.parquet",
            media_type="application/vnd.apache.parquet",
            size_bytes=1,
            producer=Producer(agent="ingestion"),
            metadata={"warnings": warnings},
        )
        self.bodies: dict[str, bytes] = {}

    def read_dataset(self, dataset_id: str) -> tuple[CatalogItem, pd.DataFrame]:
        assert dataset_id == self.item.item_id
        return self.item, self.frame

    def put_artifact(self, body: bytes, *, name: str, media_type: str, **_: Any) -> CatalogItem:
        item_id = f"art-{len(self.bodies) + 1}"
        self.bodies[name] = body
        return CatalogItem(
            item_id=item_id,
            kind="artifact",
            name=name,
            s3_uri=f"s3://hub/artifacts/{item_id}",
            media_type=media_type,
            size_bytes=len(body),
            producer=Producer(agent="quality"),
        )


def test_skill_reads_the_loading_notes_and_keeps_its_output_contract() -> None:
    from orchestrator.report import ReportInputs, build_json
    from orchestrator.synthesis import build_facts

    table = load_table(SALES_CSV.read_bytes(), "sales.csv")
    hub = _FakeHub(table.frame, table.warnings)
    result = AssessQualitySkill(hub)(
        SkillRequest(skill="assess_quality", inputs={"dataset_id": "ds-1"}),
        lambda *args, **kwargs: None,
    )
    outputs: Mapping[str, Any] = result.outputs
    # What orchestrator/llm_planner.py (KNOWN_OUTPUTS), synthesis.py and report.py read.
    assert {"report_id", "report_uri", "markdown_id", "score", "grade", "issues", "dataset_id"} <= set(
        outputs
    )
    assert all(isinstance(outputs[k], str) for k in ("score", "grade", "issues"))
    report = json.loads(hub.bodies["quality_report.json"])
    assert outputs["grade"] == report["grade"] == "C"
    assert float(outputs["score"]) == report["score"]
    assert int(outputs["issues"]) == len(report["issues"])
    assert any(i["source"] == "ingestion" and i["column"] == "unit_price" for i in report["issues"])

    summary = build_json(ReportInputs(job={}, steps=[], summary="", quality=report))["quality"]
    assert summary is not None
    assert summary["score"] == report["score"]
    assert set(summary["score_breakdown"]) == set(DIMENSIONS)
    facts = build_facts(
        request="analyze", status="succeeded", steps={"quality": {"outputs": dict(outputs)}}, quality=report
    )
    fact = facts.fact("quality.grade")
    assert fact is not None
    assert fact.value == "C"
