"""Process-isolated execution environments: the local cloud's Lambda model with ``isolation="process"``."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from analystack.localcloud.dispatch import HandlerRegistry, error_payload
from analystack.localcloud.workers import EnvironmentPool, FunctionConfig, FunctionError

pytestmark = pytest.mark.functional

HANDLERS = "tests.support.lambda_handlers"


def _config(
    handler: str, *, timeout_s: int = 30, memory_size_mb: int = 256, **environment: str
) -> FunctionConfig:
    return FunctionConfig(
        name=f"fn-{handler}",
        arn=f"arn:aws:lambda:us-east-1:123456789012:function:fn-{handler}",
        handler=f"{HANDLERS}.{handler}",
        timeout_s=timeout_s,
        memory_size_mb=memory_size_mb,
        environment=environment,
    )


@pytest.fixture
def pool() -> Iterator[EnvironmentPool]:
    environments = EnvironmentPool(max_per_function=2)
    yield environments
    environments.stop()


def test_an_environment_is_reused_while_warm_and_gets_the_functions_settings(pool: EnvironmentPool) -> None:
    pool.configure(_config("echo", memory_size_mb=640, SERVICE_SETTING="from-template"))
    first = pool.invoke("fn-echo", {"n": 1, "env": ["SERVICE_SETTING", "AWS_LAMBDA_FUNCTION_NAME"]})
    second = pool.invoke("fn-echo", {"n": 2})

    assert first["event"]["n"] == 1
    assert second["event"]["n"] == 2
    assert first["pid"] == second["pid"]  # warm: the same process served both
    assert first["env"] == {"SERVICE_SETTING": "from-template", "AWS_LAMBDA_FUNCTION_NAME": "fn-echo"}
    assert first["function_name"] == "fn-echo"
    assert first["memory_limit_in_mb"] == 640
    cold, warm = list(pool.reports)
    assert cold.init_duration_ms is not None
    assert cold.init_duration_ms > 0
    assert warm.init_duration_ms is None
    assert cold.request_id == first["request_id"]
    assert "Max Memory Used" in warm.line()
    assert warm.memory_size_mb == 640


def test_handler_errors_keep_their_type_and_the_environment(pool: EnvironmentPool) -> None:
    pool.configure(_config("fail"))
    with pytest.raises(FunctionError) as raised:
        pool.invoke("fn-fail", {"what": "<b>x</b>"})
    assert error_payload(raised.value) == {
        "errorType": "LookupError",
        "errorMessage": "no such thing: <b>x</b>",
    }
    assert raised.value.report is not None
    assert raised.value.report.error_type == "LookupError"
    with pytest.raises(FunctionError):
        pool.invoke("fn-fail", {})
    assert [r.init_duration_ms is None for r in pool.reports] == [False, True]  # still warm


def test_the_timeout_kills_the_environment_and_a_new_one_serves_the_next_invoke(
    pool: EnvironmentPool,
) -> None:
    pool.configure(_config("sleep", timeout_s=1))
    with pytest.raises(FunctionError) as raised:
        pool.invoke("fn-sleep", {"seconds": 30})
    assert raised.value.error_type == "Sandbox.Timedout"
    assert "timed out after 1.00 seconds" in raised.value.message
    assert pool.invoke("fn-sleep", {"seconds": 0})["slept"] == 0
    assert pool.reports[-1].init_duration_ms is not None  # a cold start replaced the killed one


def test_a_crashed_runtime_is_reported_and_replaced(pool: EnvironmentPool) -> None:
    pool.configure(_config("crash"))
    with pytest.raises(FunctionError) as raised:
        pool.invoke("fn-crash", {})
    assert raised.value.error_type == "Runtime.ExitError"
    with pytest.raises(FunctionError):
        pool.invoke("fn-crash", {})  # a fresh environment, which crashes the same way


def test_max_memory_used_is_the_peak_during_the_invoke(pool: EnvironmentPool) -> None:
    pool.configure(_config("allocate", memory_size_mb=128))
    pool.invoke("fn-allocate", {"mb": 1})
    small = pool.reports[-1]
    pool.invoke("fn-allocate", {"mb": 200})
    big = pool.reports[-1]
    pool.invoke("fn-allocate", {"mb": 1})
    after = pool.reports[-1]

    assert big.max_memory_used_mb - big.memory_at_start_mb >= 190
    # The peak is reset per invoke: a small invoke after a big one reports a small figure.
    assert after.max_memory_used_mb < big.max_memory_used_mb - 150
    assert small.max_memory_used_mb < big.max_memory_used_mb
    assert big.max_memory_used_mb > big.memory_size_mb  # over MemorySize: logged as a warning


def test_concurrent_invokes_get_separate_environments(pool: EnvironmentPool) -> None:
    pool.configure(_config("sleep"))
    results: list[dict[str, Any]] = []
    threads = [
        threading.Thread(target=lambda: results.append(pool.invoke("fn-sleep", {"seconds": 1.0})))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len({r["pid"] for r in results}) == 2


def test_a_redeployed_function_gets_fresh_environments(pool: EnvironmentPool) -> None:
    pool.configure(_config("echo", VERSION="1"))
    before = pool.invoke("fn-echo", {"env": ["VERSION"]})
    pool.configure(_config("echo", VERSION="2"))
    after = pool.invoke("fn-echo", {"env": ["VERSION"]})
    assert (before["env"]["VERSION"], after["env"]["VERSION"]) == ("1", "2")
    assert before["pid"] != after["pid"]


def test_the_registry_routes_invokes_to_environments_but_overrides_stay_in_process() -> None:
    registry = HandlerRegistry(isolation="process")
    try:
        registry.register("fn-echo", "arn:fn-echo", f"{HANDLERS}.echo", 30, memory_size=256)
        assert registry.knows("arn:aws:lambda:us-east-1:123456789012:function:fn-echo")
        remote = registry.invoke("fn-echo", {"n": 1})
        registry.override("fn-echo", lambda event, context: {"local": True})
        assert registry.invoke("fn-echo", {}) == {"local": True}
        registry.override("fn-echo", None)
        assert registry.invoke("fn-echo", {})["pid"] == remote["pid"]
    finally:
        registry.stop()
