"""Cold starts stay lean: serving an Agent Card or /health must not import the heavy libraries.

Each check runs in a fresh interpreter (imports are process-wide), builds the function's handler
and answers a card request through it, then reports which heavy modules got loaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ["pandas", "pyarrow", "sklearn", "scipy", "plotly", "numpy"]

PROBE = """
import json, sys
from analystack.localcloud.dispatch import LambdaContext
module = __import__("{module}", fromlist=["handler"])
event = json.loads(sys.argv[1])
response = module.handler(event, LambdaContext(function_name="f", invoked_function_arn="arn:aws:lambda:us-east-1:1:function:f"))
print(json.dumps({{"status": response["statusCode"], "loaded": [m for m in {heavy!r} if m in sys.modules],
                   "a2a": "a2a.server" in sys.modules}}))
"""


def _event(path: str) -> dict[str, object]:
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "x"},
        "requestContext": {
            "http": {"method": "GET", "path": path, "sourceIp": "127.0.0.1"},
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }


@pytest.mark.parametrize(
    ("module", "path"),
    [
        ("functions.ingestion.handler", "/a2a/ingestion/.well-known/agent-card.json"),
        ("functions.quality.handler", "/a2a/quality/.well-known/agent-card.json"),
        ("orchestrator.handler", "/a2a/orchestrator/health"),
        ("functions.gateway.handler", "/health"),
    ],
)
def test_card_and_health_requests_load_no_heavy_libraries(module: str, path: str) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "ANALYSTACK_ENDPOINTS__AGENT_FUNCTIONS": json.dumps(
            {"orchestrator": "o", "ingestion": "i", "quality": "q"}
        ),
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    }
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module, heavy=HEAVY), json.dumps(_event(path))],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["status"] == 200
    assert report["loaded"] == []
    if module == "functions.gateway.handler":
        assert report["a2a"] is False  # the gateway speaks HTTP, not A2A: no a2a-sdk server import
