"""Run the project's own Lambda handlers when moto's Lambda is invoked (no Docker needed).

moto with ``use_docker: false`` answers invokes from ``LambdaSimpleBackend.invoke``; replacing
that one method routes every invoke — from boto3 callers *and* from the Step Functions
interpreter — to the real handler, in-process. This touches a private moto method, so moto is
pinned exactly and ``tests/functional/test_lambda_dispatch.py`` covers the behaviour.
"""

from __future__ import annotations

import importlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from analystack.localcloud.workers import EnvironmentPool, FunctionConfig, FunctionError
from analystack.telemetry import logger


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 1024
    timeout_seconds: int = 300
    aws_request_id: str = ""
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""

    def __post_init__(self) -> None:
        self.aws_request_id = self.aws_request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


HandlerFn = Callable[[Any, Any], Any]


ISOLATION_MODES = ("thread", "process")


class HandlerRegistry:
    """Function name -> handler.

    ``isolation="thread"`` (the default, and what tests use): handlers are imported lazily into
    the cloud's process (like a cold start) and run on the caller's thread. ``"process"``: each
    function runs in execution environments of its own (:mod:`analystack.localcloud.workers`),
    with its own interpreter, environment, timeout and a REPORT per invoke. Overrides always run
    in-process, so tests can swap a function's code for a crash or an outage.
    """

    def __init__(self, isolation: str = "thread") -> None:
        if isolation not in ISOLATION_MODES:
            raise ValueError(f"isolation must be one of {ISOLATION_MODES}, not {isolation!r}")
        self.isolation = isolation
        self._specs: dict[str, tuple[str, str, int]] = {}
        self._loaded: dict[str, HandlerFn] = {}
        self._overrides: dict[str, HandlerFn] = {}
        self._lock = threading.Lock()
        self.invocations: list[tuple[str, float]] = []
        self.environments: EnvironmentPool | None = EnvironmentPool() if isolation == "process" else None

    def register(
        self,
        name: str,
        arn: str,
        handler_path: str,
        timeout: int = 300,
        *,
        memory_size: int = 128,
        environment: dict[str, str] | None = None,
    ) -> None:
        self._specs[name] = (arn, handler_path, timeout)
        if self.environments is not None:
            self.environments.configure(
                FunctionConfig(
                    name=name,
                    arn=arn,
                    handler=handler_path,
                    timeout_s=timeout,
                    memory_size_mb=memory_size,
                    environment=dict(environment or {}),
                )
            )

    def knows(self, name_or_arn: str) -> bool:
        return _function_name(name_or_arn) in self._specs

    def prewarm(self) -> None:
        """Start one warm environment per function (process isolation only)."""
        if self.environments is not None:
            self.environments.prewarm(self.names())

    def stop(self) -> None:
        if self.environments is not None:
            self.environments.stop()

    def override(self, name: str, handler: HandlerFn | None) -> None:
        """Replace a function's code (tests use this to make an agent crash or vanish)."""
        if handler is None:
            self._overrides.pop(name, None)
        else:
            self._overrides[name] = handler

    def names(self) -> list[str]:
        return sorted(self._specs)

    def resolve(self, name_or_arn: str) -> tuple[str, str, HandlerFn, int]:
        name = _function_name(name_or_arn)
        if name not in self._specs:
            raise KeyError(name)
        arn, path, timeout = self._specs[name]
        if name in self._overrides:
            return name, arn, self._overrides[name], timeout
        with self._lock:
            if name not in self._loaded:
                module_name, _, attribute = path.rpartition(".")
                self._loaded[name] = getattr(importlib.import_module(module_name), attribute)
        return name, arn, self._loaded[name], timeout

    def invoke(self, name_or_arn: str, event: Any) -> Any:
        """Call a handler the way Lambda does; exceptions propagate to the caller."""
        name = _function_name(name_or_arn)
        if self.environments is not None and name not in self._overrides and name in self._specs:
            self.invocations.append((name, time.time()))
            return self.environments.invoke(name, event)
        name, arn, handler, timeout = self.resolve(name_or_arn)
        self.invocations.append((name, time.time()))
        context = LambdaContext(function_name=name, invoked_function_arn=arn, timeout_seconds=timeout)
        return handler(event, context)


def _function_name(name_or_arn: str) -> str:
    return name_or_arn.rsplit(":function:", 1)[-1].split(":", 1)[0]


def error_payload(exc: BaseException) -> dict[str, Any]:
    """Lambda's error shape: Step Functions matches Retry/Catch on ``errorType``.

    The stack trace is left out on purpose: it would carry file paths into execution history.
    An error from another execution environment keeps the type it was raised with there.
    """
    error_type = exc.error_type if isinstance(exc, FunctionError) else type(exc).__name__
    return {"errorType": error_type, "errorMessage": getattr(exc, "message", None) or str(exc)}


def install(registry: HandlerRegistry) -> Callable[[], None]:
    """Patch moto's simple Lambda backend to dispatch to ``registry``; returns an undo function."""
    from moto.awslambda_simple.models import LambdaSimpleBackend

    original = LambdaSimpleBackend.invoke

    def invoke(
        self: Any, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
    ) -> bytes | None:
        if not registry.knows(function_name):
            # Unknown to the project: moto's simple backend would answer "OK" even for a function
            # that does not exist; looking it up first raises ResourceNotFound like Lambda does.
            self.get_function(function_name, qualifier)
            result = original(self, function_name, qualifier, body, headers, response_headers)
            return result.encode() if isinstance(result, str) else result
        event = json.loads(body) if body else {}
        if headers.get("X-Amz-Invocation-Type") == "Event":
            # Asynchronous invoke: Lambda queues the event and returns 202 at once.
            def run() -> None:
                try:
                    registry.invoke(function_name, event)
                except Exception:  # noqa: BLE001 - async invokes have no caller to raise to
                    logger.exception("async invoke failed", extra={"function": function_name})

            threading.Thread(target=run, name=f"lambda-{function_name}", daemon=True).start()
            return b""
        try:
            result = registry.invoke(function_name, event)
        except Exception as exc:  # noqa: BLE001 - Lambda reports any exception as a function error
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(error_payload(exc)).encode()
        return json.dumps(result, default=str).encode()

    LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign]
    _warm_interpreter_clients()

    def undo() -> None:
        LambdaSimpleBackend.invoke = original  # type: ignore[method-assign]

    return undo


def _warm_interpreter_clients() -> None:
    """Load the Lambda service model into boto3's default session now, at cloud start.

    moto's Step Functions interpreter builds a new ``boto3.client("lambda")`` on the default
    session for every Task state (``asl/utils/boto_client.py``); the first one loads the session
    and the service model (0.1-0.2 s measured here), which would otherwise land on the first
    step of the first job. Later clients reuse the loaded model (~5 ms). Creating a client
    sends nothing (credentials are only needed to sign requests).
    """
    import boto3

    boto3.client("lambda", region_name="us-east-1")
