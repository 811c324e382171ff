"""The EDA agent's skill: a dataset -> statistics, tests, time series and ranked insights."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable

from analystack.a2a_kit.executor import ArtifactRef, ProgressReporter, SkillRequest, SkillResult
from analystack.hub import DATASET_ID_IN_TEXT, DataHub
from analystack.models import Producer

#: Least time between two progress events relayed from inside ``explore``: each one is an
#: event-log write plus a task update that the analysis waits for (~20-30 ms each in the
#: embedded cloud, ~20 per table), while the CLI and the UI poll every 0.4 s anyway.
PROGRESS_INTERVAL_S = 0.5


def relay_progress(
    report: ProgressReporter,
    *,
    start: float,
    span: float,
    interval_s: float = PROGRESS_INTERVAL_S,
    clock: Callable[[], float] = time.monotonic,
) -> Callable[[float, str], None]:
    """``explore``'s ``progress(fraction, message)`` as ``report(start + span * fraction, ...)``,
    at most one event per ``interval_s`` (the first and the final 1.0 always go out)."""
    last = -math.inf

    def relay(fraction: float, message: str) -> None:
        nonlocal last
        now = clock()
        if fraction < 1.0 and now - last < interval_s:
            return
        last = now
        report(start + span * fraction, message)

    return relay


class ExploreSkill:
    def __init__(self, hub: DataHub) -> None:
        self._hub = hub

    def __call__(self, request: SkillRequest, report: ProgressReporter) -> SkillResult:
        # pandas and scipy load here, not at cold start.
        from functions.eda.analysis import explore
        from functions.eda.report import render_markdown

        dataset_id = request.require("dataset_id", in_text=DATASET_ID_IN_TEXT)
        item, frame = self._hub.read_dataset(dataset_id)
        target = str(request.inputs.get("target") or "") or None
        group = str(request.inputs.get("group") or "") or None
        report(
            5, f"exploring {len(frame):,} rows x {frame.shape[1]} columns of {item.name}", stage="exploring"
        )
        eda = explore(
            frame,
            target=target,
            group=group,
            request=request.request,
            progress=relay_progress(report, start=5, span=85),
        )
        producer = Producer(agent="eda", job_id=request.job_id, step_id=request.step_id)
        body = json.dumps(eda.model_dump(mode="json"), ensure_ascii=False, indent=2, allow_nan=False).encode()
        json_item = self._hub.put_artifact(
            body,
            name="eda_report.json",
            media_type="application/json",
            producer=producer,
            parents=[dataset_id],
            metadata={"insights": len(eda.insights)},
        )
        markdown_item = self._hub.put_artifact(
            render_markdown(eda, dataset_name=item.name).encode(),
            name="eda_report.md",
            media_type="text/markdown",
            producer=producer,
            parents=[dataset_id, json_item.item_id],
        )
        top = eda.insights[0].title if eda.insights else "no notable findings"
        return SkillResult(
            outputs={
                "report_id": json_item.item_id,
                "markdown_id": markdown_item.item_id,
                "insights": str(len(eda.insights)),
                "top_insight": top,
                "dataset_id": dataset_id,
            },
            artifacts=[
                ArtifactRef(name=i.name, item_id=i.item_id, s3_uri=i.s3_uri, media_type=i.media_type)
                for i in (json_item, markdown_item)
            ],
            summary=f"{len(eda.insights)} insights; top: {top}",
        )
