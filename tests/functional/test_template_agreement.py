"""The template is the source of truth: what it declares exists after the local deploy."""

from __future__ import annotations

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
