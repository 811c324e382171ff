"""Large tables go to SageMaker Autopilot when configured (moto's SageMaker over HTTP)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from analystack.a2a_kit import SkillRequest
from analystack.aws import client
from analystack.models import Producer
from analystack.runtime import data_hub
from functions.automl.skills import TrainModelSkill

pytestmark = pytest.mark.functional


def test_a_large_table_is_submitted_to_autopilot(cloud: Any) -> None:
    hub = data_hub()
    frame = pd.DataFrame(
        {"x": range(200), "region": ["a", "b"] * 100, "revenue": [float(i) * 2 for i in range(200)]}
    )
    dataset = hub.write_dataset(frame, name="big.csv", producer=Producer(agent="test", job_id="job-ap"))
    skill = TrainModelSkill(
        hub,
        time_budget_s=5,
        sagemaker_client=client("sagemaker"),
        autopilot_role_arn="arn:aws:iam::123456789012:role/analystack-autopilot",
        autopilot_row_threshold=100,  # "large" for this test
    )
    progress: list[str] = []
    result = skill(
        SkillRequest(
            skill="train_model",
            job_id="job-ap",
            request="predict revenue",
            inputs={"dataset_id": dataset.item_id},
        ),
        lambda fraction, message, stage=None: progress.append(message),
    )
    assert result.outputs["engine"] == "sagemaker-autopilot"
    assert result.outputs["target"] == "revenue"
    described = client("sagemaker").describe_auto_ml_job_v2(
        AutoMLJobName=result.outputs["autopilot_job_name"]
    )
    config = described["AutoMLProblemTypeConfig"]["TabularJobConfig"]
    assert config["TargetAttributeName"] == "revenue"
    assert config["ProblemType"] == "Regression"
    assert described["AutoMLJobInputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"].endswith(
        f"datasets/{dataset.item_id}/"
    )
    assert any("SageMaker Autopilot" in message for message in progress)
    report = hub.get_item(result.outputs["report_id"])
    assert report.parents == [dataset.item_id]


def test_small_tables_train_in_the_agent_even_when_autopilot_is_configured(cloud: Any) -> None:
    hub = data_hub()
    rng = np.random.default_rng(0)
    x, z = rng.uniform(0, 100, 120), rng.uniform(0, 100, 120)
    frame = pd.DataFrame({"x": x, "z": z, "revenue": x * 3 + z * 2 + rng.normal(0, 10, 120)})
    dataset = hub.write_dataset(frame, name="small.csv", producer=Producer(agent="test", job_id="job-sm"))
    skill = TrainModelSkill(
        hub, time_budget_s=3, sagemaker_client=client("sagemaker"), autopilot_role_arn="arn:aws:iam::1:role/x"
    )
    result = skill(
        SkillRequest(
            skill="train_model",
            job_id="job-sm",
            request="predict revenue",
            inputs={"dataset_id": dataset.item_id},
        ),
        lambda fraction, message, stage=None: None,
    )
    assert result.outputs["engine"] == "scikit-learn"
    assert float(result.outputs["score"]) > float(result.outputs["baseline_score"])
    # The report accounts for the whole skill's budget and the rows each phase used.
    record = hub.read_json(result.outputs["report_id"])
    budget = record["budget"]
    assert budget["allowed_s"] == 3
    assert {"load_and_target", "search", "refit", "holdout", "importance", "save"} <= set(budget["phases"])
    assert budget["within_budget"] is (budget["used_s"] <= budget["allowed_s"] + budget["slack_s"])
    assert record["time_budget_s"] < 3  # training got the budget minus reading and the save's share
    assert record["rows"]["refit"] == record["rows_train"] == 96  # all 96 training rows of 120
    assert record["selection"]["chosen_model"] == result.outputs["best_model"]
    card = hub.read_bytes(hub.get_item(result.outputs["card_id"]).s3_uri).decode()
    assert "## Rows used" in card
    assert "of a 3 s budget" in card
