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

from analystack.errors import AgentUnavailableError, DataTooLargeError, InvalidInputError, NotFoundError
from analystack.hub import DataHub, parse_s3_uri
from analystack.jobs import EventLog, JobRecord, JobStore, new_job_id
from analystack.models import JobStatus, Producer, ProgressEvent

MAX_REQUEST_CHARS = 4000
UPLOAD_URL_SECONDS = 900
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SESSION_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
TERMINAL = {JobStatus.SUCCEEDED, JobStatus.FAILED}


class OrchestratorClient(Protocol):
    def start_analysis(self, job_id: str, request: str) -> None: ...


class LambdaOrchestratorClient:
    """Hands a job to the orchestrator Lambda with an asynchronous A2A ``SendMessage`` invoke.

    Asynchronous because planning (an LLM call) may outlast API Gateway's 29 s; Lambda queues
    and retries the event, and the gateway answers 202 at once.
    """

    def __init__(self, *, lambda_client: Any, function_name: str) -> None:
        self._lambda = lambda_client
        self._function = function_name

    def start_analysis(self, job_id: str, request: str) -> None:
        payload = {
            "a2a": {
                "jsonrpc": "2.0",
                "id": job_id,
                "method": "SendMessage",
                "params": {
                    "message": {
                        "messageId": uuid.uuid4().hex,
                        "role": "ROLE_USER",
                        "parts": [{"data": {"skill": "analyze", "job_id": job_id, "request": request}}],
                    }
                },
            }
        }
        try:
            self._lambda.invoke(
                FunctionName=self._function, InvocationType="Event", Payload=json.dumps(payload)
            )
        except Exception as exc:  # any transport/service error means the job cannot start
            raise AgentUnavailableError(
                "The orchestrator could not be reached; the job was not started"
            ) from exc


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
    ) -> None:
        self._hub = hub
        self._jobs = jobs
        self._events = events
        self._orchestrator = orchestrator
        self._max_upload_bytes = max_upload_bytes

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
        if len(sources) != 1:
            raise InvalidInputError(
                "Send exactly one of: a file (multipart 'file'), 'upload_id' (from POST /uploads), "
                "'source_uri' (s3://...), 'dataset_id'"
            )
        if session_id and not _SESSION_ID.match(session_id):
            raise InvalidInputError("session_id may contain only letters, digits, '-' and '_' (at most 64)")
        text = clean_request_text(request)
        job_id = new_job_id()
        job = JobRecord(job_id=job_id, request=text, session_id=session_id or f"ses-{uuid.uuid4().hex[:16]}")
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
        data = job.model_dump(mode="json", exclude={"steps"})
        data.update(steps=steps, artifacts=artifacts, links=link(job_id))
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
        """Events after ``after`` and whether the job has finished."""
        job = self._jobs.get(job_id)
        return self._events.list(job_id, after=after), job.status in TERMINAL
