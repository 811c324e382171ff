"""Shared records: what the hub, the job store and the event log persist."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


def utc_now() -> str:
    """ISO-8601 UTC timestamp with microseconds; sorts lexically in time order."""
    return utc_stamp(datetime.now(UTC))


def utc_stamp(moment: datetime) -> str:
    """``moment`` (timezone-aware) as :func:`utc_now` writes it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Producer(BaseModel):
    """Who made a hub item: the lineage's 'activity'."""

    agent: str
    job_id: str | None = None
    task_id: str | None = None
    step_id: str | None = None


class CatalogItem(BaseModel):
    """One dataset or artifact in the hub: where it lives, what it is, where it came from."""

    item_id: str
    kind: str  # dataset | upload | artifact
    name: str
    s3_uri: str
    version_id: str | None = None
    media_type: str
    size_bytes: int
    created_at: str = Field(default_factory=utc_now)
    producer: Producer
    job_id: str | None = None
    parents: list[str] = Field(default_factory=list)
    row_count: int | None = None
    column_count: int | None = None
    schema_: list[dict[str, str]] | None = Field(default=None, alias="schema")
    metadata: dict[str, Any] = Field(default_factory=dict)

    model_config = {"populate_by_name": True}


class JobStatus(StrEnum):
    ACCEPTED = "accepted"
    PLANNING = "planning"
    RUNNING = "running"
    INPUT_REQUIRED = "input_required"
    """Paused: the job asks the user a question (A2A ``input-required``) and waits for the answer."""
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ProgressEvent(BaseModel):
    """The seed's progress shape ``{stage, agent, progress, message}`` plus ordering fields."""

    stage: str
    agent: str
    progress: int = Field(ge=0, le=100)
    message: str
    step_id: str | None = None
    level: str = "info"
    error_code: str | None = None
    """On ``failed`` events: the agent's typed error code (the replanner reads it)."""
    details: dict[str, str] = Field(default_factory=dict)
    event_id: str = ""
    at: str = Field(default_factory=utc_now)
