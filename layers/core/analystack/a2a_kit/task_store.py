"""A2A ``TaskStore`` on DynamoDB: tasks must outlive a Lambda invocation, which the SDK's
in-memory store cannot do.

Tasks are stored as their canonical protobuf JSON, scoped by owner (the SDK's owner resolver),
with a ``by_owner`` index ordered by update time for ``ListTasks``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from a2a.server.context import ServerCallContext
from a2a.server.owner_resolver import OwnerResolver, resolve_user_scope
from a2a.server.tasks.task_store import TaskStore
from a2a.types import ListTasksRequest, ListTasksResponse, Task
from a2a.utils.constants import DEFAULT_LIST_TASKS_PAGE_SIZE
from a2a.utils.errors import InvalidParamsError
from google.protobuf import json_format

# Finished tasks are kept for a week; DynamoDB's TTL deletes them after that.
TASK_RETENTION_SECONDS = 7 * 24 * 3600


class DynamoDbTaskStore(TaskStore):
    def __init__(
        self, *, table: str, dynamodb_client: Any, owner_resolver: OwnerResolver = resolve_user_scope
    ) -> None:
        self._table = table
        self._ddb = dynamodb_client
        self._resolve_owner = owner_resolver

    def _owner(self, context: ServerCallContext) -> str:
        # Unauthenticated callers resolve to "", which DynamoDB refuses as an index key.
        return self._resolve_owner(context) or "anonymous"

    async def save(self, task: Task, context: ServerCallContext) -> None:
        item = {
            "task_id": {"S": task.id},
            "owner": {"S": self._owner(context)},
            "context_id": {"S": task.context_id},
            "state": {"N": str(int(task.status.state))},
            "updated_at": {"S": f"{_timestamp_ns(task):020d}#{task.id}"},
            "task": {"S": json_format.MessageToJson(task, indent=None)},
            "expires_at": {"N": str(int(time.time()) + TASK_RETENTION_SECONDS)},
        }
        await asyncio.to_thread(self._ddb.put_item, TableName=self._table, Item=item)

    async def get(self, task_id: str, context: ServerCallContext) -> Task | None:
        response = await asyncio.to_thread(
            self._ddb.get_item, TableName=self._table, Key={"task_id": {"S": task_id}}, ConsistentRead=True
        )
        item = response.get("Item")
        if not item or item["owner"]["S"] != self._owner(context):
            return None
        return json_format.Parse(item["task"]["S"], Task())

    async def list(self, params: ListTasksRequest, context: ServerCallContext) -> ListTasksResponse:
        owner = self._owner(context)
        page_size = params.page_size or DEFAULT_LIST_TASKS_PAGE_SIZE
        filters = ["#o = :o"]
        values: dict[str, Any] = {":o": {"S": owner}}
        extra_filters: list[str] = []
        if params.context_id:
            extra_filters.append("context_id = :c")
            values[":c"] = {"S": params.context_id}
        if params.status:
            extra_filters.append("#s = :s")
            values[":s"] = {"N": str(int(params.status))}
        if params.page_token:
            # The token is the sort key of the last task returned: stable under inserts.
            filters.append("updated_at < :after")
            values[":after"] = {"S": params.page_token}
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "by_owner",
            "KeyConditionExpression": " AND ".join(filters),
            "ExpressionAttributeNames": {"#o": "owner", **({"#s": "state"} if params.status else {})},
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
        }
        if extra_filters:
            kwargs["FilterExpression"] = " AND ".join(extra_filters)
        items: list[dict[str, Any]] = []
        while len(items) <= page_size:
            page = await asyncio.to_thread(self._ddb.query, **kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        if params.page_token and not params.page_token.split("#", 1)[0].isdigit():
            raise InvalidParamsError(f"Invalid page token: {params.page_token}")
        has_more = len(items) > page_size
        items = items[:page_size]
        tasks = [json_format.Parse(i["task"]["S"], Task()) for i in items]
        if params.HasField("history_length"):
            for task in tasks:
                if params.history_length == 0:
                    del task.history[:]
                else:
                    del task.history[: max(0, len(task.history) - params.history_length)]
        if not params.include_artifacts:
            for task in tasks:
                del task.artifacts[:]
        return ListTasksResponse(
            tasks=tasks,
            next_page_token=items[-1]["updated_at"]["S"] if has_more and items else "",
            page_size=page_size,
            total_size=len(tasks),
        )

    async def delete(self, task_id: str, context: ServerCallContext) -> None:
        await asyncio.to_thread(
            self._ddb.delete_item,
            TableName=self._table,
            Key={"task_id": {"S": task_id}},
            ConditionExpression="attribute_not_exists(task_id) OR #o = :o",
            ExpressionAttributeNames={"#o": "owner"},
            ExpressionAttributeValues={":o": {"S": self._owner(context)}},
        )


def _timestamp_ns(task: Task) -> int:
    if task.HasField("status") and task.status.HasField("timestamp"):
        return int(task.status.timestamp.ToNanoseconds())
    return time.time_ns()
