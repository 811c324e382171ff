"""The heuristic planner and the plan model: what users ask for is what gets planned."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from analystack.errors import AgentUnavailableError, InvalidInputError
from orchestrator.plan import ExecutionRef, Plan, PlanStep, StepOutputRef, validate_plan
from orchestrator.planner import DataSource, detect_language, detect_target, plan_request

pytestmark = pytest.mark.unit

UPLOAD = DataSource(kind="upload")
DATASET = DataSource(kind="dataset")
CORE = {"ingestion", "quality"}


def agents(plan: Plan) -> set[str]:
    return {step.agent for step in plan.steps}


@pytest.mark.parametrize(
    ("request_text", "expected"),
    [
        ("매출 데이터를 분석하고 예측 모델을 만들어주세요", CORE | {"eda", "visualization", "automl"}),
        ("analyze the sales data and build a prediction model", CORE | {"eda", "visualization", "automl"}),
        ("이상치를 확인해줘", CORE),
        ("show me a dashboard of revenue by region", CORE | {"visualization"}),
        ("predict churn", CORE | {"automl"}),
        ("build an ML model to predict price", CORE | {"automl"}),
        ("html report please", CORE | {"eda", "visualization"}),
        ("analyze this", CORE | {"eda", "visualization"}),
        ("분석해줘", CORE | {"eda", "visualization"}),
        ("", CORE | {"eda", "visualization"}),
        ("결측치와 이상치를 정제해 주세요", CORE),
        ("Check the DATA QUALITY and missing values", CORE),
        ("상관관계와 분포를 차트로 보여줘", CORE | {"eda", "visualization"}),
        ("deploy the model and monitor drift", CORE | {"automl", "mlops"}),
        ("모델을 배포하고 드리프트를 모니터링해줘", CORE | {"automl", "mlops"}),
        ("write a Python notebook that reproduces the analysis", CORE | {"eda", "visualization", "codegen"}),
        ("고객 리뷰 텍스트의 감성을 알려줘", CORE | {"nlp"}),
        ("answer in natural language: which region sells most? use SQL", CORE | {"nlp"}),
        ("실시간 스트림 데이터를 요약해줘", CORE | {"realtime"}),
        ("live sensor stream summary", CORE | {"realtime"}),
        ("ML모델로 분류해줘", CORE | {"automl"}),
        ("classify customers with machine learning", CORE | {"automl"}),
    ],
)
def test_agents_planned_for_requests(request_text: str, expected: set[str]) -> None:
    plan = plan_request(request_text, source=UPLOAD)
    assert agents(plan) == expected
    assert plan.planner == "heuristic"


def test_headline_requests_plan_the_same_shape_in_both_languages() -> None:
    ko = plan_request("매출 데이터를 분석하고 예측 모델을 만들어주세요", source=UPLOAD)
    en = plan_request("analyze the sales data and build a prediction model", source=UPLOAD)
    expected = ["ingest", "quality", "eda", "automl", "visualization"]
    assert [s.id for s in ko.steps] == expected
    assert [s.id for s in en.steps] == expected
    assert [[s.id for s in level] for level in en.levels()] == [
        ["ingest"],
        ["quality", "eda"],  # the exploration beside the profile; the model search after them
        ["automl"],
        ["visualization"],
    ]
    assert (ko.language, en.language) == ("ko", "en")
    # Descriptions follow the request's language.
    assert all(any("\uac00" <= ch <= "\ud7a3" for ch in s.description) for s in ko.steps)
    assert all(s.description.isascii() for s in en.steps)


def test_ml_inside_html_does_not_plan_a_model() -> None:
    plan = plan_request("html report please", source=UPLOAD)
    assert "automl" not in agents(plan)
    assert "automl" not in agents(plan_request("send me the XML and YAML files", source=UPLOAD))
    assert "automl" in agents(plan_request("use ML on it", source=UPLOAD))
    assert "nlp" not in agents(plan_request("mysqlish naming", source=UPLOAD))
    assert "nlp" in agents(plan_request("write sql for it", source=UPLOAD))


def test_steps_have_the_documented_skills_and_dependencies() -> None:
    plan = plan_request(
        "analyze, chart, predict price, track the model, answer a text query, stream live, notebook",
        source=UPLOAD,
    )
    by_id = {s.id: s for s in plan.steps}
    assert [s.id for s in plan.steps] == [
        "ingest",
        "quality",
        "eda",
        "automl",
        "visualization",
        "mlops",
        "nlp",
        "realtime",
        "codegen",
    ]
    skills = {s.id: s.skill for s in plan.steps}
    assert skills == {
        "ingest": "ingest",
        "quality": "assess_quality",
        "eda": "explore",
        "visualization": "visualize",
        "automl": "train_model",
        "mlops": "track_model",
        "nlp": "answer_question",
        "realtime": "stream_summary",
        "codegen": "generate_notebook",
    }
    assert by_id["ingest"].depends_on == []
    assert by_id["ingest"].inputs == {
        "source_uri": ExecutionRef(path="$.upload.source_uri"),
        "filename": ExecutionRef(path="$.upload.filename"),
        "upload_id": ExecutionRef(path="$.upload.upload_id"),
    }
    assert "ingest" in by_id["quality"].depends_on
    assert by_id["eda"].depends_on == ["ingest"]  # it reads only the dataset
    assert "eda" in by_id["visualization"].depends_on
    assert "quality" in by_id["automl"].depends_on
    assert "automl" in by_id["mlops"].depends_on
    assert by_id["mlops"].inputs["model_id"] == StepOutputRef(step="automl", output="model_id")
    assert "quality" in by_id["nlp"].depends_on
    assert "ingest" in by_id["realtime"].depends_on
    analysis = {"quality", "eda", "visualization", "automl", "mlops", "nlp", "realtime"}
    assert set(by_id["codegen"].depends_on) >= analysis
    for step in plan.steps[1:]:
        assert step.inputs["dataset_id"] == StepOutputRef(step="ingest", output="dataset_id")


def test_visualization_waits_on_quality_without_eda() -> None:
    plan = plan_request("show me a dashboard of revenue by region", source=UPLOAD)
    assert "quality" in plan.step("visualization").depends_on
    assert "eda" not in plan.step("visualization").depends_on


def test_mlops_adds_the_model_it_tracks() -> None:
    plan = plan_request("track drift in the registry", source=UPLOAD)
    assert [s.id for s in plan.steps] == ["ingest", "quality", "automl", "mlops"]
    assert "automl" in plan.rationale


def test_dataset_source_skips_ingestion_and_reads_the_dataset_id() -> None:
    plan = plan_request("analyze the sales data and build a prediction model", source=DATASET)
    assert [s.id for s in plan.steps] == ["quality", "eda", "automl", "visualization"]
    for step in plan.steps:
        assert step.inputs["dataset_id"] == ExecutionRef(path="$.dataset_id")
        assert "ingest" not in step.depends_on
    assert plan.step("quality").depends_on == []


def test_upload_source_starts_with_ingest() -> None:
    plan = plan_request("이상치를 확인해줘", source=UPLOAD)
    assert [s.id for s in plan.steps] == ["ingest", "quality"]
    assert plan.steps[0].agent == "ingestion"
    assert plan.step("quality").inputs == {"dataset_id": StepOutputRef(step="ingest", output="dataset_id")}


def test_available_agents_drop_steps_and_explain_why() -> None:
    plan = plan_request(
        "매출 데이터를 분석하고 예측 모델을 만들어주세요",
        source=UPLOAD,
        available_agents={"ingestion", "quality"},
    )
    assert [s.id for s in plan.steps] == ["ingest", "quality"]
    for dropped in ("eda", "visualization", "automl"):
        assert dropped in plan.rationale
    assert "제외" in plan.rationale


def test_dropped_steps_re_point_dependents_to_the_nearest_available_ancestor() -> None:
    everything_but = {"ingestion", "visualization", "automl", "codegen"}  # quality and eda are down
    plan = plan_request(
        "analyze it, chart it, predict price and write a notebook",
        source=UPLOAD,
        available_agents=everything_but,
    )
    assert [s.id for s in plan.steps] == ["ingest", "automl", "visualization", "codegen"]
    assert plan.step("visualization").depends_on == ["automl", "ingest"]  # charts wait for the model
    assert "quality_report_id" not in plan.step("visualization").inputs  # quality will not run
    assert plan.step("automl").depends_on == ["ingest"]
    assert plan.step("codegen").depends_on == ["ingest", "automl", "visualization"]
    assert "Dropped steps" in plan.rationale
    assert "quality (agent 'quality' is not available)" in plan.rationale
    assert [[s.id for s in level] for level in plan.levels()] == [
        ["ingest"],
        ["automl"],
        ["visualization"],
        ["codegen"],
    ]


def test_steps_needing_a_dropped_steps_outputs_are_dropped_too() -> None:
    plan = plan_request("deploy the model", source=UPLOAD, available_agents={"ingestion", "quality", "mlops"})
    assert [s.id for s in plan.steps] == ["ingest", "quality"]
    assert "needs 'model_id' from dropped step 'automl'" in plan.rationale


def test_nothing_available_is_a_typed_error() -> None:
    with pytest.raises(AgentUnavailableError):
        plan_request("analyze", source=UPLOAD, available_agents={"quality"})  # ingestion is down


def test_all_available_changes_nothing() -> None:
    text = "analyze the sales data and build a prediction model"
    every = ["ingestion", "quality", "eda", "visualization", "automl", "mlops", "codegen", "nlp", "realtime"]
    assert plan_request(text, source=UPLOAD, available_agents=every) == plan_request(text, source=UPLOAD)


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("predict price", "price"),
        ("build an ML model to predict price", "price"),
        ("predict churn", "churn"),
        ("Predict the SalePrice of houses", "SalePrice"),
        ("forecast demand for next month", "demand"),
        ('predict "unit price" please', "unit price"),
        ("train a model, target: revenue", "revenue"),
        ("target column is_fraud, train a classifier", "is_fraud"),
        ("use churn as the target and train a model", "churn"),
        ("revenue를 예측", "revenue"),
        ("revenue를 예측하는 모델을 만들어줘", "revenue"),
        ("churn 예측 모델", "churn"),
        ("매출을 예측해줘", "매출"),
        ("타깃은 price 입니다. 모델 학습해줘", "price"),
    ],
)
def test_target_detection(text: str, target: str) -> None:
    assert detect_target(text) == target
    plan = plan_request(text, source=UPLOAD)
    assert plan.target_column == target
    assert plan.step("automl").inputs["target"] == target


@pytest.mark.parametrize(
    "text",
    [
        "build a prediction model",
        "predict whether customers leave",
        "predict customer churn",  # two nouns: unsure which is the column
        "predict future sales",
        "매출 데이터를 분석하고 예측 모델을 만들어주세요",
        "데이터를 예측해줘",
        "analyze the sales data and build a prediction model",
    ],
)
def test_target_detection_is_conservative(text: str) -> None:
    assert detect_target(text) is None
    plan = plan_request(text, source=UPLOAD)
    assert plan.target_column is None
    assert "target" not in plan.step("automl").inputs


def test_target_only_recorded_when_a_model_is_planned() -> None:
    assert plan_request("target: price — just chart it", source=UPLOAD).target_column is None


def test_language_detection() -> None:
    assert detect_language("분석해줘") == "ko"
    assert detect_language("analyze ML 모델") == "ko"
    assert detect_language("analyze") == "en"
    assert detect_language("") == "en"


def test_rationale_names_keywords_and_steps() -> None:
    plan = plan_request("analyze the sales data and build a prediction model", source=UPLOAD)
    assert "'analyze' → eda" in plan.rationale
    assert "automl" in plan.rationale
    assert "prediction" in plan.rationale
    vague = plan_request("", source=UPLOAD)
    assert "no specific analysis" in vague.rationale.lower()


def test_planner_output_round_trips_through_validation() -> None:
    plan = plan_request("analyze, predict price, deploy it, notebook", source=UPLOAD)
    assert validate_plan(plan.model_dump(mode="json")) == plan


# --- plan validation -------------------------------------------------------------------------


def _plan_data() -> dict[str, Any]:
    return {
        "request": "r",
        "language": "en",
        "planner": "llm",
        "rationale": "because",
        "steps": [
            {
                "id": "ingest",
                "agent": "ingestion",
                "skill": "ingest",
                "description": "d",
                "inputs": {"source_uri": {"path": "$.upload.source_uri"}},
            },
            {
                "id": "quality",
                "agent": "quality",
                "skill": "assess_quality",
                "description": "d",
                "inputs": {"dataset_id": {"step": "ingest", "output": "dataset_id"}, "mode": "full"},
                "depends_on": ["ingest"],
            },
            {
                "id": "eda",
                "agent": "eda",
                "skill": "explore",
                "description": "d",
                "inputs": {"dataset_id": {"step": "ingest", "output": "dataset_id"}},
                "depends_on": ["quality", "ingest"],
            },
        ],
    }


def _invalid(mutate: Any) -> str:
    data = copy.deepcopy(_plan_data())
    mutate(data)
    with pytest.raises(InvalidInputError) as info:
        validate_plan(data)
    assert info.value.code == "invalid_input"
    return info.value.message


def test_valid_plan_parses_refs_and_literals() -> None:
    plan = validate_plan(_plan_data())
    quality = plan.step("quality")
    assert quality.inputs["dataset_id"] == StepOutputRef(step="ingest", output="dataset_id")
    assert quality.inputs["mode"] == "full"
    assert plan.step("ingest").inputs["source_uri"] == ExecutionRef(path="$.upload.source_uri")


def test_cycle_is_rejected() -> None:
    def mutate(data: dict[str, Any]) -> None:
        data["steps"][1]["depends_on"] = ["ingest", "eda"]

    message = _invalid(mutate)
    assert "cycle" in message
    assert "quality -> eda -> quality" in message


def test_self_dependency_is_rejected() -> None:
    message = _invalid(lambda d: d["steps"][2]["depends_on"].append("eda"))
    assert "depends on itself" in message


def test_unknown_dependency_is_rejected() -> None:
    message = _invalid(lambda d: d["steps"][2]["depends_on"].append("modelling"))
    assert "unknown step 'modelling'" in message


def test_later_declared_dependency_is_rejected() -> None:
    def mutate(data: dict[str, Any]) -> None:
        data["steps"][0], data["steps"][1] = data["steps"][1], data["steps"][0]

    assert "declared after" in _invalid(mutate)


def test_duplicate_id_is_rejected() -> None:
    message = _invalid(lambda d: d["steps"][2].update(id="quality"))
    assert "more than once" in message


@pytest.mark.parametrize("bad_id", ["Quality", "1step", "has-dash", "", "x" * 41, "with space"])
def test_bad_step_id_is_rejected(bad_id: str) -> None:
    message = _invalid(lambda d: d["steps"][2].update(id=bad_id))
    assert "steps.2.id" in message


def test_output_ref_must_be_a_declared_dependency() -> None:
    message = _invalid(lambda d: d["steps"][2].update(depends_on=["quality"]))
    assert "does not list 'ingest' in depends_on" in message


def test_output_ref_to_unknown_step_is_rejected() -> None:
    message = _invalid(lambda d: d["steps"][2]["inputs"].update(x={"step": "ghost", "output": "y"}))
    assert "unknown step 'ghost'" in message


def test_empty_plan_is_rejected() -> None:
    assert "steps" in _invalid(lambda d: d.update(steps=[]))


def test_malformed_agent_name_is_rejected() -> None:
    # Any registry name is allowed (runtime-registered agents); the planners check it exists.
    assert "steps.2.agent" in _invalid(lambda d: d["steps"][2].update(agent="Astrology Agent!"))


@pytest.mark.parametrize(
    "path", ["upload.source_uri", "$", "$.", "$..x", "$.a[0]", "$.a b", "$.steps.ingest.outputs.x", "$.error"]
)
def test_bad_execution_paths_are_rejected(path: str) -> None:
    _invalid(lambda d: d["steps"][0]["inputs"].update(source_uri={"path": path}))


def test_numbers_are_not_silently_accepted_as_literals() -> None:
    _invalid(lambda d: d["steps"][1]["inputs"].update(mode=42))


def test_validation_messages_do_not_echo_inputs() -> None:
    secret = "sk-very-secret-value"
    message = _invalid(lambda d: d["steps"][2].update(id=secret))
    assert secret not in message


def test_non_dict_plan_is_rejected() -> None:
    with pytest.raises(InvalidInputError):
        validate_plan([])  # type: ignore[arg-type]


def test_levels_are_topological_and_stable() -> None:
    step = {"agent": "eda", "skill": "explore", "description": "d"}
    plan = Plan(
        request="r",
        language="en",
        planner="llm",
        rationale="r",
        steps=[
            PlanStep(id="a", **step),
            PlanStep(id="c", **step),
            PlanStep(id="b", depends_on=["a"], **step),
            PlanStep(id="d", depends_on=["b", "c"], **step),
            PlanStep(id="e", depends_on=["a"], **step),
        ],
    )
    assert [[s.id for s in level] for level in plan.levels()] == [["a", "c"], ["b", "e"], ["d"]]


def test_repeated_dependencies_are_collapsed() -> None:
    data = _plan_data()
    data["steps"][2]["depends_on"] = ["quality", "ingest", "quality"]
    assert validate_plan(data).step("eda").depends_on == ["quality", "ingest"]


def test_charts_wait_for_and_read_every_report_of_the_headline_plan() -> None:
    plan = plan_request("매출 데이터를 분석하고 예측 모델을 만들어주세요", source=UPLOAD)
    charts = plan.step("visualization")
    assert charts.inputs == {
        "dataset_id": StepOutputRef(step="ingest", output="dataset_id"),
        "quality_report_id": StepOutputRef(step="quality", output="report_id"),
        "eda_report_id": StepOutputRef(step="eda", output="report_id"),
        "model_report_id": StepOutputRef(step="automl", output="report_id"),
        "target": StepOutputRef(step="automl", output="target"),  # the model agent resolves it
    }
    assert set(charts.depends_on) == {"quality", "eda", "automl", "ingest"}
    named = plan_request("predict revenue with charts and statistics", source=UPLOAD)
    assert named.step("visualization").inputs["target"] == "revenue"
    assert named.step("eda").inputs["target"] == "revenue"
    without_model = plan_request(
        "analyze and chart it",
        source=UPLOAD,
        available_agents={"ingestion", "quality", "eda", "visualization"},
    )
    assert "model_report_id" not in without_model.step("visualization").inputs
