"""Lambda execution environments as processes: each function's invokes run in a warm process of its own.

In-process dispatch (the default for tests) runs every handler in the cloud's one process, so
agents share a GIL, a heap and module globals, which no deployment does. With process isolation
each function gets execution environments the way Lambda gives them:

* a fresh interpreter per environment (``python -m analystack.localcloud.workers``) with the
  function's own environment variables from the template, its handler imported once (the cold
  start, reported as the init duration) and reused while warm;
* one invoke at a time per environment; a concurrent invoke gets another environment;
* the function's ``Timeout`` enforced (the environment is killed, the error is Lambda's
  ``Sandbox.Timedout``), a crashed environment reported as ``Runtime.ExitError`` and replaced;
* per invoke, Lambda's REPORT figures: duration and *Max Memory Used* — the process's peak RSS
  during the invoke, measured by resetting the kernel's high-water mark (``/proc/self/clear_refs``)
  before it and reading ``VmHWM`` after — against the template's ``MemorySize``.

Environments talk to the cloud over a socket pair with length-prefixed JSON (events and results
are JSON on Lambda too), never over stdout, which belongs to the handler's logs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from analystack.telemetry import logger

# Environments one function may have at once; a burst beyond it waits for a free one rather
# than spawning interpreters without bound on a laptop (Lambda's own cap is the account's).
MAX_ENVIRONMENTS_PER_FUNCTION = 8
_READY_TIMEOUT_S = 120.0


class FunctionError(Exception):
    """An invoke that failed inside its environment, carrying Lambda's error type and message."""

    def __init__(self, error_type: str, message: str, report: InvokeReport | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.report = report


@dataclass(frozen=True)
class InvokeReport:
    """Lambda's REPORT line for one invoke."""

    function: str
    request_id: str
    started: float  # wall clock (time.time()) when the invoke reached the environment
    duration_ms: float
    init_duration_ms: float | None  # set on an environment's first invoke (a cold start)
    memory_size_mb: int
    max_memory_used_mb: float  # the environment's peak RSS during the invoke
    memory_at_start_mb: float  # its RSS when the invoke began (runtime + imports + caches)
    error_type: str | None = None

    def line(self) -> str:
        text = (
            f"REPORT RequestId: {self.request_id} Duration: {self.duration_ms:.2f} ms "
            f"Memory Size: {self.memory_size_mb} MB Max Memory Used: {self.max_memory_used_mb:.0f} MB"
        )
        if self.init_duration_ms is not None:
            text += f" Init Duration: {self.init_duration_ms:.2f} ms"
        return text


@dataclass(frozen=True)
class FunctionConfig:
    name: str
    arn: str
    handler: str  # "package.module.attribute"
    timeout_s: int
    memory_size_mb: int
    environment: Mapping[str, str]


class ExecutionEnvironment:
    """One worker process running one function's handler."""

    def __init__(self, config: FunctionConfig) -> None:
        self.config = config
        parent_end, child_end = socket.socketpair()
        env = {
            **os.environ,
            **config.environment,
            # What Lambda's runtime sets for a function.
            "AWS_LAMBDA_FUNCTION_NAME": config.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_size_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{config.name}",
            # The child imports the handler by module path, from the same import path as the cloud.
            "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        }
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [
                sys.executable,
                "-m",
                "analystack.localcloud.workers",
                "--fd",
                str(child_end.fileno()),
                "--handler",
                config.handler,
                "--arn",
                config.arn,
                "--timeout",
                str(config.timeout_s),
            ],
            env=env,
            pass_fds=(child_end.fileno(),),
            stdin=subprocess.DEVNULL,
        )
        child_end.close()
        self._connection = Connection(parent_end.detach())
        self._init_duration_ms: float | None = None
        self._fresh = True

    def wait_ready(self, timeout_s: float = _READY_TIMEOUT_S) -> None:
        if self._init_duration_ms is not None:
            return
        message = self._receive(timeout_s)
        if message is None or message.get("status") != "ready":
            error = (message or {}).get("error") or {}
            self.kill()
            raise FunctionError(
                "Runtime.InitError" if message else "Runtime.ExitError",
                error.get("errorMessage") or f"{self.config.name}: the environment did not start",
            )
        self._init_duration_ms = float(message["init_ms"])

    def invoke(self, event: Any) -> tuple[Any, InvokeReport]:
        """Run one event; returns the handler's result or raises :class:`FunctionError`."""
        self.wait_ready()
        request_id = str(uuid.uuid4())
        started = time.time()
        self._connection.send_bytes(
            json.dumps({"event": event, "request_id": request_id}, default=str).encode()
        )
        reply = self._receive(self.config.timeout_s)
        if reply is None:
            timed_out = self.alive
            self.kill()
            error_type = "Sandbox.Timedout" if timed_out else "Runtime.ExitError"
            message = (
                f"Task timed out after {self.config.timeout_s:.2f} seconds"
                if timed_out
                else f"RequestId: {request_id} Error: Runtime exited without providing a reason"
            )
            report = self._report(request_id, started, (time.time() - started) * 1000, 0.0, 0.0, error_type)
            raise FunctionError(error_type, message, report)
        report = self._report(
            request_id,
            started,
            float(reply["duration_ms"]),
            float(reply["max_memory_mb"]),
            float(reply["start_memory_mb"]),
            (reply.get("error") or {}).get("errorType"),
        )
        if "error" in reply:
            # A handler's exception: the environment stays warm, as on Lambda.
            raise FunctionError(reply["error"]["errorType"], reply["error"]["errorMessage"], report)
        return reply["result"], report

    def _report(
        self,
        request_id: str,
        started: float,
        duration_ms: float,
        max_memory_mb: float,
        start_memory_mb: float,
        error_type: str | None,
    ) -> InvokeReport:
        init = self._init_duration_ms if self._fresh else None
        self._fresh = False
        return InvokeReport(
            function=self.config.name,
            request_id=request_id,
            started=started,
            duration_ms=duration_ms,
            init_duration_ms=init,
            memory_size_mb=self.config.memory_size_mb,
            max_memory_used_mb=max_memory_mb,
            memory_at_start_mb=start_memory_mb,
            error_type=error_type,
        )

    def _receive(self, timeout_s: float) -> dict[str, Any] | None:
        try:
            if not self._connection.poll(timeout_s):
                return None
            return dict(json.loads(self._connection.recv_bytes()))
        except (EOFError, OSError):
            return None

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self._connection.close()
        if self._process.poll() is None:
            self._process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=5)

    def stop(self) -> None:
        """Ask the environment to exit (its handler's cleanup runs), then make sure it did."""
        with contextlib.suppress(OSError):
            self._connection.send_bytes(b"null")
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=5)
        self.kill()


class EnvironmentPool:
    """Warm execution environments per function; spawns one when none is free (a cold start)."""

    def __init__(
        self, *, max_per_function: int = MAX_ENVIRONMENTS_PER_FUNCTION, keep_reports: int = 2000
    ) -> None:
        self._configs: dict[str, FunctionConfig] = {}
        self._idle: dict[str, list[ExecutionEnvironment]] = {}
        self._count: dict[str, int] = {}
        self._max = max_per_function
        self._condition = threading.Condition()
        self.reports: deque[InvokeReport] = deque(maxlen=keep_reports)

    def configure(self, config: FunctionConfig) -> None:
        """(Re)deploy a function: environments running older code or settings are retired."""
        with self._condition:
            if self._configs.get(config.name) == config:
                return
            self._configs[config.name] = config
            for environment in self._idle.pop(config.name, []):
                environment.stop()
                self._count[config.name] -= 1

    def prewarm(self, names: list[str]) -> None:
        """Start one environment per function and wait until each has imported its handler
        (provisioned concurrency): the first request then pays no cold start."""
        started = [self._spawn(name) for name in names]
        for environment in started:
            try:
                environment.wait_ready()
            except FunctionError:
                logger.exception("pre-warming failed", extra={"function": environment.config.name})
                with self._condition:
                    self._count[environment.config.name] -= 1
                continue
            self._release(environment)

    def invoke(self, name: str, event: Any) -> Any:
        environment = self._acquire(name)
        try:
            result, report = environment.invoke(event)
        except FunctionError as exc:
            if exc.report is not None:
                self._record(exc.report)
            if environment.alive:
                self._release(environment)
            else:
                self._retire(environment)  # timed out or crashed: Lambda replaces the environment
            raise
        except BaseException:
            self._retire(environment)
            raise
        self._record(report)
        self._release(environment)
        return result

    def stop(self) -> None:
        with self._condition:
            environments = [e for idle in self._idle.values() for e in idle]
            self._idle.clear()
            self._count.clear()
        for environment in environments:
            environment.stop()

    # ------------------------------------------------------------------ internals
    def _record(self, report: InvokeReport) -> None:
        self.reports.append(report)
        logger.debug(report.line(), extra={"function": report.function})
        if report.max_memory_used_mb > report.memory_size_mb:
            logger.warning(
                "invoke used more memory than the function's MemorySize; Lambda would have stopped it",
                extra={
                    "function": report.function,
                    "max_memory_used_mb": round(report.max_memory_used_mb),
                    "memory_size_mb": report.memory_size_mb,
                },
            )

    def _spawn(self, name: str) -> ExecutionEnvironment:
        with self._condition:
            config = self._configs[name]
            self._count[name] = self._count.get(name, 0) + 1
        return ExecutionEnvironment(config)

    def _acquire(self, name: str) -> ExecutionEnvironment:
        with self._condition:
            if name not in self._configs:
                raise KeyError(name)
            while True:
                idle = self._idle.get(name)
                while idle:
                    environment = idle.pop()
                    if environment.alive:
                        return environment
                    self._count[name] -= 1
                if self._count.get(name, 0) < self._max:
                    break
                self._condition.wait(timeout=1.0)
        return self._spawn(name)

    def _release(self, environment: ExecutionEnvironment) -> None:
        name = environment.config.name
        with self._condition:
            if self._configs.get(name) != environment.config:
                stale = True  # redeployed while it ran
            else:
                stale = False
                self._idle.setdefault(name, []).append(environment)
            self._condition.notify()
        if stale:
            environment.stop()
            with self._condition:
                self._count[name] = self._count.get(name, 1) - 1

    def _retire(self, environment: ExecutionEnvironment) -> None:
        environment.kill()
        with self._condition:
            name = environment.config.name
            self._count[name] = max(0, self._count.get(name, 1) - 1)
            self._condition.notify()


def summarise_reports(reports: list[InvokeReport]) -> list[str]:
    """One line per function, as CloudWatch's REPORT lines would add up: invokes, cold starts,
    total duration and the largest Max Memory Used against the MemorySize."""
    by_function: dict[str, list[InvokeReport]] = {}
    for report in reports:
        by_function.setdefault(report.function, []).append(report)
    lines = []
    for function, runs in sorted(by_function.items()):
        peak = max(r.max_memory_used_mb for r in runs)
        errors = sum(1 for r in runs if r.error_type)
        lines.append(
            f"{function:<28} {len(runs):>4} invokes  {sum(1 for r in runs if r.init_duration_ms is not None)} cold"
            f"  {sum(r.duration_ms for r in runs) / 1000:>7.2f} s  max memory {peak:>6.0f} of"
            f" {runs[0].memory_size_mb} MB"
            + (f"  {errors} errors" if errors else "")
            + ("  OVER MemorySize" if peak > runs[0].memory_size_mb else "")
        )
    return lines


# ---------------------------------------------------------------------- the environment's side
def _reset_peak_memory() -> None:
    # "5" resets the process's peak RSS (VmHWM) to its current RSS (Linux 4.0+).
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def _memory_mb() -> tuple[float, float]:
    """(current RSS, peak RSS since the last reset) in MiB."""
    current = peak = 0.0
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    current = int(line.split()[1]) / 1024
                elif line.startswith("VmHWM:"):
                    peak = int(line.split()[1]) / 1024
    except OSError:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return current, max(peak, current)


def _serve(connection: Connection, handler_path: str, arn: str, timeout_s: int) -> None:
    import importlib

    from analystack.localcloud.dispatch import LambdaContext, error_payload

    function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "function")
    memory_size = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024"))
    started = time.perf_counter()
    try:
        module_name, _, attribute = handler_path.rpartition(".")
        handler = getattr(importlib.import_module(module_name), attribute)
    except Exception as exc:  # noqa: BLE001 - reported to the cloud as Lambda's init error
        connection.send_bytes(json.dumps({"status": "init_error", "error": error_payload(exc)}).encode())
        return
    connection.send_bytes(
        json.dumps({"status": "ready", "init_ms": (time.perf_counter() - started) * 1000}).encode()
    )
    while True:
        try:
            message = json.loads(connection.recv_bytes())
        except (EOFError, OSError):
            return
        if message is None:
            return
        start_memory, _ = _memory_mb()
        _reset_peak_memory()
        context = LambdaContext(
            function_name=function_name,
            invoked_function_arn=arn,
            memory_limit_in_mb=memory_size,
            timeout_seconds=timeout_s,
            aws_request_id=message["request_id"],
        )
        begun = time.perf_counter()
        reply: dict[str, Any]
        try:
            reply = {"result": handler(message["event"], context)}
        except Exception as exc:  # noqa: BLE001 - Lambda reports any exception as a function error
            reply = {"error": error_payload(exc)}
        reply["duration_ms"] = (time.perf_counter() - begun) * 1000
        reply["start_memory_mb"] = start_memory
        reply["max_memory_mb"] = _memory_mb()[1]
        try:
            body = json.dumps(reply, default=str).encode()
        except (TypeError, ValueError) as exc:
            body = json.dumps({**reply, "result": None, "error": error_payload(exc)}, default=str).encode()
        connection.send_bytes(body)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="A local Lambda execution environment (started by the cloud)."
    )
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--handler", required=True)
    parser.add_argument("--arn", default="")
    parser.add_argument("--timeout", type=int, default=300)
    args = parser.parse_args(argv)
    connection = Connection(args.fd)
    try:
        _serve(connection, args.handler, args.arn, args.timeout)
    finally:
        connection.close()


if __name__ == "__main__":
    main()
