"""The orchestrator's skills: ``analyze`` (plan -> ASL -> execution) and ``finalize``.

Both are A2A skills so every Step Functions Task, including the last, invokes an agent the same
way. Any failure while planning marks the job failed with a clean message before re-raising,
so the user never waits on a job that will not run.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel

from analystack.a2a_kit import ProgressReporter, SkillRequest, SkillResult
from analystack.errors import REPLANNABLE_CODES, AnalystackError, InvalidInputError
from analystack.hub import DataHub, SharedPart
from analystack.jobs import EventLog, JobRecord, JobStore, StepRecord
from analystack.models import CatalogItem, JobStatus, Producer, ProgressEvent, utc_now
from analystack.telemetry import record_job_outcome
from orchestrator.compiler import compile_plan, state_machine_name
from orchestrator.llm import LlmClient
from orchestrator.llm_planner import AgentSkillInfo, ColumnInfo, DatasetSummary, plan_with_llm
from orchestrator.plan import Plan
from orchestrator.planner import DataSource, plan_request
from orchestrator.replanning import ReplanContext, StepFailure, decide
from orchestrator.routing import AgentRoute, PlanRouting, route_plan
from orchestrator.synthesis import build_facts, synthesize
from orchestrator.workflow import StepFunctionsRunner


class ExecutionLauncher:
    """Compiles a plan (with its routing) and starts its Step Functions execution for a job.

    Shared by ``analyze`` (the first execution) and ``replan`` (a continuation that starts from
    the completed steps' results), so both build the same execution input.
    """

    def __init__(
        self,
        *,
        runner: StepFunctionsRunner,
        agent_functions: Mapping[str, str],
        routes: Callable[[], list[AgentRoute]] | None = None,
        clarify_timeout_s: int = 300,
    ) -> None:
        self._runner = runner
        # finalize, replan, ask and relay; compile_plan rejects a missing one with a typed error
        self._orchestrator = agent_functions.get("orchestrator", "")
        self._agent_functions = {name: fn for name, fn in agent_functions.items() if name != "orchestrator"}
        self._routes = routes
        self.clarify_timeout_s = clarify_timeout_s

    @property
    def agents(self) -> set[str]:
        return set(self._agent_functions)

    def routes(self) -> list[AgentRoute]:
        return self._routes() if self._routes else []

    def launch(
        self,
        job: JobRecord,
        plan: Plan,
        *,
        steps: Mapping[str, Any] | None = None,
        replans: int = 0,
    ) -> tuple[str, str, PlanRouting]:
        """``(execution arn, state machine arn, routing)`` of the started execution."""
        completed = dict(steps or {})
        routing = route_plan(plan, self.routes(), functions=self._agent_functions)
        definition = compile_plan(
            plan,
            function_arns=routing.function_arns,
            finalize_function_arn=self._orchestrator,
            relay_urls=routing.relay_urls,
            failovers=routing.failovers,
            completed=set(completed),
        )
        execution_input: dict[str, Any] = {
            "job_id": job.job_id,
            "request": job.request,
            "session_id": job.session_id,
            "steps": completed,
            # Strings: the replan skill reads it from an A2A data part (numbers become doubles).
            "replans": str(replans),
            # An integer: Step Functions reads it as the AskUser state's TimeoutSecondsPath.
            "clarify_timeout_s": max(1, self.clarify_timeout_s),
        }
        if job.upload:
            execution_input["upload"] = job.upload
        if job.dataset_id:
            execution_input["dataset_id"] = job.dataset_id
        name = job.job_id if replans == 0 else f"{job.job_id}-r{replans}"
        execution_arn, machine_arn = self._runner.run(
            state_machine_name(definition), definition, name=name, payload=execution_input
        )
        return execution_arn, machine_arn, routing


class AnalyzeSkill:
    def __init__(
        self,
        *,
        jobs: JobStore,
        launcher: ExecutionLauncher,
        planner: RequestPlanner,
    ) -> None:
        self._jobs = jobs
        self._launcher = launcher
        self._planner = planner

    def __call__(self, request: SkillRequest, report: ProgressReporter) -> SkillResult:
        job_id = request.job_id
        if not job_id:
            raise InvalidInputError("analyze needs a job_id (jobs are created by the gateway)")
        try:
            return self._analyze(job_id, report)
        except AnalystackError as exc:
            self._jobs.update(job_id, status=JobStatus.FAILED, error=exc.to_dict(), finished_at=utc_now())
            raise

    def _analyze(self, job_id: str, report: ProgressReporter) -> SkillResult:
        job = self._jobs.get(job_id)
        self._jobs.update(job_id, status=JobStatus.PLANNING)
        outcome = self._planner.plan(
            job.request,
            source=DataSource(kind="upload" if job.upload else "dataset"),
            dataset_id=job.dataset_id,
            available=self._launcher.agents,
            context=job.context,
        )
        plan, planning = outcome.plan, outcome.record
        report(
            30,
            f"planned {len(plan.steps)} steps: {' -> '.join(s.id for s in plan.steps)} ({plan.planner} planner)",
            stage="planning",
        )
        execution_arn, machine_arn, routing = self._launcher.launch(job, plan)
        failovers = routing.describe()
        planning["failovers"] = failovers
        self._jobs.update(
            job_id,
            status=JobStatus.RUNNING,
            planner=plan.planner,
            plan=plan.model_dump(mode="json"),
            planning=planning,
            state_machine_arn=machine_arn,
            execution_arn=execution_arn,
            executions=[execution_arn],
            steps=[
                StepRecord(step_id=s.id, agent=s.agent, skill=s.skill, description=s.description)
                for s in plan.steps
            ],
        )
        reason = (
            f"heuristic planner ({planning['fallback_reason']})"
            if plan.planner == "heuristic"
            else "LLM planner"
        )
        self._jobs.decide(
            job_id,
            "plan",
            f"{reason}: {plan.rationale}",
            planner=plan.planner,
            steps=[s.id for s in plan.steps],
            failovers=failovers,
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


class PlanningResult(BaseModel):
    plan: Plan
    record: dict[str, Any]
    """What the job records under ``planning``: planner, fallback reason, LLM usage and prompts."""


class RequestPlanner:
    """LLM first: the LLM sees the agents' cards and the dataset's schema (never its rows); the
    heuristic planner takes over, with the reason recorded, when the LLM is absent or fails."""

    def __init__(
        self,
        *,
        llm: LlmClient | None,
        discover: Callable[[], list[AgentSkillInfo]] | None,
        hub: DataHub | None,
    ) -> None:
        self._llm = llm
        self._discover = discover
        self._hub = hub

    def plan(
        self,
        request: str,
        *,
        source: DataSource,
        dataset_id: str | None,
        available: set[str],
        context: Mapping[str, Any] | None = None,
    ) -> PlanningResult:
        target = str((context or {}).get("target") or "") or None
        agents = self._discover() if self._discover else []
        if agents:
            # Runtime-registered agents' skills are plannable too (no redeploy).
            available = available | {a.agent for a in agents}
        if self._llm is None:
            plan = plan_request(request, source=source, available_agents=available, carried_target=target)
            return PlanningResult(
                plan=plan, record={"planner": "heuristic", "fallback_reason": "no LLM is configured"}
            )
        reachable = {a.agent for a in agents} & available if agents else available
        summary = None
        if dataset_id and self._hub is not None:
            summary = DatasetSummary.from_catalog_item(self._hub.get_item(dataset_id))
        outcome = plan_with_llm(
            request if not target else f"{request}\n(Session context: the target so far was '{target}'.)",
            source=source,
            agents=agents,
            dataset_summary=summary,
            llm=self._llm,
            available_agents=reachable,
        )
        plan = outcome.plan
        if target and outcome.planner == "heuristic":
            plan = plan_request(request, source=source, available_agents=reachable, carried_target=target)
        plan = plan.model_copy(update={"request": request})
        return PlanningResult(
            plan=plan,
            record={
                "planner": outcome.planner,
                "fallback_reason": outcome.fallback_reason,
                "llm_usage": outcome.usage.model_dump(mode="json"),
                "llm_prompts": outcome.prompts,
            },
        )


class PlanOnlySkill:
    """``plan``: the plan a request would run, as JSON, without running it (``POST /plan``)."""

    def __init__(self, *, planner: RequestPlanner, agents: Callable[[], set[str]]) -> None:
        self._planner = planner
        self._agents = agents

    def __call__(self, request: SkillRequest, report: ProgressReporter) -> SkillResult:
        text = request.request.strip()
        if not text:
            raise InvalidInputError("plan needs the request text")
        dataset_id = str(request.inputs.get("dataset_id") or "") or None
        source = DataSource(kind="dataset") if dataset_id else DataSource(kind="upload")
        result = self._planner.plan(text, source=source, dataset_id=dataset_id, available=self._agents())
        report(
            90, f"planned {len(result.plan.steps)} steps ({result.plan.planner} planner)", stage="planning"
        )
        return SkillResult(
            outputs={
                "plan": result.plan.model_dump(mode="json"),
                "planner": result.plan.planner,
                "fallback_reason": result.record.get("fallback_reason") or "",
            },
            summary=f"{len(result.plan.steps)} steps ({result.plan.planner} planner)",
        )


class ReplanSkill:
    """``replan``: a step reported a broken assumption; decide, record, and go on (or ask).

    Runs inside the failing execution's ``Replan`` state. ``continued`` means a new execution
    now runs the remaining steps; ``ask`` sends the run to ``AskUser``; anything else ends in
    ``RecordFailure``.
    """

    def __init__(
        self,
        *,
        jobs: JobStore,
        events: EventLog,
        launcher: ExecutionLauncher,
        hub: DataHub,
        llm: LlmClient | None = None,
    ) -> None:
        self._jobs = jobs
        self._events = events
        self._launcher = launcher
        self._hub = hub
        self._llm = llm

    def __call__(self, request: SkillRequest, report: ProgressReporter) -> SkillResult:
        job_id = request.job_id
        if not job_id:
            raise InvalidInputError("replan needs a job_id")
        extra = request.model_extra or {}
        steps: dict[str, Any] = extra.get("steps") or {}
        replans = _int(extra.get("replans"))
        answer_data = extra.get("answer")
        answer = None
        if isinstance(answer_data, dict) and answer_data.get("answer") is not None:
            answer = str(answer_data["answer"])[:200]
        timed_out = str(extra.get("timed_out", "")).lower() == "true"
        job = self._jobs.get(job_id)
        if job.plan is None:
            raise InvalidInputError(f"Job '{job_id}' has no plan to revise")
        plan = Plan.model_validate(job.plan)
        failure_event = self._failure(job_id)
        if failure_event is None:
            return self._give_up("no step reported a replannable failure", report)
        failure = StepFailure(
            step_id=failure_event.step_id or "",
            agent=failure_event.agent,
            code=failure_event.error_code or "",
            message=failure_event.message,
            details=failure_event.details,
        )
        context = ReplanContext(
            plan=plan,
            completed=frozenset(steps),
            failure=failure,
            columns=self._columns(job, steps),
            replans=replans,
            answer=answer,
            timed_out=timed_out,
            can_ask=self._launcher.clarify_timeout_s > 0,
            language=plan.language,
        )
        decision, audit = decide(context, llm=self._llm)
        audit_fields: dict[str, Any] = {}
        if audit is not None:
            audit_fields = {"llm_usage": audit.usage().model_dump(mode="json"), "llm_prompts": audit.prompts}
        if answer is not None:
            self._jobs.decide(job_id, "answer", f"the user answered '{answer}'", step_id=failure.step_id)
        elif timed_out:
            self._jobs.decide(
                job_id,
                "timeout",
                f"no answer within {self._launcher.clarify_timeout_s} s",
                step_id=failure.step_id,
            )
        common = {
            "step_id": failure.step_id,
            "agent": failure.agent,
            "error_code": failure.code,
            "decided_by": decision.decided_by,
            "fallback_reason": decision.fallback_reason,
            **audit_fields,
        }
        if decision.action == "ask" and decision.question is not None:
            question = decision.question.model_dump(mode="json")
            self._jobs.update(job_id, question={**question, "step_id": failure.step_id})
            self._jobs.decide(job_id, "ask", decision.reason, question=decision.question.text, **common)
            report(90, f"asking the user: {decision.question.text}", stage="replanning")
            return SkillResult(outputs={"action": "ask"}, summary="asked the user")
        if decision.action != "continue" or decision.plan is None:
            self._jobs.decide(job_id, "replan", f"gave up: {decision.reason}", outcome="give_up", **common)
            return self._give_up(decision.reason, report)
        new_plan = decision.plan
        execution_arn, machine_arn, routing = self._launcher.launch(
            job, new_plan, steps=steps, replans=replans + 1
        )
        self._jobs.decide(
            job_id,
            "replan",
            decision.reason,
            outcome="continued",
            change=decision.change,
            guessed=decision.guessed,
            execution_arn=execution_arn,
            **common,
        )
        kept = {s.id for s in new_plan.steps}
        records = [
            StepRecord(step_id=s.id, agent=s.agent, skill=s.skill, description=s.description)
            for s in new_plan.steps
        ] + [
            record.model_copy(update={"status": "dropped", "error": decision.reason})
            for record in job.steps
            if record.step_id not in kept
        ]
        self._jobs.update(
            job_id,
            status=JobStatus.RUNNING,
            plan=new_plan.model_dump(mode="json"),
            state_machine_arn=machine_arn,
            execution_arn=execution_arn,
            executions=[*job.executions, execution_arn],
            steps=records,
            question=None,
            planning={**(job.planning or {}), "failovers": routing.describe()},
        )
        report(95, f"replanned: {decision.change} ({decision.reason})", stage="replanning")
        return SkillResult(
            outputs={"action": "continued", "execution_arn": execution_arn},
            summary=f"replanned: {decision.change}",
        )

    def _give_up(self, reason: str, report: ProgressReporter) -> SkillResult:
        report(95, f"no replan: {reason}", stage="replanning")
        return SkillResult(outputs={"action": "give_up", "reason": reason[:500]}, summary="no replan")

    def _failure(self, job_id: str) -> ProgressEvent | None:
        failures = [
            e
            for e in self._events.list(job_id)
            if e.stage == "failed" and e.step_id and e.error_code in REPLANNABLE_CODES
        ]
        return failures[-1] if failures else None

    def _columns(self, job: JobRecord, steps: Mapping[str, Any]) -> list[ColumnInfo]:
        """The dataset's schema from the catalog (never its rows)."""
        dataset_id = job.dataset_id
        for result in steps.values():
            found = (result or {}).get("outputs", {}).get("dataset_id") if isinstance(result, dict) else None
            if found:
                dataset_id = str(found)
        if not dataset_id:
            return []
        try:
            return DatasetSummary.from_catalog_item(self._hub.get_item(dataset_id)).columns
        except AnalystackError:
            return []


class AskSkill:
    """``ask``: the job pauses in ``input_required`` until the user answers or time runs out.

    Invoked by the ``AskUser`` state with its task token; the gateway's ``POST /jobs/{id}/answer``
    resumes the execution with ``SendTaskSuccess``.
    """

    def __init__(self, *, jobs: JobStore, timeout_s: int) -> None:
        self._jobs = jobs
        self._timeout_s = timeout_s

    def __call__(self, request: SkillRequest, report: ProgressReporter) -> SkillResult:
        job_id = request.job_id
        token = str((request.model_extra or {}).get("task_token") or "")
        if not job_id or not token:
            raise InvalidInputError("ask needs a job_id and a task_token")
        job = self._jobs.get(job_id)
        question = dict(job.question or {})
        if not question:
            raise InvalidInputError(f"Job '{job_id}' has no question to ask")
        question.update(task_token=token, asked_at=utc_now(), timeout_s=self._timeout_s)
        self._jobs.update(job_id, status=JobStatus.INPUT_REQUIRED, question=question)
        report(
            50,
            f"input required: {question.get('text')} (answer with POST /jobs/{job_id}/answer)",
            stage="input_required",
        )
        return SkillResult(
            outputs={"question": str(question.get("text", ""))},
            summary=str(question.get("text", "input required")),
            input_required=True,
        )


class RelaySkill:
    """``relay``: run a plan step on an agent reached only over HTTP (registered with a URL)."""

    def __init__(self, *, http_factory: Callable[[], Any]) -> None:
        self._http_factory = http_factory

    def __call__(self, request: SkillRequest, report: ProgressReporter) -> SkillResult:
        from analystack.a2a_kit import send_data_message

        extra = request.model_extra or {}
        url = str(extra.get("agent_url") or "")
        skill = str(extra.get("agent_skill") or "")
        agent = str(extra.get("agent") or "agent")
        if not url.startswith(("http://", "https://")) or not skill:
            raise InvalidInputError("relay needs agent_url (http or https) and agent_skill")
        data = {
            "skill": skill,
            "job_id": request.job_id,
            "step_id": request.step_id,
            "request": request.request,
            "inputs": request.inputs,
        }
        report(10, f"sending {skill} to {agent} over A2A", stage="relay")
        with self._http_factory() as http:
            result = send_data_message(url, data, http=http)
        outputs = result.get("outputs", {})
        return SkillResult(
            outputs=outputs, summary=str(result.get("summary") or f"{agent}: {skill} finished")
        )


class FinalizeSkill:
    """Records the outcome the state machine reports: step results and times, artifacts, narration,
    and the report a person reads (HTML, Markdown, JSON)."""

    def __init__(
        self,
        *,
        jobs: JobStore,
        events: EventLog,
        hub: DataHub,
        llm: LlmClient | None = None,
        share_sample_rows: bool = False,
    ) -> None:
        self._jobs = jobs
        self._events = events
        self._hub = hub
        self._llm = llm
        self._share_sample_rows = share_sample_rows

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
        records = self._record_failovers(job_id, job, records)
        items = [i for i in self._hub.list_by_job(job_id) if i.kind != "upload"]
        reports = self._reports(steps, items)
        report(85, "explaining the results" + (" (LLM)" if self._llm else ""), stage="reporting")
        facts = build_facts(
            request=job.request,
            status=status,
            steps=steps,
            order=[record.step_id for record in records],
            error=error_text,
            planner=job.planner or "heuristic",
            rationale=(job.plan or {}).get("rationale"),
            quality=reports["quality"],
            eda=reports["eda"],
            model=reports["model"],
            artifacts=_artifact_refs(items),
            # Rows reach the LLM only when a setting allows it; by default it sees aggregates only.
            sample_rows=_sample_rows(items) if self._share_sample_rows else (),
            share_sample_rows=self._share_sample_rows,
        )
        narration = synthesize(
            facts, llm=self._llm, request=job.request, language=(job.plan or {}).get("language")
        )
        decisions = self._jobs.get(job_id).decisions  # with the failovers just recorded
        summary = narration.text + _decisions_note(decisions)
        synthesis = {
            "narrator": narration.narrator,
            "fallback_reason": narration.fallback_reason,
            "cited_fact_ids": narration.cited_fact_ids,
            "llm_usage": narration.usage.model_dump(mode="json"),
            "llm_prompts": narration.prompts,
        }
        report(90, "assembling the report", stage="reporting")
        job_view = {
            **job.model_dump(mode="json"),
            "status": "succeeded" if status == "succeeded" else "failed",
        }
        report_items = self._write_report(job_id, job_view, records, summary, items, reports)
        artifacts = [i.item_id for i in items] + [i.item_id for i in report_items.values()]

        def close_job() -> None:
            self._jobs.update(
                job_id,
                status=JobStatus.SUCCEEDED if status == "succeeded" else JobStatus.FAILED,
                steps=records,
                summary=summary,
                synthesis=synthesis,
                llm_usage=_total_llm_usage([(job.planning or {}), *decisions, synthesis]),
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
            if record.status == "dropped":  # a replan took it out of the plan; keep its reason
                records.append(record)
                continue
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

    def _record_failovers(self, job_id: str, job: JobRecord, records: list[StepRecord]) -> list[StepRecord]:
        """Steps that ran on their failover agent: the record names the agent that did the work,
        and the job's decisions say why (the failover event carries the planned agent's error)."""
        failovers: dict[str, str] = dict((job.planning or {}).get("failovers") or {})
        events = {e.step_id: e for e in self._events.list(job_id) if e.stage == "failover" and e.step_id}
        if not events:
            return records
        updated = []
        for record in records:
            event = events.get(record.step_id)
            if event is None:
                updated.append(record)
                continue
            to_agent = failovers.get(record.step_id) or event.agent
            self._jobs.decide(
                job_id,
                "failover",
                event.message,
                step_id=record.step_id,
                from_agent=record.agent,
                to_agent=to_agent,
            )
            updated.append(record.model_copy(update={"agent": to_agent, "failover_from": record.agent}))
        return updated

    def _read_json(self, item_id: Any) -> dict[str, Any] | None:
        if not item_id:
            return None
        try:
            return self._hub.read_json(str(item_id))
        except AnalystackError:
            return None

    def _reports(self, steps: dict[str, dict[str, Any]], items: list[CatalogItem]) -> dict[str, Any]:
        """The quality, EDA and model reports (JSON) the steps wrote, for the narration and report."""

        def output(step: str, name: str) -> Any:
            return (steps.get(step) or {}).get("outputs", {}).get(name)

        by_name = {i.name: i for i in items}

        def report_id(step: str, name: str) -> Any:
            # From the state when the step's result is there, else from the catalog (a failed sibling).
            found = output(step, "report_id")
            return found or (by_name[name].item_id if name in by_name else None)

        return {
            "quality": self._read_json(report_id("quality", "quality_report.json")),
            "eda": self._read_json(report_id("eda", "eda_report.json")),
            "model": self._read_json(report_id("automl", "model_report.json")),
        }

    def _write_report(
        self,
        job_id: str,
        job_view: dict[str, Any],
        records: list[StepRecord],
        summary: str,
        items: list[CatalogItem],
        reports: dict[str, Any],
    ) -> dict[str, CatalogItem]:
        from orchestrator.report import ReportInputs, build_html, build_json, build_markdown, dumps

        model = reports["model"]
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
            quality=reports["quality"],
            eda=reports["eda"],
            model=model,
            charts=charts,
            artifacts=_artifact_refs(items),
            loading_notes=[
                str(note) for i in items if i.kind == "dataset" for note in i.metadata.get("warnings", [])
            ][:20],
        )
        producer = Producer(agent="orchestrator", job_id=job_id, step_id="finalize")
        parents = [i.item_id for i in items if i.kind != "dataset"][:50]
        if not charts:
            body = [build_html(inputs, plotly_js=None).encode()]
        else:
            # plotly.js (~4.8 MB) is the same in every report: a shared part is compressed once
            # per container, not once per job.
            marker = "\x00analystack-plotly-js\x00"
            head, tail = build_html(inputs, plotly_js=marker).split(marker, 1)
            body = [head.encode(), _plotly_js_part(), tail.encode()]
        html_item = self._hub.put_artifact(
            body,
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


def _sample_rows(items: list[CatalogItem]) -> list[dict[str, Any]]:
    """The sample rows ingestion kept in the dataset's catalog entry (the first dataset of the job)."""
    for item in items:
        rows = item.metadata.get("sample_rows") if item.kind == "dataset" else None
        if isinstance(rows, list):
            return [row for row in rows if isinstance(row, dict)][:5]
    return []


@functools.lru_cache(maxsize=1)
def _plotly_js_part() -> SharedPart:
    from plotly.offline import get_plotlyjs  # plotly loads only when a report has charts

    return SharedPart(get_plotlyjs().encode())


def _artifact_refs(items: list[CatalogItem]) -> list[dict[str, Any]]:
    """The job's artifacts as the narration and the report list them."""
    return [{"item_id": i.item_id, "name": i.name, "kind": i.kind, "media_type": i.media_type} for i in items]


def _total_llm_usage(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The job's LLM bill: calls, tokens and list-price cost over planning, replans and synthesis
    (``cost_usd`` is ``None`` when a model's price is unknown, e.g. a local server)."""
    calls = prompt = completion = 0
    cost: float | None = 0.0
    for record in records:
        usage = record.get("llm_usage") or {}
        calls += len(record.get("llm_prompts") or [])
        prompt += int(usage.get("prompt_tokens") or 0)
        completion += int(usage.get("completion_tokens") or 0)
        if usage and usage.get("cost_usd") is None:
            cost = None
        elif cost is not None:
            cost += float(usage.get("cost_usd") or 0.0)
    return {
        "calls": calls,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "cost_usd": round(cost, 8) if cost is not None else None,
    }


def _decisions_note(decisions: list[dict[str, Any]]) -> str:
    """The adaptive decisions (replans, failovers, guesses) in the narration, with their reasons."""
    lines = []
    for decision in decisions:
        kind = decision.get("kind")
        if kind == "replan":
            change = decision.get("change") or decision.get("outcome") or ""
            lines.append(f"Replanned ({change}): {decision.get('reason')}")
        elif kind == "failover":
            lines.append(
                f"Failover: step '{decision.get('step_id')}' ran on '{decision.get('to_agent')}' "
                f"instead of '{decision.get('from_agent')}'."
            )
        elif kind in {"ask", "answer", "timeout"}:
            lines.append(f"{str(kind).capitalize()}: {decision.get('reason')}")
    return ("\n" + "\n".join(lines)) if lines else ""


def _int(value: Any) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return 0


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
