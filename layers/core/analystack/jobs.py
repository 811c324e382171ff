"""Job records and their progress event log (DynamoDB).

The jobs table is single-table: ``pk=JOB#<id>, sk=JOB`` holds a job; ``pk=SESSION#<id>``
holds a session (``sk=SESSION``) and its turns (``sk=TURN#<time>#<job>``). The events table is
keyed by job id and a time-ordered event id, so readers resume after the last id they saw.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from analystack.dynamo import from_item, to_item, to_value
from analystack.errors import NotFoundError
from analystack.models import JobStatus, ProgressEvent, utc_now, utc_stamp


class StepRecord(BaseModel):
    step_id: str
    agent: str
    skill: str
    description: str = ""
    status: str = "pending"  # pending | running | succeeded | failed | skipped | dropped
    started_at: str | None = None
    finished_at: str | None = None
    outputs: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    failover_from: str | None = None
    """The planned agent, when the step ran on its failover agent instead."""


class JobRecord(BaseModel):
    job_id: str
    status: JobStatus = JobStatus.ACCEPTED
    request: str
    session_id: str
    created_at: str = Field(default_factory=utc_now)
    updated_at: str = Field(default_factory=utc_now)
    finished_at: str | None = None
    upload: dict[str, str] | None = None
    dataset_id: str | None = None
    planner: str | None = None
    plan: dict[str, Any] | None = None
    planning: dict[str, Any] | None = None
    """How the plan was made: planner, fallback reason, LLM usage/cost and every prompt sent (audit)."""
    execution_arn: str | None = None
    """The current execution; a replan starts a new one (all of them: ``executions``)."""
    executions: list[str] = Field(default_factory=list)
    state_machine_arn: str | None = None
    decisions: list[dict[str, Any]] = Field(default_factory=list)
    """Every orchestration decision with its reason: ``{kind: plan|replan|ask|answer|failover,
    at, reason, ...}`` (adaptive execution is auditable after the fact)."""
    question: dict[str, Any] | None = None
    """While ``input_required``: what the job asks (``text``, ``options``, ``default``) and the
    Step Functions task token that the answer resumes."""
    context: dict[str, Any] | None = None
    """What a follow-up turn carried over from its session (dataset, target, earlier job)."""
    steps: list[StepRecord] = Field(default_factory=list)
    error: dict[str, Any] | None = None
    summary: str | None = None
    synthesis: dict[str, Any] | None = None
    """How the summary was written: narrator (llm | template), why the LLM's was not used, the
    facts it cited, its usage and every prompt sent (audit)."""
    llm_usage: dict[str, Any] | None = None
    """The job's LLM bill over planning, replanning and synthesis: calls, tokens, cost."""
    result: dict[str, Any] | None = None


def new_job_id() -> str:
    return f"job-{uuid.uuid4().hex[:20]}"


class JobStore:
    def __init__(self, *, table: str, dynamodb_client: Any) -> None:
        self._table = table
        self._ddb = dynamodb_client

    def create(self, job: JobRecord) -> JobRecord:
        self._ddb.put_item(
            TableName=self._table,
            Item=to_item({"pk": f"JOB#{job.job_id}", "sk": "JOB", **job.model_dump(mode="json")}),
            ConditionExpression="attribute_not_exists(pk)",
        )
        self._ddb.put_item(
            TableName=self._table,
            Item=to_item(
                {
                    "pk": f"SESSION#{job.session_id}",
                    "sk": f"TURN#{job.created_at}#{job.job_id}",
                    "job_id": job.job_id,
                    "request": job.request,
                    "created_at": job.created_at,
                }
            ),
        )
        return job

    def get(self, job_id: str) -> JobRecord:
        response = self._ddb.get_item(
            TableName=self._table, Key={"pk": {"S": f"JOB#{job_id}"}, "sk": {"S": "JOB"}}, ConsistentRead=True
        )
        if "Item" not in response:
            raise NotFoundError(f"No job with id '{job_id}'")
        data = from_item(response["Item"])
        data.pop("pk", None)
        data.pop("sk", None)
        return JobRecord.model_validate(data)

    def update(self, job_id: str, **fields: Any) -> None:
        """Set top-level fields of an existing job (missing job -> NotFoundError)."""
        fields["updated_at"] = utc_now()
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":v{i}": to_value(_jsonable(value)) for i, value in enumerate(fields.values())}
        expression = "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields)))
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key={"pk": {"S": f"JOB#{job_id}"}, "sk": {"S": "JOB"}},
                UpdateExpression=expression,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ConditionExpression="attribute_exists(pk)",
            )
        except self._ddb.exceptions.ConditionalCheckFailedException as exc:
            raise NotFoundError(f"No job with id '{job_id}'") from exc

    def append(self, job_id: str, field: str, items: list[Any]) -> None:
        """Append to a list field atomically (concurrent writers never drop each other's items)."""
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key={"pk": {"S": f"JOB#{job_id}"}, "sk": {"S": "JOB"}},
                UpdateExpression="SET #f = list_append(if_not_exists(#f, :empty), :v), #u = :now",
                ExpressionAttributeNames={"#f": field, "#u": "updated_at"},
                ExpressionAttributeValues={
                    ":v": to_value(_jsonable(items)),
                    ":empty": {"L": []},
                    ":now": {"S": utc_now()},
                },
                ConditionExpression="attribute_exists(pk)",
            )
        except self._ddb.exceptions.ConditionalCheckFailedException as exc:
            raise NotFoundError(f"No job with id '{job_id}'") from exc

    def decide(self, job_id: str, kind: str, reason: str, **fields: Any) -> dict[str, Any]:
        """Record an orchestration decision (plan, replan, ask, answer, failover) with its reason."""
        decision = {"kind": kind, "at": utc_now(), "reason": reason[:1000], **fields}
        self.append(job_id, "decisions", [decision])
        return decision

    def session_turns(self, session_id: str) -> list[dict[str, Any]]:
        response = self._ddb.query(
            TableName=self._table,
            KeyConditionExpression="pk = :p AND begins_with(sk, :t)",
            ExpressionAttributeValues={":p": {"S": f"SESSION#{session_id}"}, ":t": {"S": "TURN#"}},
        )
        return [from_item(i) for i in response.get("Items", [])]


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, JobStatus):
        return value.value
    return value


#: How old an event must be before a reader following a running job gets it. Writers stamp an
#: event's id just before storing it, so two agents reporting at once (parallel steps) can store
#: theirs out of id order; a reader whose cursor had passed the later id would never see the
#: earlier one. A second is far longer than a DynamoDB write takes.
EVENT_SETTLE_S = 1.0


class EventLog:
    """Append-only progress events per job, read in order (for SSE, WebSocket and polling)."""

    def __init__(
        self, *, table: str, dynamodb_client: Any, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._table = table
        self._ddb = dynamodb_client
        self._clock = clock

    def append(self, job_id: str, event: ProgressEvent) -> ProgressEvent:
        # Time-ordered id: lexical order is stamping order, and the suffix keeps ids unique when
        # two agents report in the same microsecond.
        event = event.model_copy(update={"event_id": f"{utc_stamp(self._clock())}#{uuid.uuid4().hex[:8]}"})
        self._ddb.put_item(
            TableName=self._table, Item=to_item({"job_id": job_id, **event.model_dump(mode="json")})
        )
        return event

    def _query(self, job_id: str, *, after: str | None, limit: int) -> list[ProgressEvent]:
        condition = "job_id = :j"
        values: dict[str, Any] = {":j": {"S": job_id}}
        if after:
            condition += " AND event_id > :a"
            values[":a"] = {"S": after}
        events: list[ProgressEvent] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ConsistentRead": True,
        }
        while len(events) < limit:
            page = self._ddb.query(**kwargs, Limit=min(limit - len(events), 1000))
            for item in page.get("Items", []):
                data = from_item(item)
                data.pop("job_id", None)
                events.append(ProgressEvent.model_validate(data))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return events

    def list(
        self, job_id: str, *, after: str | None = None, limit: int = 1000, settled: bool = False
    ) -> list[ProgressEvent]:
        """Events after the id ``after``, oldest first.

        ``settled`` (a reader that will resume after the last id it gets, while the job runs)
        leaves out events stamped in the last :data:`EVENT_SETTLE_S`: an event stored late with
        an earlier id is then still ahead of the reader's cursor.
        """
        events = self._query(job_id, after=after, limit=limit)
        if not settled:
            return events
        cutoff = utc_stamp(self._clock() - timedelta(seconds=EVENT_SETTLE_S))
        return [event for event in events if event.event_id < cutoff]
