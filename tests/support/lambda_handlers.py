"""Tiny Lambda handlers for the execution-environment tests (imported in worker processes)."""

from __future__ import annotations

import os
import time
from typing import Any

_HELD: list[bytearray] = []


def echo(event: Any, context: Any) -> dict[str, Any]:
    return {
        "event": event,
        "function_name": context.function_name,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "request_id": context.aws_request_id,
        "pid": os.getpid(),
        "env": {key: os.environ.get(key) for key in event.get("env", [])},
    }


def fail(event: Any, context: Any) -> None:
    raise LookupError(f"no such thing: {event.get('what')}")


def sleep(event: Any, context: Any) -> dict[str, Any]:
    time.sleep(float(event["seconds"]))
    return {"slept": event["seconds"], "pid": os.getpid()}


def crash(event: Any, context: Any) -> None:
    os._exit(3)  # the runtime dies mid-invoke, as on an out-of-memory kill


def allocate(event: Any, context: Any) -> dict[str, Any]:
    """Touch ``mb`` MiB and free it again: the peak, not the end state, is what Lambda reports."""
    block = bytearray(int(event["mb"]) * 1024 * 1024)
    for offset in range(0, len(block), 4096):
        block[offset] = 1
    del block
    return {"pid": os.getpid()}
