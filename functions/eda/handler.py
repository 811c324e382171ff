"""EDA & Statistics agent (port 8203): wiring only; the work is in skills.py, analysis.py, report.py."""

from analystack.a2a_kit import SkillSpec, build_agent_service
from analystack.runtime import data_hub
from functions.eda.skills import ExploreSkill

service = build_agent_service(
    name="eda",
    description="Exploratory statistics: distributions, correlations (Pearson, Spearman, Cramér's V, η), "
    "hypothesis tests, time-series trend and seasonality, and ranked insights with their numbers.",
    skills=[
        SkillSpec(
            id="explore",
            name="Explore a dataset",
            description="Distributions, correlations, hypothesis tests against a target or group, time-series "
            "awareness and ranked insights. Inputs: dataset_id; optional target, group.",
            tags=("eda", "statistics", "correlation", "hypothesis test", "insights", "time series"),
            examples=("what drives revenue?", "매출 데이터의 통계를 분석해줘"),
        )
    ],
    handlers={"explore": ExploreSkill(data_hub())},
)
app = service.app
handler = service.handler
