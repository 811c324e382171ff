"""Shared fixtures: the embedded local cloud for the functional and integration tiers.

One cloud per test session (moto server + template deployed, on ephemeral loopback ports); each
test that uses ``cloud`` starts from a clean state (moto reset + redeploy).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

EVENTS_DIR = Path(__file__).parent / "events"


@pytest.fixture
def load_event() -> Callable[[str], dict[str, Any]]:
    """Loader of recorded API Gateway events in tests/events (each call returns a fresh copy)."""

    def load(name: str) -> dict[str, Any]:
        return dict(json.loads((EVENTS_DIR / name).read_text(encoding="utf-8")))

    return load


@pytest.fixture
def lambda_context() -> Callable[[str], Any]:
    """A Lambda context object for the function of an agent."""
    from analystack.localcloud.dispatch import LambdaContext

    def make(agent: str) -> LambdaContext:
        name = f"analystack-{agent}"
        return LambdaContext(
            function_name=name, invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        )

    return make


@pytest.fixture(scope="session")
def local_cloud() -> Iterator[Any]:
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    # The functions' configuration for this test cloud: short model searches keep jobs quick.
    os.environ.setdefault("ANALYSTACK_LIMITS__AUTOML_TIME_BUDGET_S", "4")
    from analystack.localcloud.cloud import LocalCloud

    cloud = LocalCloud.on_free_ports()
    cloud.start()
    try:
        yield cloud
    finally:
        cloud.stop()


@pytest.fixture
def cloud(local_cloud: Any) -> Iterator[Any]:
    local_cloud.reset()
    yield local_cloud
    for name in local_cloud.registry.names():
        local_cloud.registry.override(name, None)
