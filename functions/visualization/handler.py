"""Smart Visualization agent (port 8204): wiring only; the work is in skills.py, charts.py, dashboard.py."""

from analystack.a2a_kit import SkillSpec, build_agent_service
from analystack.runtime import data_hub
from functions.visualization.skills import VisualizeSkill

service = build_agent_service(
    name="visualization",
    description="Recommends charts from column types and the other agents' findings, renders them with Plotly "
    "(JSON + standalone HTML) and assembles a dashboard.",
    skills=[
        SkillSpec(
            id="visualize",
            name="Chart a dataset",
            description="Histograms/box plots, bars, lines over time, scatter of strong pairs, correlation heatmap, "
            "feature importance and missing values. Inputs: dataset_id; optional eda_report_id, "
            "quality_report_id, model_report_id, target.",
            tags=("visualization", "charts", "plotly", "dashboard"),
            examples=("show me a dashboard of revenue by region", "매출 추이를 차트로 보여줘"),
        )
    ],
    handlers={"visualize": VisualizeSkill(data_hub())},
)
app = service.app
handler = service.handler
