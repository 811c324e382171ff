"""Unit tests are pure logic: any network socket is a bug, so they are disabled here.

Unix sockets stay allowed because asyncio's event loop uses a socketpair internally.
"""

from collections.abc import Iterator

import pytest
from pytest_socket import disable_socket, enable_socket


@pytest.fixture(autouse=True)
def _no_network() -> Iterator[None]:
    disable_socket(allow_unix_socket=True)
    yield
    enable_socket()
