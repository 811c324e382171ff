"""AWS clients, created once per container and shared.

boto3 reads ``AWS_ENDPOINT_URL`` itself, so the same code talks to AWS, LocalStack or the
embedded local cloud; nothing here plumbs endpoints. Clients are thread-safe and expensive to
build (~50 ms each), which is why they are cached rather than built per invocation.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# Adaptive retries absorb throttling; connect/read timeouts keep a dead endpoint from hanging a
# Lambda until its own timeout.
_CLIENT_CONFIG = Config(
    retries={"max_attempts": 5, "mode": "adaptive"},
    connect_timeout=5,
    read_timeout=60,
    max_pool_connections=32,
)
# Lambda invocations of agents can legitimately run for minutes.
_LAMBDA_CONFIG = _CLIENT_CONFIG.merge(Config(read_timeout=900, retries={"max_attempts": 1}))


@cache
def client(service: str, region: str | None = None) -> Any:
    """A shared boto3 client for ``service`` (``lambda`` gets long read timeouts, no retries)."""
    config = _LAMBDA_CONFIG if service == "lambda" else _CLIENT_CONFIG
    return boto3.session.Session().client(service, region_name=region, config=config)


def reset_clients() -> None:
    """Forget cached clients (used when the local cloud changes endpoint within one process)."""
    client.cache_clear()
