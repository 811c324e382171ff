"""The template is the source of truth: what it declares exists after the local deploy."""

from __future__ import annotations

import json
from typing import Any

import pytest

from analystack.aws import client
from analystack.localcloud.template import load_template

pytestmark = pytest.mark.functional


def _resources(kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in load_template()["Resources"].items() if v["Type"] == kind}


def test_every_table_exists_with_the_template_key_schema(cloud: Any) -> None:
    ddb = client("dynamodb")
    tables = _resources("AWS::DynamoDB::Table")
    assert tables
    for logical_id, resource in tables.items():
        described = ddb.describe_table(TableName=cloud.stack.tables[logical_id])["Table"]
        assert described["KeySchema"] == resource["Properties"]["KeySchema"]
        expected_indexes = {
            i["IndexName"]: i["KeySchema"] for i in resource["Properties"].get("GlobalSecondaryIndexes", [])
        }
        actual_indexes = {i["IndexName"]: i["KeySchema"] for i in described.get("GlobalSecondaryIndexes", [])}
        assert actual_indexes == expected_indexes


def test_every_bucket_exists_with_versioning(cloud: Any) -> None:
    s3 = client("s3")
    for logical_id, resource in _resources("AWS::S3::Bucket").items():
        name = cloud.stack.buckets[logical_id]
        status = s3.get_bucket_versioning(Bucket=name).get("Status")
        assert status == resource["Properties"]["VersioningConfiguration"]["Status"]


def test_every_function_and_state_machine_exists(cloud: Any) -> None:
    functions = {f["FunctionName"] for f in client("lambda").list_functions()["Functions"]}
    assert {spec.name for spec in cloud.stack.functions.values()} <= functions
    assert set(cloud.stack.functions) == set(_resources("AWS::Serverless::Function"))
    machines = {m["stateMachineArn"] for m in client("stepfunctions").list_state_machines()["stateMachines"]}
    assert set(cloud.stack.state_machines) == set(_resources("AWS::Serverless::StateMachine"))
    assert set(cloud.stack.state_machines.values()) <= machines


def test_every_http_api_route_is_served(cloud: Any) -> None:
    declared = {
        (event["Properties"]["Method"].upper(), event["Properties"]["Path"])
        for resource in _resources("AWS::Serverless::Function").values()
        for event in resource["Properties"].get("Events", {}).values()
        if event["Type"] == "HttpApi"
    }
    assert declared == {(r.method, r.path) for r in cloud.stack.routes}


def test_monitoring_resources_exist(cloud: Any) -> None:
    logs = client("logs")
    for logical_id, resource in _resources("AWS::Logs::LogGroup").items():
        name = cloud.stack.log_groups[logical_id]
        group = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"][0]
        assert group["retentionInDays"] == int(load_template()["Parameters"]["LogRetentionDays"]["Default"])
        assert resource["Properties"]["LogGroupName"]["Fn::Sub"].endswith(name.rsplit("-", 1)[-1])
    cloudwatch = client("cloudwatch")
    alarms = {a["AlarmName"]: a for a in cloudwatch.describe_alarms()["MetricAlarms"]}
    assert set(cloud.stack.alarms) == set(_resources("AWS::CloudWatch::Alarm"))
    topic = cloud.stack.topics["AlarmTopic"]
    for name in cloud.stack.alarms.values():
        assert alarms[name]["AlarmActions"] == [topic]
    dashboard = cloudwatch.get_dashboard(DashboardName=cloud.stack.dashboards["Dashboard"])
    widgets = json.loads(dashboard["DashboardBody"])["widgets"]
    titles = {w["properties"]["title"] for w in widgets}
    assert {"Errors per function", "Duration p95 per function (ms)", "Throttles per function"} <= titles
    assert "Job success rate (%)" in titles
    # The alarm e-mail subscription is conditional and off by default.
    assert "AlarmEmailSubscription" in cloud.stack.skipped


def test_hub_lifecycle_rules_archive_intermediates(cloud: Any) -> None:
    rules = client("s3").get_bucket_lifecycle_configuration(Bucket=cloud.stack.buckets["HubBucket"])["Rules"]
    by_id = {r["ID"]: r for r in rules}
    declared = load_template()["Resources"]["HubBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert set(by_id) == {r["Id"] for r in declared}
    assert by_id["archive-intermediates"]["Filter"]["Prefix"] == "datasets/"
    assert [t["StorageClass"] for t in by_id["archive-intermediates"]["Transitions"]] == [
        "STANDARD_IA",
        "GLACIER_IR",
    ]
