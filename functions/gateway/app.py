"""The gateway's HTTP API (FastAPI): one entry point for analyses, jobs, progress and agents."""
# No "from __future__ import annotations": FastAPI must resolve the Annotated dependency aliases
# defined inside create_gateway_app at runtime.

import asyncio
import json
import time
from collections.abc import AsyncIterator, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from analystack.errors import AnalystackError, InvalidInputError
from functions.gateway.service import AnalysisService, Upload

MAX_SSE_WAIT_SECONDS = 25.0  # API Gateway cuts integrations at 29 s
MAX_SOCKET_SECONDS = 2 * 3600.0  # as long as API Gateway keeps a WebSocket open


class AnalyzeJson(BaseModel):
    request: str | None = None
    source_uri: str | None = None
    dataset_id: str | None = None
    upload_id: str | None = None
    session_id: str | None = None


class PlanRequest(BaseModel):
    request: str = Field(min_length=1, max_length=4000)
    dataset_id: str | None = Field(default=None, max_length=128)


class AnswerRequest(BaseModel):
    answer: str = Field(min_length=1, max_length=200)


class UploadRequest(BaseModel):
    filename: str = Field(min_length=1, max_length=255)
    size_bytes: int
    content_type: str | None = Field(default=None, max_length=127)


def create_gateway_app(*, get_service: Any, routers: Sequence[APIRouter] = ()) -> FastAPI:
    app = FastAPI(title="Analystack gateway", version="0.1.0")
    Service = Annotated[AnalysisService, Depends(get_service)]

    @app.exception_handler(AnalystackError)
    async def analystack_error(_: Request, exc: AnalystackError) -> JSONResponse:
        return JSONResponse({"error": exc.to_dict()}, status_code=exc.http_status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = sorted({".".join(str(p) for p in e["loc"][1:]) or "body" for e in exc.errors()})
        error = InvalidInputError(f"Invalid request: check {', '.join(fields)}")
        return JSONResponse({"error": error.to_dict()}, status_code=400)

    def links(request: Request) -> Any:
        base = str(request.base_url).rstrip("/")

        def build(job_id: str) -> dict[str, str]:
            return {
                "self": f"{base}/jobs/{job_id}",
                "events": f"{base}/jobs/{job_id}/events",
                "report": f"{base}/jobs/{job_id}/report",
            }

        return build

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok", "service": "gateway"}

    @app.post("/analyze", status_code=202)
    async def analyze(request: Request, service: Service) -> JSONResponse:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            form = await request.form()
            file = form.get("file")
            text = form.get("request")
            session = form.get("session_id")
            if isinstance(file, str) or (file is None and not session):
                raise InvalidInputError(
                    "Multipart requests need a 'file' field with the data file (or a 'session_id' "
                    "whose earlier turn loaded data)"
                )
            upload = (
                Upload(
                    filename=file.filename or "upload",
                    content=await file.read(),
                    media_type=file.content_type or "application/octet-stream",
                )
                if file is not None
                else None
            )
            job = await asyncio.to_thread(
                service.submit,
                request=str(text) if text else None,
                session_id=str(session) if session else None,
                upload=upload,
            )
        elif content_type.startswith("application/json"):
            try:
                body = AnalyzeJson.model_validate_json(await request.body())
            except ValueError:
                raise InvalidInputError(
                    "The JSON body is malformed or has fields of the wrong type"
                ) from None
            job = await asyncio.to_thread(
                service.submit,
                request=body.request,
                session_id=body.session_id,
                source_uri=body.source_uri,
                dataset_id=body.dataset_id,
                upload_id=body.upload_id,
            )
        else:
            raise InvalidInputError(
                "Send multipart/form-data with a 'file', or JSON with 'source_uri' or 'dataset_id'"
            )
        job_links = links(request)(job.job_id)
        return JSONResponse(
            {
                "job_id": job.job_id,
                "session_id": job.session_id,
                "status": job.status.value,
                "links": job_links,
            },
            status_code=202,
            headers={"Location": job_links["self"]},
        )

    @app.post("/plan")
    async def plan(body: PlanRequest, service: Service) -> dict[str, Any]:
        """The plan a request would run (LLM first, heuristic without one), as JSON; nothing runs."""
        return await asyncio.to_thread(service.plan, body.request, dataset_id=body.dataset_id)

    @app.post("/jobs/{job_id}/answer")
    async def answer(job_id: str, body: AnswerRequest, service: Service) -> dict[str, Any]:
        """Answer the question of a job waiting in ``input_required``; the job resumes."""
        return await asyncio.to_thread(service.answer, job_id, body.answer)

    @app.post("/sessions/{session_id}/answer")
    async def answer_in_session(session_id: str, body: AnswerRequest, service: Service) -> dict[str, Any]:
        """Answer the question of the session's waiting job (the conversational way to reply)."""
        return await asyncio.to_thread(service.answer_in_session, session_id, body.answer)

    @app.get("/sessions/{session_id}")
    async def get_session(session_id: str, request: Request, service: Service) -> dict[str, Any]:
        """The session's turns with their jobs, datasets and artifacts (multi-turn context)."""
        return await asyncio.to_thread(service.session_view, session_id, link=links(request))

    @app.post("/uploads", status_code=201)
    async def create_upload(body: UploadRequest, service: Service) -> dict[str, Any]:
        """Step one for big files: PUT the file to ``upload_url``, then POST /analyze with ``upload_id``."""
        return await asyncio.to_thread(
            service.reserve_upload,
            filename=body.filename,
            media_type=body.content_type,
            size_bytes=body.size_bytes,
        )

    @app.get("/jobs/{job_id}")
    async def get_job(job_id: str, request: Request, service: Service) -> dict[str, Any]:
        return await asyncio.to_thread(service.job_view, job_id, link=links(request))

    @app.get("/jobs/{job_id}/report", response_model=None)
    async def job_report(
        job_id: str,
        service: Service,
        format: Annotated[str, Query(pattern="^(html|markdown|json)$")] = "html",
    ) -> Any:
        """The report a person reads: HTML by redirect to the hub (self-contained, large), or Markdown/JSON."""
        url, content = await asyncio.to_thread(service.report, job_id, format)
        if content is None:
            return RedirectResponse(url, status_code=303)
        media = "text/markdown; charset=utf-8" if format == "markdown" else "application/json"
        return Response(content, media_type=media)

    @app.get("/jobs/{job_id}/events", response_model=None)
    async def job_events(
        job_id: str,
        request: Request,
        service: Service,
        after: Annotated[str | None, Query(max_length=80)] = None,
        format: Annotated[str, Query(pattern="^(sse|json)$")] = "sse",
        wait: Annotated[float, Query(ge=0, le=MAX_SSE_WAIT_SECONDS)] = MAX_SSE_WAIT_SECONDS,
    ) -> Any:
        """Progress events: SSE (resumable with Last-Event-ID) or a JSON page for polling.

        Behind API Gateway the stream is buffered, so it ends when the job finishes or after
        ``wait`` seconds and the client reconnects with ``Last-Event-ID``.
        """
        after = after or request.headers.get("last-event-id")
        if format == "json":
            events, finished = await asyncio.to_thread(service.events, job_id, after=after)
            return {"events": [e.model_dump(mode="json") for e in events], "finished": finished}
        events, finished = await asyncio.to_thread(
            service.events, job_id, after=after
        )  # 404 before streaming

        async def stream() -> AsyncIterator[str]:
            nonlocal events, finished, after
            deadline = time.monotonic() + wait
            while True:
                for event in events:
                    after = event.event_id
                    yield f"id: {event.event_id}\nevent: progress\ndata: {json.dumps(event.model_dump(mode='json'))}\n\n"
                if finished:
                    yield "event: end\ndata: {}\n\n"
                    return
                if time.monotonic() >= deadline:
                    return
                await asyncio.sleep(0.5)
                events, finished = await asyncio.to_thread(service.events, job_id, after=after)

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )

    @app.websocket("/ws/jobs/{job_id}")
    async def job_socket(websocket: WebSocket, job_id: str, service: Service) -> None:
        """Live progress over a WebSocket: the same messages the AWS WebSocket API pushes
        (``{"type": "progress", "job_id", stage, agent, progress, message, ...}``), then ``end``."""
        await websocket.accept()
        try:
            events, finished = await asyncio.to_thread(service.events, job_id)
        except AnalystackError as exc:
            await websocket.send_json({"type": "error", "error": exc.to_dict()})
            await websocket.close(code=4404)
            return
        deadline = time.monotonic() + MAX_SOCKET_SECONDS
        after: str | None = None
        try:
            while True:
                for event in events:
                    after = event.event_id
                    await websocket.send_json(
                        {"type": "progress", "job_id": job_id, **event.model_dump(mode="json")}
                    )
                if finished:
                    status = await asyncio.to_thread(service.job_status, job_id)
                    await websocket.send_json({"type": "end", "job_id": job_id, "status": status})
                    await websocket.close()
                    return
                if time.monotonic() >= deadline:
                    await websocket.close(code=1001)
                    return
                await asyncio.sleep(0.5)
                events, finished = await asyncio.to_thread(service.events, job_id, after=after)
        except WebSocketDisconnect:
            return

    for router in routers:
        app.include_router(router)

    return app
