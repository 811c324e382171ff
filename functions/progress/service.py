"""Live progress on AWS: WebSocket connections per job, fed by the events table's stream.

API Gateway's WebSocket API calls the progress function on ``$connect``/``$disconnect``; the
events table's DynamoDB stream calls it with each new progress event, which it posts to every
connection watching that job. Connections that went away (``GoneException``) are forgotten.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import Any

from analystack.dynamo import from_item

CONNECTION_TTL_SECONDS = 2 * 3600  # API Gateway closes WebSockets after 2 hours anyway


class ConnectionStore:
    """``pk=job_id, sk=connection_id`` plus a ``by_connection`` index for ``$disconnect``."""

    def __init__(self, *, table: str, dynamodb_client: Any) -> None:
        self._table = table
        self._ddb = dynamodb_client

    def add(self, job_id: str, connection_id: str) -> None:
        self._ddb.put_item(
            TableName=self._table,
            Item={
                "job_id": {"S": job_id},
                "connection_id": {"S": connection_id},
                "expires_at": {"N": str(int(time.time()) + CONNECTION_TTL_SECONDS)},
            },
        )

    def remove(self, connection_id: str) -> None:
        found = self._ddb.query(
            TableName=self._table,
            IndexName="by_connection",
            KeyConditionExpression="connection_id = :c",
            ExpressionAttributeValues={":c": {"S": connection_id}},
        )
        for item in found.get("Items", []):
            self._ddb.delete_item(
                TableName=self._table, Key={"job_id": item["job_id"], "connection_id": item["connection_id"]}
            )

    def for_job(self, job_id: str) -> list[str]:
        found = self._ddb.query(
            TableName=self._table,
            KeyConditionExpression="job_id = :j",
            ExpressionAttributeValues={":j": {"S": job_id}},
        )
        return [item["connection_id"]["S"] for item in found.get("Items", [])]


class ProgressFanout:
    def __init__(
        self,
        *,
        connections: ConnectionStore,
        post: Callable[[str, bytes], None],
        gone: tuple[type[Exception], ...],
    ) -> None:
        self._connections = connections
        self._post = post
        self._gone = gone

    def publish(self, records: Iterable[dict[str, Any]]) -> int:
        """Post each inserted event to its job's connections; returns how many messages went out."""
        sent = 0
        for record in records:
            if record.get("eventName") != "INSERT":
                continue
            event = from_item(record.get("dynamodb", {}).get("NewImage", {}))
            job_id = event.pop("job_id", None)
            if not job_id:
                continue
            message = json.dumps({"type": "progress", "job_id": job_id, **event}, ensure_ascii=False).encode()
            for connection_id in self._connections.for_job(str(job_id)):
                try:
                    self._post(connection_id, message)
                    sent += 1
                except self._gone:
                    self._connections.remove(connection_id)
        return sent
