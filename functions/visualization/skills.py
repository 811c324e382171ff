"""The visualization agent's skill: a dataset (+ the other agents' reports) -> charts and a dashboard."""

from __future__ import annotations

from typing import Any

from analystack.a2a_kit.executor import ArtifactRef, ProgressReporter, SkillRequest, SkillResult
from analystack.errors import AnalystackError
from analystack.hub import DATASET_ID_IN_TEXT, DataHub
from analystack.models import CatalogItem, Producer

MAX_CHARTS = 8
PLOTLY_JSON = "application/vnd.plotly.v1+json"


class VisualizeSkill:
    def __init__(self, hub: DataHub) -> None:
        self._hub = hub

    def _report(self, item_id: Any, notes: list[str], what: str) -> dict[str, Any] | None:
        """Another agent's JSON report, or None (charts still work from the data alone)."""
        if not item_id:
            return None
        try:
            return self._hub.read_json(str(item_id))
        except AnalystackError:
            notes.append(
                f"The {what} report '{item_id}' could not be read; charts were chosen from the data alone."
            )
            return None

    def __call__(self, request: SkillRequest, report: ProgressReporter) -> SkillResult:
        # plotly and pandas load here, not at cold start.
        from functions.visualization.charts import figure_html, figure_json, recommend_charts, render_chart
        from functions.visualization.dashboard import build_dashboard

        dataset_id = request.require("dataset_id", in_text=DATASET_ID_IN_TEXT)
        item, frame = self._hub.read_dataset(dataset_id)
        notes: list[str] = []
        reports = {
            "eda": self._report(request.inputs.get("eda_report_id"), notes, "EDA"),
            "quality": self._report(request.inputs.get("quality_report_id"), notes, "quality"),
            "model": self._report(request.inputs.get("model_report_id"), notes, "model"),
        }
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
        producer = Producer(agent="visualization", job_id=request.job_id, step_id=request.step_id)
        parents = [
            dataset_id,
            *(
                str(request.inputs[k])
                for k in ("eda_report_id", "quality_report_id", "model_report_id")
                if request.inputs.get(k)
            ),
        ]
        charts = []
        stored: list[CatalogItem] = []
        for index, spec in enumerate(specs, start=1):
            figure = render_chart(frame, spec)
            charts.append((spec, figure))
            meta = {"kind": spec.kind, "title": spec.title, "reason": spec.reason, "chart_id": spec.chart_id}
            json_item = self._hub.put_artifact(
                figure_json(figure).encode(),
                name=f"chart-{spec.chart_id}.json",
                media_type=PLOTLY_JSON,
                producer=producer,
                parents=parents,
                metadata=meta,
            )
            html_item = self._hub.put_artifact(
                figure_html(figure, title=spec.title).encode(),
                name=f"chart-{spec.chart_id}.html",
                media_type="text/html",
                producer=producer,
                parents=[json_item.item_id],
                metadata=meta,
                compress=True,
            )
            stored += [json_item, html_item]
            report(
                15 + 70 * index / max(len(specs), 1),
                f"rendered chart {index}/{len(specs)}: {spec.title}",
                stage="rendering",
            )
        dashboard = build_dashboard(
            charts, title=f"{item.name}: analysis dashboard", subtitle=request.request or None, notes=notes
        )
        dashboard_item = self._hub.put_artifact(
            dashboard.encode(),
            name="dashboard.html",
            media_type="text/html",
            producer=producer,
            parents=[i.item_id for i in stored if i.media_type == PLOTLY_JSON],
            compress=True,
            metadata={"charts": len(charts)},
        )
        return SkillResult(
            outputs={
                "dashboard_id": dashboard_item.item_id,
                "charts": str(len(charts)),
                "chart_ids": [i.item_id for i in stored if i.media_type == PLOTLY_JSON],
                "chart_kinds": [s.kind for s in specs],
                "notes": notes,
            },
            artifacts=[
                ArtifactRef(name=i.name, item_id=i.item_id, s3_uri=i.s3_uri, media_type=i.media_type)
                for i in [dashboard_item, *stored]
            ],
            summary=f"{len(charts)} charts ({', '.join(dict.fromkeys(s.kind for s in specs))}) and a dashboard",
        )
