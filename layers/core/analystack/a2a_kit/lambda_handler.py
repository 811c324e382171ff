"""ONE Lambda handler factory for every agent.

It serves API Gateway (HTTP API v2 / REST v1) events through Mangum and also accepts a direct
invoke from Step Functions carrying an A2A ``SendMessage`` JSON-RPC request under ``"a2a"``.
The direct invoke is replayed as an HTTP API event through the *same* Mangum app and request
handler, so both paths share validation, task store and executor. A task that ends failed is
raised as ``AgentTaskFailedError`` so Step Functions Retry/Catch see it as a failure — or as
``ReplanRequestedError`` when the agent's error code says the plan's assumption broke.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Callable, MutableMapping
from typing import Any

from mangum import Mangum

from analystack.errors import (
    REPLANNABLE_CODES,
    AgentTaskFailedError,
    AgentUnavailableError,
    InvalidInputError,
    ReplanRequestedError,
)
from analystack.telemetry import logger

A2A_MIME_TYPES = [
    "application/json",
    "application/a2a+json",
    "text/event-stream",
    "text/markdown",
    "text/html",
]
_TERMINAL_FAILURES = {"TASK_STATE_FAILED", "TASK_STATE_REJECTED", "TASK_STATE_CANCELED"}

LambdaHandler = Callable[[dict[str, Any], Any], Any]


class _RootPathFix:
    """Mangum strips the base path ``/a2a/<agent>`` to ``""`` for the API root; the A2A JSON-RPC
    endpoint lives at ``/``, so an empty path is served as ``/`` instead of a redirect."""

    def __init__(self, app: Any) -> None:
        self._app = app

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") == "http" and not scope.get("path"):
            scope = {**scope, "path": "/", "raw_path": b"/"}
        await self._app(scope, receive, send)


def make_lambda_handler(app: Any, *, api_gateway_base_path: str = "/") -> LambdaHandler:
    """Wrap ``app`` for Lambda; ``lifespan="off"`` because startup would run on every invoke."""
    adapter = Mangum(
        _RootPathFix(app),
        lifespan="off",
        api_gateway_base_path=api_gateway_base_path,
        text_mime_types=A2A_MIME_TYPES,
    )

    @logger.inject_lambda_context(clear_state=True)
    def handler(event: dict[str, Any], context: Any) -> Any:
        _ensure_event_loop()
        try:
            if isinstance(event, dict) and "a2a" in event:
                return _direct_invoke(adapter, event["a2a"], context)
            return adapter(event, context)
        finally:
            _drain_event_loop()

    return handler


#: How long a finished invoke waits for the SDK's background tasks (a task's event consumer
#: saving its last state) before Lambda freezes the container.
DRAIN_SECONDS = 0.5


def _drain_event_loop() -> None:
    """Let the a2a-sdk's per-task background work finish before the invoke returns.

    Mangum returns as soon as the response is complete, while the request handler's consumer
    task may still be closing its queues; left pending, such tasks pile up in a long-lived
    process (the local cloud) and are finalised by the garbage collector at exit, where their
    queue shutdown can deadlock.
    """
    loop = asyncio.get_event_loop()
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    if pending and not loop.is_running():
        loop.run_until_complete(asyncio.wait(pending, timeout=DRAIN_SECONDS))


def _ensure_event_loop() -> None:
    # Mangum uses asyncio.get_event_loop(); worker threads (the embedded cloud's dispatcher)
    # have none until one is set.
    try:
        asyncio.get_event_loop()
    except RuntimeError:
        asyncio.set_event_loop(asyncio.new_event_loop())


def _direct_invoke(adapter: Mangum, rpc: Any, context: Any) -> dict[str, Any]:
    if not isinstance(rpc, dict) or rpc.get("method") != "SendMessage":
        raise InvalidInputError("A direct invoke must carry an A2A JSON-RPC SendMessage request under 'a2a'")
    message = rpc.setdefault("params", {}).setdefault("message", {})
    message.setdefault("messageId", uuid.uuid4().hex)
    message.setdefault("role", "ROLE_USER")
    rpc.setdefault("jsonrpc", "2.0")
    rpc.setdefault("id", uuid.uuid4().hex)
    response = adapter(_http_api_event(json.dumps(rpc)), context)
    body = response.get("body") or ""
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    if response.get("statusCode", 500) >= 500:
        raise AgentUnavailableError(f"The agent answered HTTP {response.get('statusCode')}")
    payload = json.loads(body)
    if "error" in payload:
        error = payload["error"]
        raise InvalidInputError(f"A2A error {error.get('code')}: {error.get('message')}")
    return summarise_task(payload["result"]["task"])


def summarise_task(task: dict[str, Any]) -> dict[str, Any]:
    """The compact result Step Functions keeps (its payloads are capped at 256 KB)."""
    state = task.get("status", {}).get("state", "")
    status_parts = task.get("status", {}).get("message", {}).get("parts", [])
    status_text = " ".join(p["text"] for p in status_parts if "text" in p)
    if state in _TERMINAL_FAILURES:
        error: dict[str, Any] = next(
            (p["data"]["error"] for p in status_parts if "error" in p.get("data", {})), {}
        )
        details = {str(k): str(v) for k, v in (error.get("details") or {}).items()}
        code = str(error.get("code") or "")
        if code == "agent_unavailable":  # e.g. a relay that could not reach its agent: fail over
            raise AgentUnavailableError(status_text or "The agent is unavailable", details=details)
        if code == "replan_requested" or code in REPLANNABLE_CODES:
            # A broken plan assumption: Step Functions routes this error name to the replanner.
            raise ReplanRequestedError(
                status_text or "The agent asks for a new plan",
                details={
                    **details,
                    "code": details.get("code", code) if code == "replan_requested" else code,
                },
            )
        raise AgentTaskFailedError(status_text or "The agent reported a failure", details=details)
    result: dict[str, Any] = {
        "task_id": task.get("id"),
        "context_id": task.get("contextId"),
        "state": state,
        "summary": status_text,
        "outputs": {},
        "artifacts": [],
    }
    for artifact in task.get("artifacts", []):
        if artifact.get("name") != "outputs":
            continue
        for part in artifact.get("parts", []):
            data = part.get("data")
            if isinstance(data, dict):
                result["outputs"].update(data.get("outputs", {}))
                result["artifacts"].extend(data.get("artifacts", []))
    return result


def _http_api_event(body: str) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/",
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "a2a-version": "1.0", "host": "direct-invoke"},
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "direct",
            "domainName": "direct-invoke",
            "http": {
                "method": "POST",
                "path": "/",
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "stepfunctions",
            },
            "requestId": uuid.uuid4().hex,
            "routeKey": "$default",
            "stage": "$default",
        },
        "body": body,
        "isBase64Encoded": False,
    }
