"""A2A over HTTP to another agent: one blocking ``SendMessage`` with a data part.

Used by the orchestrator's ``relay`` skill to run plan steps on agents registered with a URL
only (no Lambda function to invoke). The result is summarised exactly like a direct Lambda
invoke's (``summarise_task``), and failures raise the same typed errors, so Step Functions sees
one contract whichever way an agent is reached.
"""

from __future__ import annotations

from typing import Any

import httpx

from analystack.a2a_kit.lambda_handler import summarise_task
from analystack.a2a_kit.rpc import send_message_request
from analystack.errors import AgentUnavailableError

A2A_VERSION_HEADER = {"A2A-Version": "1.0"}


def send_data_message(url: str, data: dict[str, Any], *, http: httpx.Client) -> dict[str, Any]:
    """Send ``data`` to the agent at ``url`` (its JSON-RPC endpoint) and wait for the task's end.

    Raises:
        AgentUnavailableError: the agent cannot be reached, answers 5xx, or not with JSON-RPC.
        AgentTaskFailedError / ReplanRequestedError: the agent ran the task and it failed.
    """
    rpc = send_message_request(data)
    try:
        response = http.post(url.rstrip("/") + "/", json=rpc, headers=A2A_VERSION_HEADER)
    except httpx.HTTPError as exc:
        raise AgentUnavailableError(
            f"The agent at {url} could not be reached ({type(exc).__name__})"
        ) from exc
    if response.status_code >= 500:
        raise AgentUnavailableError(f"The agent at {url} answered HTTP {response.status_code}")
    try:
        payload = response.json()
    except ValueError:
        raise AgentUnavailableError(f"The agent at {url} did not answer with JSON-RPC") from None
    if not isinstance(payload, dict) or "error" in payload or "task" not in (payload.get("result") or {}):
        error = payload.get("error") if isinstance(payload, dict) else None
        detail = f" ({error.get('message')})" if isinstance(error, dict) else ""
        raise AgentUnavailableError(f"The agent at {url} did not return a task{detail}")
    return summarise_task(payload["result"]["task"])
