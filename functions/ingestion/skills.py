"""The ingestion agent's skill: an upload or S3 object -> a Parquet dataset in the hub.

Sits between the thin handler and the pure loaders: reads bytes through the injected hub,
parses them with ``loaders``, writes the dataset with its lineage (the upload it came from).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from analystack.a2a_kit.executor import ArtifactRef, ProgressReporter, SkillRequest, SkillResult
from analystack.hub import S3_URI_IN_TEXT, DataHub
from analystack.models import Producer

if TYPE_CHECKING:
    import pandas as pd

    from functions.ingestion.loaders import LoadLimits


def _human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{size} B"


class IngestSkill:
    def __init__(self, hub: DataHub, *, max_bytes: int, max_rows: int, max_columns: int) -> None:
        self._hub = hub
        self._max = (max_bytes, max_rows, max_columns)

    @property
    def _limits(self) -> LoadLimits:
        from functions.ingestion.loaders import LoadLimits

        max_bytes, max_rows, max_columns = self._max
        return LoadLimits(max_bytes=max_bytes, max_rows=max_rows, max_columns=max_columns)

    def _read(self, source_uri: str, filename: str, report: ProgressReporter) -> bytes:
        data = self._hub.read_bytes(source_uri, max_bytes=self._limits.max_bytes)
        report(30, f"read {_human_bytes(len(data))} from {filename}", stage="reading")
        return data

    def __call__(self, request: SkillRequest, report: ProgressReporter) -> SkillResult:
        # pandas/pyarrow load here, not at cold start: card and health requests never need them.
        from functions.ingestion.loaders import infer_schema, load_table

        source_uri = request.require("source_uri", in_text=S3_URI_IN_TEXT)
        filename = str(request.inputs.get("filename") or source_uri.rsplit("/", 1)[-1])
        upload_id = request.inputs.get("upload_id")
        report(5, f"reading {filename}", stage="reading")
        # The upload's bytes are handed straight to load_table, which holds the only reference
        # and drops it once parsed: they are gone before type inference and the Parquet write.
        table = load_table(self._read(source_uri, filename, report), filename, limits=self._limits)
        frame = table.frame
        rows, columns = frame.shape
        details = f"{table.format}" + (f", {table.encoding}" if table.encoding else "")
        if table.delimiter:
            details += f", delimiter {table.delimiter!r}"
        report(70, f"parsed {rows:,} rows x {columns} columns ({details})", stage="parsing")
        item = self._hub.write_dataset(
            frame,
            name=filename,
            producer=Producer(agent="ingestion", job_id=request.job_id, step_id=request.step_id),
            parents=[str(upload_id)] if upload_id else [],
            schema=infer_schema(frame),
            metadata={
                "source_uri": source_uri,
                "format": table.format,
                "encoding": table.encoding,
                "delimiter": table.delimiter,
                "warnings": table.warnings[:50],
                # A few rows for an LLM, used only where a setting allows it (default: never).
                "sample_rows": sample_rows(frame),
            },
        )
        report(
            95, f"stored dataset {item.item_id} ({_human_bytes(item.size_bytes)} Parquet)", stage="storing"
        )
        return SkillResult(
            outputs={
                "dataset_id": item.item_id,
                "s3_uri": item.s3_uri,
                "rows": str(rows),
                "columns": str(columns),
                "format": table.format,
                "warnings": table.warnings[:20],
            },
            artifacts=[
                ArtifactRef(
                    name=filename, item_id=item.item_id, s3_uri=item.s3_uri, media_type=item.media_type
                )
            ],
            summary=f"Loaded {rows:,} rows x {columns} columns from {filename} ({details})",
        )


SAMPLE_ROWS = 5
SAMPLE_COLUMNS = 40
SAMPLE_VALUE_CHARS = 60


def sample_rows(frame: pd.DataFrame) -> list[dict[str, str]]:
    """The first rows as short strings (JSON-safe; bounded so wide tables keep the catalog item
    far below DynamoDB's 400 KB), for the opt-in LLM sample."""
    head = frame.iloc[:SAMPLE_ROWS, :SAMPLE_COLUMNS]
    return [
        {
            str(column): ("" if value is None else str(value))[:SAMPLE_VALUE_CHARS]
            for column, value in row.items()
        }
        for row in head.to_dict(orient="records")
    ][:SAMPLE_ROWS]
