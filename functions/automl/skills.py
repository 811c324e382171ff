"""The AutoML agent's skill: a dataset -> target resolved, models searched, the best one stored.

The time budget (``automl_time_budget_s``, or the request's ``time_budget_s``) covers the whole
skill: reading the dataset, resolving the target, :func:`~functions.automl.search.train_model`
(features, search, refit, holdout, importance) and saving the model. Training gets what is
left after the reading minus :data:`SAVE_SHARE` of the budget for the save; the report's
``budget`` states the whole skill's seconds per phase against the budget and its slack
(:func:`~functions.automl.search.budget_slack_s`).
"""

from __future__ import annotations

import json
import time
from typing import Any

from analystack.a2a_kit.executor import ArtifactRef, ProgressReporter, SkillRequest, SkillResult
from analystack.hub import DATASET_ID_IN_TEXT, DataHub
from analystack.models import CatalogItem, Producer

#: Share of the budget kept for serialising and storing the model after training.
SAVE_SHARE = 0.05
#: Training gets at least this share of the budget even when reading the dataset took longer
#: (the budget is then exceeded, and the report says so).
MIN_TRAIN_SHARE = 0.25


class TrainModelSkill:
    def __init__(
        self,
        hub: DataHub,
        *,
        time_budget_s: float,
        sagemaker_client: Any = None,
        autopilot_role_arn: str = "",
        autopilot_row_threshold: int = 1_000_000,
        autopilot_max_runtime_s: int = 3600,
    ) -> None:
        self._hub = hub
        self._budget = time_budget_s
        self._sagemaker = sagemaker_client
        self._autopilot_role = autopilot_role_arn
        self._autopilot_rows = autopilot_row_threshold
        self._autopilot_runtime = autopilot_max_runtime_s

    def __call__(self, request: SkillRequest, report: ProgressReporter) -> SkillResult:
        started = time.perf_counter()
        # scikit-learn loads here, not at cold start (it costs 1.5-2 s to import).
        from functions.automl.search import budget_report, model_card_markdown, serialize_model, train_model
        from functions.automl.target import infer_task, resolve_target

        imported = time.perf_counter()

        dataset_id = request.require("dataset_id", in_text=DATASET_ID_IN_TEXT)
        item, frame = self._hub.read_dataset(dataset_id)
        requested = str(request.inputs.get("target") or "") or None
        choice = resolve_target(frame, requested=requested, request_text=request.request)
        task = infer_task(frame, choice.column, request_text=request.request)
        report(8, f"target '{choice.column}' ({choice.source}: {choice.reason}); task {task}", stage="target")
        from functions.automl.autopilot import should_use_autopilot

        enabled = bool(self._autopilot_role and self._sagemaker is not None)
        if should_use_autopilot(
            len(frame), frame.shape[1], enabled=enabled, row_threshold=self._autopilot_rows
        ):
            return self._autopilot(request, item, choice, task, report)
        budget = float(request.inputs.get("time_budget_s") or self._budget)
        # The import is a cold-start cost, not this request's work: it is reported, not charged.
        loaded = time.perf_counter() - imported
        result, pipeline = train_model(
            frame,
            target=choice.column,
            task=task,
            time_budget_s=max(budget * (1 - SAVE_SHARE) - loaded, budget * MIN_TRAIN_SHARE),
            progress=lambda fraction, message: report(10 + 75 * fraction, message, stage="training"),
        )
        producer = Producer(agent="automl", job_id=request.job_id, step_id=request.step_id)
        primary = result.holdout.get(result.metric)
        baseline = result.baseline.get(result.metric)
        saving = time.perf_counter()
        model_item = self._hub.put_model(
            serialize_model(pipeline),
            model_name=f"{item.name}:{choice.column}",
            producer=producer,
            parents=[dataset_id],
            metadata={
                "target": choice.column,
                "task": task,
                "metric": result.metric,
                "score": primary,
                "baseline": baseline,
                "best_model": result.best_model,
            },
        )
        finished = time.perf_counter()
        phases = {
            "import_not_charged": imported - started,
            "load_and_target": loaded,
            **result.budget.phases,
            "save": finished - saving,
        }
        skill_budget = budget_report(budget, finished - imported, phases)
        notes = result.notes
        if not skill_budget.within_budget:
            notes = [
                *notes,
                f"The AutoML step took {skill_budget.used_s:.1f} s for a {budget:g} s budget "
                f"(slack {skill_budget.slack_s:g} s).",
            ]
        result = result.model_copy(update={"budget": skill_budget, "notes": notes})
        record = {
            **result.model_dump(mode="json"),
            "target_choice": choice.model_dump(mode="json"),
            "model_id": model_item.item_id,
            "model_version": model_item.metadata["model_version"],
        }
        report_item = self._hub.put_artifact(
            json.dumps(record, ensure_ascii=False, indent=2, allow_nan=False).encode(),
            name="model_report.json",
            media_type="application/json",
            producer=producer,
            parents=[dataset_id, model_item.item_id],
            metadata={"metric": result.metric, "score": primary, "baseline": baseline},
        )
        card_item = self._hub.put_artifact(
            model_card_markdown(result).encode(),
            name="model_card.md",
            media_type="text/markdown",
            producer=producer,
            parents=[report_item.item_id],
        )
        return SkillResult(
            outputs={
                "engine": "scikit-learn",
                "model_id": model_item.item_id,
                "report_id": report_item.item_id,
                "card_id": card_item.item_id,
                "target": choice.column,
                "target_source": choice.source,
                "task": task,
                "metric": result.metric,
                "score": f"{primary:.4f}" if primary is not None else "",
                "baseline_score": f"{baseline:.4f}" if baseline is not None else "",
                "best_model": result.best_model,
                "model_version": str(model_item.metadata["model_version"]),
            },
            artifacts=[
                ArtifactRef(name=i.name, item_id=i.item_id, s3_uri=i.s3_uri, media_type=i.media_type)
                for i in (model_item, report_item, card_item)
            ],
            summary=(
                f"{result.best_model} predicts '{choice.column}' ({task}): holdout {result.metric} "
                f"{primary:.3f} vs baseline {baseline:.3f}"
                if primary is not None and baseline is not None
                else f"{result.best_model} trained for '{choice.column}'"
            ),
        )

    def _autopilot(
        self, request: SkillRequest, item: CatalogItem, choice: Any, task: str, report: ProgressReporter
    ) -> SkillResult:
        """Large tables train on SageMaker Autopilot (AutoML V2): the job is submitted and recorded;
        its models land under ``models/autopilot/<job>/`` in the hub."""
        from functions.automl.autopilot import autopilot_job_request

        job_key = f"{request.job_id or 'adhoc'}-{choice.column}"
        dataset_prefix = item.s3_uri.rsplit("/", 1)[0] + "/"
        output = f"s3://{self._hub.bucket}/models/autopilot/{job_key}/"
        autopilot_request = autopilot_job_request(
            job_name=job_key,
            s3_input_uri=dataset_prefix,
            s3_output_uri=output,
            target=choice.column,
            task=task,  # type: ignore[arg-type]
            role_arn=self._autopilot_role,
            max_runtime_s=self._autopilot_runtime,
            data_format="parquet",
        )
        response = self._sagemaker.create_auto_ml_job_v2(**autopilot_request)
        name = autopilot_request["AutoMLJobName"]
        report(90, f"{item.row_count or 0:,} rows sent to SageMaker Autopilot as {name}", stage="training")
        producer = Producer(agent="automl", job_id=request.job_id, step_id=request.step_id)
        record = {
            "engine": "sagemaker-autopilot",
            "status": "submitted",
            "target": choice.column,
            "task": task,
            "target_choice": choice.model_dump(mode="json"),
            "autopilot_job_name": name,
            "autopilot_job_arn": response["AutoMLJobArn"],
            "output": output,
            "request": autopilot_request,
        }
        report_item = self._hub.put_artifact(
            json.dumps(record, ensure_ascii=False, indent=2, default=str).encode(),
            name="model_report.json",
            media_type="application/json",
            producer=producer,
            parents=[item.item_id],
        )
        return SkillResult(
            outputs={
                "engine": "sagemaker-autopilot",
                "report_id": report_item.item_id,
                "target": choice.column,
                "target_source": choice.source,
                "task": task,
                "autopilot_job_name": name,
                "autopilot_job_arn": response["AutoMLJobArn"],
            },
            artifacts=[
                ArtifactRef(
                    name=report_item.name,
                    item_id=report_item.item_id,
                    s3_uri=report_item.s3_uri,
                    media_type=report_item.media_type,
                )
            ],
            summary=f"{item.row_count or 0:,} rows: training on SageMaker Autopilot ({name}) for '{choice.column}' ({task})",
        )
