"""The AWS live-progress path: WebSocket $connect/$disconnect and the events stream fan-out."""

from __future__ import annotations

from typing import Any

import pytest

from analystack.aws import client
from analystack.jobs import JobRecord
from analystack.models import ProgressEvent
from analystack.runtime import event_log, job_store
from analystack.settings import get_settings
from functions.progress.service import ConnectionStore, ProgressFanout

pytestmark = pytest.mark.functional


def _socket_event(kind: str, connection_id: str, job_id: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "requestContext": {
            "eventType": kind,
            "routeKey": "$connect" if kind == "CONNECT" else "$disconnect",
            "connectionId": connection_id,
        }
    }
    if job_id is not None:
        event["queryStringParameters"] = {"job_id": job_id}
    return event


def _stream_record(job_id: str, message: str) -> dict[str, Any]:
    event = event_log().append(
        job_id, ProgressEvent(stage="profiling", agent="quality", progress=40, message=message)
    )
    item = client("dynamodb").get_item(
        TableName=get_settings().resources.events_table,
        Key={"job_id": {"S": job_id}, "event_id": {"S": event.event_id}},
    )["Item"]
    return {"eventName": "INSERT", "dynamodb": {"NewImage": item}}


def test_connect_stream_and_disconnect(cloud: Any, lambda_context: Any) -> None:
    from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends

    from functions.progress.handler import handler

    job_store().create(JobRecord(job_id="job-ws", request="r", session_id="s"))
    assert (
        handler(_socket_event("CONNECT", "conn-unknown", "job-nope"), lambda_context("progress"))[
            "statusCode"
        ]
        == 404
    )
    assert (
        handler(_socket_event("CONNECT", "conn-1", "job-ws"), lambda_context("progress"))["statusCode"] == 200
    )
    assert (
        handler(_socket_event("CONNECT", "conn-2", "job-ws"), lambda_context("progress"))["statusCode"] == 200
    )

    record = _stream_record("job-ws", "profiled 3 of 7 columns")
    assert handler(
        {"Records": [record, {"eventName": "REMOVE", "dynamodb": {}}]}, lambda_context("progress")
    ) == {"sent": 2}
    connections = apigatewaymanagementapi_backends["123456789012"]["us-east-1"].connections
    assert b"profiled 3 of 7 columns" in connections["conn-1"].data
    assert b'"type": "progress"' in connections["conn-2"].data

    assert handler(_socket_event("DISCONNECT", "conn-1"), lambda_context("progress"))["statusCode"] == 200
    store = ConnectionStore(table=cloud.stack.tables["ConnectionsTable"], dynamodb_client=client("dynamodb"))
    assert store.for_job("job-ws") == ["conn-2"]


def test_gone_connections_are_forgotten(cloud: Any) -> None:
    class Gone(Exception):
        pass

    store = ConnectionStore(table=cloud.stack.tables["ConnectionsTable"], dynamodb_client=client("dynamodb"))
    store.add("job-g", "alive")
    store.add("job-g", "closed")
    delivered: list[str] = []

    def post(connection_id: str, data: bytes) -> None:
        if connection_id == "closed":
            raise Gone
        delivered.append(connection_id)

    fanout = ProgressFanout(connections=store, post=post, gone=(Gone,))
    job_store().create(JobRecord(job_id="job-g", request="r", session_id="s"))
    assert fanout.publish([_stream_record("job-g", "hello")]) == 1
    assert delivered == ["alive"]
    assert store.for_job("job-g") == ["alive"]
