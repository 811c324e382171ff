"""The data hub: uploads, Parquet datasets and artifacts in S3 with catalog items and lineage."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

from analystack.errors import DataTooLargeError, InvalidInputError, NotFoundError
from analystack.models import Producer
from analystack.runtime import data_hub

pytestmark = pytest.mark.functional


def test_dataset_round_trip_with_lineage(cloud: Any) -> None:
    hub = data_hub()
    upload = hub.put_upload(
        job_id="job-1",
        filename="../../etc/passwd sales.csv",
        body=b"a,b\n1,2\n",
        media_type="text/csv",
        producer=Producer(agent="gateway", job_id="job-1"),
    )
    assert upload.s3_uri.startswith(f"s3://{hub.bucket}/uploads/job-1/")
    assert ".." not in upload.s3_uri
    assert "/etc/" not in upload.s3_uri
    assert hub.read_bytes(upload.s3_uri) == b"a,b\n1,2\n"

    frame = pd.DataFrame({"region": ["Seoul", "Busan"], "revenue": [10.5, 20.25], "units": [1, 2]})
    dataset = hub.write_dataset(
        frame,
        name="sales.csv",
        producer=Producer(agent="ingestion", job_id="job-1"),
        parents=[upload.item_id],
    )
    assert dataset.row_count == 2
    assert dataset.column_count == 3
    assert dataset.version_id  # the hub bucket is versioned
    item, loaded = hub.read_dataset(dataset.item_id)
    pd.testing.assert_frame_equal(loaded, frame)
    stored = pq.ParquetFile(io.BytesIO(hub.read_bytes(dataset.s3_uri))).metadata.row_group(0)
    with_statistics = [stored.column(i).is_stats_set for i in range(stored.num_columns)]
    assert with_statistics == [False, True, True]  # min/max for the numbers, not for the text
    assert item.schema_ is not None
    assert [c["name"] for c in item.schema_] == ["region", "revenue", "units"]

    report = hub.put_artifact(
        b"{}",
        name="report.json",
        media_type="application/json",
        producer=Producer(agent="quality", job_id="job-1"),
        parents=[dataset.item_id],
    )
    assert [i.item_id for i in hub.lineage(report.item_id)] == [
        report.item_id,
        dataset.item_id,
        upload.item_id,
    ]
    assert {i.item_id for i in hub.list_by_job("job-1")} == {upload.item_id, dataset.item_id, report.item_id}


def test_hub_errors_are_typed(cloud: Any) -> None:
    hub = data_hub()
    with pytest.raises(NotFoundError):
        hub.get_item("ds-missing")
    with pytest.raises(NotFoundError):
        hub.read_bytes(f"s3://{hub.bucket}/nothing/here.csv")
    with pytest.raises(InvalidInputError):
        hub.read_bytes("https://example.com/file.csv")
    uri, _ = hub.put_object("big/file.bin", b"x" * 100, "application/octet-stream")
    with pytest.raises(DataTooLargeError):
        hub.read_bytes(uri, max_bytes=10)
    upload = hub.put_upload(
        job_id="j",
        filename="a.csv",
        body=b"a\n1\n",
        media_type="text/csv",
        producer=Producer(agent="gateway"),
    )
    with pytest.raises(InvalidInputError, match="not a dataset"):
        hub.read_dataset(upload.item_id)


def test_json_reports_are_read_by_id_with_typed_errors(cloud: Any) -> None:
    hub = data_hub()
    producer = Producer(agent="quality", job_id="job-j")
    report = hub.put_artifact(
        b'{"score": 97.5}', name="r.json", media_type="application/json", producer=producer
    )
    assert hub.read_json(report.item_id) == {"score": 97.5}
    broken = hub.put_artifact(b"{not json", name="b.json", media_type="application/json", producer=producer)
    listing = hub.put_artifact(b"[1, 2]", name="l.json", media_type="application/json", producer=producer)
    with pytest.raises(InvalidInputError, match="not a JSON document"):
        hub.read_json(broken.item_id)
    with pytest.raises(InvalidInputError, match="not a JSON object"):
        hub.read_json(listing.item_id)
    with pytest.raises(NotFoundError):
        hub.read_json("art-missing")
