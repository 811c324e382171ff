"""The headline request against a deployed stack (AWS or LocalStack).

Skipped unless ``ANALYSTACK_E2E_URL`` names the stack's API URL (the ``ApiUrl`` output).
"""

from __future__ import annotations

import os
import time
from typing import Any

import httpx
import pytest

from analystack.cli import HEADLINE_REQUEST, sample_path

API_URL = os.environ.get("ANALYSTACK_E2E_URL", "").rstrip("/")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not API_URL, reason="set ANALYSTACK_E2E_URL to a deployed stack's API URL"),
]


@pytest.fixture
def api() -> Any:
    with httpx.Client(base_url=API_URL, timeout=60) as http:
        yield http


def test_headline_request_end_to_end(api: httpx.Client) -> None:
    path = sample_path()
    with path.open("rb") as handle:
        response = api.post(
            "/analyze", data={"request": HEADLINE_REQUEST}, files={"file": (path.name, handle)}
        )
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    deadline = time.monotonic() + 900
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = api.get(f"/jobs/{job_id}").json()
        if job["status"] in {"succeeded", "failed"}:
            break
        time.sleep(3)
    assert job.get("status") == "succeeded", job.get("error")
    names = {a["name"] for a in job["artifacts"]}
    assert {"quality_report.json", "quality_report.md"} <= names
    events = api.get(f"/jobs/{job_id}/events", params={"format": "json"}).json()["events"]
    assert {e["agent"] for e in events} >= {"gateway", "orchestrator", "ingestion", "quality"}


def test_every_agent_publishes_its_card(api: httpx.Client) -> None:
    agents = api.get("/agents").json()["agents"]
    assert agents
    assert all(a["status"] == "up" for a in agents), agents
