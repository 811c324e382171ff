"""The whole local cloud: POST /analyze -> Step Functions -> agents -> job, artifacts, lineage, events."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from analystack.aws import client
from analystack.cli import sample_path
from analystack.hub import parse_s3_uri

pytestmark = pytest.mark.integration

TERMINAL = {"succeeded", "failed"}


def _wait_for_job(api: httpx.Client, job_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = api.get(f"/jobs/{job_id}").json()
        if job["status"] in TERMINAL:
            return dict(job)
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} did not finish in {timeout}s")


@pytest.fixture
def api(cloud: Any) -> Any:
    with httpx.Client(base_url=cloud.api_url, timeout=60) as http:
        yield http


def _analyze(api: httpx.Client, path: Path, request: str, **extra: str) -> str:
    with path.open("rb") as handle:
        response = api.post(
            "/analyze", data={"request": request, **extra}, files={"file": (path.name, handle)}
        )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["links"]["self"].endswith(f"/jobs/{body['job_id']}")
    return str(body["job_id"])


def test_headline_request_runs_on_step_functions_end_to_end(cloud: Any, api: httpx.Client) -> None:
    job_id = _analyze(api, sample_path(), "매출 데이터를 분석하고 예측 모델을 만들어주세요")
    job = _wait_for_job(api, job_id)
    assert job["status"] == "succeeded", job.get("error")
    assert job["planner"] == "heuristic"
    assert "no LLM is configured" in job["summary"]

    # A real Step Functions execution ran and succeeded, with its history.
    sfn = client("stepfunctions")
    execution = sfn.describe_execution(executionArn=job["execution_arn"])
    assert execution["status"] == "SUCCEEDED"
    history = sfn.get_execution_history(executionArn=job["execution_arn"])["events"]
    succeeded_tasks = [e for e in history if e["type"] == "TaskSucceeded"]
    assert len(succeeded_tasks) >= 3  # ingest, quality, finalize

    # Every planned step ran, with its outputs and times.
    steps = {s["step_id"]: s for s in job["steps"]}
    assert set(steps) == {"ingest", "quality", "eda", "automl", "visualization"}
    assert all(s["status"] == "succeeded" and s["started_at"] and s["finished_at"] for s in steps.values())
    assert steps["ingest"]["status"] == "succeeded"
    assert steps["quality"]["status"] == "succeeded"
    assert int(steps["ingest"]["outputs"]["rows"]) == 2415

    # The quality report is in S3 and names real findings.
    artifacts = {a["name"]: a for a in job["artifacts"]}
    report_item = artifacts["quality_report.json"]
    bucket, key = parse_s3_uri(report_item["s3_uri"])
    report = json.loads(client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    assert report["rows"] == 2415
    assert report["duplicate_rows"] >= 15
    assert 0 < report["score"] < 100
    markdown = httpx.get(artifacts["quality_report.md"]["url"]).text
    assert "unit_price" in markdown

    # EDA answers "analyze the sales data": revenue, the table's measure, tested across groups.
    eda_item = artifacts["eda_report.json"]
    bucket, key = parse_s3_uri(eda_item["s3_uri"])
    eda = json.loads(client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    assert eda["measure"] == "revenue"
    tested = {tuple(t["columns"]) for t in eda["tests"] if t["significant"]}
    assert ("revenue", "category") in tested

    # The model beats its baseline, and says which target it chose and why.
    model = steps["automl"]["outputs"]
    assert model["target"] == "revenue"
    assert float(model["score"]) > float(model["baseline_score"])
    # At least four sensible charts, stored as Plotly JSON and standalone HTML, plus a dashboard.
    charts = [a for a in job["artifacts"] if a["media_type"] == "application/vnd.plotly.v1+json"]
    assert len(charts) >= 4
    assert "dashboard.html" in artifacts
    kinds = set(steps["visualization"]["outputs"]["chart_kinds"])
    assert {"line", "bar"} <= kinds
    assert "feature_importance" in kinds  # drawn from the model's report
    # The report a person reads names the findings, the model, the charts and every step.
    html_page = api.get(f"/jobs/{job_id}/report", follow_redirects=True).text
    for expected in (
        "Data quality",
        "Key findings",
        "Model card",
        "Charts",
        "Steps",
        "revenue",
        "Plotly.newPlot",
    ):
        assert expected in html_page
    for step_id in steps:
        assert f"<td>{step_id}</td>" in html_page
    assert "How the data was read" in html_page  # the $-typed prices ingestion converted are disclosed
    markdown_report = api.get(f"/jobs/{job_id}/report", params={"format": "markdown"}).text
    assert "## Model" in markdown_report
    assert "## Key findings" in markdown_report

    # Lineage: report -> dataset -> upload.
    dataset = next(a for a in job["artifacts"] if a["kind"] == "dataset")
    upload = next(a for a in job["artifacts"] if a["kind"] == "upload")
    assert report_item["parents"] == [dataset["item_id"]]
    assert dataset["parents"] == [upload["item_id"]]

    # Progress events from every agent, in order, with the seed's shape.
    events = api.get(f"/jobs/{job_id}/events", params={"format": "json"}).json()
    agents = [e["agent"] for e in events["events"]]
    assert events["finished"] is True
    assert agents[0] == "gateway"
    assert {"orchestrator", "ingestion", "quality"} <= set(agents)
    assert agents.index("ingestion") < agents.index("quality")
    assert all({"stage", "agent", "progress", "message"} <= set(e) for e in events["events"])
    assert any("rows" in e["message"] and e["agent"] == "ingestion" for e in events["events"])

    # SSE replays the same events and ends because the job is finished.
    with api.stream("GET", f"/jobs/{job_id}/events") as stream:
        body = "".join(stream.iter_text())
    assert body.count("event: progress") == len(events["events"])
    assert "event: end" in body


def test_agents_answer_a2a_over_http_on_their_ports(cloud: Any) -> None:
    for agent in ("orchestrator", "ingestion", "quality"):
        card = httpx.get(f"{cloud.agent_url(agent)}/.well-known/agent-card.json").json()
        assert card["supportedInterfaces"][0]["url"] == f"{cloud.agent_url(agent)}/"
        assert card["supportedInterfaces"][0]["protocolVersion"] == "1.0"
    response = httpx.post(
        f"{cloud.agent_url('quality')}/",
        headers={"A2A-Version": "1.0"},
        json={
            "jsonrpc": "2.0",
            "id": 1,
            "method": "SendMessage",
            "params": {
                "message": {
                    "messageId": "m1",
                    "role": "ROLE_USER",
                    "parts": [{"data": {"skill": "assess_quality", "inputs": {"dataset_id": "ds-nope"}}}],
                }
            },
        },
        timeout=30,
    )
    task = response.json()["result"]["task"]
    assert task["status"]["state"] == "TASK_STATE_FAILED"
    assert "No dataset or artifact with id 'ds-nope'" in task["status"]["message"]["parts"][0]["text"]
    # A person can talk to an agent in plain text: the S3 URI is found in the message.
    bucket = cloud.stack.buckets["HubBucket"]
    client("s3").put_object(Bucket=bucket, Key="external/t.csv", Body=b"a,b\n1,x\n2,y\n")
    response = httpx.post(
        f"{cloud.agent_url('ingestion')}/",
        headers={"A2A-Version": "1.0"},
        json={
            "jsonrpc": "2.0",
            "id": 2,
            "method": "SendMessage",
            "params": {
                "message": {
                    "messageId": "m2",
                    "role": "ROLE_USER",
                    "parts": [{"text": f"please load s3://{bucket}/external/t.csv"}],
                }
            },
        },
        timeout=30,
    )
    task = response.json()["result"]["task"]
    assert task["status"]["state"] == "TASK_STATE_COMPLETED", task["status"]
    assert task["artifacts"][0]["parts"][0]["data"]["outputs"]["rows"] == "2"
    # The registry, seeded from the deployed agents' cards and health-checked (card + /health).
    agents = httpx.get(f"{cloud.api_url}/agents", params={"refresh": "true"}).json()["agents"]
    assert {a["agent"]: a["status"] for a in agents} == dict.fromkeys(cloud.agent_names(), "healthy")
    assert all(a["latency_ms"] is not None for a in agents)
    assert {"orchestrator", "ingestion", "quality", "eda", "visualization", "automl"} <= set(
        cloud.agent_names()
    )


def test_a_crashing_agent_takes_the_catch_path_and_keeps_the_upload(cloud: Any, api: httpx.Client) -> None:
    def crash(event: Any, context: Any) -> None:
        raise RuntimeError("segfault in /opt/secret/path")

    cloud.registry.override(cloud.function_name("quality"), crash)
    job_id = _analyze(api, sample_path(), "check the data quality")
    job = _wait_for_job(api, job_id)
    assert job["status"] == "failed"
    assert job["error"]["message"]
    steps = {s["step_id"]: s["status"] for s in job["steps"]}
    assert steps["ingest"] == "succeeded"
    assert steps["quality"] == "failed"
    execution = client("stepfunctions").describe_execution(executionArn=job["execution_arn"])
    assert execution["status"] == "FAILED"
    history = client("stepfunctions").get_execution_history(executionArn=job["execution_arn"])["events"]
    assert any(
        e["type"] == "ExecutionFailed" and e["executionFailedEventDetails"]["error"] == "AnalysisFailed"
        for e in history
    )
    # Nothing the user sent is lost.
    bucket, key = parse_s3_uri(job["upload"]["source_uri"])
    stored = client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    assert stored == sample_path().read_bytes()


def test_an_unreadable_file_fails_the_job_with_a_typed_message(
    cloud: Any, api: httpx.Client, tmp_path: Path
) -> None:
    bogus = tmp_path / "scan.csv"
    bogus.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 20)
    job_id = _analyze(api, bogus, "analyze this")
    job = _wait_for_job(api, job_id)
    assert job["status"] == "failed"
    assert "pdf" in job["error"]["message"].lower()
    bucket, key = parse_s3_uri(job["upload"]["source_uri"])
    assert client("s3").get_object(Bucket=bucket, Key=key)["Body"].read() == bogus.read_bytes()


def test_json_request_with_an_s3_uri(cloud: Any, api: httpx.Client) -> None:
    bucket = cloud.stack.buckets["HubBucket"]
    client("s3").put_object(
        Bucket=bucket, Key="external/tips.tsv", Body=b"day\ttip\nMon\t1.5\nTue\t2.5\nWed\t3\n"
    )
    response = api.post(
        "/analyze", json={"request": "profile this", "source_uri": f"s3://{bucket}/external/tips.tsv"}
    )
    assert response.status_code == 202, response.text
    job = _wait_for_job(api, response.json()["job_id"])
    assert job["status"] == "succeeded", job.get("error")
    assert {s["step_id"]: s["outputs"].get("rows") for s in job["steps"]}["ingest"] == "3"


def test_the_cli_analyzes_a_file_and_writes_its_results(cloud: Any, tmp_path: Path) -> None:
    from analystack.cli import main

    data = tmp_path / "orders.jsonl"
    data.write_text(
        "".join(f'{{"order": {i}, "amount": {i * 1.5}, "region": "r{i % 3}"}}\n' for i in range(50))
    )
    out = tmp_path / "results"
    code = main(
        [
            "analyze",
            str(data),
            "check quality",
            "--api",
            cloud.api_url,
            "--out",
            str(out),
            "--upload-threshold",
            "10",
        ]
    )
    assert code == 0
    job = json.loads((out / "job.json").read_text())
    assert job["status"] == "succeeded"
    assert job["upload"]["source_uri"].split("/")[3] == "uploads"
    assert "/direct/" in job["upload"]["source_uri"]  # the presigned PUT path was taken
    names = {p.name.split("-", 2)[-1] for p in (out / "artifacts").iterdir()}
    assert {"quality_report.json", "quality_report.md"} <= names
    assert (out / "events.jsonl").read_text().count("\n") >= 5
    assert "succeeded" in (out / "README.md").read_text()


def test_live_progress_over_a_websocket(cloud: Any, api: httpx.Client) -> None:
    from websockets.sync.client import connect

    job_id = _analyze(api, sample_path(), "check the data quality")
    messages: list[dict[str, Any]] = []
    with connect(f"{cloud.api_url.replace('http://', 'ws://')}/ws/jobs/{job_id}", open_timeout=10) as socket:
        for raw in socket:  # ends when the server closes after "end"
            messages.append(json.loads(raw))
    assert messages[-1] == {"type": "end", "job_id": job_id, "status": "succeeded"}
    progress = [m for m in messages if m["type"] == "progress"]
    assert {m["agent"] for m in progress} >= {"gateway", "orchestrator", "ingestion", "quality"}
    assert all({"stage", "agent", "progress", "message", "event_id"} <= set(m) for m in progress)
    assert [m["event_id"] for m in progress] == sorted(m["event_id"] for m in progress)
    with connect(f"{cloud.api_url.replace('http://', 'ws://')}/ws/jobs/job-unknown") as socket:
        first = json.loads(socket.recv(timeout=10))
    assert first["type"] == "error"
    assert first["error"]["code"] == "not_found"


def test_the_english_headline_request_plans_and_runs_the_same_analysis(cloud: Any, api: httpx.Client) -> None:
    job_id = _analyze(api, sample_path(), "analyze the sales data and build a prediction model")
    job = _wait_for_job(api, job_id)
    assert job["status"] == "succeeded", job.get("error")
    assert [s["step_id"] for s in job["steps"]] == ["ingest", "quality", "eda", "automl", "visualization"]
    assert job["plan"]["language"] == "en"
    automl = next(s for s in job["steps"] if s["step_id"] == "automl")
    assert automl["outputs"]["target"] == "revenue"
    summary_lines = job["summary"].splitlines()
    positions = [
        next(i for i, line in enumerate(summary_lines) if line.startswith(f"{step}:"))
        for step in ("eda", "automl", "visualization")
    ]
    assert positions == sorted(positions)  # narration follows the plan's order
