"""The data hub: datasets as Parquet and artifacts in S3, one catalog item each in DynamoDB.

Agents pass references (catalog ids and S3 URIs) between each other, never data, because Step
Functions payloads are capped at 256 KB. Every item records its producer and its lineage
parents so a result can be traced back to the upload it came from.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import struct
import threading
import uuid
import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from analystack.dynamo import from_item, to_item
from analystack.errors import NotFoundError
from analystack.models import CatalogItem, Producer

if TYPE_CHECKING:
    import pandas as pd

_S3_URI = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])/(?P<key>.+)$")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._\-]+")
# How ids and URIs look inside free text (plain-text A2A messages).
DATASET_ID_IN_TEXT = re.compile(r"\bds-[0-9a-f]{20}\b")
S3_URI_IN_TEXT = re.compile(r"s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]/[^\s'\"<>]+")


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """Split ``s3://bucket/key``; raise a typed error for anything else."""
    from analystack.errors import InvalidInputError

    match = _S3_URI.match(uri or "")
    if not match:
        raise InvalidInputError("Expected an S3 URI of the form s3://bucket/key")
    return match["bucket"], match["key"]


def safe_name(filename: str, default: str = "upload") -> str:
    """A filename safe as an S3 key segment (user input never shapes paths beyond this)."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE_NAME.sub("_", base).strip("._")[:120]
    return cleaned or default


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:20]}"


class SharedPart(bytes):
    """Bytes that recur verbatim in many artifacts (plotly.js, ~4.8 MB, in every chart page).

    :func:`gzip_parts` deflates a shared part once per container and splices the cached blocks
    into every later artifact, instead of compressing the same megabytes again for each page.
    """


GZIP_LEVEL = 6
#: Most shared parts kept compressed per container (a few distinct libraries at most).
_SHARED_PARTS_KEPT = 8
_shared_blocks: dict[bytes, bytes] = {}  # sha256 of a shared part -> its deflate blocks
_shared_lock = threading.Lock()
# RFC 1952 member header: magic, CM=deflate, no flags, MTIME=0 (none, so output is reproducible),
# XFL=0, OS=255 (unknown).
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
_FINAL_EMPTY_BLOCK = b"\x03\x00"  # a final, empty fixed-Huffman block: ends the deflate stream


def _deflate_blocks(part: bytes) -> bytes:
    """Raw deflate blocks of ``part``, none of them final, ending byte-aligned (``Z_SYNC_FLUSH``).

    A fresh compressor per part means back-references never leave the part, so the blocks of
    separately compressed parts concatenate into one valid deflate stream (as pigz does).
    """
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(part) + compressor.flush(zlib.Z_SYNC_FLUSH)


def _shared_deflate_blocks(part: bytes) -> bytes:
    key = hashlib.sha256(part).digest()
    blocks = _shared_blocks.get(key)
    if blocks is None:
        with _shared_lock:  # concurrent writers of the first page compress the part once
            blocks = _shared_blocks.get(key)
            if blocks is None:
                blocks = _deflate_blocks(part)
                if len(_shared_blocks) >= _SHARED_PARTS_KEPT:
                    _shared_blocks.pop(next(iter(_shared_blocks)))
                _shared_blocks[key] = blocks
    return blocks


def gzip_parts(parts: Sequence[bytes]) -> bytes:
    """``b"".join(parts)`` as one standard gzip member (``gzip.decompress`` and browsers read it
    like any other), compressing each :class:`SharedPart` only once per container.

    One member, not concatenated gzip members: some decoders (httpx's, for one) stop after the
    first member. The CRC-32 is computed over every part (a few ms for megabytes).
    """
    blocks = [_GZIP_HEADER]
    crc = size = 0
    for part in parts:
        blocks.append(_shared_deflate_blocks(part) if isinstance(part, SharedPart) else _deflate_blocks(part))
        crc = zlib.crc32(part, crc)
        size += len(part)
    blocks += [_FINAL_EMPTY_BLOCK, struct.pack("<II", crc, size & 0xFFFFFFFF)]
    return b"".join(blocks)


class DataHub:
    """S3 + DynamoDB catalog adapter. Clients are injected (module-scope ones in handlers)."""

    def __init__(self, *, bucket: str, catalog_table: str, s3_client: Any, dynamodb_client: Any) -> None:
        self._bucket = bucket
        self._table = catalog_table
        self._s3 = s3_client
        self._ddb = dynamodb_client

    @property
    def bucket(self) -> str:
        return self._bucket

    # -- raw objects -------------------------------------------------------------------------
    def put_object(
        self, key: str, body: bytes, media_type: str, *, content_encoding: str | None = None
    ) -> tuple[str, str | None]:
        extra = {"ContentEncoding": content_encoding} if content_encoding else {}
        response = self._s3.put_object(
            Bucket=self._bucket, Key=key, Body=body, ContentType=media_type, **extra
        )
        return f"s3://{self._bucket}/{key}", response.get("VersionId")

    def read_bytes(self, uri: str, *, max_bytes: int | None = None) -> bytes:
        """Read an object fully; refuses (typed) objects over ``max_bytes`` before downloading."""
        from analystack.errors import DataTooLargeError

        bucket, key = parse_s3_uri(uri)
        try:
            if max_bytes is not None:
                head = self._s3.head_object(Bucket=bucket, Key=key)
                if head["ContentLength"] > max_bytes:
                    raise DataTooLargeError(
                        f"The object is {head['ContentLength']:,} bytes; the limit is {max_bytes:,} bytes"
                    )
            return bytes(self._s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except self._s3.exceptions.NoSuchKey as exc:
            raise NotFoundError(f"No object at {uri}") from exc
        except self._s3.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NoSuchBucket"}:
                raise NotFoundError(f"No object at {uri}") from exc
            raise

    def presigned_url(self, uri: str, expires_seconds: int = 3600) -> str:
        bucket, key = parse_s3_uri(uri)
        return str(
            self._s3.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_seconds
            )
        )

    def presigned_put_url(self, uri: str, media_type: str, expires_seconds: int = 900) -> str:
        bucket, key = parse_s3_uri(uri)
        return str(
            self._s3.generate_presigned_url(
                "put_object",
                Params={"Bucket": bucket, "Key": key, "ContentType": media_type},
                ExpiresIn=expires_seconds,
            )
        )

    def object_size(self, uri: str) -> int | None:
        """Size of the object, or None when it does not exist (yet)."""
        bucket, key = parse_s3_uri(uri)
        try:
            return int(self._s3.head_object(Bucket=bucket, Key=key)["ContentLength"])
        except self._s3.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise

    def read_json(self, item_id: str) -> dict[str, Any]:
        """A JSON artifact (another agent's report) by catalog id; typed errors when missing or malformed."""
        from analystack.errors import InvalidInputError

        try:
            data = json.loads(self.read_bytes(self.get_item(item_id).s3_uri))
        except ValueError as exc:
            raise InvalidInputError(f"'{item_id}' is not a JSON document") from exc
        if not isinstance(data, dict):
            raise InvalidInputError(f"'{item_id}' is not a JSON object")
        return data

    # -- catalog -----------------------------------------------------------------------------
    def register(self, item: CatalogItem) -> CatalogItem:
        self._ddb.put_item(TableName=self._table, Item=to_item(item.model_dump(mode="json", by_alias=True)))
        return item

    def get_item(self, item_id: str) -> CatalogItem:
        response = self._ddb.get_item(
            TableName=self._table, Key={"item_id": {"S": item_id}}, ConsistentRead=True
        )
        if "Item" not in response:
            raise NotFoundError(f"No dataset or artifact with id '{item_id}'")
        return CatalogItem.model_validate(from_item(response["Item"]))

    def list_by_job(self, job_id: str) -> list[CatalogItem]:
        items: list[CatalogItem] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "by_job",
            "KeyConditionExpression": "job_id = :j",
            "ExpressionAttributeValues": {":j": {"S": job_id}},
        }
        while True:
            page = self._ddb.query(**kwargs)
            items.extend(CatalogItem.model_validate(from_item(i)) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return sorted(items, key=lambda i: i.created_at)
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def lineage(self, item_id: str, *, max_depth: int = 20) -> list[CatalogItem]:
        """The item and its ancestors, nearest first (bounded: lineage graphs are small DAGs)."""
        seen: dict[str, CatalogItem] = {}
        frontier = [item_id]
        for _ in range(max_depth):
            next_frontier: list[str] = []
            for current in frontier:
                if current in seen:
                    continue
                item = self.get_item(current)
                seen[current] = item
                next_frontier.extend(item.parents)
            if not next_frontier:
                break
            frontier = next_frontier
        return list(seen.values())

    # -- uploads, datasets, artifacts ----------------------------------------------------------
    def _store(
        self,
        key: str,
        body: bytes,
        *,
        item_id: str,
        kind: str,
        name: str,
        media_type: str,
        producer: Producer,
        content_encoding: str | None = None,
        **fields: Any,
    ) -> CatalogItem:
        """Write the object, then its catalog item (so a catalogued item always has its bytes)."""
        uri, version = self.put_object(key, body, media_type, content_encoding=content_encoding)
        fields.setdefault("job_id", producer.job_id)
        return self.register(
            CatalogItem(
                item_id=item_id,
                kind=kind,
                name=name[:255],
                s3_uri=uri,
                version_id=version,
                media_type=media_type,
                size_bytes=len(body),
                producer=producer,
                **fields,
            )
        )

    def put_upload(
        self, *, job_id: str, filename: str, body: bytes, media_type: str, producer: Producer
    ) -> CatalogItem:
        """Store what the user sent before any work starts, so nothing they sent is ever lost."""
        item_id = new_id("upl")
        return self._store(
            f"uploads/{job_id}/{item_id}/{safe_name(filename)}",
            body,
            item_id=item_id,
            kind="upload",
            name=filename or "upload",
            media_type=media_type or "application/octet-stream",
            producer=producer,
            job_id=job_id,
        )

    def put_model(
        self,
        body: bytes,
        *,
        model_name: str,
        producer: Producer,
        parents: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> CatalogItem:
        """Store a model as the next version of ``model_name`` (``models/<name>/v<n>/model.joblib``).

        Versions are numbered per model name (dataset + target), so retraining the same model
        gives v2, v3, ... next to the earlier ones; the MLOps registry builds on this layout.
        """
        folder = f"models/{safe_name(model_name, 'model')}/"
        existing = self._s3.list_objects_v2(Bucket=self._bucket, Prefix=folder, Delimiter="/").get(
            "CommonPrefixes", []
        )
        version = len(existing) + 1
        return self._store(
            f"{folder}v{version}/model.joblib",
            body,
            item_id=new_id("mdl"),
            kind="model",
            name=f"{model_name} v{version}",
            media_type="application/octet-stream",
            producer=producer,
            parents=parents or [],
            metadata={**(metadata or {}), "model_name": model_name, "model_version": version},
        )

    def reserve_upload(
        self, *, filename: str, media_type: str, size_bytes: int, producer: Producer
    ) -> CatalogItem:
        """Catalog a file the client will PUT straight to S3 (bodies beyond API Gateway's limit)."""
        item_id = new_id("upl")
        uri = f"s3://{self._bucket}/uploads/direct/{item_id}/{safe_name(filename)}"
        return self.register(
            CatalogItem(
                item_id=item_id,
                kind="upload",
                name=filename[:255] or "upload",
                s3_uri=uri,
                media_type=media_type or "application/octet-stream",
                size_bytes=size_bytes,
                producer=producer,
                metadata={"direct_upload": True},
            )
        )

    def write_dataset(
        self,
        frame: pd.DataFrame,
        *,
        name: str,
        producer: Producer,
        parents: list[str] | None = None,
        schema: list[dict[str, str]] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> CatalogItem:
        import pyarrow as pa
        import pyarrow.parquet as pq

        dataset_id = new_id("ds")
        table = pa.Table.from_pandas(frame, preserve_index=False)
        buffer = io.BytesIO()
        # Min/max statistics only where a reader can prune with them: for text columns they took
        # a quarter of the write (1M rows: 0.33 s -> 0.25 s) and every agent reads whole files.
        statistics = [
            f.name
            for f in table.schema
            if not (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))
        ]
        pq.write_table(table, buffer, compression="zstd", write_statistics=statistics)
        return self._store(
            f"datasets/{dataset_id}/data.parquet",
            buffer.getvalue(),
            item_id=dataset_id,
            kind="dataset",
            name=name,
            media_type="application/vnd.apache.parquet",
            producer=producer,
            parents=parents or [],
            row_count=table.num_rows,
            column_count=table.num_columns,
            schema=schema or [{"name": f.name, "dtype": str(f.type)} for f in table.schema],
            metadata=metadata or {},
        )

    def read_dataset(self, dataset_id: str) -> tuple[CatalogItem, pd.DataFrame]:
        import pyarrow.parquet as pq

        item = self.get_item(dataset_id)
        if item.kind != "dataset":
            from analystack.errors import InvalidInputError

            raise InvalidInputError(f"'{dataset_id}' is a {item.kind}, not a dataset")
        table = pq.read_table(io.BytesIO(self.read_bytes(item.s3_uri)))
        # self_destruct frees each Arrow column once converted (the table is not used again) and
        # one block per column spares pandas consolidating them: a lower peak (the 1M-row demo
        # table: +208 MiB RSS instead of +247 MiB). One conversion thread: it is mostly copying,
        # and on 2 busy vCPUs (Lambda has 1-2) it took ~0.2 s instead of 0.3-0.5 s with threads.
        return item, table.to_pandas(self_destruct=True, split_blocks=True, use_threads=False)

    def put_artifact(
        self,
        body: bytes | Sequence[bytes],
        *,
        name: str,
        media_type: str,
        producer: Producer,
        parents: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        compress: bool = False,
    ) -> CatalogItem:
        """Store an artifact; ``compress`` gzips it with ``Content-Encoding: gzip`` so browsers and
        HTTP clients fetching the presigned URL get the original bytes (large HTML pages).

        ``body`` may be a sequence of parts, stored as their concatenation; with ``compress``,
        :class:`SharedPart` parts are compressed once per container (see :func:`gzip_parts`).
        """
        artifact_id = new_id("art")
        scope = producer.job_id or "adhoc"
        key = f"artifacts/{scope}/{artifact_id}/{quote(safe_name(name), safe='._-')}"
        metadata = dict(metadata or {})
        if isinstance(body, bytes):
            parts = [body]
        elif isinstance(body, bytearray | memoryview):
            parts = [bytes(body)]
        else:
            parts = list(body)
        encoding = None
        if compress:
            metadata["uncompressed_bytes"] = sum(len(p) for p in parts)
            stored = gzip_parts(parts)
            encoding = "gzip"
        else:
            stored = parts[0] if len(parts) == 1 else b"".join(parts)
        return self._store(
            key,
            stored,
            item_id=artifact_id,
            kind="artifact",
            name=name,
            media_type=media_type,
            producer=producer,
            content_encoding=encoding,
            parents=parents or [],
            metadata=metadata,
        )
