"""The quality agent's skill: a hub dataset -> a quality report (JSON + Markdown) in the hub.

The dataset's catalog item carries ingestion's loading notes (``metadata["warnings"]``): the
repairs made before the table reached us ("$93.46" -> 93.46) are problems of the user's file, so
they go to the profiler with the table and are reported and scored too.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from analystack.a2a_kit.executor import ArtifactRef, ProgressReporter, SkillRequest, SkillResult
from analystack.hub import DATASET_ID_IN_TEXT, DataHub
from analystack.models import Producer

if TYPE_CHECKING:
    from functions.quality.profiling import QualityReport


class AssessQualitySkill:
    def __init__(self, hub: DataHub) -> None:
        self._hub = hub

    def __call__(self, request: SkillRequest, report: ProgressReporter) -> SkillResult:
        # pandas loads here, not at cold start: card and health requests never need it.
        from functions.quality.profiling import profile_table
        from functions.quality.report import render_markdown

        dataset_id = request.require("dataset_id", in_text=DATASET_ID_IN_TEXT)
        item, frame = self._hub.read_dataset(dataset_id)
        report(
            10, f"profiling {len(frame):,} rows x {frame.shape[1]} columns of {item.name}", stage="profiling"
        )
        notes = item.metadata.get("warnings")
        quality = profile_table(
            frame,
            progress=lambda fraction, message: report(10 + 75 * fraction, message),
            load_notes=notes if isinstance(notes, list) else (),
        )
        implausible = sum(c.outliers.far_count for c in quality.columns_profile if c.outliers)
        report(
            88,
            f"found {quality.missing_cells:,} missing cells, {quality.duplicate_rows:,} duplicate rows, "
            f"{implausible:,} implausible values; score {quality.score:.1f} ({quality.grade})",
            stage="scoring",
        )
        producer = Producer(agent="quality", job_id=request.job_id, step_id=request.step_id)
        report_json = json.dumps(
            quality.model_dump(mode="json"), ensure_ascii=False, indent=2, allow_nan=False
        )
        json_item = self._hub.put_artifact(
            report_json.encode(),
            name="quality_report.json",
            media_type="application/json",
            producer=producer,
            parents=[dataset_id],
            metadata={"score": quality.score, "grade": quality.grade},
        )
        markdown_item = self._hub.put_artifact(
            render_markdown(quality, dataset_name=item.name).encode(),
            name="quality_report.md",
            media_type="text/markdown",
            producer=producer,
            parents=[dataset_id, json_item.item_id],
        )
        return SkillResult(
            outputs={
                "report_id": json_item.item_id,
                "report_uri": json_item.s3_uri,
                "markdown_id": markdown_item.item_id,
                "score": f"{quality.score:.1f}",
                "grade": quality.grade,
                "issues": str(len(quality.issues)),
                "dataset_id": dataset_id,
            },
            artifacts=[
                ArtifactRef(name=i.name, item_id=i.item_id, s3_uri=i.s3_uri, media_type=i.media_type)
                for i in (json_item, markdown_item)
            ],
            summary=_summary(quality),
        )


def _summary(quality: QualityReport) -> str:
    """One paragraph for the job's answer: score, grade and what it means, the top findings."""
    scored = [i for i in quality.issues if i.dimension is not None]
    # Long messages carry their details after the first colon; the headline is enough here.
    top = "; ".join(i.message if len(i.message) <= 160 else i.message.split(":")[0] for i in scored[:3])
    return (
        f"Quality score {quality.score:.1f}/100 (grade {quality.grade}: {quality.grade_meaning}): "
        f"{len(quality.issues)} issues, {quality.missing_cells:,} missing cells, "
        f"{quality.duplicate_rows:,} duplicate rows." + (f" Top: {top}" if top else "")
    )
