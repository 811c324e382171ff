"""The orchestrator's Step Functions adapter against moto over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from analystack.aws import client
from orchestrator.workflow import StepFunctionsRunner

pytestmark = pytest.mark.functional

DEFINITION = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
ROLE = "arn:aws:iam::123456789012:role/analystack-test"


def test_a_plan_machine_is_created_once_and_recreated_when_deleted(cloud: Any) -> None:
    sfn = client("stepfunctions")
    runner = StepFunctionsRunner(sfn_client=sfn, role_arn=ROLE)
    first, machine = runner.run("analystack-plan-test", DEFINITION, name="job-a", payload={})
    second, same = runner.run("analystack-plan-test", DEFINITION, name="job-b", payload={})
    assert same == machine
    assert {first, second} <= {
        e["executionArn"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]
    }

    # Another runner (a cold container) finds the existing machine instead of failing.
    other = StepFunctionsRunner(sfn_client=sfn, role_arn=ROLE)
    assert other.run("analystack-plan-test", DEFINITION, name="job-c", payload={})[1] == machine

    # Deleted behind the warm runner's back: it creates the machine again and starts the job.
    sfn.delete_state_machine(stateMachineArn=machine)
    third, recreated = runner.run("analystack-plan-test", DEFINITION, name="job-d", payload={})
    assert sfn.describe_execution(executionArn=third)["stateMachineArn"] == recreated
