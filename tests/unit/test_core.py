"""Small pure pieces of the shared library and the services."""

from __future__ import annotations

import json
import math
import os

import pytest

from analystack.dynamo import from_item, to_item
from analystack.errors import InvalidInputError
from analystack.hub import DATASET_ID_IN_TEXT, S3_URI_IN_TEXT, parse_s3_uri, safe_name
from analystack.localcloud.bridge import build_http_api_event
from analystack.localcloud.deployer import Route
from analystack.localcloud.template import StackContext, load_template, resolve
from analystack.settings import AgentEndpoints, Settings
from functions.gateway.service import MAX_REQUEST_CHARS, clean_request_text
from orchestrator.skills import _error_message
from orchestrator.synthesis import narrate

pytestmark = pytest.mark.unit


def test_dynamo_round_trip_keeps_types_and_drops_non_finite_floats() -> None:
    data = {
        "n": 3,
        "f": 2.5,
        "nan": math.nan,
        "s": "x",
        "b": True,
        "nested": {"l": [1, 2.25, "z"]},
        "none": None,
    }
    item = to_item(data)
    assert "none" not in item
    back = from_item(item)
    assert back == {"n": 3, "f": 2.5, "nan": None, "s": "x", "b": True, "nested": {"l": [1, 2.25, "z"]}}
    assert isinstance(back["n"], int)


def test_s3_uris_and_safe_names() -> None:
    assert parse_s3_uri("s3://my-bucket/a/b.csv") == ("my-bucket", "a/b.csv")
    for bad in ("http://x/y", "s3://", "s3://UPPER/key", "s3://bucket"):
        with pytest.raises(InvalidInputError):
            parse_s3_uri(bad)
    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name("매출 데이터 2024.csv") == "2024.csv"
    assert safe_name("...") == "upload"
    assert S3_URI_IN_TEXT.search("load s3://b-1/x/y.csv please").group(0) == "s3://b-1/x/y.csv"  # type: ignore[union-attr]
    assert DATASET_ID_IN_TEXT.search("profile ds-0123456789abcdef0123 now") is not None


def test_settings_nested_env_and_agent_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("ANALYSTACK_")]:
        monkeypatch.delenv(name)  # a local cloud in this process sets its own
    monkeypatch.setenv("ANALYSTACK_RESOURCES__HUB_BUCKET", "hub-x")
    monkeypatch.setenv("ANALYSTACK_ENDPOINTS__AGENT_FUNCTIONS", json.dumps({"quality": "fn-q"}))
    monkeypatch.setenv("ANALYSTACK_ENDPOINTS__PUBLIC_API_URL", "https://api.example.com/prod/")
    settings = Settings()
    assert settings.resources.hub_bucket == "hub-x"
    assert settings.endpoints.agent_functions == {"quality": "fn-q"}
    assert settings.endpoints.url_for("quality") == "https://api.example.com/prod/a2a/quality"
    local = AgentEndpoints(agent_urls={"quality": "http://127.0.0.1:8202/"})
    assert local.url_for("quality") == "http://127.0.0.1:8202"
    monkeypatch.setenv("ANALYSTACK_LIMITS__MAX_ROWS", "-5")
    with pytest.raises(ValueError, match="max_rows"):
        Settings()


def test_intrinsics_resolve_like_cloudformation() -> None:
    ctx = StackContext(
        stack_name="st", region="eu-west-1", parameters={"Stage": "dev"}, physical_ids={"T": "st-t"}
    )
    ctx.attributes[("Fn", "Arn")] = "arn:fn"
    value = {
        "a": {"Fn::Sub": "${AWS::StackName}-${Stage}-${AWS::Region}"},
        "b": {"Ref": "T"},
        "c": {"Fn::GetAtt": ["Fn", "Arn"]},
        "d": {"Fn::Sub": "${Fn.Arn}/x"},
        "e": {"Fn::Join": ["-", ["a", {"Ref": "Stage"}]]},
        "f": {"Fn::Sub": ["${X}!", {"X": {"Ref": "T"}}]},
    }
    assert resolve(value, ctx) == {
        "a": "st-dev-eu-west-1",
        "b": "st-t",
        "c": "arn:fn",
        "d": "arn:fn/x",
        "e": "a-dev",
        "f": "st-t!",
    }
    with pytest.raises(KeyError):
        resolve({"Ref": "Nope"}, ctx)
    with pytest.raises(ValueError, match="Fn::ImportValue"):
        resolve({"Fn::ImportValue": "x"}, ctx)


def test_template_loads_with_short_form_tags() -> None:
    template = load_template()
    table = template["Resources"]["TasksTable"]["Properties"]
    assert table["TableName"] == {"Fn::Sub": "${AWS::StackName}-tasks"}
    assert template["Resources"]["AnalysisStateMachine"]["Properties"]["Role"] == {
        "Fn::GetAtt": ["PlanExecutionRole", "Arn"]
    }


def test_routes_match_like_api_gateway() -> None:
    job = Route(method="GET", path="/jobs/{job_id}", function="G").pattern()
    assert job.match("/jobs/job-1").groupdict() == {"job_id": "job-1"}  # type: ignore[union-attr]
    assert job.match("/jobs/job-1/events") is None
    proxy = Route(method="ANY", path="/a2a/quality/{proxy+}", function="Q").pattern()
    assert proxy.match("/a2a/quality/.well-known/agent-card.json").groupdict() == {  # type: ignore[union-attr]
        "proxy": ".well-known/agent-card.json"
    }


def test_http_api_event_encodes_binary_bodies() -> None:
    event = build_http_api_event(
        "POST",
        "/analyze",
        "a=1&b=two",
        {"content-type": "multipart/form-data; boundary=x", "cookie": "c=1"},
        b"\x00\xff",
        "POST /analyze",
        {},
    )
    assert event["isBase64Encoded"] is True
    assert event["queryStringParameters"] == {"a": "1", "b": "two"}
    assert event["cookies"] == ["c=1"]
    text = build_http_api_event(
        "POST", "/", "", {"content-type": "application/json"}, b'{"x":1}', "$default", {}
    )
    assert text["body"] == '{"x":1}'
    assert text["isBase64Encoded"] is False


def test_request_text_is_cleaned_and_bounded() -> None:
    assert clean_request_text("  analyze\x00 this\x1b  ") == "analyze  this"
    assert clean_request_text(None) == "Analyze this data"
    with pytest.raises(InvalidInputError, match="limit"):
        clean_request_text("x" * (MAX_REQUEST_CHARS + 1))


def test_failure_messages_come_from_the_lambda_error_payload() -> None:
    cause = json.dumps({"errorType": "AgentTaskFailedError", "errorMessage": "The file is a PNG image"})
    assert _error_message({"Error": "AgentTaskFailedError", "Cause": cause}) == "The file is a PNG image"
    assert _error_message({"Error": "States.Timeout", "Cause": ""}) == "States.Timeout"
    assert _error_message(None) == "An analysis step failed"


def test_template_narration_cites_step_outputs_and_says_no_llm() -> None:
    text = narrate(
        request="analyze",
        status="succeeded",
        steps={
            "ingest": {"outputs": {"rows": "2415", "columns": "11", "format": "csv", "dataset_id": "ds-1"}},
            "quality": {"outputs": {"score": "97.5", "grade": "A", "issues": "3", "report_id": "art-1"}},
        },
        error=None,
        llm_configured=False,
        planner="heuristic",
        rationale="ingest then profile",
    )
    assert "2,415 rows x 11 columns" in text
    assert "97.5/100 (grade A)" in text
    assert "Plan: ingest then profile" in text
    assert "no LLM is configured" in text


def test_skill_outcomes_are_emitted_as_cloudwatch_emf(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from analystack.telemetry import record_skill_outcome

    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    record_skill_outcome("quality", "assess_quality", succeeded=False, duration_ms=12.5)
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    failed = next(r for r in records if "SkillFailed" in r)
    assert failed["SkillFailed"] == [1.0]
    assert failed["agent"] == "quality"
    assert failed["skill"] == "assess_quality"
    assert failed["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Analystack"
    duration = next(r for r in records if "SkillDuration" in r)
    assert duration["SkillDuration"] == [12.5]


def test_conditions_and_if_follow_cloudformation() -> None:
    ctx = StackContext(stack_name="st", region="us-east-1", parameters={"Email": "", "Reserved": "5"})
    ctx.evaluate_conditions(
        {
            "HasEmail": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Email"}, ""]}]},
            "Reserve": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Reserved"}, 0]}]},
            "Both": {"Fn::And": [{"Condition": "HasEmail"}, {"Condition": "Reserve"}]},
        }
    )
    assert ctx.conditions == {"HasEmail": False, "Reserve": True, "Both": False}
    value = {
        "Concurrency": {"Fn::If": ["Reserve", {"Ref": "Reserved"}, {"Ref": "AWS::NoValue"}]},
        "Mail": {"Fn::If": ["HasEmail", {"Ref": "Email"}, {"Ref": "AWS::NoValue"}]},
        "List": ["a", {"Fn::If": ["Both", "b", {"Ref": "AWS::NoValue"}]}],
    }
    assert resolve(value, ctx) == {"Concurrency": "5", "List": ["a"]}
