"""The orchestrator's skills: ``analyze`` (plan -> ASL -> execution) and ``finalize``.

Both are A2A skills so every Step Functions Task, including the last, invokes an agent the same
way. Any failure while planning marks the job failed with a clean message before re-raising,
so the user never waits on a job that will not run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from analystack.a2a_kit import ProgressReporter, SkillRequest, SkillResult
from analystack.errors import AnalystackError, InvalidInputError
from analystack.hub import DataHub
from analystack.jobs import EventLog, JobStore, StepRecord
from analystack.models import CatalogItem, JobStatus, Producer, utc_now
from analystack.telemetry import record_job_outcome
from orchestrator.compiler import compile_plan, state_machine_name
from orchestrator.llm import LlmClient
from orchestrator.llm_planner import AgentSkillInfo, DatasetSummary, plan_with_llm
from orchestrator.planner import DataSource, plan_request
from orchestrator.synthesis import narrate
from orchestrator.workflow import StepFunctionsRunner


class AnalyzeSkill:
    def __init__(
        self,
        *,
        jobs: JobStore,
        runner: StepFunctionsRunner,
        agent_functions: Mapping[str, str],
        llm: LlmClient | None = None,
        discover: Callable[[], list[AgentSkillInfo]] | None = None,
        hub: DataHub | None = None,
    ) -> None:
        self._jobs = jobs
        self._runner = runner
        self._functions = dict(agent_functions)
        self._llm = llm
        self._discover = discover
        self._hub = hub

    def __call__(self, request: SkillRequest, report: ProgressReporter) -> SkillResult:
        job_id = request.job_id
        if not job_id:
            raise InvalidInputError("analyze needs a job_id (jobs are created by the gateway)")
        try:
            return self._analyze(job_id, request, report)
        except AnalystackError as exc:
            self._jobs.update(job_id, status=JobStatus.FAILED, error=exc.to_dict(), finished_at=utc_now())
            raise

    def _analyze(self, job_id: str, request: SkillRequest, report: ProgressReporter) -> SkillResult:
        job = self._jobs.get(job_id)
        self._jobs.update(job_id, status=JobStatus.PLANNING)
        source = DataSource(kind="upload" if job.upload else "dataset")
        available = {name for name in self._functions if name != "orchestrator"}
        planning: dict[str, Any] = {}
        if self._llm is not None:
            # LLM first: it sees the agents' cards and the dataset's schema (never its rows); the
            # heuristic planner takes over, with the reason recorded, when the LLM fails.
            agents = self._discover() if self._discover else []
            reachable = {a.agent for a in agents} & available if agents else available
            summary = None
            if job.dataset_id and self._hub is not None:
                summary = DatasetSummary.from_catalog_item(self._hub.get_item(job.dataset_id))
            outcome = plan_with_llm(
                job.request,
                source=source,
                agents=agents,
                dataset_summary=summary,
                llm=self._llm,
                available_agents=reachable,
            )
            plan = outcome.plan
            planning = {
                "planner": outcome.planner,
                "fallback_reason": outcome.fallback_reason,
                "llm_usage": outcome.usage.model_dump(mode="json"),
                "llm_prompts": outcome.prompts,
            }
        else:
            plan = plan_request(job.request, source=source, available_agents=available)
            planning = {"planner": "heuristic", "fallback_reason": "no LLM is configured"}
        report(
            30,
            f"planned {len(plan.steps)} steps: {' -> '.join(s.id for s in plan.steps)} ({plan.planner} planner)",
            stage="planning",
        )
        definition = compile_plan(
            plan,
            function_arns={name: fn for name, fn in self._functions.items() if name != "orchestrator"},
            finalize_function_arn=self._functions["orchestrator"],
        )
        machine_arn = self._runner.ensure_state_machine(state_machine_name(definition), definition)
        execution_input: dict[str, Any] = {
            "job_id": job_id,
            "request": job.request,
            "session_id": job.session_id,
            "steps": {},
        }
        if job.upload:
            execution_input["upload"] = job.upload
        if job.dataset_id:
            execution_input["dataset_id"] = job.dataset_id
        execution_arn = self._runner.start(machine_arn, name=job_id, payload=execution_input)
        self._jobs.update(
            job_id,
            status=JobStatus.RUNNING,
            planner=plan.planner,
            plan=plan.model_dump(mode="json"),
            planning=planning,
            state_machine_arn=machine_arn,
            execution_arn=execution_arn,
            steps=[
                StepRecord(step_id=s.id, agent=s.agent, skill=s.skill, description=s.description)
                for s in plan.steps
            ],
        )
        note = (
            f" — heuristic planner used ({planning['fallback_reason']})"
            if plan.planner == "heuristic"
            else ""
        )
        report(
            90, f"started Step Functions execution {execution_arn.rsplit(':', 1)[-1]}{note}", stage="running"
        )
        return SkillResult(
            outputs={
                "execution_arn": execution_arn,
                "state_machine_arn": machine_arn,
                "planner": plan.planner,
            },
            summary=f"Plan of {len(plan.steps)} steps started ({plan.planner} planner)",
        )


class FinalizeSkill:
    """Records the outcome the state machine reports: step results and times, artifacts, narration,
    and the report a person reads (HTML, Markdown, JSON)."""

    def __init__(self, *, jobs: JobStore, events: EventLog, hub: DataHub, llm_configured: bool) -> None:
        self._jobs = jobs
        self._events = events
        self._hub = hub
        self._llm_configured = llm_configured

    def __call__(self, request: SkillRequest, report: ProgressReporter) -> SkillResult:
        job_id = request.job_id
        if not job_id:
            raise InvalidInputError("finalize needs a job_id")
        extra = request.model_extra or {}
        status = str(extra.get("status", "failed"))
        steps: dict[str, dict[str, Any]] = extra.get("steps") or {}
        error_text = _error_message(extra.get("error")) if status != "succeeded" else None
        job = self._jobs.get(job_id)
        records = self._step_records(job_id, job.steps, steps, status, error_text)
        summary = narrate(
            request=job.request,
            status=status,
            steps=steps,
            error=error_text,
            llm_configured=self._llm_configured,
            planner=job.planner or "heuristic",
            rationale=(job.plan or {}).get("rationale"),
            order=[record.step_id for record in records],
        )
        report(90, "assembling the report", stage="reporting")
        items = [i for i in self._hub.list_by_job(job_id) if i.kind != "upload"]
        job_view = {
            **job.model_dump(mode="json"),
            "status": "succeeded" if status == "succeeded" else "failed",
        }
        report_items = self._write_report(job_id, job_view, records, steps, summary, items)
        artifacts = [i.item_id for i in items] + [i.item_id for i in report_items.values()]

        def close_job() -> None:
            self._jobs.update(
                job_id,
                status=JobStatus.SUCCEEDED if status == "succeeded" else JobStatus.FAILED,
                steps=records,
                summary=summary,
                finished_at=utc_now(),
                error={"code": "analysis_failed", "message": error_text} if error_text else None,
                result={
                    "artifact_ids": artifacts,
                    **{f"report_{k}_id": v.item_id for k, v in report_items.items()},
                },
            )
            record_job_outcome(succeeded=status == "succeeded")

        report(
            95,
            "recording results" if status == "succeeded" else f"analysis failed: {error_text}",
            stage="finalizing",
        )
        return SkillResult(
            outputs={
                "status": status,
                "artifacts": str(len(artifacts)),
                "report_id": report_items["html"].item_id,
            },
            summary=f"job {status}: {len(records)} steps, {len(artifacts)} artifacts",
            after_report=close_job,
        )

    def _step_records(
        self,
        job_id: str,
        planned: list[StepRecord],
        results: dict[str, dict[str, Any]],
        status: str,
        error_text: str | None,
    ) -> list[StepRecord]:
        """Each step's status and times. The event log decides which step failed: a failure inside
        a Parallel branch loses the sibling branches' results from the state, not their events."""
        first: dict[str, str] = {}
        last: dict[str, str] = {}
        stages: dict[str, set[str]] = {}
        failures: dict[str, str] = {}
        for event in self._events.list(job_id):
            if not event.step_id:
                continue
            first.setdefault(event.step_id, event.at)
            last[event.step_id] = event.at
            stages.setdefault(event.step_id, set()).add(event.stage)
            if event.stage == "failed":
                failures[event.step_id] = event.message
        records: list[StepRecord] = []
        failure_assigned = False
        for record in planned:
            update: dict[str, Any] = {
                "started_at": first.get(record.step_id),
                "finished_at": last.get(record.step_id),
            }
            result = results.get(record.step_id)
            if result:
                update.update(status="succeeded", outputs=result.get("outputs", {}))
            elif record.step_id in failures:
                update.update(status="failed", error=failures[record.step_id])
                failure_assigned = True
            elif "finished" in stages.get(record.step_id, set()):
                update.update(status="succeeded")
            else:
                update.update(status="skipped" if status != "succeeded" else "succeeded")
            records.append(record.model_copy(update=update))
        if status != "succeeded" and not failure_assigned:
            # Crashed without reporting (timeout, lost Lambda): blame the first step that did not finish.
            for index, record in enumerate(records):
                if record.status == "skipped":
                    records[index] = record.model_copy(update={"status": "failed", "error": error_text})
                    break
        return records

    def _read_json(self, item_id: Any) -> dict[str, Any] | None:
        if not item_id:
            return None
        try:
            return self._hub.read_json(str(item_id))
        except AnalystackError:
            return None

    def _write_report(
        self,
        job_id: str,
        job_view: dict[str, Any],
        records: list[StepRecord],
        steps: dict[str, dict[str, Any]],
        summary: str,
        items: list[CatalogItem],
    ) -> dict[str, CatalogItem]:
        from orchestrator.report import ReportInputs, build_html, build_json, build_markdown, dumps

        def output(step: str, name: str) -> Any:
            return (steps.get(step) or {}).get("outputs", {}).get(name)

        by_name = {i.name: i for i in items}

        def report_id(step: str, name: str) -> Any:
            # From the state when the step's result is there, else from the catalog (a failed sibling).
            found = output(step, "report_id")
            return found or (by_name[name].item_id if name in by_name else None)

        model = self._read_json(report_id("automl", "model_report.json"))
        charts = []
        for item in items:
            if item.media_type == "application/vnd.plotly.v1+json":
                charts.append(
                    {
                        **item.metadata,
                        "item_id": item.item_id,
                        "figure": self._hub.read_bytes(item.s3_uri).decode(),
                    }
                )
        inputs = ReportInputs(
            job=job_view,
            steps=[r.model_dump(mode="json") for r in records],
            summary=summary,
            quality=self._read_json(report_id("quality", "quality_report.json")),
            eda=self._read_json(report_id("eda", "eda_report.json")),
            model=model,
            charts=charts,
            artifacts=[
                {"item_id": i.item_id, "name": i.name, "kind": i.kind, "media_type": i.media_type}
                for i in items
            ],
            loading_notes=[
                str(note) for i in items if i.kind == "dataset" for note in i.metadata.get("warnings", [])
            ][:20],
        )
        producer = Producer(agent="orchestrator", job_id=job_id, step_id="finalize")
        parents = [i.item_id for i in items if i.kind != "dataset"][:50]
        plotly_js = None
        if charts:
            from plotly.offline import get_plotlyjs

            plotly_js = get_plotlyjs()
        html_item = self._hub.put_artifact(
            build_html(inputs, plotly_js=plotly_js).encode(),
            name="report.html",
            media_type="text/html",
            producer=producer,
            parents=parents,
            compress=True,
        )
        markdown_item = self._hub.put_artifact(
            build_markdown(inputs).encode(),
            name="report.md",
            media_type="text/markdown",
            producer=producer,
            parents=[html_item.item_id],
        )
        json_item = self._hub.put_artifact(
            dumps(build_json(inputs)).encode(),
            name="report.json",
            media_type="application/json",
            producer=producer,
            parents=[html_item.item_id],
        )
        return {"html": html_item, "markdown": markdown_item, "json": json_item}


def _error_message(error: Any) -> str:
    """The clean message inside a Step Functions Catch result (``{"Error", "Cause"}``)."""
    if not isinstance(error, dict):
        return "An analysis step failed"
    cause = error.get("Cause")
    if isinstance(cause, str):
        try:
            parsed = json.loads(cause)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and parsed.get("errorMessage"):
            return str(parsed["errorMessage"])[:1000]
        if cause.strip():
            return cause[:1000]
    return str(error.get("Error") or "An analysis step failed")
