"""The JSON-RPC ``SendMessage`` request the platform sends: one user message with one data part.

Plain dicts, no a2a-sdk import: the gateway (which must not pay for the SDK at cold start) and the
HTTP relay both build their requests here. Step Functions states build theirs in the compiler,
where the message id is a JSONPath intrinsic instead.
"""

from __future__ import annotations

import uuid
from typing import Any


def send_message_request(data: dict[str, Any], *, rpc_id: str | None = None) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": rpc_id or uuid.uuid4().hex,
        "method": "SendMessage",
        "params": {
            "message": {"messageId": uuid.uuid4().hex, "role": "ROLE_USER", "parts": [{"data": data}]}
        },
    }
