"""Data Ingestion agent (port 8201): wiring only; the work is in skills.py and loaders.py."""

from analystack.a2a_kit import SkillSpec, build_agent_service
from analystack.runtime import data_hub
from analystack.settings import get_settings
from functions.ingestion.skills import IngestSkill

_limits = get_settings().limits

service = build_agent_service(
    name="ingestion",
    description="Loads CSV, TSV, Excel, JSON/JSONL and Parquet (uploads or s3:// URIs) into the data hub as Parquet.",
    skills=[
        SkillSpec(
            id="ingest",
            name="Ingest a file",
            description="Detects format, encoding and delimiter, infers the schema, stores the table as Parquet "
            "with a catalog entry and lineage. Inputs: source_uri (s3://...), filename, upload_id.",
            tags=("ingestion", "csv", "excel", "json", "parquet", "load"),
            examples=("load s3://bucket/sales.csv", "이 파일을 읽어줘"),
        )
    ],
    handlers={
        "ingest": IngestSkill(
            data_hub(),
            max_bytes=_limits.max_upload_bytes,
            max_rows=_limits.max_rows,
            max_columns=_limits.max_columns,
        )
    },
)
app = service.app
handler = service.handler
