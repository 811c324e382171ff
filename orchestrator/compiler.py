"""Compile a ``Plan`` into an Amazon States Language definition.

The definition uses JSONPath only: moto's interpreter (the embedded local cloud) does not run
JSONata, and the same definition must run there, on LocalStack and on AWS.

Contract with the orchestrator and the agents:

* Execution input: ``{"job_id", "request", "session_id", "upload": {"source_uri", "filename"}
  (uploads only), "dataset_id" (hub datasets only), "steps": {}}``.
* Every plan step is a Task invoking its agent's Lambda directly with an A2A ``SendMessage``
  JSON-RPC request under ``"a2a"`` (the shared Lambda handler replays it through the agent's
  A2A app). Its compact result (``outputs``, ``task_id``, ``state``) lands at
  ``$.steps.<step id>``, which is where later steps' ``StepOutputRef`` inputs read from.
* Independent steps (one topological level) run as one ``Parallel`` state whose
  ``ResultSelector`` rebuilds the whole ``steps`` map from the branch outputs, because a
  Parallel state's result is an array of branch states, not a merge.
* Any failure is caught and routed to ``RecordFailure`` (the orchestrator's ``finalize`` skill
  with ``status: failed``) and then a ``Fail`` state, so the job record is always closed.

State machines are content-addressed (``state_machine_name``): the definition holds the plan's
shape but not the request text, so identical plans reuse one state machine instead of creating
one per job.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from analystack.errors import InvalidInputError
from orchestrator.plan import ExecutionRef, Plan, PlanStep, StepOutputRef

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
FINALIZE_STATE = "Finalize"
RECORD_FAILURE_STATE = "RecordFailure"
JOB_FAILED_STATE = "JobFailed"
MAX_STATE_NAME = 80

#: Transient failures worth retrying: Lambda service hiccups and an agent that crashed or was
#: unreachable. ``AgentTaskFailedError`` (the agent ran and said no) is not retried: the same
#: input would fail the same way.
RETRY: list[dict[str, Any]] = [
    {
        "ErrorEquals": [
            "Lambda.ServiceException",
            "Lambda.AWSLambdaException",
            "Lambda.SdkClientException",
            "Lambda.TooManyRequestsException",
            "AgentUnavailableError",
        ],
        "IntervalSeconds": 1,
        "MaxAttempts": 2,
        "BackoffRate": 2.0,
    }
]
CATCH: list[dict[str, Any]] = [
    {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": RECORD_FAILURE_STATE}
]
RESULT_SELECTOR: dict[str, str] = {
    "outputs.$": "$.Payload.outputs",
    "task_id.$": "$.Payload.task_id",
    "state.$": "$.Payload.state",
    "summary.$": "$.Payload.summary",
}
FAILURE_CAUSE = "One or more analysis steps failed; see the job record for details"

_STATE_NAME_SAFE = re.compile(r"[^A-Za-z0-9_]")
_PREFIX = re.compile(r"^[A-Za-z0-9_-]{1,60}$")


def compile_plan(
    plan: Plan, *, function_arns: Mapping[str, str], finalize_function_arn: str
) -> dict[str, Any]:
    """Turn a validated plan into an ASL definition (a JSON-ready dict).

    Args:
        plan: the plan to run.
        function_arns: agent name -> Lambda function name or ARN.
        finalize_function_arn: the orchestrator's function, which records the outcome.

    Raises:
        InvalidInputError: a step's agent has no function, or the finalize function is missing.
    """
    missing = sorted({step.agent for step in plan.steps if not function_arns.get(step.agent)})
    if missing:
        raise InvalidInputError(
            f"No function is deployed for agent(s) {', '.join(missing)} used by the plan",
            details={"agents": ",".join(missing)},
        )
    if not finalize_function_arn:
        raise InvalidInputError("No finalize function was given for the plan")

    levels = plan.levels()
    names = _level_state_names(levels)
    states: dict[str, Any] = {}
    completed: list[str] = []
    for index, level in enumerate(levels):
        next_state = names[index + 1] if index + 1 < len(levels) else FINALIZE_STATE
        if len(level) == 1:
            state = _step_task(level[0], function_arns[level[0].agent])
            state.update({"Catch": _copy(CATCH), "Next": next_state})
        else:
            state = _parallel(level, function_arns, completed, next_state)
        states[names[index]] = state
        completed.extend(step.id for step in level)

    # Finalize also catches: if recording success fails, RecordFailure still closes the job.
    finalize = _invoke_task(
        finalize_function_arn,
        "finalize",
        {"skill": "finalize", "job_id.$": "$.job_id", "status": "succeeded", "steps.$": "$.steps"},
    )
    finalize.update({"ResultPath": None, "Retry": _copy(RETRY), "Catch": _copy(CATCH), "End": True})
    states[FINALIZE_STATE] = finalize

    record_failure = _invoke_task(
        finalize_function_arn,
        "record_failure",
        {
            "skill": "finalize",
            "job_id.$": "$.job_id",
            "status": "failed",
            "error.$": "$.error",
            "steps.$": "$.steps",
        },
    )
    record_failure.update({"ResultPath": None, "Retry": _copy(RETRY), "Next": JOB_FAILED_STATE})
    states[RECORD_FAILURE_STATE] = record_failure
    states[JOB_FAILED_STATE] = {"Type": "Fail", "Error": "AnalysisFailed", "Cause": FAILURE_CAUSE}

    return {
        "Comment": _summary(levels),
        "StartAt": names[0],
        "States": states,
    }


def state_machine_name(definition: Mapping[str, Any], prefix: str = "analystack-plan") -> str:
    """A name derived from the definition's content, so identical plans share a machine.

    The hash covers the canonical JSON (sorted keys, compact separators), so key order and
    formatting never change the name; any change to the plan's shape, inputs or functions does.
    """
    if not _PREFIX.fullmatch(prefix):
        raise InvalidInputError("A state machine prefix must be 1-60 letters, digits, '-' or '_'")
    canonical = json.dumps(definition, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
    return f"{prefix}-{digest}"


def step_inputs(step: PlanStep) -> dict[str, str]:
    """A step's inputs as Parameters: literals as-is, references as ``name.$`` JSONPaths."""
    compiled: dict[str, str] = {}
    for name, value in step.inputs.items():
        if isinstance(value, ExecutionRef):
            compiled[f"{name}.$"] = value.path
        elif isinstance(value, StepOutputRef):
            compiled[f"{name}.$"] = f"$.steps.{value.step}.outputs.{value.output}"
        else:
            compiled[name] = value
    return compiled


def _step_task(step: PlanStep, function_arn: str) -> dict[str, Any]:
    data = {
        "skill": step.skill,
        "job_id.$": "$.job_id",
        "step_id": step.id,
        "request.$": "$.request",
        "inputs": step_inputs(step),
    }
    task = _invoke_task(function_arn, step.id, data)
    task.update(
        {
            "ResultSelector": dict(RESULT_SELECTOR),
            "ResultPath": f"$.steps.{step.id}",
            "Retry": _copy(RETRY),
        }
    )
    return task


def _invoke_task(function_arn: str, rpc_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """A ``lambda:invoke`` Task carrying one A2A ``SendMessage`` with a single data part."""
    return {
        "Type": "Task",
        "Resource": LAMBDA_INVOKE,
        "Parameters": {
            "FunctionName": function_arn,
            "Payload": {
                "a2a": {
                    "jsonrpc": "2.0",
                    "id": rpc_id,
                    "method": "SendMessage",
                    "params": {
                        "message": {
                            "role": "ROLE_USER",
                            "messageId.$": "States.UUID()",
                            "parts": [{"data": data}],
                        }
                    },
                }
            },
        },
    }


def _parallel(
    level: list[PlanStep], function_arns: Mapping[str, str], completed: list[str], next_state: str
) -> dict[str, Any]:
    branches = []
    for step in level:
        task = _step_task(step, function_arns[step.agent])
        task["End"] = True
        branches.append({"StartAt": step.id, "States": {step.id: task}})
    # Every branch starts from the same input, so earlier steps are read from branch 0 and each
    # new step from its own branch.
    selector = {f"{step_id}.$": f"$[0].steps.{step_id}" for step_id in completed}
    selector.update({f"{step.id}.$": f"$[{index}].steps.{step.id}" for index, step in enumerate(level)})
    return {
        "Type": "Parallel",
        "Branches": branches,
        "ResultSelector": selector,
        "ResultPath": "$.steps",
        "Catch": _copy(CATCH),
        "Next": next_state,
    }


def _level_state_names(levels: list[list[PlanStep]]) -> list[str]:
    """A single step's state is named after the step; a Parallel after its level and steps.

    Step ids are lower-case, so the capitalised ``ParallelN_...``, ``Finalize``,
    ``RecordFailure`` and ``JobFailed`` can never collide with them.
    """
    names = []
    for index, level in enumerate(levels):
        if len(level) == 1:
            names.append(level[0].id)
        else:
            name = f"Parallel{index + 1}_" + "_".join(step.id for step in level)
            names.append(_STATE_NAME_SAFE.sub("_", name)[:MAX_STATE_NAME])
    return names


def _summary(levels: list[list[PlanStep]]) -> str:
    parts = [
        level[0].id if len(level) == 1 else "[" + " | ".join(step.id for step in level) + "]"
        for level in levels
    ]
    count = sum(len(level) for level in levels)
    return f"Analystack plan ({count} steps): {' -> '.join(parts)} -> finalize"


def _copy(value: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Callers may mutate the returned definition; the module constants must stay untouched.
    return copy.deepcopy(value)
