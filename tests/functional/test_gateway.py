"""Gateway input handling through the real Lambda handler (API Gateway v2 events over the bridge)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from analystack.aws import client
from analystack.errors import AgentUnavailableError
from analystack.jobs import EventLog
from analystack.runtime import data_hub, event_log, job_store
from analystack.settings import get_settings
from functions.gateway.service import AnalysisService, LambdaOrchestratorClient, Upload

pytestmark = pytest.mark.functional


@pytest.fixture
def api(cloud: Any) -> Any:
    with httpx.Client(base_url=cloud.api_url, timeout=30) as http:
        yield http


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"data": {"request": "hi"}}, 400, "invalid_input"),  # form without a file
        ({"files": {"file": ("empty.csv", b"")}}, 400, "invalid_input"),
        ({"json": {"request": "x", "dataset_id": "ds-unknown"}}, 404, "not_found"),
        ({"json": {"request": "x", "source_uri": "http://evil.example/x.csv"}}, 400, "invalid_input"),
        ({"json": {"request": "x"}}, 400, "invalid_input"),  # no source at all
        ({"json": {"request": ["not", "a", "string"], "dataset_id": "d"}}, 400, "invalid_input"),
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400, "invalid_input"),
        ({"content": b"plain", "headers": {"content-type": "text/plain"}}, 400, "invalid_input"),
        ({"json": {"request": "x" * 5000, "dataset_id": "d"}}, 400, "invalid_input"),
        (
            {"files": {"file": ("a.csv", b"a\n1\n")}, "data": {"session_id": "../../etc"}},
            400,
            "invalid_input",
        ),
    ],
)
def test_bad_requests_get_typed_errors(
    api: httpx.Client, kwargs: dict[str, Any], status: int, code: str
) -> None:
    response = api.post("/analyze", **kwargs)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]


def test_unknown_job_is_404(api: httpx.Client) -> None:
    for path in ("/jobs/job-nope", "/jobs/job-nope/events"):
        response = api.get(path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_unreachable_orchestrator_fails_the_job_and_keeps_the_upload(cloud: Any) -> None:
    service = AnalysisService(
        hub=data_hub(),
        jobs=job_store(),
        events=event_log(),
        orchestrator=LambdaOrchestratorClient(
            lambda_client=client("lambda"), function_name="analystack-missing"
        ),
        max_upload_bytes=1024,
    )
    with pytest.raises(AgentUnavailableError):
        service.submit(request="analyze", session_id=None, upload=Upload("d.csv", b"a,b\n1,2\n", "text/csv"))
    job_id = _only_job_id(cloud)
    uploads = [i for i in data_hub().list_by_job(job_id) if i.kind == "upload"]
    assert len(uploads) == 1
    assert data_hub().read_bytes(uploads[0].s3_uri) == b"a,b\n1,2\n"
    job = job_store().get(job_id)
    assert job.status == "failed"
    assert job.error is not None
    assert job.error["code"] == "agent_unavailable"


def _only_job_id(cloud: Any) -> str:
    items = client("dynamodb").scan(TableName=cloud.stack.tables["JobsTable"])["Items"]
    ids = {i["job_id"]["S"] for i in items if i["sk"]["S"] == "JOB"}
    assert len(ids) == 1
    return ids.pop()


def test_upload_over_the_limit_is_refused(cloud: Any) -> None:
    from analystack.errors import DataTooLargeError

    service = AnalysisService(
        hub=data_hub(),
        jobs=job_store(),
        events=event_log(),
        orchestrator=LambdaOrchestratorClient(lambda_client=client("lambda"), function_name="x"),
        max_upload_bytes=10,
    )
    with pytest.raises(DataTooLargeError):
        service.submit(request="a", session_id=None, upload=Upload("d.csv", b"a,b\n1,2\n3,4\n", "text/csv"))


def test_job_view_shows_live_step_progress_from_events(cloud: Any, api: httpx.Client) -> None:
    from analystack.jobs import JobRecord, StepRecord
    from analystack.models import ProgressEvent

    job_store().create(
        JobRecord(
            job_id="job-live",
            request="r",
            session_id="s",
            steps=[
                StepRecord(step_id="ingest", agent="ingestion", skill="ingest"),
                StepRecord(step_id="quality", agent="quality", skill="assess_quality"),
            ],
        )
    )
    # Stored two seconds ago: settled, so readers following the running job get it.
    two_seconds_ago = datetime.now(UTC) - timedelta(seconds=2)
    EventLog(
        table=get_settings().resources.events_table,
        dynamodb_client=client("dynamodb"),
        clock=lambda: two_seconds_ago,
    ).append(
        "job-live",
        ProgressEvent(
            stage="parsing", agent="ingestion", progress=70, message="parsed 10 rows", step_id="ingest"
        ),
    )
    # Just stored: held back from readers for a second (a parallel step may still store an
    # event with an earlier id), though the job view already shows it.
    event_log().append(
        "job-live",
        ProgressEvent(
            stage="parsing", agent="ingestion", progress=75, message="typed 10 rows", step_id="ingest"
        ),
    )
    job = api.get("/jobs/job-live").json()
    steps = {s["step_id"]: s for s in job["steps"]}
    assert steps["ingest"]["status"] == "running"
    assert steps["ingest"]["progress"] == 75
    assert steps["ingest"]["last_message"] == "typed 10 rows"
    assert steps["quality"]["status"] == "pending"
    assert "progress" not in steps["quality"]
    page = api.get("/jobs/job-live/events", params={"format": "json"}).json()
    assert page["finished"] is False
    assert [e["message"] for e in page["events"]] == ["parsed 10 rows"]
    after = page["events"][0]["event_id"]
    assert api.get("/jobs/job-live/events", params={"format": "json", "after": after}).json()["events"] == []
    # A bounded SSE wait on an unfinished job ends by itself with what it has; the fresh event
    # has settled by the end of it.
    with api.stream("GET", "/jobs/job-live/events", params={"wait": "2"}) as stream:
        body = "".join(stream.iter_text())
    assert body.count("event: progress") == 2
    assert "event: end" not in body


def test_big_files_go_through_a_presigned_upload(cloud: Any, api: httpx.Client) -> None:
    too_big = api.post("/uploads", json={"filename": "huge.csv", "size_bytes": 10**12})
    assert too_big.status_code == 413
    assert too_big.json()["error"]["code"] == "data_too_large"

    reservation = api.post(
        "/uploads", json={"filename": "big sales.csv", "size_bytes": 12, "content_type": "text/csv"}
    )
    assert reservation.status_code == 201, reservation.text
    upload = reservation.json()
    not_yet = api.post("/analyze", json={"request": "profile", "upload_id": upload["upload_id"]})
    assert not_yet.status_code == 400
    assert "PUT it to its upload_url first" in not_yet.json()["error"]["message"]

    put = httpx.put(upload["upload_url"], content=b"a,b\n1,2\n3,4\n", headers=upload["headers"])
    assert put.status_code == 200
    accepted = api.post("/analyze", json={"request": "profile", "upload_id": upload["upload_id"]})
    assert accepted.status_code == 202, accepted.text
    job = api.get(f"/jobs/{accepted.json()['job_id']}").json()
    assert job["upload"]["upload_id"] == upload["upload_id"]
    uploads = [a for a in job["artifacts"] if a["kind"] == "upload"]
    assert [u["item_id"] for u in uploads] == [upload["upload_id"]]
    assert uploads[0]["size_bytes"] == 12
