"""DynamoDbTaskStore against DynamoDB (moto over HTTP), and the same contract on the SDK's store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from a2a.server.context import ServerCallContext
from a2a.server.tasks import InMemoryTaskStore
from a2a.server.tasks.task_store import TaskStore
from a2a.types import ListTasksRequest, Task, TaskState, TaskStatus

from analystack.a2a_kit import DynamoDbTaskStore
from analystack.aws import client

pytestmark = [pytest.mark.functional, pytest.mark.anyio]


def _dynamo(cloud: Any) -> TaskStore:
    return DynamoDbTaskStore(table=cloud.stack.tables["TasksTable"], dynamodb_client=client("dynamodb"))


def _memory(cloud: Any) -> TaskStore:
    return InMemoryTaskStore()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _task(task_id: str, context_id: str, state: TaskState, second: int) -> Task:
    status = TaskStatus(state=state)
    status.timestamp.FromSeconds(1_790_000_000 + second)
    return Task(id=task_id, context_id=context_id, status=status)


@pytest.mark.parametrize("make_store", [_dynamo, _memory], ids=["dynamodb", "in-memory"])
async def test_task_store_contract(cloud: Any, make_store: Callable[[Any], TaskStore]) -> None:
    store = make_store(cloud)
    context = ServerCallContext()
    for i in range(5):
        await store.save(
            _task(f"t{i}", "ctx-a" if i % 2 == 0 else "ctx-b", TaskState.TASK_STATE_WORKING, i), context
        )
    await store.save(_task("t4", "ctx-a", TaskState.TASK_STATE_COMPLETED, 10), context)

    fetched = await store.get("t4", context)
    assert fetched is not None
    assert fetched.status.state == TaskState.TASK_STATE_COMPLETED
    assert await store.get("missing", context) is None

    listed = await store.list(ListTasksRequest(context_id="ctx-a"), context)
    assert [t.id for t in listed.tasks] == ["t4", "t2", "t0"]  # most recently updated first

    first = await store.list(ListTasksRequest(page_size=2), context)
    assert [t.id for t in first.tasks] == ["t4", "t3"]
    assert first.next_page_token
    second = await store.list(ListTasksRequest(page_size=2, page_token=first.next_page_token), context)
    assert [t.id for t in second.tasks] == ["t2", "t1"]

    completed = await store.list(ListTasksRequest(status=TaskState.TASK_STATE_COMPLETED), context)
    assert [t.id for t in completed.tasks] == ["t4"]

    await store.delete("t0", context)
    assert await store.get("t0", context) is None
