"""The headline request on an embedded cloud whose functions run in execution environments of their own.

Runs the CLI in a child process: a second cloud in the test process would rewrite the session
cloud's environment (endpoints, table names), as two stacks in one Lambda runtime never could.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from analystack.cli import sample_path

pytestmark = pytest.mark.integration

AGENTS = ("ingestion", "quality", "eda", "automl", "visualization", "orchestrator", "gateway")


def test_each_function_runs_in_its_own_environment_and_reports_its_memory(tmp_path: Path) -> None:
    out = tmp_path / "results"
    env = {**os.environ, "ANALYSTACK_LIMITS__AUTOML_TIME_BUDGET_S": "3", "POWERTOOLS_LOG_LEVEL": "WARNING"}
    env.pop("ANALYSTACK_API_URL", None)
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "analystack.cli",
            "analyze",
            str(sample_path()),
            "analyze the sales data and build a prediction model",
            "--isolation",
            "process",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=280,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    job = json.loads((out / "job.json").read_text())
    assert job["status"] == "succeeded"
    assert {s["step_id"]: s["status"] for s in job["steps"]} == dict.fromkeys(
        ["ingest", "quality", "eda", "automl", "visualization"], "succeeded"
    )

    summary = completed.stdout.split("Lambda execution environments", 1)[1]
    for agent in AGENTS:
        line = next(line for line in summary.splitlines() if f"analystack-{agent} " in line)
        invokes, memory, size = re.search(r"(\d+) invokes .* max memory\s+(\d+) of (\d+) MB", line).groups()
        assert int(invokes) >= 1
        # A whole interpreter with its handler imported, and within the template's MemorySize.
        assert 40 < int(memory) < int(size), line
    assert "OVER MemorySize" not in summary
