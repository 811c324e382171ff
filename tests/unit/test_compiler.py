"""Plan -> ASL: the exact contract the state machine, the agents and ``finalize`` rely on."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from analystack.errors import InvalidInputError
from orchestrator.compiler import (
    CATCH,
    FAILOVER_ERRORS,
    REPLAN_STATES,
    RESULT_SELECTOR,
    RETRY,
    STEP_CATCH,
    Failover,
    compile_plan,
    state_machine_name,
)
from orchestrator.plan import Plan, validate_plan
from orchestrator.planner import DataSource, plan_request

pytestmark = pytest.mark.unit

AGENTS = ["ingestion", "quality", "eda", "visualization", "automl", "mlops", "codegen", "nlp", "realtime"]
ARNS = {agent: f"arn:aws:lambda:us-east-1:000000000000:function:analystack-{agent}" for agent in AGENTS}
FINALIZE = "arn:aws:lambda:us-east-1:000000000000:function:analystack-orchestrator"
HEADLINE = "analyze the sales data and build a prediction model"


def compile_(plan: Plan, **kwargs: Any) -> dict[str, Any]:
    return compile_plan(plan, function_arns=kwargs.get("function_arns", ARNS), finalize_function_arn=FINALIZE)


def data_part(task: dict[str, Any]) -> dict[str, Any]:
    message = task["Parameters"]["Payload"]["a2a"]["params"]["message"]
    (part,) = message["parts"]
    return part["data"]


def all_states(definition: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], bool]]:
    """(name, state, top_level) for every state, including those inside Parallel branches."""
    for name, state in definition["States"].items():
        yield name, state, True
        for branch in state.get("Branches", []):
            for inner_name, inner in branch["States"].items():
                yield inner_name, inner, False


def linear_plan() -> Plan:
    return plan_request("이상치를 확인해줘", source=DataSource(kind="upload"))


def test_linear_plan_structure() -> None:
    definition = compile_(linear_plan())
    assert definition["StartAt"] == "ingest"
    assert list(definition["States"]) == [
        "ingest",
        "quality",
        "Finalize",
        "RecordFailure",
        "JobFailed",
        *REPLAN_STATES,
    ]
    ingest, quality = definition["States"]["ingest"], definition["States"]["quality"]
    assert ingest["Next"] == "quality"
    assert quality["Next"] == "Finalize"
    assert ingest["Type"] == "Task"
    assert ingest["Resource"] == "arn:aws:states:::lambda:invoke"
    assert ingest["Parameters"]["FunctionName"] == ARNS["ingestion"]
    assert quality["Parameters"]["FunctionName"] == ARNS["quality"]
    assert ingest["ResultSelector"] == {
        "outputs.$": "$.Payload.outputs",
        "task_id.$": "$.Payload.task_id",
        "state.$": "$.Payload.state",
        "summary.$": "$.Payload.summary",
    }
    assert ingest["ResultPath"] == "$.steps.ingest"
    assert quality["ResultPath"] == "$.steps.quality"
    assert "Comment" in definition
    assert "ingest -> quality" in definition["Comment"]


def test_task_payload_is_an_a2a_send_message() -> None:
    task = compile_(linear_plan())["States"]["quality"]
    rpc = task["Parameters"]["Payload"]["a2a"]
    assert rpc["jsonrpc"] == "2.0"
    assert rpc["id"] == "quality"
    assert rpc["method"] == "SendMessage"
    message = rpc["params"]["message"]
    assert message["role"] == "ROLE_USER"
    assert message["messageId.$"] == "States.UUID()"
    assert data_part(task) == {
        "skill": "assess_quality",
        "job_id.$": "$.job_id",
        "step_id": "quality",
        "request.$": "$.request",
        "inputs": {"dataset_id.$": "$.steps.ingest.outputs.dataset_id"},
    }


def test_execution_refs_and_step_output_refs_compile_to_jsonpaths() -> None:
    definition = compile_(linear_plan())
    assert data_part(definition["States"]["ingest"])["inputs"] == {
        "source_uri.$": "$.upload.source_uri",
        "filename.$": "$.upload.filename",
        "upload_id.$": "$.upload.upload_id",
    }
    dataset_plan = plan_request("이상치를 확인해줘", source=DataSource(kind="dataset"))
    quality = compile_(dataset_plan)["States"]["quality"]
    assert data_part(quality)["inputs"] == {"dataset_id.$": "$.dataset_id"}


def test_literal_inputs_stay_literal() -> None:
    plan = plan_request("build an ML model to predict price", source=DataSource(kind="upload"))
    inputs = data_part(compile_(plan)["States"]["automl"])["inputs"]
    assert inputs == {"dataset_id.$": "$.steps.ingest.outputs.dataset_id", "target": "price"}


def test_literal_that_looks_like_a_path_is_not_turned_into_one() -> None:
    data = linear_plan().model_dump(mode="json")
    data["steps"][1]["inputs"]["note"] = "$.job_id"
    inputs = data_part(compile_(validate_plan(data))["States"]["quality"])["inputs"]
    assert inputs["note"] == "$.job_id"
    assert "note.$" not in inputs


def test_parallel_level_structure_and_result_selector() -> None:
    plan = plan_request(HEADLINE, source=DataSource(kind="upload"))
    definition = compile_(plan)
    states = definition["States"]
    assert list(states) == [
        "ingest",
        "Parallel2_quality_eda",
        "automl",
        "visualization",
        "Finalize",
        "RecordFailure",
        "JobFailed",
        *REPLAN_STATES,
    ]
    assert states["ingest"]["Next"] == "Parallel2_quality_eda"
    parallel = states["Parallel2_quality_eda"]
    assert parallel["Type"] == "Parallel"
    assert parallel["Next"] == "automl"
    assert [b["StartAt"] for b in parallel["Branches"]] == ["quality", "eda"]
    for branch in parallel["Branches"]:
        (name,) = branch["States"]
        task = branch["States"][name]
        assert name == branch["StartAt"]
        assert task["End"] is True
        assert "Next" not in task
        assert task["Retry"] == RETRY
        assert "Catch" not in task
        assert task["ResultPath"] == f"$.steps.{name}"
    assert parallel["ResultSelector"] == {
        "ingest.$": "$[0].steps.ingest",
        "quality.$": "$[0].steps.quality",
        "eda.$": "$[1].steps.eda",
    }
    assert parallel["ResultPath"] == "$.steps"
    assert parallel["Catch"] == STEP_CATCH
    assert "Retry" not in parallel
    # The steps after the Parallel read the rebuilt steps map.
    assert states["automl"]["Next"] == "visualization"
    assert states["visualization"]["Next"] == "Finalize"


def test_parallel_as_first_level_has_only_its_own_steps_in_the_selector() -> None:
    plan = validate_plan(
        {
            "request": "r",
            "language": "en",
            "planner": "llm",
            "rationale": "r",
            "steps": [
                {
                    "id": "quality",
                    "agent": "quality",
                    "skill": "assess_quality",
                    "description": "d",
                    "inputs": {"dataset_id": {"path": "$.dataset_id"}},
                },
                {
                    "id": "stream",
                    "agent": "realtime",
                    "skill": "stream_summary",
                    "description": "d",
                    "inputs": {"dataset_id": {"path": "$.dataset_id"}},
                },
                {
                    "id": "model",
                    "agent": "automl",
                    "skill": "train_model",
                    "description": "d",
                    "inputs": {"report": {"step": "quality", "output": "report_id"}},
                    "depends_on": ["quality"],
                },
            ],
        }
    )
    definition = compile_(plan)
    assert definition["StartAt"] == "Parallel1_quality_stream"
    parallel = definition["States"]["Parallel1_quality_stream"]
    assert parallel["ResultSelector"] == {"quality.$": "$[0].steps.quality", "stream.$": "$[1].steps.stream"}
    assert parallel["Next"] == "model"
    inputs = data_part(definition["States"]["model"])["inputs"]
    assert inputs == {"report.$": "$.steps.quality.outputs.report_id"}


def test_every_task_retries_and_top_level_tasks_catch() -> None:
    plan = plan_request(
        "analyze, chart, predict price, track it, sql query, live stream, notebook",
        source=DataSource(kind="upload"),
    )
    definition = compile_(plan)
    tasks = [(name, state, top) for name, state, top in all_states(definition) if state["Type"] == "Task"]
    # + Finalize, RecordFailure, the three replan tasks and AskUser
    assert len(tasks) == len(plan.steps) + 6
    step_ids = {step.id for step in plan.steps}
    for name, state, top in tasks:
        if name != "AskUser":  # waiting for a person is not retried
            assert state["Retry"] == RETRY, name
        if top and name in step_ids:
            assert state["Catch"] == STEP_CATCH, name
        elif top and name in {"Finalize", *REPLAN_STATES}:
            assert state["Catch"][-1] == CATCH[0], name
    # Recording a failure must not catch into itself.
    assert "Catch" not in definition["States"]["RecordFailure"]
    for state in definition["States"].values():
        if state["Type"] == "Parallel":
            assert state["Catch"] == STEP_CATCH


def test_retry_contract() -> None:
    assert RETRY == [
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
    assert CATCH == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "RecordFailure"}]
    assert RESULT_SELECTOR == {
        "outputs.$": "$.Payload.outputs",
        "task_id.$": "$.Payload.task_id",
        "state.$": "$.Payload.state",
        "summary.$": "$.Payload.summary",
    }


def test_finalize_record_failure_and_fail_states() -> None:
    states = compile_(linear_plan())["States"]
    finalize = states["Finalize"]
    assert finalize["Parameters"]["FunctionName"] == FINALIZE
    assert data_part(finalize) == {
        "skill": "finalize",
        "job_id.$": "$.job_id",
        "status": "succeeded",
        "steps.$": "$.steps",
    }
    assert finalize["ResultPath"] is None
    assert finalize["End"] is True
    record = states["RecordFailure"]
    assert record["Parameters"]["FunctionName"] == FINALIZE
    assert data_part(record) == {
        "skill": "finalize",
        "job_id.$": "$.job_id",
        "status": "failed",
        "error.$": "$.error",
        "steps.$": "$.steps",
    }
    assert record["ResultPath"] is None
    assert record["Next"] == "JobFailed"
    assert states["JobFailed"] == {
        "Type": "Fail",
        "Error": "AnalysisFailed",
        "Cause": "One or more analysis steps failed; see the job record for details",
    }


def test_definition_is_consistent() -> None:
    """Every ``Next``/``StartAt`` names a state in scope; JSONPath values sit under ``.$`` keys."""
    everything = "analyze, chart, predict price, track it, sql query, live stream, notebook"
    for request in (HEADLINE, everything, ""):
        for kind in ("upload", "dataset"):
            plan = plan_request(request, source=DataSource(kind=kind))  # type: ignore[arg-type]
            definition = compile_(plan)
            json.dumps(definition)  # JSON-serialisable
            _check_scope(definition)
            names = [name for name, _, _ in all_states(definition)]
            assert len(names) == len(set(names)), "state names must be unique"
            assert all(0 < len(name) <= 80 for name in names)
            _check_paths(definition)


def _check_scope(scope: dict[str, Any]) -> None:
    states = scope["States"]
    assert scope["StartAt"] in states
    terminal = 0
    for state in states.values():
        if "Next" in state:
            assert state["Next"] in states
        for catcher in state.get("Catch", []):
            assert catcher["Next"] in states
        if state.get("End") or state["Type"] in {"Fail", "Succeed"}:
            terminal += 1
        elif state["Type"] == "Choice":
            assert all(choice["Next"] in states for choice in state["Choices"])
            assert state["Default"] in states
        else:
            assert "Next" in state
        for branch in state.get("Branches", []):
            _check_scope(branch)
    assert terminal >= 1


_PATH_VALUE = re.compile(r"^(\$|States\.)")


def _check_paths(node: Any, key: str | None = None, in_parameters: bool = False) -> None:
    if isinstance(node, dict):
        for child_key, value in node.items():
            inside = in_parameters or child_key in {"Parameters", "ResultSelector"}
            _check_paths(value, child_key, inside)
        return
    if isinstance(node, list):
        for item in node:
            _check_paths(item, key, in_parameters)
        return
    if not in_parameters or key is None or not isinstance(node, str):
        return
    if key.endswith(".$"):
        assert _PATH_VALUE.match(node), f"{key} -> {node}"
    else:
        assert not node.startswith("$."), f"path {node!r} under non-path key {key!r}"


def test_paths_check_catches_a_missing_suffix() -> None:
    with pytest.raises(AssertionError):
        _check_paths({"Parameters": {"x": "$.job_id"}})
    with pytest.raises(AssertionError):
        _check_paths({"Parameters": {"x.$": "job_id"}})


def test_state_machine_name_is_content_addressed() -> None:
    first = compile_(plan_request(HEADLINE, source=DataSource(kind="upload")))
    again = compile_(plan_request(HEADLINE, source=DataSource(kind="upload")))
    name = state_machine_name(first)
    assert name == state_machine_name(again)
    assert re.fullmatch(r"analystack-plan-[0-9a-f]{16}", name)
    assert len(name) <= 80
    # Key order does not matter; content does.
    reordered = json.loads(json.dumps(first, sort_keys=True))
    assert state_machine_name(dict(reversed(list(reordered.items())))) == name
    # The request's wording is not in the definition: the same shape shares a machine.
    same_shape = compile_(
        plan_request("please analyze my data and build a prediction model", source=DataSource(kind="upload"))
    )
    assert state_machine_name(same_shape) == name
    different = compile_(plan_request("predict price", source=DataSource(kind="upload")))
    assert state_machine_name(different) != name
    dataset = compile_(plan_request(HEADLINE, source=DataSource(kind="dataset")))
    assert state_machine_name(dataset) != name
    assert state_machine_name(first, prefix="other").startswith("other-")


def test_literal_change_changes_the_name() -> None:
    price = compile_(plan_request("predict price", source=DataSource(kind="upload")))
    churn = compile_(plan_request("predict churn", source=DataSource(kind="upload")))
    assert state_machine_name(price) != state_machine_name(churn)


def test_bad_prefix_is_rejected() -> None:
    with pytest.raises(InvalidInputError):
        state_machine_name({}, prefix="has space")


def test_unknown_agent_is_an_error() -> None:
    plan = plan_request(HEADLINE, source=DataSource(kind="upload"))
    arns = {agent: arn for agent, arn in ARNS.items() if agent != "automl"}
    with pytest.raises(InvalidInputError) as info:
        compile_plan(plan, function_arns=arns, finalize_function_arn=FINALIZE)
    assert "automl" in info.value.message


def test_missing_finalize_function_is_an_error() -> None:
    with pytest.raises(InvalidInputError):
        compile_plan(linear_plan(), function_arns=ARNS, finalize_function_arn="")


def test_compiling_does_not_share_mutable_state() -> None:
    definition = compile_(linear_plan())
    definition["States"]["ingest"]["Retry"][0]["MaxAttempts"] = 99
    definition["States"]["ingest"]["Catch"][0]["Next"] = "Nowhere"
    fresh = compile_(linear_plan())
    assert fresh["States"]["ingest"]["Retry"] == RETRY
    assert fresh["States"]["ingest"]["Catch"] == STEP_CATCH
    assert STEP_CATCH[0]["Next"] == "Replan"


def test_replan_catch_and_choice() -> None:
    states = compile_(linear_plan())["States"]
    assert states["quality"]["Catch"][0] == {
        "ErrorEquals": ["ReplanRequestedError"],
        "ResultPath": "$.error",
        "Next": "Replan",
    }
    replan = data_part(states["Replan"])
    assert replan == {
        "skill": "replan",
        "job_id.$": "$.job_id",
        "error.$": "$.error",
        "steps.$": "$.steps",
        "replans.$": "$.replans",
    }
    assert states["Replan"]["ResultPath"] == "$.replan"
    choices = {c["StringEquals"]: c["Next"] for c in states["AfterReplan"]["Choices"]}
    assert choices == {"continued": "Replanned", "ask": "AskUser"}
    assert states["AfterReplan"]["Default"] == "RecordFailure"
    ask = states["AskUser"]
    assert ask["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert data_part(ask)["task_token.$"] == "$$.Task.Token"
    assert ask["TimeoutSecondsPath"] == "$.clarify_timeout_s"
    assert ask["Catch"][0]["ErrorEquals"] == ["States.Timeout"]
    assert ask["Catch"][0]["Next"] == "ReplanAfterTimeout"
    assert data_part(states["ReplanWithAnswer"])["answer.$"] == "$.answer"
    assert data_part(states["ReplanAfterTimeout"])["timed_out"] == "true"
    assert states["Replanned"]["Type"] == "Succeed"


def test_failover_top_level_step() -> None:
    plan = linear_plan()
    arns = {**ARNS, "quality-standby": "arn:aws:lambda:us-east-1:000000000000:function:standby"}
    definition = compile_plan(
        plan,
        function_arns=arns,
        finalize_function_arn=FINALIZE,
        failovers={"quality": Failover(agent="quality-standby")},
    )
    states = definition["States"]
    catches = states["quality"]["Catch"]
    assert [c["Next"] for c in catches] == ["Replan", "Failover_quality", "RecordFailure"]
    assert catches[1]["ErrorEquals"] == FAILOVER_ERRORS
    assert "AgentTaskFailedError" not in FAILOVER_ERRORS  # an agent that said no does not fail over
    backup = states["Failover_quality"]
    assert backup["Parameters"]["FunctionName"] == arns["quality-standby"]
    assert backup["Next"] == states["quality"]["Next"]
    assert backup["ResultPath"] == "$.steps.quality"
    data = data_part(backup)
    assert data["failover_from"] == "quality"
    assert data["failover_error.$"] == "$.error"
    assert data["skill"] == "assess_quality"
    assert [c["Next"] for c in backup["Catch"]] == ["Replan", "RecordFailure"]
    _check_scope(definition)


def test_failover_inside_a_parallel_branch_stays_in_the_branch() -> None:
    plan = plan_request(HEADLINE, source=DataSource(kind="upload"))
    arns = {**ARNS, "eda2": "arn:aws:lambda:us-east-1:000000000000:function:eda2"}
    definition = compile_plan(
        plan, function_arns=arns, finalize_function_arn=FINALIZE, failovers={"eda": Failover(agent="eda2")}
    )
    parallel = definition["States"]["Parallel2_quality_eda"]
    eda_branch = parallel["Branches"][1]
    assert list(eda_branch["States"]) == ["eda", "Failover_eda"]
    assert eda_branch["States"]["eda"]["Catch"][0]["Next"] == "Failover_eda"
    assert eda_branch["States"]["Failover_eda"]["End"] is True
    _check_scope(definition)


def test_http_only_agents_are_reached_through_the_relay() -> None:
    plan = linear_plan()
    arns = {name: arn for name, arn in ARNS.items() if name != "quality"}
    definition = compile_plan(
        plan,
        function_arns=arns,
        finalize_function_arn=FINALIZE,
        relay_urls={"quality": "http://127.0.0.1:9999/a2a/quality"},
    )
    quality = definition["States"]["quality"]
    assert quality["Parameters"]["FunctionName"] == FINALIZE
    data = data_part(quality)
    assert data["skill"] == "relay"
    assert data["agent_skill"] == "assess_quality"
    assert data["agent_url"] == "http://127.0.0.1:9999/a2a/quality"


def test_completed_steps_are_not_compiled_again() -> None:
    plan = plan_request(HEADLINE, source=DataSource(kind="upload"))
    definition = compile_plan(
        plan, function_arns=ARNS, finalize_function_arn=FINALIZE, completed={"ingest", "quality", "eda"}
    )
    states = definition["States"]
    assert definition["StartAt"] == "automl"
    assert "ingest" not in states
    assert "eda" not in states
    assert states["automl"]["Next"] == "visualization"
    assert "resuming after 3 completed" in definition["Comment"]
    with pytest.raises(InvalidInputError):
        compile_plan(plan, function_arns=ARNS, finalize_function_arn=FINALIZE, completed={"nope"})
    with pytest.raises(InvalidInputError):
        compile_plan(
            plan, function_arns=ARNS, finalize_function_arn=FINALIZE, completed={s.id for s in plan.steps}
        )


def test_long_parallel_state_names_are_capped() -> None:
    steps = [
        {"id": f"step_{i}_{'x' * 30}", "agent": "eda", "skill": "explore", "description": "d"}
        for i in range(4)
    ]
    plan = validate_plan(
        {"request": "r", "language": "en", "planner": "llm", "rationale": "r", "steps": steps}
    )
    definition = compile_(plan)
    (name,) = [n for n in definition["States"] if n.startswith("Parallel")]
    assert len(name) <= 80
    assert definition["StartAt"] == name
    assert len(definition["States"][name]["Branches"]) == 4
