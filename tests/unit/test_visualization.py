"""Tests for the visualization agent's chart recommendation, rendering and dashboards.

The demo sales table is the reference case: what it should yield (a revenue trend, revenue by
region/category, the revenue distribution, a scatter and a heatmap) is what a person would
draw first. Other tests pin the behaviours that keep the artifacts safe to ship: bounded
figure size on 1M rows, offline HTML, and escaping of hostile column names.
"""

import gzip
import html
import json
import re
import threading
import zlib
from collections.abc import Sequence
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest
from plotly.offline import get_plotlyjs

from analystack import hub as hub_module
from analystack.a2a_kit.executor import SkillRequest
from analystack.errors import EmptyDataError, InvalidInputError, NotFoundError, UnknownColumnError
from analystack.hub import SharedPart, gzip_parts
from analystack.models import CatalogItem, Producer
from functions.visualization.charts import (
    MAX_BAR_CATEGORIES,
    ChartSpec,
    figure_dict,
    figure_html,
    figure_json,
    figure_page,
    recommend_charts,
    render_chart,
)
from functions.visualization.dashboard import build_dashboard, build_dashboard_page
from functions.visualization.skills import VisualizeSkill

pytestmark = pytest.mark.unit

HOSTILE = "<script>alert(1)</script>"
MAX_JSON_BYTES = 1_500_000
_SCRIPT_SRC = re.compile(r"<script\b[^>]*\bsrc\s*=", re.IGNORECASE)


def _columns_of(spec: ChartSpec) -> set[str]:
    """Every column a spec refers to, including those inside its options."""
    names = {n for n in (spec.x, spec.y, spec.color) if n is not None}
    cols = spec.options.get("columns")
    if spec.kind == "heatmap" and isinstance(cols, list):
        names.update(cols)
    return names


@pytest.fixture(scope="module")
def sales() -> pd.DataFrame:
    path = resources.files("analystack") / "samples" / "sales.csv"
    with resources.as_file(path) as csv:
        return pd.read_csv(csv, parse_dates=["order_date"])


@pytest.fixture(scope="module")
def sales_specs(sales: pd.DataFrame) -> list[ChartSpec]:
    return recommend_charts(sales, target="revenue")


@pytest.fixture(scope="module")
def million() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 1_000_000
    x = rng.normal(size=n)
    return pd.DataFrame(
        {
            "ts": pd.date_range("2021-01-01", periods=n, freq="min"),
            "amount": rng.lognormal(3.0, 1.0, n),
            "x": x,
            "y": 2.0 * x + rng.normal(size=n),
            "segment": rng.choice(["north", "south", "east", "west"], n),
        }
    )


def _synthetic(rows: int = 200, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "a": rng.normal(size=rows),
            "b": rng.normal(size=rows),
            "c": rng.normal(size=rows),
            "d": rng.normal(size=rows),
            "group": rng.choice(["g1", "g2", "g3"], rows),
        }
    )


# --------------------------------------------------------------------------------------------
# Recommendations on the demo dataset
# --------------------------------------------------------------------------------------------


def test_demo_recommendations_cover_the_expected_views(sales_specs: list[ChartSpec]) -> None:
    kinds = {s.kind for s in sales_specs}
    assert len(kinds) >= 4
    assert {"line", "bar", "scatter", "heatmap"} <= kinds
    assert 4 <= len(sales_specs) <= 8

    lines = [s for s in sales_specs if s.kind == "line"]
    assert any(s.x == "order_date" and s.y == "revenue" and s.agg == "sum" for s in lines)
    assert lines[0].options["freq"] == "month"  # two years of orders -> monthly buckets

    bars = {s.x for s in sales_specs if s.kind == "bar" and s.y == "revenue"}
    assert bars & {"region", "category"}
    assert any(s.kind in ("histogram", "box") and "revenue" in (s.x, s.y) for s in sales_specs)
    scatter = next(s for s in sales_specs if s.kind == "scatter")
    assert {scatter.x, scatter.y} in ({"revenue", "quantity"}, {"revenue", "unit_price"})
    assert scatter.y == "revenue"  # the target goes on the y axis
    heatmap = next(s for s in sales_specs if s.kind == "heatmap")
    assert heatmap.options["columns"][0] == "revenue"
    assert set(heatmap.options["columns"]) >= {"quantity", "discount", "unit_price"}


def test_demo_recommendations_never_chart_the_identifier(sales_specs: list[ChartSpec]) -> None:
    for spec in sales_specs:
        assert "order_id" not in _columns_of(spec), spec


def test_demo_recommendations_are_ranked_unique_and_explained(sales_specs: list[ChartSpec]) -> None:
    priorities = [s.priority for s in sales_specs]
    assert priorities == sorted(priorities, reverse=True)
    assert len({s.chart_id for s in sales_specs}) == len(sales_specs)
    assert len({(s.kind, s.x, s.y, s.color, s.agg) for s in sales_specs}) == len(sales_specs)
    for spec in sales_specs:
        assert spec.reason.endswith("."), spec.reason
        assert ". " not in spec.reason, spec.reason  # one sentence
        assert ChartSpec.model_validate_json(spec.model_dump_json()) == spec
    distribution = next(s for s in sales_specs if s.kind in ("histogram", "box"))
    # revenue has a long right tail in the demo data: a box plot on a log axis, said why
    assert distribution.kind == "box"
    assert "right-skewed (skew" in distribution.reason
    assert distribution.options.get("log_y") is True


def test_recommendations_are_deterministic(sales: pd.DataFrame, sales_specs: list[ChartSpec]) -> None:
    assert recommend_charts(sales, target="revenue") == sales_specs


def test_date_text_and_numeric_text_are_recognised(sales: pd.DataFrame) -> None:
    raw = sales.assign(order_date=sales["order_date"].dt.strftime("%Y-%m-%d"))
    specs = recommend_charts(raw, target="revenue")
    line = next(s for s in specs if s.kind == "line")
    assert line.x == "order_date"
    assert "parsed from text" in line.reason
    # unit_price is text in the CSV ("$93.46" in places) but still counts as a number
    heatmap = next(s for s in specs if s.kind == "heatmap")
    assert "unit_price" in heatmap.options["columns"]
    fig = render_chart(raw, line)
    assert len(fig.data[0].x) == 24


def test_max_charts_caps_the_list(sales: pd.DataFrame) -> None:
    specs = recommend_charts(sales, target="revenue", max_charts=3)
    assert [s.kind for s in specs][:1] == ["line"]
    assert len(specs) == 3
    with pytest.raises(InvalidInputError):
        recommend_charts(sales, max_charts=0)


def test_without_target_the_measure_is_chosen_by_name(sales: pd.DataFrame) -> None:
    specs = recommend_charts(sales)
    line = next(s for s in specs if s.kind == "line")
    assert line.y == "revenue"


def test_categorical_target_gets_class_balance_and_split_charts(sales: pd.DataFrame) -> None:
    specs = recommend_charts(sales, target="channel")
    balance = next(s for s in specs if s.kind == "bar" and s.x == "channel")
    assert balance.agg == "count"
    assert "target" in balance.reason
    assert any(s.kind == "bar" and s.color == "channel" for s in specs)
    for spec in specs:
        render_chart(sales, spec)


def test_identifier_like_columns_are_skipped() -> None:
    rng = np.random.default_rng(0)
    n = 100
    frame = pd.DataFrame(
        {
            "id": np.arange(n),
            "customerId": rng.integers(0, 10, n),
            "ticket": [f"T-{i:05d}" for i in range(n)],
            "row_number": np.arange(1, n + 1),
            "kind": rng.choice(["x", "y", "z"], n),
            "score": rng.normal(size=n),
            "weight": rng.normal(size=n),
        }
    )
    used = set().union(*(_columns_of(s) for s in recommend_charts(frame)))
    assert used.isdisjoint({"id", "customerId", "ticket", "row_number"})
    assert {"kind", "score"} <= used


# --------------------------------------------------------------------------------------------
# Findings from other agents
# --------------------------------------------------------------------------------------------


def test_eda_model_and_quality_inputs_drive_charts() -> None:
    frame = _synthetic()
    eda = {
        "correlations": [
            {"col_a": "a", "col_b": "b", "method": "pearson", "value": 0.31},
            {"col_a": "c", "col_b": "d", "method": "spearman", "value": -0.87},
            {"col_a": "a", "col_b": "missing_col", "method": "pearson", "value": 0.99},
        ],
        "numeric_matrix": {
            "columns": ["a", "b", "c", "d"],
            "pearson": [
                [1.0, 0.31, 0.1, 0.0],
                [0.31, 1.0, 0.2, 0.1],
                [0.1, 0.2, 1.0, -0.87],
                [0.0, 0.1, -0.87, 1.0],
            ],
        },
    }
    model = {
        "feature_importance": [
            {"feature": "b", "importance": 0.2},
            {"feature": "c", "importance": 0.7},
            {"feature": "group_g2", "importance": 0.1},
        ]
    }
    quality = {
        "rows": 200,
        "columns_profile": [
            {"name": "a", "nulls": 0},
            {"name": "b", "nulls": 30},
            {"name": "c", "nulls": 4.0},
        ],
    }
    specs = recommend_charts(frame, eda=eda, model=model, quality=quality, target="a")
    by_kind: dict[str, ChartSpec] = {}
    for spec in specs:
        by_kind.setdefault(spec.kind, spec)  # the highest-priority chart of each kind

    scatter = by_kind["scatter"]
    assert {scatter.x, scatter.y} == {"c", "d"}
    assert "Spearman ρ = -0.87" in scatter.reason
    # the strongest pair involving the target comes second
    assert any(s.kind == "scatter" and {s.x, s.y} == {"a", "b"} and s.y == "a" for s in specs)

    importance = by_kind["feature_importance"]
    assert specs[0] is importance  # what drives the target comes first
    assert importance.options["features"][0] == "c"
    assert "c" in importance.reason

    missing = by_kind["missing_values"]
    assert missing.options["columns"] == ["b", "c"]
    assert missing.options["nulls"] == [30, 4]
    assert "15.0%" in missing.reason

    heatmap = by_kind["heatmap"]
    assert heatmap.options["columns"] == ["a", "b", "c", "d"]
    assert heatmap.options["values"][2][3] == pytest.approx(-0.87)

    for spec in specs:
        fig = render_chart(frame, spec)
        assert fig.data, spec.kind
    fig = render_chart(frame, heatmap)
    z = np.asarray(fig.data[0].z, dtype=float)
    assert z[2, 3] == pytest.approx(-0.87)  # the EDA agent's numbers are shown, not recomputed


def test_malformed_findings_are_ignored() -> None:
    frame = _synthetic()
    specs = recommend_charts(
        frame,
        eda={"correlations": "nope", "numeric_matrix": {"columns": ["a"], "pearson": [[1, 2]]}},
        model={"feature_importance": [{"feature": "a", "importance": "high"}]},
        quality={"columns_profile": [{"name": "a", "nulls": True}]},
    )
    kinds = {s.kind for s in specs}
    assert "feature_importance" not in kinds
    assert "missing_values" not in kinds
    assert "heatmap" in kinds


def test_missing_values_are_counted_without_a_quality_report() -> None:
    frame = _synthetic()
    frame.loc[:49, "c"] = np.nan
    spec = next(s for s in recommend_charts(frame) if s.kind == "missing_values")
    assert spec.options["columns"] == ["c"]
    assert spec.options["nulls"] == [50]
    fig = render_chart(frame, spec)
    assert list(fig.data[0].x) == [pytest.approx(0.25)]


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def test_every_recommended_spec_renders(sales: pd.DataFrame, sales_specs: list[ChartSpec]) -> None:
    for spec in sales_specs:
        fig = render_chart(sales, spec)
        assert isinstance(fig, go.Figure)
        assert fig.data, spec.chart_id
        assert fig.layout.title.text
        assert fig.layout.meta["chart_id"] == spec.chart_id
        for trace in fig.data:
            template = getattr(trace, "hovertemplate", None)
            if template:
                assert "%{" in template


def test_figure_json_round_trips(sales: pd.DataFrame, sales_specs: list[ChartSpec]) -> None:
    for spec in sales_specs:
        fig = render_chart(sales, spec)
        text = figure_json(fig)
        back = pio.from_json(text)
        assert isinstance(back, go.Figure)
        assert len(back.data) == len(fig.data)
        assert back.layout.title.text == fig.layout.title.text
        assert json.loads(figure_json(back)) == json.loads(text)


def test_line_aggregates_exactly(sales: pd.DataFrame, sales_specs: list[ChartSpec]) -> None:
    line = next(s for s in sales_specs if s.kind == "line")
    fig = render_chart(sales, line)
    y = np.asarray(fig.data[0].y, dtype=float)
    assert y.sum() == pytest.approx(sales["revenue"].sum())
    assert fig.data[0].x[0] == "2023-01-01"
    assert "%{y:" in fig.data[0].hovertemplate


def test_bar_folds_the_long_tail_into_other() -> None:
    frame = pd.DataFrame({"shop": [f"s{i:02d}" for i in range(40)] * 3, "sales": np.arange(120.0)})
    spec = ChartSpec(
        chart_id="bar", kind="bar", title="Sales by shop", x="shop", y="sales", agg="sum", reason="r."
    )
    fig = render_chart(frame, spec)
    labels = list(fig.data[0].y)  # many categories -> horizontal bars
    assert len(labels) == MAX_BAR_CATEGORIES + 1
    assert labels[-1].startswith("Other (25 more)")
    assert np.asarray(fig.data[0].x, dtype=float).sum() == pytest.approx(frame["sales"].sum())


def test_bar_merges_padded_spellings_of_a_category(sales: pd.DataFrame) -> None:
    assert (sales["category"] != sales["category"].str.strip()).any()  # the demo's dirt
    spec = ChartSpec(
        chart_id="bar",
        kind="bar",
        title="Revenue by category",
        x="category",
        y="revenue",
        agg="sum",
        reason="r.",
    )
    fig = render_chart(sales, spec)
    totals = dict(zip(fig.data[0].x, np.asarray(fig.data[0].y, dtype=float), strict=True))
    assert set(totals) == {"Electronics", "Fashion", "Home", "Grocery"}
    expected = sales.groupby(sales["category"].str.strip())["revenue"].sum()
    for label, total in totals.items():
        assert total == pytest.approx(expected[label])


def test_histogram_clips_extreme_tails_and_says_so() -> None:
    values = np.concatenate([np.random.default_rng(1).normal(100, 5, 10_000), [1e9, -1e9]])
    frame = pd.DataFrame({"latency": values})
    spec = ChartSpec(chart_id="h", kind="histogram", title="Latency", x="latency", reason="r.")
    fig = render_chart(frame, spec)
    counts = np.asarray(fig.data[0].y)
    assert len(counts) <= 80
    assert "not shown" in fig.layout.title.subtitle.text
    assert counts.sum() + int(fig.layout.title.subtitle.text.split()[0].replace(",", "")) == len(values)


def test_unknown_columns_raise_typed_errors(sales: pd.DataFrame) -> None:
    cases = [
        ChartSpec(chart_id="h", kind="histogram", title="t", x="nope", reason="r."),
        ChartSpec(chart_id="s", kind="scatter", title="t", x="revenue", y="nope", reason="r."),
        ChartSpec(chart_id="b", kind="bar", title="t", x="region", color="nope", agg="count", reason="r."),
        ChartSpec(
            chart_id="m",
            kind="heatmap",
            title="t",
            reason="r.",
            options={"columns": ["revenue", "quantity", "nope"]},
        ),
    ]
    for spec in cases:
        with pytest.raises(UnknownColumnError):
            render_chart(sales, spec)
    with pytest.raises(UnknownColumnError):
        recommend_charts(sales, target="nope")


def test_bad_specs_and_data_raise_typed_errors(sales: pd.DataFrame) -> None:
    with pytest.raises(InvalidInputError):  # text column where a number is needed
        render_chart(sales, ChartSpec(chart_id="h", kind="histogram", title="t", x="region", reason="r."))
    with pytest.raises(InvalidInputError):  # a scatter needs y
        render_chart(sales, ChartSpec(chart_id="s", kind="scatter", title="t", x="revenue", reason="r."))
    with pytest.raises(EmptyDataError):
        render_chart(
            sales.iloc[:0], ChartSpec(chart_id="h", kind="histogram", title="t", x="revenue", reason="r.")
        )
    with pytest.raises(EmptyDataError):
        recommend_charts(pd.DataFrame())


def test_large_frames_render_small_figures(million: pd.DataFrame) -> None:
    specs = [
        ChartSpec(chart_id="line", kind="line", title="Amount", x="ts", y="amount", agg="sum", reason="r."),
        ChartSpec(chart_id="hist", kind="histogram", title="Amount", x="amount", reason="r."),
        ChartSpec(
            chart_id="scatter",
            kind="scatter",
            title="y vs x",
            x="x",
            y="y",
            reason="r.",
            options={"trendline": True},
        ),
        ChartSpec(chart_id="box", kind="box", title="Amount", y="amount", x="segment", reason="r."),
        ChartSpec(
            chart_id="bar", kind="bar", title="Amount", x="segment", y="amount", agg="mean", reason="r."
        ),
    ]
    for spec in specs:
        size = len(figure_json(render_chart(million, spec)).encode())
        assert size < MAX_JSON_BYTES, (spec.kind, size)
    scatter = render_chart(million, specs[2])
    assert len(scatter.data[0].x) == 5000
    assert "5,000 of 1,000,000 points" in scatter.layout.title.subtitle.text
    # the sample is seeded: the same rows on every run
    again = render_chart(million, specs[2])
    assert np.array_equal(np.asarray(scatter.data[0].x), np.asarray(again.data[0].x))


def test_large_frame_recommendations_render_small(million: pd.DataFrame) -> None:
    specs = recommend_charts(million, max_charts=6)
    assert {"line", "scatter"} <= {s.kind for s in specs}
    for spec in specs:
        assert len(figure_json(render_chart(million, spec)).encode()) < MAX_JSON_BYTES


# --------------------------------------------------------------------------------------------
# HTML output
# --------------------------------------------------------------------------------------------


def test_figure_html_is_offline(sales: pd.DataFrame, sales_specs: list[ChartSpec]) -> None:
    page = figure_html(render_chart(sales, sales_specs[0]), title="Revenue")
    assert page.startswith("<!DOCTYPE html>")
    assert not _SCRIPT_SRC.search(page)
    assert "cdn.plot.ly/plotly" not in page
    assert '<link rel="stylesheet"' not in page
    assert "@import" not in page
    assert get_plotlyjs()[:300] in page  # plotly.js is inlined


def test_dashboard_inlines_plotly_once_and_shows_reasons(
    sales: pd.DataFrame, sales_specs: list[ChartSpec]
) -> None:
    charts = [(spec, render_chart(sales, spec)) for spec in sales_specs]
    page = build_dashboard(
        charts, title="Sales analysis", subtitle="sales.csv", notes=["Revenue peaks in Q4."]
    )
    assert page.count(get_plotlyjs()[:300]) == 1
    assert not _SCRIPT_SRC.search(page)
    assert "cdn.plot.ly/plotly" not in page
    assert page.count('class="card') == len(charts)
    for index, spec in enumerate(sales_specs, start=1):
        assert f'id="chart-{index}-{spec.chart_id}"' in page
        assert html.escape(spec.reason) in page
    assert "Revenue peaks in Q4." in page
    # the caller's figures keep their titles
    assert charts[0][1].layout.title.text


def test_dashboard_escapes_hostile_column_names() -> None:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {
            HOSTILE: rng.normal(size=60),
            "other": rng.normal(size=60),
            "label": rng.choice([HOSTILE, "safe"], 60),
        }
    )
    specs = recommend_charts(frame)
    assert any(HOSTILE in (s.x, s.y) for s in specs)
    charts = [(s, render_chart(frame, s)) for s in specs]
    for _, fig in charts:
        assert HOSTILE not in figure_json(fig)
    page = build_dashboard(charts, title=HOSTILE, subtitle=HOSTILE, notes=[HOSTILE])
    assert HOSTILE not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # only our own scripts: two in <head>, one per chart
    assert len(re.findall(r"<script\b", page, re.IGNORECASE)) == 2 + len(charts)


def test_dashboard_rejects_bad_items() -> None:
    with pytest.raises(InvalidInputError):
        build_dashboard([("not a spec", go.Figure())], title="x")  # type: ignore[list-item]
    with pytest.raises(InvalidInputError):
        build_dashboard([], title=" ")
    assert "No charts" in build_dashboard([], title="Empty")


# --------------------------------------------------------------------------------------------
# Stored pages: gzip'd with plotly.js compressed once, still one ordinary gzip member
# --------------------------------------------------------------------------------------------


def _gunzip_one_member(body: bytes) -> bytes:
    """Decompress like httpx and browsers do: one gzip member, nothing after it."""
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    data = decoder.decompress(body) + decoder.flush()
    assert decoder.eof
    assert decoder.unused_data == b""
    return data


def test_gzip_parts_is_one_standard_member() -> None:
    parts = [b"<head>", SharedPart(b"x" * 50_000 + bytes(range(256)) * 40), b"", "<tail>é".encode()]
    body = gzip_parts(parts)
    assert _gunzip_one_member(body) == b"".join(parts)
    assert gzip.decompress(body) == b"".join(parts)
    assert body[:2] == b"\x1f\x8b"
    assert _gunzip_one_member(gzip_parts([])) == b""


def test_gzip_parts_compresses_a_shared_part_once(monkeypatch: pytest.MonkeyPatch) -> None:
    deflated: list[int] = []
    original = hub_module._deflate_blocks

    def counting(part: bytes) -> bytes:
        deflated.append(len(part))
        return original(part)

    monkeypatch.setattr(hub_module, "_deflate_blocks", counting)
    library = SharedPart(b"/* a library */" * 10_000 + str(np.random.default_rng(1).random()).encode())
    first = gzip_parts([b"<page 1>", library, b"</page 1>"])
    second = gzip_parts([b"<page 2>", library, b"</page 2>"])
    assert deflated.count(len(library)) == 1  # the second page reused the first one's blocks
    assert _gunzip_one_member(first) == b"<page 1>" + library + b"</page 1>"
    assert _gunzip_one_member(second) == b"<page 2>" + library + b"</page 2>"


def test_compressed_chart_page_is_the_whole_page(sales: pd.DataFrame, sales_specs: list[ChartSpec]) -> None:
    figure = render_chart(sales, sales_specs[0])
    page = figure_page(figure, title="Revenue <by> month")
    text = _gunzip_one_member(gzip_parts(page.parts(SharedPart(get_plotlyjs().encode())))).decode()
    assert text == figure_html(figure, title="Revenue <by> month") == page.text()
    assert text.startswith("<!DOCTYPE html>")
    assert text.rstrip().endswith("</html>")
    assert "<title>Revenue &lt;by&gt; month</title>" in text
    assert text.count(get_plotlyjs()[:300]) == 1
    assert not _SCRIPT_SRC.search(text)
    # the page's figure is the chart (sized to the window), and the caller's figure is unchanged
    drawn = re.search(r'Plotly\.newPlot\(\s*"[^"]+",\s*(\[.*?\]),\s*(\{.*?\}),\s*\{', text, re.DOTALL)
    assert drawn is not None
    assert json.loads(drawn.group(1)) == json.loads(figure_json(figure))["data"]
    layout = json.loads(drawn.group(2))
    assert "height" not in layout
    assert layout["autosize"] is True
    assert figure.layout.height is not None


def test_dashboard_page_parts_join_to_the_dashboard(
    sales: pd.DataFrame, sales_specs: list[ChartSpec]
) -> None:
    charts = [(spec, render_chart(sales, spec)) for spec in sales_specs[:3]]
    page = build_dashboard_page(charts, title="Sales", subtitle="sales.csv")
    assert b"".join(page.parts()) == build_dashboard(charts, title="Sales", subtitle="sales.csv").encode()
    assert _gunzip_one_member(gzip_parts(page.parts())).decode() == page.text()


def test_figure_dict_replaces_layout_entries_without_touching_the_figure() -> None:
    figure = go.Figure(go.Bar(x=["a", "b"], y=[1, 2]))
    figure.update_layout(title={"text": "T"}, height=300, margin={"l": 10, "r": 20})
    copy = figure_dict(figure, title=None, height=None, autosize=True, margin={"l": 1, "t": 2})
    assert "title" not in copy["layout"]
    assert "height" not in copy["layout"]
    assert copy["layout"]["autosize"] is True
    assert copy["layout"]["margin"] == {"l": 1, "r": 20, "t": 2}
    assert figure.layout.title.text == "T"
    assert figure.layout.height == 300


# --------------------------------------------------------------------------------------------
# The skill, against an in-memory hub
# --------------------------------------------------------------------------------------------


class _MemoryHub:
    """The part of DataHub the visualization skill uses, in memory."""

    def __init__(self, frame: pd.DataFrame, reports: dict[str, dict[str, Any]]) -> None:
        self.frame = frame
        self.reports = reports
        self.stored: list[tuple[CatalogItem, bytes, str | None]] = []
        self._lock = threading.Lock()

    def read_dataset(self, dataset_id: str) -> tuple[CatalogItem, pd.DataFrame]:
        return self._item(dataset_id, "sales.csv", "application/vnd.apache.parquet", []), self.frame

    def read_json(self, item_id: str) -> dict[str, Any]:
        if item_id not in self.reports:
            raise NotFoundError(f"No dataset or artifact with id '{item_id}'")
        return self.reports[item_id]

    def put_artifact(
        self,
        body: bytes | Sequence[bytes],
        *,
        name: str,
        media_type: str,
        producer: Producer,
        parents: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        compress: bool = False,
    ) -> CatalogItem:
        parts = [body] if isinstance(body, bytes) else list(body)
        stored = gzip_parts(parts) if compress else b"".join(parts)
        with self._lock:
            item = self._item(f"art-{len(self.stored)}", name, media_type, parents or [], metadata)
            self.stored.append((item, stored, "gzip" if compress else None))
        return item

    @staticmethod
    def _item(
        item_id: str, name: str, media_type: str, parents: list[str], metadata: dict[str, Any] | None = None
    ) -> CatalogItem:
        return CatalogItem(
            item_id=item_id,
            kind="artifact",
            name=name,
            s3_uri=f"s3://hub/{item_id}",
            media_type=media_type,
            size_bytes=0,
            producer=Producer(agent="test"),
            parents=parents,
            metadata=metadata or {},
        )


def test_skill_stores_json_and_a_compressed_page_per_chart_and_a_dashboard(sales: pd.DataFrame) -> None:
    hub = _MemoryHub(sales, {"art-eda": {"correlations": []}})
    progress: list[tuple[float, str]] = []
    result = VisualizeSkill(hub)(  # type: ignore[arg-type]
        SkillRequest(
            skill="visualize",
            job_id="job-1",
            step_id="visualization",
            inputs={"dataset_id": "ds-1", "eda_report_id": "art-eda", "model_report_id": "art-missing"},
        ),
        lambda value, message, *, stage=None: progress.append((value, message)),
    )
    charts = int(result.outputs["charts"])
    assert charts >= 4
    by_id = {item.item_id: (item, body, encoding) for item, body, encoding in hub.stored}
    chart_ids = result.outputs["chart_ids"]
    assert len(chart_ids) == charts
    # the chart JSON reached the catalog in the order of the specs (the report lists them so)
    assert [by_id[i][0].name for i in chart_ids] == [
        name for item, _, _ in hub.stored if (name := item.name).endswith(".json")
    ]
    assert [by_id[i][0].metadata["kind"] for i in chart_ids] == result.outputs["chart_kinds"]
    for chart_id in chart_ids:
        item, body, encoding = by_id[chart_id]
        assert encoding is None
        figure = pio.from_json(body.decode())
        assert figure.data
        page = next(p for p in hub.stored if p[0].parents == [chart_id])
        assert page[0].media_type == "text/html"
        assert page[2] == "gzip"
        text = _gunzip_one_member(page[1]).decode()
        assert text.startswith("<!DOCTYPE html>")
        assert html.escape(item.metadata["title"]) in text
        assert text.count(get_plotlyjs()[:300]) == 1
    dashboard, body, encoding = by_id[result.outputs["dashboard_id"]]
    assert dashboard.parents == chart_ids
    assert encoding == "gzip"
    assert _gunzip_one_member(body).decode().count('class="card') == charts
    assert len(hub.stored) == 2 * charts + 1
    # the unreadable model report is a note, progress only rises, and every chart is reported
    assert any("art-missing" in note for note in result.outputs["notes"])
    values = [value for value, _ in progress]
    assert values == sorted(values)
    assert sum(message.startswith("stored chart") for _, message in progress) == charts
