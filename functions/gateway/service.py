"""The gateway's logic: accept an analysis, store what the user sent first, hand it on.

Ordering matters for "nothing the user sent is lost": the upload is in S3 and the job recorded
before the orchestrator is called, and an orchestrator that cannot be reached fails the job
with a clear error while the upload stays where the job record points.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from analystack.a2a_kit.rpc import send_message_request
from analystack.errors import (
    AgentTaskFailedError,
    AgentUnavailableError,
    ConflictError,
    DataTooLargeError,
    InvalidInputError,
    NotFoundError,
)
from analystack.hub import DataHub, parse_s3_uri
from analystack.jobs import EventLog, JobRecord, JobStore, new_job_id
from analystack.models import JobStatus, Producer, ProgressEvent

MAX_REQUEST_CHARS = 4000
MAX_ANSWER_CHARS = 200
UPLOAD_URL_SECONDS = 900
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SESSION_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
TERMINAL = {JobStatus.SUCCEEDED, JobStatus.FAILED}


class OrchestratorClient(Protocol):
    def start_analysis(self, job_id: str, request: str) -> None: ...

    def plan(self, request: str, *, dataset_id: str | None) -> dict[str, Any]: ...


class TaskCallbacks(Protocol):
    """Resumes a paused execution (Step Functions task tokens)."""

    def resume(self, task_token: str, output: dict[str, Any]) -> None: ...


class StepFunctionsCallbacks:
    """``SendTaskSuccess`` for a job waiting on the user's answer."""

    def __init__(self, *, sfn_client: Any) -> None:
        self._sfn = sfn_client

    def resume(self, task_token: str, output: dict[str, Any]) -> None:
        errors = self._sfn.exceptions
        try:
            self._sfn.send_task_success(taskToken=task_token, output=json.dumps(output))
        except (errors.TaskTimedOut, errors.InvalidToken, errors.TaskDoesNotExist) as exc:
            raise ConflictError(
                "The question is no longer open: the job went on with its best guess"
            ) from exc


class LambdaOrchestratorClient:
    """Hands a job to the orchestrator Lambda with an asynchronous A2A ``SendMessage`` invoke.

    Asynchronous because planning (an LLM call) may outlast API Gateway's 29 s; Lambda queues
    and retries the event, and the gateway answers 202 at once.
    """

    def __init__(self, *, lambda_client: Any, function_name: str) -> None:
        self._lambda = lambda_client
        self._function = function_name

    def start_analysis(self, job_id: str, request: str) -> None:
        data = {"skill": "analyze", "job_id": job_id, "request": request}
        payload = {"a2a": send_message_request(data, rpc_id=job_id)}
        try:
            self._lambda.invoke(
                FunctionName=self._function, InvocationType="Event", Payload=json.dumps(payload)
            )
        except Exception as exc:  # any transport/service error means the job cannot start
            raise AgentUnavailableError(
                "The orchestrator could not be reached; the job was not started"
            ) from exc

    def plan(self, request: str, *, dataset_id: str | None) -> dict[str, Any]:
        """The orchestrator's ``plan`` skill, synchronously: the plan JSON, nothing runs."""
        data: dict[str, Any] = {"skill": "plan", "request": request, "inputs": {}}
        if dataset_id:
            data["inputs"]["dataset_id"] = dataset_id
        payload = {"a2a": send_message_request(data)}
        try:
            response = self._lambda.invoke(
                FunctionName=self._function, InvocationType="RequestResponse", Payload=json.dumps(payload)
            )
            body = json.loads(response["Payload"].read() or b"{}")
        except Exception as exc:  # any transport/service error: planning is unavailable
            raise AgentUnavailableError("The orchestrator could not be reached to plan the request") from exc
        if response.get("FunctionError"):
            message = str(body.get("errorMessage") or "The orchestrator could not plan the request")
            if body.get("errorType") == "AgentTaskFailedError":
                raise InvalidInputError(message[:1000])
            raise AgentTaskFailedError(message[:1000])
        return dict(body.get("outputs") or {})


@dataclass(frozen=True)
class Upload:
    filename: str
    content: bytes
    media_type: str


def clean_request_text(text: str | None) -> str:
    cleaned = _CONTROL.sub(" ", (text or "")).strip()
    if len(cleaned) > MAX_REQUEST_CHARS:
        raise InvalidInputError(
            f"The request text is {len(cleaned):,} characters; the limit is {MAX_REQUEST_CHARS:,}"
        )
    return cleaned or "Analyze this data"


class AnalysisService:
    def __init__(
        self,
        *,
        hub: DataHub,
        jobs: JobStore,
        events: EventLog,
        orchestrator: OrchestratorClient,
        max_upload_bytes: int,
        callbacks: TaskCallbacks | None = None,
    ) -> None:
        self._hub = hub
        self._jobs = jobs
        self._events = events
        self._orchestrator = orchestrator
        self._max_upload_bytes = max_upload_bytes
        self._callbacks = callbacks

    def submit(
        self,
        *,
        request: str | None,
        session_id: str | None,
        upload: Upload | None = None,
        source_uri: str | None = None,
        dataset_id: str | None = None,
        upload_id: str | None = None,
    ) -> JobRecord:
        sources = [s for s in (upload, source_uri, dataset_id, upload_id) if s]
        if session_id and not _SESSION_ID.match(session_id):
            raise InvalidInputError("session_id may contain only letters, digits, '-' and '_' (at most 64)")
        context: dict[str, Any] | None = None
        if not sources and session_id:
            # A follow-up turn: reuse the session's latest dataset and what it learned (target).
            context = self.session_context(session_id)
            dataset_id = str(context["dataset_id"])
            sources = [dataset_id]
        if len(sources) != 1:
            raise InvalidInputError(
                "Send exactly one of: a file (multipart 'file'), 'upload_id' (from POST /uploads), "
                "'source_uri' (s3://...), 'dataset_id' — or a 'session_id' whose earlier turn loaded data"
            )
        text = clean_request_text(request)
        job_id = new_job_id()
        job = JobRecord(
            job_id=job_id,
            request=text,
            session_id=session_id or f"ses-{uuid.uuid4().hex[:16]}",
            context=context,
        )
        if upload is not None:
            if not upload.content:
                raise InvalidInputError("The uploaded file is empty")
            if len(upload.content) > self._max_upload_bytes:
                raise DataTooLargeError(
                    f"The upload is {len(upload.content):,} bytes; the limit is {self._max_upload_bytes:,} bytes"
                )
            item = self._hub.put_upload(
                job_id=job_id,
                filename=upload.filename or "upload",
                body=upload.content,
                media_type=upload.media_type,
                producer=Producer(agent="gateway", job_id=job_id),
            )
            job.upload = {
                "source_uri": item.s3_uri,
                "filename": upload.filename or "upload",
                "upload_id": item.item_id,
            }
        elif upload_id:
            item = self._hub.get_item(upload_id)
            size = self._hub.object_size(item.s3_uri) if item.kind == "upload" else None
            if size is None:
                raise InvalidInputError(
                    f"Upload '{upload_id}' has no file yet: PUT it to its upload_url first"
                )
            if size > self._max_upload_bytes:
                raise DataTooLargeError(
                    f"The upload is {size:,} bytes; the limit is {self._max_upload_bytes:,} bytes"
                )
            self._hub.register(item.model_copy(update={"job_id": job_id, "size_bytes": size}))
            job.upload = {"source_uri": item.s3_uri, "filename": item.name, "upload_id": item.item_id}
        elif source_uri:
            _, key = parse_s3_uri(source_uri)
            job.upload = {"source_uri": source_uri, "filename": key.rsplit("/", 1)[-1], "upload_id": ""}
        else:
            self._hub.get_item(str(dataset_id))  # 404 now rather than a failed job later
            job.dataset_id = dataset_id
        self._jobs.create(job)
        self._events.append(
            job_id, ProgressEvent(stage="accepted", agent="gateway", progress=0, message="job accepted")
        )
        try:
            self._orchestrator.start_analysis(job_id, text)
        except AgentUnavailableError as exc:
            self._jobs.update(job_id, status=JobStatus.FAILED, error=exc.to_dict())
            self._events.append(
                job_id,
                ProgressEvent(
                    stage="failed", agent="gateway", progress=100, message=exc.message, level="error"
                ),
            )
            raise
        return job

    def session_context(self, session_id: str) -> dict[str, Any]:
        """What a follow-up reuses: the newest dataset a finished turn produced (a cleaned dataset
        over the ingested one), the target it modelled, and that turn's job id."""
        turns = self._turns(session_id)
        for turn in reversed(turns):
            job = self._jobs.get(str(turn["job_id"]))
            if job.status != JobStatus.SUCCEEDED:
                continue
            dataset, target = _latest_dataset_and_target(job)
            if dataset:
                return {
                    "previous_job_id": job.job_id,
                    "dataset_id": dataset,
                    "target": target,
                    "turn": len(turns) + 1,
                }
        raise InvalidInputError(
            f"Session '{session_id}' has no finished turn with a dataset yet: send a file first"
        )

    def _turns(self, session_id: str) -> list[dict[str, Any]]:
        turns = self._jobs.session_turns(session_id)
        if not turns:
            raise NotFoundError(f"No session with id '{session_id}'")
        return turns

    def session_view(self, session_id: str, *, link: Any) -> dict[str, Any]:
        """The session's turns (request, job, status, summary, dataset, target) and their artifacts."""
        turns = self._turns(session_id)
        views = []
        datasets: dict[str, dict[str, Any]] = {}
        for number, turn in enumerate(turns, start=1):
            job = self._jobs.get(str(turn["job_id"]))
            dataset, target = _latest_dataset_and_target(job)
            items = self._hub.list_by_job(job.job_id)
            for item in items:
                if item.kind == "dataset":
                    datasets[item.item_id] = {
                        "dataset_id": item.item_id,
                        "name": item.name,
                        "rows": item.row_count,
                        "columns": item.column_count,
                        "job_id": job.job_id,
                        "parents": item.parents,
                    }
            views.append(
                {
                    "turn": number,
                    "job_id": job.job_id,
                    "request": job.request,
                    "created_at": job.created_at,
                    "status": job.status.value,
                    "planner": job.planner,
                    "summary": (job.summary or "").split("\n")[0][:500] or None,
                    "dataset_id": dataset,
                    "target": target,
                    "reused": job.context,
                    "question": _public_question(job.question)
                    if job.status == JobStatus.INPUT_REQUIRED
                    else None,
                    "artifacts": [
                        {"item_id": i.item_id, "name": i.name, "kind": i.kind, "media_type": i.media_type}
                        for i in items
                        if i.kind != "upload"
                    ],
                    "links": link(job.job_id),
                }
            )
        return {"session_id": session_id, "turns": views, "datasets": list(datasets.values())}

    def answer(self, job_id: str, text: str | None) -> dict[str, Any]:
        """The user's answer to the job's question: resumes the paused execution."""
        answer = _CONTROL.sub(" ", text or "").strip()
        if not answer:
            raise InvalidInputError("The answer is empty")
        if len(answer) > MAX_ANSWER_CHARS:
            raise InvalidInputError(f"The answer is longer than {MAX_ANSWER_CHARS} characters")
        job = self._jobs.get(job_id)
        token = (job.question or {}).get("task_token")
        if job.status != JobStatus.INPUT_REQUIRED or not token:
            raise ConflictError(f"Job '{job_id}' is not waiting for an answer (status {job.status.value})")
        if self._callbacks is None:
            raise AgentUnavailableError("Answers cannot be delivered: no Step Functions client is configured")
        self._callbacks.resume(str(token), {"answer": answer})
        question = {**(job.question or {}), "answer": answer, "task_token": None}
        self._jobs.update(job_id, status=JobStatus.RUNNING, question=question)
        self._events.append(
            job_id,
            ProgressEvent(
                stage="answered", agent="gateway", progress=0, message=f"the user answered: {answer}"
            ),
        )
        return {"job_id": job_id, "status": JobStatus.RUNNING.value, "answer": answer}

    def answer_in_session(self, session_id: str, text: str | None) -> dict[str, Any]:
        """The user answers in the conversation: the session's job that is waiting gets the answer."""
        turns = self._turns(session_id)
        for turn in reversed(turns):
            job = self._jobs.get(str(turn["job_id"]))
            if job.status == JobStatus.INPUT_REQUIRED:
                return self.answer(job.job_id, text)
        raise ConflictError(f"No job of session '{session_id}' is waiting for an answer")

    def plan(self, request: str | None, *, dataset_id: str | None = None) -> dict[str, Any]:
        text = clean_request_text(request)
        if dataset_id:
            self._hub.get_item(dataset_id)  # 404 for an unknown dataset
        return self._orchestrator.plan(text, dataset_id=dataset_id)

    def reserve_upload(self, *, filename: str, media_type: str | None, size_bytes: int) -> dict[str, Any]:
        """A presigned PUT for files too big for a request body (API Gateway caps bodies at 10 MB)."""
        if not filename.strip():
            raise InvalidInputError("filename is required")
        if size_bytes <= 0:
            raise InvalidInputError("size_bytes must be positive")
        if size_bytes > self._max_upload_bytes:
            raise DataTooLargeError(
                f"The file is {size_bytes:,} bytes; the limit is {self._max_upload_bytes:,} bytes"
            )
        media = media_type or "application/octet-stream"
        item = self._hub.reserve_upload(
            filename=filename, media_type=media, size_bytes=size_bytes, producer=Producer(agent="gateway")
        )
        return {
            "upload_id": item.item_id,
            "upload_url": self._hub.presigned_put_url(item.s3_uri, media, UPLOAD_URL_SECONDS),
            "method": "PUT",
            "headers": {"Content-Type": media},
            "expires_in": UPLOAD_URL_SECONDS,
            "source_uri": item.s3_uri,
        }

    def job_view(self, job_id: str, *, link: Any) -> dict[str, Any]:
        """The job with live step progress (from its events) and its artifacts with download links."""
        job = self._jobs.get(job_id)
        events = self._events.list(job_id)
        latest: dict[str, ProgressEvent] = {}
        for event in events:
            if event.step_id:
                latest[event.step_id] = event
        steps = []
        for record in job.steps:
            view = record.model_dump(mode="json")
            step_event = latest.get(record.step_id)
            if step_event is not None:
                view["progress"] = 100 if record.status == "succeeded" else step_event.progress
                view["last_message"] = step_event.message
                if record.status == "pending":
                    view["status"] = (
                        "failed"
                        if step_event.stage == "failed"
                        else ("succeeded" if step_event.stage == "finished" else "running")
                    )
            steps.append(view)
        artifacts = [
            {
                **item.model_dump(
                    mode="json",
                    by_alias=True,
                    include={
                        "item_id",
                        "kind",
                        "name",
                        "media_type",
                        "size_bytes",
                        "created_at",
                        "producer",
                        "parents",
                        "s3_uri",
                        "row_count",
                        "column_count",
                    },
                ),
                "url": self._hub.presigned_url(item.s3_uri),
            }
            for item in self._hub.list_by_job(job_id)
        ]
        data = job.model_dump(mode="json", exclude={"steps", "question"})
        data.update(
            steps=steps, artifacts=artifacts, links=link(job_id), question=_public_question(job.question)
        )
        return data

    def report(self, job_id: str, fmt: str) -> tuple[str, bytes | None]:
        """The job's report: a presigned URL (HTML pages embed plotly.js and exceed Lambda's 6 MB
        response limit) and, for Markdown/JSON, the content itself."""
        job = self._jobs.get(job_id)
        item_id = (job.result or {}).get(f"report_{fmt}_id")
        if not item_id:
            state = "still running" if job.status not in TERMINAL else "without a report"
            raise NotFoundError(f"Job '{job_id}' has no report yet ({state})")
        item = self._hub.get_item(str(item_id))
        url = self._hub.presigned_url(item.s3_uri)
        return url, (None if fmt == "html" else self._hub.read_bytes(item.s3_uri))

    def job_status(self, job_id: str) -> str:
        return self._jobs.get(job_id).status.value

    def events(self, job_id: str, *, after: str | None = None) -> tuple[list[ProgressEvent], bool]:
        """Events after ``after`` and whether the job has finished.

        While the job runs, only settled events (see :meth:`EventLog.list`): readers resume
        after the last id they got, and parallel steps can store events out of id order.
        """
        job = self._jobs.get(job_id)
        finished = job.status in TERMINAL  # read first: every event is stored before the job ends
        return self._events.list(job_id, after=after, settled=not finished), finished


def _latest_dataset_and_target(job: JobRecord) -> tuple[str | None, str | None]:
    """The newest dataset and target among a job's succeeded steps, in plan order (a cleaned
    dataset supersedes the ingested one), else the job's own dataset."""
    dataset, target = job.dataset_id, None
    for step in job.steps:
        if step.status == "succeeded":
            dataset = str(step.outputs.get("dataset_id") or dataset or "") or None
            target = str(step.outputs.get("target") or target or "") or None
    return dataset, target


def _public_question(question: dict[str, Any] | None) -> dict[str, Any] | None:
    """The question without its task token (a token resumes the execution: it is a secret)."""
    if not question:
        return None
    return {k: v for k, v in question.items() if k != "task_token"}
