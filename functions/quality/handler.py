"""Data Quality agent (port 8202): wiring only; the work is in skills.py, profiling.py, report.py."""

from analystack.a2a_kit import SkillSpec, build_agent_service
from analystack.runtime import data_hub
from functions.quality.skills import AssessQualitySkill

service = build_agent_service(
    name="quality",
    description="Profiles a dataset and reports its quality: missing values, outliers, duplicates, type problems, "
    "an overall score and recommendations.",
    skills=[
        SkillSpec(
            id="assess_quality",
            name="Assess data quality",
            description="Per-column profile, missing values, IQR and z-score outliers, duplicates, type problems, "
            "quality score and grade; report as JSON and Markdown. Input: dataset_id.",
            tags=("quality", "profiling", "missing values", "outliers", "duplicates", "cleaning"),
            examples=("check the data quality", "결측치와 이상치를 확인해줘"),
        )
    ],
    handlers={"assess_quality": AssessQualitySkill(data_hub())},
)
app = service.app
handler = service.handler
