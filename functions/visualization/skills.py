"""The visualization agent's skill: a dataset (+ the other agents' reports) -> charts and a dashboard."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from analystack.a2a_kit.executor import ArtifactRef, ProgressReporter, SkillRequest, SkillResult
from analystack.errors import AnalystackError
from analystack.hub import DATASET_ID_IN_TEXT, DataHub, SharedPart, gzip_parts
from analystack.models import CatalogItem, Producer

if TYPE_CHECKING:
    from functions.visualization.charts import ChartSpec, HtmlPage

T = TypeVar("T")

MAX_CHARTS = 8
PLOTLY_JSON = "application/vnd.plotly.v1+json"
#: Chart pages written at once: the next chart renders while earlier ones are written to S3 and
#: the catalog (boto3 clients are thread-safe; the writes mostly wait on the network).
PAGE_WRITERS = 3


@functools.cache
def _shared_plotly_js() -> SharedPart:
    """plotly.js marked shared, so the hub gzips it once per container, not once per page."""
    from functions.visualization.charts import plotly_js

    return SharedPart(plotly_js().encode())


def _page_parts(page: HtmlPage) -> list[bytes]:
    return page.parts(_shared_plotly_js())


def _chart_metadata(spec: ChartSpec) -> dict[str, Any]:
    return {"kind": spec.kind, "title": spec.title, "reason": spec.reason, "chart_id": spec.chart_id}


class _ChartWriter:
    """Stores each chart as it is rendered: its Plotly JSON through one writer, so the catalog's
    creation order is the order of the specs (the job's report lists charts in that order), and
    its page (1.5 MB gzip'd) through a few writers in parallel, while the next chart renders.

    Progress is reported as pages are stored, from the writers: a progress event is a write the
    caller waits for, and would otherwise hold up the renderer (the lock keeps them in order).
    """

    def __init__(
        self, hub: DataHub, producer: Producer, parents: list[str], report: ProgressReporter
    ) -> None:
        self._hub = hub
        self._producer = producer
        self._parents = parents
        self._report = report
        self._json_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-json")
        self._page_writers = ThreadPoolExecutor(max_workers=PAGE_WRITERS, thread_name_prefix="store-page")
        self._json: list[Future[CatalogItem]] = []
        self._pages: list[Future[CatalogItem]] = []
        self._lock = threading.Lock()
        self._stored = 0
        self.expected = 0  # how many charts will be added (for the progress messages)

    def __enter__(self) -> _ChartWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._json_writer.shutdown()
        self._page_writers.shutdown()

    def background(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Run work that needs no chart on a page writer (they are idle until the first chart)."""
        return self._page_writers.submit(fn, *args)

    def add(self, spec: ChartSpec, figure_text: str, page: HtmlPage) -> None:
        json_item = self._json_writer.submit(self._store_json, spec, figure_text)
        self._json.append(json_item)
        self._pages.append(self._page_writers.submit(self._store_page, spec, page, json_item))

    def stored(self) -> tuple[list[CatalogItem], list[CatalogItem]]:
        """The JSON and page items in the order the charts were added (raises a writer's error)."""
        return [f.result() for f in self._json], [f.result() for f in self._pages]

    def _store_json(self, spec: ChartSpec, figure_text: str) -> CatalogItem:
        return self._hub.put_artifact(
            figure_text.encode(),
            name=f"chart-{spec.chart_id}.json",
            media_type=PLOTLY_JSON,
            producer=self._producer,
            parents=self._parents,
            metadata=_chart_metadata(spec),
        )

    def _store_page(self, spec: ChartSpec, page: HtmlPage, json_item: Future[CatalogItem]) -> CatalogItem:
        item = self._hub.put_artifact(
            _page_parts(page),
            name=f"chart-{spec.chart_id}.html",
            media_type="text/html",
            producer=self._producer,
            parents=[json_item.result().item_id],
            metadata=_chart_metadata(spec),
            compress=True,
        )
        with self._lock:
            self._stored += 1
            self._report(
                15 + 75 * self._stored / max(self.expected, self._stored),
                f"stored chart {self._stored}/{max(self.expected, self._stored)}: {spec.title}",
                stage="rendering",
            )
        return item


class VisualizeSkill:
    def __init__(self, hub: DataHub) -> None:
        self._hub = hub

    def _report(self, item_id: Any, what: str) -> tuple[dict[str, Any] | None, str | None]:
        """Another agent's JSON report and a note when it cannot be read (charts still work
        from the data alone)."""
        if not item_id:
            return None, None
        try:
            return self._hub.read_json(str(item_id)), None
        except AnalystackError:
            return (
                None,
                f"The {what} report '{item_id}' could not be read; charts were chosen from the data alone.",
            )

    def __call__(self, request: SkillRequest, report: ProgressReporter) -> SkillResult:
        # plotly and pandas load here, not at cold start.
        from functions.visualization.charts import figure_json, figure_page, recommend_charts, render_chart
        from functions.visualization.dashboard import build_dashboard_page

        dataset_id = request.require("dataset_id", in_text=DATASET_ID_IN_TEXT)
        producer = Producer(agent="visualization", job_id=request.job_id, step_id=request.step_id)
        parents = [
            dataset_id,
            *(
                str(request.inputs[k])
                for k in ("eda_report_id", "quality_report_id", "model_report_id")
                if request.inputs.get(k)
            ),
        ]
        with _ChartWriter(self._hub, producer, parents, report) as writer:
            # Work that needs no chart starts beside reading the dataset: compressing plotly.js
            # for this container's pages (zlib releases the GIL) and reading the other reports.
            writer.background(gzip_parts, [_shared_plotly_js()])
            pending_reports = {
                key: writer.background(self._report, request.inputs.get(f"{key}_report_id"), what)
                for key, what in (("eda", "EDA"), ("quality", "quality"), ("model", "model"))
            }
            item, frame = self._hub.read_dataset(dataset_id)
            notes: list[str] = []
            reports: dict[str, dict[str, Any] | None] = {}
            for key, pending in pending_reports.items():
                reports[key], note = pending.result()
                if note:
                    notes.append(note)
            target = str(request.inputs.get("target") or "") or None
            if target is not None and target not in frame.columns:
                notes.append(f"The target '{target}' is not a column of this dataset; charts ignore it.")
                target = None
            specs = recommend_charts(frame, target=target, max_charts=MAX_CHARTS, **reports)
            report(
                15,
                f"recommended {len(specs)} charts for {item.name}: {', '.join(s.kind for s in specs)}",
                stage="choosing",
            )
            writer.expected = len(specs)
            charts = []
            for spec in specs:
                figure = render_chart(frame, spec)
                charts.append((spec, figure))
                writer.add(spec, figure_json(figure), figure_page(figure, title=spec.title))
            dashboard = build_dashboard_page(
                charts,
                title=f"{item.name}: analysis dashboard",
                subtitle=request.request or None,
                notes=notes,
            )
            json_items, page_items = writer.stored()
        dashboard_item = self._hub.put_artifact(
            _page_parts(dashboard),
            name="dashboard.html",
            media_type="text/html",
            producer=producer,
            parents=[i.item_id for i in json_items],
            compress=True,
            metadata={"charts": len(charts)},
        )
        stored = [i for pair in zip(json_items, page_items, strict=True) for i in pair]
        return SkillResult(
            outputs={
                "dashboard_id": dashboard_item.item_id,
                "charts": str(len(charts)),
                "chart_ids": [i.item_id for i in json_items],
                "chart_kinds": [s.kind for s in specs],
                "notes": notes,
            },
            artifacts=[
                ArtifactRef(name=i.name, item_id=i.item_id, s3_uri=i.s3_uri, media_type=i.media_type)
                for i in [dashboard_item, *stored]
            ],
            summary=f"{len(charts)} charts ({', '.join(dict.fromkeys(s.kind for s in specs))}) and a dashboard",
        )
