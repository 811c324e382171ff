"""Progress WebSocket function (AWS): $connect/$disconnect and the events stream. Wiring only."""

from __future__ import annotations

from typing import Any

from analystack.aws import client
from analystack.errors import NotFoundError
from analystack.runtime import job_store
from analystack.settings import get_settings
from analystack.telemetry import logger
from functions.progress.service import ConnectionStore, ProgressFanout

_settings = get_settings()
_connections = ConnectionStore(
    table=_settings.resources.connections_table, dynamodb_client=client("dynamodb")
)


def _management_client() -> Any:
    # The management endpoint is the WebSocket API's own URL (set by the template).
    import boto3

    url = _settings.endpoints.progress_management_url
    return boto3.client("apigatewaymanagementapi", endpoint_url=url or None)


_management = _management_client()
_fanout = ProgressFanout(
    connections=_connections,
    post=lambda connection_id, data: _management.post_to_connection(ConnectionId=connection_id, Data=data),
    gone=(_management.exceptions.GoneException,),
)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if "Records" in event:
        return {"sent": _fanout.publish(event["Records"])}
    request = event.get("requestContext", {})
    connection_id = request.get("connectionId", "")
    if request.get("eventType") == "CONNECT":
        job_id = (event.get("queryStringParameters") or {}).get("job_id", "")
        try:
            job_store().get(job_id)
        except NotFoundError:
            return {"statusCode": 404, "body": f"No job with id '{job_id[:80]}'"}
        _connections.add(job_id, connection_id)
        return {"statusCode": 200}
    if request.get("eventType") == "DISCONNECT":
        _connections.remove(connection_id)
        return {"statusCode": 200}
    return {"statusCode": 400, "body": "Connect with ?job_id=<id>; progress messages are pushed to you"}
