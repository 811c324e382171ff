"""Data Quality agent (port 8202): wiring only; the work is in skills.py, profiling.py, report.py,
clean_skill.py and cleaning.py."""

from analystack.a2a_kit import SkillSpec, build_agent_service
from analystack.runtime import data_hub
from functions.quality.clean_skill import CleanDataSkill
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
        ),
        SkillSpec(
            id="clean_data",
            name="Treat data problems",
            description="Removes duplicate rows, drops far outliers (or caps a heavy tail) and fills missing values "
            "(median / most frequent) as asked; stores the cleaned table as a new dataset with lineage and a "
            "receipt of every change. Inputs: dataset_id; actions (duplicates,outliers,missing); optional "
            "columns. Output: dataset_id of the cleaned dataset.",
            tags=("cleaning", "outliers", "missing values", "duplicates", "treatment"),
            examples=("remove the outliers and retrain", "이상치를 제거해줘"),
        ),
    ],
    handlers={"assess_quality": AssessQualitySkill(data_hub()), "clean_data": CleanDataSkill(data_hub())},
)
app = service.app
handler = service.handler
