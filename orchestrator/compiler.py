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
* Adaptive execution lives in the state machine's Catch paths:

  - ``ReplanRequestedError`` (an agent's assumption broke: no usable target, an unknown column)
    goes to ``Replan`` (the orchestrator's ``replan`` skill). It answers with an action:
    ``continued`` (it started a new execution for the remaining steps; this one ends in
    ``Replanned``), ``ask`` (``AskUser`` pauses on a task token until the user answers or
    ``$.clarify_timeout_s`` passes, then ``ReplanWithAnswer`` / ``ReplanAfterTimeout``), or
    anything else (``RecordFailure``). The replanner bounds the number of replans per job.
  - A step with a failover agent catches the errors of an agent that is down
    (:data:`FAILOVER_ERRORS`, after the Retry) and runs ``Failover_<step>`` on the alternative
    agent with the same skill, which records the failover in the job's event log.
  - Everything else is caught and routed to ``RecordFailure`` (the orchestrator's ``finalize``
    skill with ``status: failed``) and then a ``Fail`` state, so the job record is always closed.

* Steps already completed by an earlier execution of the same job (``completed``) are not
  compiled: their results come in with the execution input's ``steps``.
* Agents reached only over HTTP (registered at runtime with a URL, no Lambda function) are
  invoked through the orchestrator's ``relay`` skill, which sends them the A2A message.

State machines are content-addressed (``state_machine_name``): the definition holds the plan's
shape but not the request text, so identical plans reuse one state machine instead of creating
one per job.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from analystack.errors import InvalidInputError
from orchestrator.plan import ExecutionRef, Plan, PlanStep, StepOutputRef

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
FINALIZE_STATE = "Finalize"
RECORD_FAILURE_STATE = "RecordFailure"
JOB_FAILED_STATE = "JobFailed"
REPLAN_STATE = "Replan"
AFTER_REPLAN_STATE = "AfterReplan"
ASK_USER_STATE = "AskUser"
REPLAN_WITH_ANSWER_STATE = "ReplanWithAnswer"
REPLAN_AFTER_TIMEOUT_STATE = "ReplanAfterTimeout"
REPLANNED_STATE = "Replanned"
#: The states every compiled machine carries for adaptive execution, in definition order.
REPLAN_STATES = (
    "Replan",
    "AfterReplan",
    "AskUser",
    "ReplanWithAnswer",
    "ReplanAfterTimeout",
    "Replanned",
)
LAMBDA_INVOKE_WAIT = "arn:aws:states:::lambda:invoke.waitForTaskToken"
#: Execution input field holding the clarification timeout (an integer number of seconds).
CLARIFY_TIMEOUT_PATH = "$.clarify_timeout_s"
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
REPLAN_CATCH: dict[str, Any] = {
    "ErrorEquals": ["ReplanRequestedError"],
    "ResultPath": "$.error",
    "Next": REPLAN_STATE,
}
#: A step's catchers without a failover: replan on a broken assumption, else record the failure.
STEP_CATCH: list[dict[str, Any]] = [REPLAN_CATCH, *CATCH]
#: What an agent that is down looks like to Step Functions once the Retry gave up: unreachable
#: (our handler's ``AgentUnavailableError``), throttled or missing functions, crashed or timed-out
#: runtimes. An agent that ran and said no (``AgentTaskFailedError``) does not fail over: another
#: agent with the same skill would say no to the same input.
FAILOVER_ERRORS: list[str] = [
    "AgentUnavailableError",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.ResourceNotFoundException",
    "Lambda.Unknown",
    "Runtime.ExitError",
    "Runtime.ImportModuleError",
    "Sandbox.Timedout",
    "States.Timeout",
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


@dataclass(frozen=True)
class Failover:
    """Where a step goes when its planned agent is down: another agent with the same skill."""

    agent: str


def compile_plan(
    plan: Plan,
    *,
    function_arns: Mapping[str, str],
    finalize_function_arn: str,
    relay_urls: Mapping[str, str] | None = None,
    failovers: Mapping[str, Failover] | None = None,
    completed: Collection[str] = (),
) -> dict[str, Any]:
    """Turn a validated plan into an ASL definition (a JSON-ready dict).

    Args:
        plan: the plan to run.
        function_arns: agent name -> Lambda function name or ARN.
        finalize_function_arn: the orchestrator's function, which records the outcome, replans and
            relays to HTTP-only agents.
        relay_urls: agent name -> A2A base URL, for agents without a function (reached through the
            orchestrator's ``relay`` skill).
        failovers: step id -> the alternative agent to run the step on when its agent is down.
        completed: ids of steps an earlier execution finished (their results are in the input).

    Raises:
        InvalidInputError: a step's agent can be reached neither by function nor by URL, or the
            finalize function is missing.
    """
    relay_urls = relay_urls or {}
    failovers = failovers or {}
    done = set(completed)
    reachable = {name for name, arn in function_arns.items() if arn} | set(relay_urls)
    wanted = {step.agent for step in plan.steps if step.id not in done}
    wanted |= {failovers[step.id].agent for step in plan.steps if step.id in failovers}
    missing = sorted(wanted - reachable)
    if missing:
        raise InvalidInputError(
            f"No function is deployed for agent(s) {', '.join(missing)} used by the plan",
            details={"agents": ",".join(missing)},
        )
    if not finalize_function_arn:
        raise InvalidInputError("No finalize function was given for the plan")

    unknown = sorted(done - {step.id for step in plan.steps})
    if unknown:
        raise InvalidInputError(f"Completed steps not in the plan: {', '.join(unknown)}")
    if len(done) == len(plan.steps):
        raise InvalidInputError("Every step of the plan is already completed; nothing is left to run")

    targets = _Targets(function_arns, relay_urls, finalize_function_arn)
    levels = [level for level in ([s for s in lvl if s.id not in done] for lvl in plan.levels()) if level]
    names = _level_state_names(levels)
    states: dict[str, Any] = {}
    finished: list[str] = [step.id for step in plan.steps if step.id in done]
    for index, level in enumerate(levels):
        next_state = names[index + 1] if index + 1 < len(levels) else FINALIZE_STATE
        if len(level) == 1:
            step = level[0]
            state = targets.task(step)
            alternative = failovers.get(step.id)
            if alternative is not None:
                failover_name = _failover_state_name(step)
                backup = targets.task(step, failover=alternative)
                backup.update({"Catch": _top_level_catch(), "Next": next_state})
                states[names[index]] = state
                state.update({"Catch": _top_level_catch(failover_to=failover_name), "Next": next_state})
                states[failover_name] = backup
            else:
                state.update({"Catch": _top_level_catch(), "Next": next_state})
                states[names[index]] = state
        else:
            states[names[index]] = _parallel(level, targets, failovers, finished, next_state)
        finished.extend(step.id for step in level)

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
    states.update(_replan_states(finalize_function_arn))

    return {
        "Comment": _summary(levels, len(done)),
        "StartAt": names[0],
        "States": states,
    }


def _replan_states(orchestrator_arn: str) -> dict[str, Any]:
    """Replan -> AfterReplan (Choice) -> Replanned | AskUser -> ReplanWithAnswer/AfterTimeout."""

    def replan_task(rpc_id: str, extra: dict[str, Any]) -> dict[str, Any]:
        task = _invoke_task(
            orchestrator_arn,
            rpc_id,
            {
                "skill": "replan",
                "job_id.$": "$.job_id",
                "error.$": "$.error",
                "steps.$": "$.steps",
                "replans.$": "$.replans",
                **extra,
            },
        )
        task.update(
            {
                "ResultSelector": {"outputs.$": "$.Payload.outputs"},
                "ResultPath": "$.replan",
                "Retry": _copy(RETRY),
                "Catch": _copy(CATCH),
                "Next": AFTER_REPLAN_STATE,
            }
        )
        return task

    ask = {
        "Type": "Task",
        "Resource": LAMBDA_INVOKE_WAIT,
        "Parameters": {
            "FunctionName": orchestrator_arn,
            "Payload": {
                "a2a": {
                    "jsonrpc": "2.0",
                    "id": "ask",
                    "method": "SendMessage",
                    "params": {
                        "message": {
                            "role": "ROLE_USER",
                            "messageId.$": "States.UUID()",
                            "parts": [
                                {
                                    "data": {
                                        "skill": "ask",
                                        "job_id.$": "$.job_id",
                                        "task_token.$": "$$.Task.Token",
                                    }
                                }
                            ],
                        }
                    },
                }
            },
        },
        # The user's answer (SendTaskSuccess output) lands here; silence ends in States.Timeout.
        "TimeoutSecondsPath": CLARIFY_TIMEOUT_PATH,
        "ResultPath": "$.answer",
        "Catch": [
            {
                "ErrorEquals": ["States.Timeout"],
                "ResultPath": "$.ask_error",
                "Next": REPLAN_AFTER_TIMEOUT_STATE,
            },
            *_copy(CATCH),
        ],
        "Next": REPLAN_WITH_ANSWER_STATE,
    }
    return {
        REPLAN_STATE: replan_task("replan", {}),
        AFTER_REPLAN_STATE: {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.replan.outputs.action", "StringEquals": "continued", "Next": REPLANNED_STATE},
                {"Variable": "$.replan.outputs.action", "StringEquals": "ask", "Next": ASK_USER_STATE},
            ],
            "Default": RECORD_FAILURE_STATE,
        },
        ASK_USER_STATE: ask,
        REPLAN_WITH_ANSWER_STATE: replan_task("replan_answer", {"answer.$": "$.answer"}),
        REPLAN_AFTER_TIMEOUT_STATE: replan_task("replan_timeout", {"timed_out": "true"}),
        REPLANNED_STATE: {
            "Type": "Succeed",
            "Comment": "The remaining steps run in the execution the replanner started",
        },
    }


def _top_level_catch(*, failover_to: str | None = None) -> list[dict[str, Any]]:
    """``STEP_CATCH``, with the failover catcher between replanning and recording the failure."""
    catches = _copy(STEP_CATCH)
    if failover_to:
        catches.insert(
            1, {"ErrorEquals": list(FAILOVER_ERRORS), "ResultPath": "$.error", "Next": failover_to}
        )
    return catches


def _failover_state_name(step: PlanStep) -> str:
    # Step ids are lower-case, so a capitalised prefix never collides with one.
    return f"Failover_{step.id}"[:MAX_STATE_NAME]


class _Targets:
    """How each agent is invoked: its own function, or the orchestrator's relay over HTTP."""

    def __init__(
        self, function_arns: Mapping[str, str], relay_urls: Mapping[str, str], relay_arn: str
    ) -> None:
        self._functions = function_arns
        self._relay_urls = relay_urls
        self._relay_arn = relay_arn

    def task(self, step: PlanStep, *, failover: Failover | None = None) -> dict[str, Any]:
        agent = failover.agent if failover else step.agent
        extra: dict[str, Any] = {}
        if failover is not None:
            extra = {"failover_from": step.agent, "failover_error.$": "$.error"}
        if self._functions.get(agent):
            return _step_task(step, self._functions[agent], extra=extra)
        # An HTTP-only agent: the orchestrator sends it the A2A message and returns its result.
        relay = {
            "skill": "relay",
            "agent": agent,
            "agent_url": self._relay_urls[agent],
            "agent_skill": step.skill,
        }
        return _step_task(step, self._relay_arn, extra={**extra, **relay})


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


def _step_task(
    step: PlanStep, function_arn: str, *, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    data = {
        "skill": step.skill,
        "job_id.$": "$.job_id",
        "step_id": step.id,
        "request.$": "$.request",
        "inputs": step_inputs(step),
        **(extra or {}),
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
    level: list[PlanStep],
    targets: _Targets,
    failovers: Mapping[str, Failover],
    completed: list[str],
    next_state: str,
) -> dict[str, Any]:
    branches = []
    for step in level:
        task = targets.task(step)
        task["End"] = True
        branch_states = {step.id: task}
        alternative = failovers.get(step.id)
        if alternative is not None:
            # Failover stays inside the branch so the sibling branches keep their results; any
            # other error propagates to the Parallel state's Catch.
            failover_name = _failover_state_name(step)
            task["Catch"] = [
                {"ErrorEquals": list(FAILOVER_ERRORS), "ResultPath": "$.error", "Next": failover_name}
            ]
            backup = targets.task(step, failover=alternative)
            backup["End"] = True
            branch_states[failover_name] = backup
        branches.append({"StartAt": step.id, "States": branch_states})
    # Every branch starts from the same input, so earlier steps are read from branch 0 and each
    # new step from its own branch.
    selector = {f"{step_id}.$": f"$[0].steps.{step_id}" for step_id in completed}
    selector.update({f"{step.id}.$": f"$[{index}].steps.{step.id}" for index, step in enumerate(level)})
    return {
        "Type": "Parallel",
        "Branches": branches,
        "ResultSelector": selector,
        "ResultPath": "$.steps",
        "Catch": _top_level_catch(),
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


def _summary(levels: list[list[PlanStep]], completed: int = 0) -> str:
    parts = [
        level[0].id if len(level) == 1 else "[" + " | ".join(step.id for step in level) + "]"
        for level in levels
    ]
    count = sum(len(level) for level in levels)
    resumed = f", resuming after {completed} completed" if completed else ""
    return f"Analystack plan ({count} steps{resumed}): {' -> '.join(parts)} -> finalize"


def _copy(value: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Callers may mutate the returned definition; the module constants must stay untouched.
    return copy.deepcopy(value)
