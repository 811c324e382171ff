"""AutoML agent (port 8205): wiring only; the work is in skills.py, target.py, features.py, search.py."""

from analystack.a2a_kit import SkillSpec, build_agent_service
from analystack.aws import client
from analystack.runtime import data_hub
from analystack.settings import get_settings
from functions.automl.skills import TrainModelSkill

_limits = get_settings().limits

service = build_agent_service(
    name="automl",
    description="Finds the target (or says it cannot), infers the task, engineers features with a leakage guard, "
    "searches models under a time budget with cross-validation and reports holdout metrics against a baseline.",
    skills=[
        SkillSpec(
            id="train_model",
            name="Train a prediction model",
            description="Regression, classification or time-based forecast; model, metrics, feature importance, "
            "sample predictions and a model card. Inputs: dataset_id; optional target, time_budget_s.",
            tags=("automl", "machine learning", "prediction", "regression", "classification", "forecast"),
            examples=("build a model to predict revenue", "매출 예측 모델을 만들어주세요"),
        )
    ],
    handlers={
        "train_model": TrainModelSkill(
            data_hub(),
            time_budget_s=_limits.automl_time_budget_s,
            sagemaker_client=client("sagemaker") if _limits.autopilot_role_arn else None,
            autopilot_role_arn=_limits.autopilot_role_arn,
            autopilot_row_threshold=_limits.autopilot_row_threshold,
            autopilot_max_runtime_s=_limits.autopilot_max_runtime_s,
        )
    },
)
app = service.app
handler = service.handler
