"""Composition root shared by the functions: stores built once per container from settings."""

from __future__ import annotations

from functools import lru_cache

from analystack.aws import client
from analystack.hub import DataHub
from analystack.jobs import EventLog, JobStore
from analystack.registry.store import DynamoDbAgentRegistry
from analystack.settings import get_settings


@lru_cache(maxsize=1)
def data_hub() -> DataHub:
    names = get_settings().resources
    return DataHub(
        bucket=names.hub_bucket,
        catalog_table=names.catalog_table,
        s3_client=client("s3"),
        dynamodb_client=client("dynamodb"),
    )


@lru_cache(maxsize=1)
def job_store() -> JobStore:
    return JobStore(table=get_settings().resources.jobs_table, dynamodb_client=client("dynamodb"))


@lru_cache(maxsize=1)
def event_log() -> EventLog:
    return EventLog(table=get_settings().resources.events_table, dynamodb_client=client("dynamodb"))


@lru_cache(maxsize=1)
def agent_registry() -> DynamoDbAgentRegistry:
    return DynamoDbAgentRegistry(
        table=get_settings().resources.registry_table, dynamodb_client=client("dynamodb")
    )
