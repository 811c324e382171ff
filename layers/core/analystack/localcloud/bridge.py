"""The local API Gateway: HTTP requests -> API Gateway v2 events -> the real Lambda handlers.

Routes come from the template's ``HttpApi`` events, matched most-specific first as API Gateway
does. Responses are buffered exactly as on AWS (HTTP APIs do not stream Lambda responses).
"""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route as StarletteRoute

from analystack.localcloud.deployer import Route
from analystack.localcloud.dispatch import error_payload

_TEXT_TYPES = (
    "text/",
    "application/json",
    "application/a2a+json",
    "application/xml",
    "application/javascript",
)

Invoke = Callable[[str, dict[str, Any]], Any]


def build_http_api_event(
    request_method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
    route_key: str,
    path_parameters: dict[str, str],
    stage: str = "$default",
) -> dict[str, Any]:
    content_type = headers.get("content-type", "")
    is_text = not body or any(content_type.startswith(t) for t in _TEXT_TYPES)
    cookies = [c.strip() for c in headers.get("cookie", "").split(";") if c.strip()]
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": {k.lower(): v for k, v in headers.items() if k.lower() != "cookie"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": headers.get("host", "127.0.0.1"),
            "domainPrefix": "local",
            "http": {
                "method": request_method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex,
            "routeKey": route_key,
            "stage": stage,
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": not is_text,
        "body": (body.decode("utf-8", errors="replace") if is_text else base64.b64encode(body).decode()),
    }
    if cookies:
        event["cookies"] = cookies
    if path_parameters:
        event["pathParameters"] = path_parameters
    if query:
        from urllib.parse import parse_qsl

        event["queryStringParameters"] = dict(parse_qsl(query, keep_blank_values=True))
    return event


def create_bridge_app(
    routes: Sequence[Route], function_names: dict[str, str], invoke: Invoke, *, websocket_app: Any = None
) -> Any:
    """``function_names``: logical id -> physical function name; ``invoke(name, event)`` runs it.

    WebSocket connections go to ``websocket_app`` (the gateway's ASGI app) directly: Lambda cannot
    hold a socket, so on AWS live progress uses the WebSocket API and the progress function, and
    locally the gateway streams the same messages itself.
    """
    compiled = [(route, route.pattern()) for route in routes]

    async def dispatch(request: Request) -> Response:
        path = request.url.path
        method = request.method.upper()
        for route, pattern in compiled:
            match = pattern.match(path)
            if match and route.method in {"ANY", method}:
                break
        else:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        event = build_http_api_event(
            method,
            path,
            request.url.query,
            dict(request.headers),
            await request.body(),
            f"{route.method} {route.path}",
            match.groupdict(),
        )
        try:
            result = await asyncio.to_thread(invoke, function_names[route.function], event)
        except Exception as exc:  # noqa: BLE001 - any integration failure is API Gateway's 500
            # API Gateway answers 500 when the integration fails; the payload is for local debugging.
            return JSONResponse(
                {"message": "Internal Server Error", "error": error_payload(exc)}, status_code=500
            )
        return _to_response(result)

    http_app = Starlette(
        routes=[
            StarletteRoute(
                "/{path:path}", dispatch, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
            )
        ]
    )

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket" and websocket_app is not None:
            await websocket_app(scope, receive, send)
        else:
            await http_app(scope, receive, send)

    return app


def _to_response(result: Any) -> Response:
    if not isinstance(result, dict) or "statusCode" not in result:
        # HTTP API payload 2.0: a bare value is returned as a 200 JSON body.
        import json

        return Response(json.dumps(result), media_type="application/json")
    body = result.get("body") or ""
    content = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    headers = dict(result.get("headers") or {})
    headers.pop("content-length", None)
    response = Response(content, status_code=int(result["statusCode"]), headers=headers)
    for cookie in result.get("cookies", []):
        response.headers.append("set-cookie", cookie)
    return response
