"""The quality agent's ``clean_data`` skill: a hub dataset -> a treated copy plus its receipt."""

from __future__ import annotations

import json

from analystack.a2a_kit.executor import ArtifactRef, ProgressReporter, SkillRequest, SkillResult
from analystack.hub import DATASET_ID_IN_TEXT, DataHub
from analystack.models import Producer


class CleanDataSkill:
    def __init__(self, hub: DataHub) -> None:
        self._hub = hub

    def __call__(self, request: SkillRequest, report: ProgressReporter) -> SkillResult:
        # pandas loads here, not at cold start.
        from functions.quality.cleaning import clean_table, parse_actions

        dataset_id = request.require("dataset_id", in_text=DATASET_ID_IN_TEXT)
        actions = parse_actions(str(request.inputs.get("actions") or "duplicates,outliers,missing"))
        columns_text = str(request.inputs.get("columns") or "")
        columns = [c.strip() for c in columns_text.split(",") if c.strip()] or None
        item, frame = self._hub.read_dataset(dataset_id)
        report(10, f"treating {', '.join(actions)} in {len(frame):,} rows of {item.name}", stage="cleaning")
        cleaned, receipt = clean_table(frame, actions, columns=columns)
        report(70, receipt.summary(), stage="cleaning")
        producer = Producer(agent="quality", job_id=request.job_id, step_id=request.step_id)
        stem = item.name.rsplit(".", 1)[0]
        dataset = self._hub.write_dataset(
            cleaned,
            name=f"{stem}-clean",
            producer=producer,
            parents=[dataset_id],
            metadata={
                "cleaning": receipt.model_dump(mode="json"),
                "warnings": item.metadata.get("warnings", []),
            },
        )
        receipt_item = self._hub.put_artifact(
            json.dumps(receipt.model_dump(mode="json"), ensure_ascii=False, indent=2).encode(),
            name="cleaning_receipt.json",
            media_type="application/json",
            producer=producer,
            parents=[dataset_id, dataset.item_id],
        )
        return SkillResult(
            outputs={
                "dataset_id": dataset.item_id,
                "source_dataset_id": dataset_id,
                "receipt_id": receipt_item.item_id,
                "rows_before": str(receipt.rows_before),
                "rows": str(receipt.rows_after),
                "removed_rows": str(receipt.rows_before - receipt.rows_after),
                "actions": ",".join(actions),
            },
            artifacts=[
                ArtifactRef(name=i.name, item_id=i.item_id, s3_uri=i.s3_uri, media_type=i.media_type)
                for i in (dataset, receipt_item)
            ],
            summary=receipt.summary(),
        )
