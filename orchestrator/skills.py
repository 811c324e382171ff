"""The orchestrator's skills: ``analyze`` (plan -> ASL -> execution) and ``finalize``.

Both are A2A skills so every Step Functions Task, including the last, invokes an agent the same
way. Any failure while planning marks the job failed with a clean message before re-raising,
so the user never waits on a job that will not run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from analystack.a2a_kit import ProgressReporter, SkillRequest, SkillResult
from analystack.errors import AnalystackError, InvalidInputError
from analystack.hub import DataHub
from analystack.jobs import JobStore, StepRecord
from analystack.models import JobStatus, utc_now
from analystack.telemetry import record_job_outcome
from orchestrator.compiler import compile_plan, state_machine_name
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
        llm_configured: bool,
    ) -> None:
        self._jobs = jobs
        self._runner = runner
        self._functions = dict(agent_functions)
        self._llm_configured = llm_configured

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
        plan = plan_request(job.request, source=source, available_agents=available)
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
            state_machine_arn=machine_arn,
            execution_arn=execution_arn,
            steps=[
                StepRecord(step_id=s.id, agent=s.agent, skill=s.skill, description=s.description)
                for s in plan.steps
            ],
        )
        note = "" if self._llm_configured else " — no LLM configured, heuristic planner used"
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
    """Records the outcome the state machine reports: step results, artifacts, narration."""

    def __init__(self, *, jobs: JobStore, hub: DataHub, llm_configured: bool) -> None:
        self._jobs = jobs
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
        records: list[StepRecord] = []
        failure_assigned = False
        for record in job.steps:
            result = steps.get(record.step_id)
            if result:
                record = record.model_copy(
                    update={"status": "succeeded", "outputs": result.get("outputs", {})}
                )
            elif status != "succeeded" and not failure_assigned:
                record = record.model_copy(update={"status": "failed", "error": error_text})
                failure_assigned = True
            elif status != "succeeded":
                record = record.model_copy(update={"status": "skipped"})
            records.append(record)
        summary = narrate(
            request=job.request,
            status=status,
            steps=steps,
            error=error_text,
            llm_configured=self._llm_configured,
            planner=job.planner or "heuristic",
            rationale=(job.plan or {}).get("rationale"),
        )
        artifacts = [i.item_id for i in self._hub.list_by_job(job_id) if i.kind != "upload"]

        def close_job() -> None:
            self._jobs.update(
                job_id,
                status=JobStatus.SUCCEEDED if status == "succeeded" else JobStatus.FAILED,
                steps=records,
                summary=summary,
                finished_at=utc_now(),
                error={"code": "analysis_failed", "message": error_text} if error_text else None,
                result={"artifact_ids": artifacts},
            )
            record_job_outcome(succeeded=status == "succeeded")

        report(
            95,
            "recording results" if status == "succeeded" else f"analysis failed: {error_text}",
            stage="finalizing",
        )
        return SkillResult(
            outputs={"status": status, "artifacts": str(len(artifacts))},
            summary=f"job {status}: {len(records)} steps, {len(artifacts)} artifacts",
            after_report=close_job,
        )


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
