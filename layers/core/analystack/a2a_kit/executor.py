"""The executor every agent uses: A2A message in, one typed skill call, artifacts out.

An agent supplies pure skill functions ``(SkillRequest, ProgressReporter) -> SkillResult``;
this adapter does the protocol work the a2a-samples executors repeat: enqueue the task, mark
it working, relay progress (to the A2A task *and* the job's event log), publish the outputs
artifact, and turn every exception into a failed task with a clean message — the SDK would
otherwise leak ``str(exc)`` to the caller.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from a2a.helpers import (
    get_data_parts,
    get_message_text,
    new_data_part,
    new_task_from_user_message,
    new_text_part,
)
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.tasks import TaskUpdater
from a2a.types import Message, Role, TaskState
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from analystack.errors import AnalystackError, InvalidInputError
from analystack.models import ProgressEvent
from analystack.telemetry import logger, record_skill_outcome


class SkillRequest(BaseModel):
    """What a skill receives: the data part of the A2A message (or its text)."""

    model_config = ConfigDict(extra="allow")

    skill: str
    job_id: str | None = None
    step_id: str | None = None
    request: str = ""
    inputs: dict[str, Any] = Field(default_factory=dict)

    def require(self, name: str, *, in_text: re.Pattern[str] | None = None) -> str:
        """An input by name; for plain-text A2A messages, ``in_text`` finds it in the request text.

        That lets a person write "profile ds-..." to an agent instead of composing a data part.
        """
        value = self.inputs.get(name)
        if (value is None or (isinstance(value, str) and not value.strip())) and in_text is not None:
            match = in_text.search(self.request)
            value = match.group(0) if match else None
        if value is None or (isinstance(value, str) and not value.strip()):
            raise InvalidInputError(f"Input '{name}' is required for skill '{self.skill}'")
        return str(value)


class ArtifactRef(BaseModel):
    name: str
    item_id: str
    s3_uri: str
    media_type: str


class SkillResult(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    outputs: dict[str, Any] = Field(default_factory=dict)
    artifacts: list[ArtifactRef] = Field(default_factory=list)
    summary: str = ""
    input_required: bool = False
    """The skill asked the user a question (the job waits in ``input_required``); the outputs
    artifact says so in its metadata."""
    after_report: Callable[[], None] | None = Field(default=None, exclude=True)
    """Runs after the skill's final progress event is recorded: state that readers treat as
    "done" (a job's terminal status) must not become visible before the last event."""


class ProgressReporter(Protocol):
    def __call__(self, progress: float, message: str, *, stage: str | None = None) -> None: ...


class ProgressSink(Protocol):
    """Where progress goes besides the A2A task (the job's event log)."""

    def append(self, job_id: str, event: ProgressEvent) -> Any: ...


SkillHandler = Callable[[SkillRequest, ProgressReporter], SkillResult]


class SkillExecutor(AgentExecutor):
    def __init__(
        self,
        *,
        agent: str,
        skills: Mapping[str, SkillHandler],
        default_skill: str | None = None,
        progress_sink: ProgressSink | None = None,
    ) -> None:
        self._agent = agent
        self._skills = dict(skills)
        self._default_skill = default_skill or next(iter(self._skills))
        self._sink = progress_sink

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        message = context.message
        if message is None:  # the SDK always sets it for SendMessage; guard for type checkers
            raise InvalidInputError("A message is required")
        task = context.current_task or new_task_from_user_message(message)
        if context.current_task is None:
            await event_queue.enqueue_event(task)
        updater = TaskUpdater(event_queue, task.id, task.context_id)
        request: SkillRequest | None = None
        reporter: _Reporter | None = None
        started = time.monotonic()
        succeeded = False
        try:
            request = self._parse(message)
            handler = self._skills.get(request.skill)
            if handler is None:
                raise InvalidInputError(
                    f"Unknown skill '{request.skill}' for agent '{self._agent}'; "
                    f"available: {', '.join(sorted(self._skills))}"
                )
            await updater.start_work(self._text(f"{self._agent}: {request.skill} started"))
            reporter = _Reporter(self._agent, request, updater, asyncio.get_running_loop(), self._sink)
            failover_from = (request.model_extra or {}).get("failover_from")
            if failover_from:
                # A Step Functions Catch path sent this step here because its planned agent was down.
                runner = (request.model_extra or {}).get("agent") or self._agent  # relayed: the remote agent
                reporter(
                    0,
                    f"failover: '{failover_from}' was unavailable ({_failover_reason(request)}); "
                    f"'{runner}' runs the step instead",
                    stage="failover",
                )
            reporter(0, f"{request.skill} started", stage="started")
            result = await asyncio.to_thread(handler, request, reporter)
            reporter(100, result.summary or f"{request.skill} finished", stage="finished")
            await reporter.drain()  # every event stored before the outcome is published
            if result.after_report is not None:
                await asyncio.to_thread(result.after_report)
            metadata = {
                "skill": request.skill,
                **({"input_required": "true"} if result.input_required else {}),
            }
            await updater.add_artifact(
                [new_data_part(_result_payload(result))], name="outputs", metadata=metadata
            )
            # A skill that asks the user something (``input_required``) still completes its own
            # task: the answer resumes the *job* through Step Functions (a task token), never this
            # process, and an A2A task left in input-required keeps its producer waiting forever
            # (a leak in a long-running server that also hangs interpreter shutdown). The job
            # record carries the input-required state and the question.
            await updater.complete(self._text(result.summary or f"{request.skill} finished"))
            succeeded = True
        except AnalystackError as exc:
            logger.warning(
                "skill failed", extra={"agent": self._agent, "code": exc.code, "error": exc.message}
            )
            if reporter is not None:
                await reporter.drain()  # the failure comes after the progress already reported
            self._report_failure(request, exc.message, code=exc.code, details=exc.details)
            await updater.failed(self._failure_message(exc.code, exc.message, exc.details))
        except Exception:  # noqa: BLE001 - the protocol boundary: every crash becomes a failed task
            reference = uuid.uuid4().hex[:12]
            logger.exception("skill crashed", extra={"agent": self._agent, "reference": reference})
            text = f"Internal error in agent '{self._agent}' (reference {reference})"
            if reporter is not None:
                await reporter.drain()
            self._report_failure(request, text, code="internal_error", details={"reference": reference})
            await updater.failed(self._failure_message("internal_error", text, {"reference": reference}))
        finally:
            if reporter is not None:
                await reporter.drain()  # a no-op unless the task was cancelled mid-skill
                reporter.close()
            skill = request.skill if request is not None else "unknown"
            record_skill_outcome(
                self._agent, skill, succeeded=succeeded, duration_ms=(time.monotonic() - started) * 1000
            )

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        task = context.current_task
        if task is not None:
            await TaskUpdater(event_queue, task.id, task.context_id).cancel()

    def _parse(self, message: Message) -> SkillRequest:
        data = [d for d in get_data_parts(message.parts) if isinstance(d, dict)]
        payload: dict[str, Any] = dict(data[0]) if data else {}
        payload.setdefault("skill", self._default_skill)
        payload.setdefault("request", get_message_text(message))
        try:
            return SkillRequest.model_validate(payload)
        except ValidationError as exc:
            fields = ", ".join(".".join(str(p) for p in err["loc"]) for err in exc.errors())
            raise InvalidInputError(f"Malformed request data (fields: {fields})") from None

    def _report_failure(
        self, request: SkillRequest | None, text: str, *, code: str, details: Mapping[str, str]
    ) -> None:
        if self._sink is not None and request is not None and request.job_id:
            try:
                self._sink.append(
                    request.job_id,
                    ProgressEvent(
                        stage="failed",
                        agent=self._agent,
                        progress=100,
                        message=text,
                        step_id=request.step_id,
                        level="error",
                        error_code=code,
                        details={str(k): str(v)[:500] for k, v in details.items()},
                    ),
                )
            except Exception:  # noqa: BLE001 - the failure itself must still reach the caller
                logger.exception("could not record failure event")

    def _text(self, text: str) -> Message:
        return Message(message_id=uuid.uuid4().hex, role=Role.ROLE_AGENT, parts=[new_text_part(text)])

    def _failure_message(self, code: str, text: str, details: dict[str, str]) -> Message:
        return Message(
            message_id=uuid.uuid4().hex,
            role=Role.ROLE_AGENT,
            parts=[
                new_text_part(text),
                new_data_part({"error": {"code": code, "message": text, "details": details}}),
            ],
        )


def _failover_reason(request: SkillRequest) -> str:
    """The planned agent's error as Step Functions caught it (``{"Error", "Cause"}``), briefly."""
    error = (request.model_extra or {}).get("failover_error")
    if isinstance(error, dict):
        return str(error.get("Error") or "error")[:120]
    return "no answer"


def _result_payload(result: SkillResult) -> dict[str, Any]:
    return {
        "outputs": result.outputs,
        "artifacts": [a.model_dump() for a in result.artifacts],
        "summary": result.summary,
    }


#: Within one stage, progress events closer together than this are dropped (the next one says more).
MIN_PROGRESS_INTERVAL_S = 0.25


class _Reporter:
    """Thread-safe progress relay: skills run in a worker thread, the task updater on the loop.

    Reporting never blocks the skill: event-log writes go to one background thread (in order)
    and task updates to the loop, and :meth:`drain` waits for both before the task's outcome is
    published (on Lambda nothing runs after the response). Waiting for each write took the
    skill ~30-50 ms per event (a DynamoDB put plus a task-store save), 0.3-0.5 s of a step.
    """

    def __init__(
        self,
        agent: str,
        request: SkillRequest,
        updater: TaskUpdater,
        loop: asyncio.AbstractEventLoop,
        sink: ProgressSink | None,
    ) -> None:
        self._agent = agent
        self._request = request
        self._updater = updater
        self._loop = loop
        self._sink = sink
        self._last = -1
        self._last_stage: str | None = None
        self._last_at = float("-inf")
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{agent}-progress")
        self._pending: list[concurrent.futures.Future[Any]] = []

    async def drain(self) -> None:
        """Wait until every reported event is stored and every task update applied."""
        pending, self._pending = self._pending, []
        for future in pending:
            try:
                await asyncio.wrap_future(future)
            except Exception:  # noqa: BLE001 - progress is best effort; the outcome is not
                logger.exception("could not record a progress event", extra={"agent": self._agent})

    def close(self) -> None:
        """No more writes: a skill still running (its task was cancelled) reports into the void."""
        self._writer.shutdown(wait=False)

    def __call__(self, progress: float, message: str, *, stage: str | None = None) -> None:
        percent = max(0, min(100, round(progress)))
        stage = stage or self._request.skill
        now = time.monotonic()
        if stage == self._last_stage and now - self._last_at < MIN_PROGRESS_INTERVAL_S and percent < 100:
            # Each event is a DynamoDB write plus a task-store save (~20 ms, blocking the skill);
            # a new stage, and anything after a pause, always goes out.
            return
        self._last_stage, self._last_at = stage, now
        if self._sink is not None and self._request.job_id:
            event = ProgressEvent(
                stage=stage,
                agent=self._agent,
                progress=percent,
                message=message[:500],
                step_id=self._request.step_id,
            )
            try:
                self._pending.append(self._writer.submit(self._sink.append, self._request.job_id, event))
            except RuntimeError:  # closed: the task is over, only its skill's thread runs on
                return
        if stage in {"started", "finished"}:
            return
        status = Message(
            message_id=uuid.uuid4().hex, role=Role.ROLE_AGENT, parts=[new_text_part(message[:500])]
        )
        coroutine = self._updater.update_status(
            TaskState.TASK_STATE_WORKING, message=status, metadata={"progress": str(percent), "stage": stage}
        )
        # Scheduled on the loop in call order (from the loop's thread or the skill's); the
        # caller goes on at once.
        try:
            self._pending.append(asyncio.run_coroutine_threadsafe(coroutine, self._loop))
        except RuntimeError:  # the loop is closed: the invocation is over
            coroutine.close()
