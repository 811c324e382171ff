"""A scripted OpenAI-compatible chat server on loopback, for tests that need a real HTTP LLM.

``OpenAIStub`` serves ``POST /v1/chat/completions`` from a queue of scripted replies, one per
request, in order:

* a ``dict`` — answered as the assistant message's content, JSON-encoded (a well-formed reply);
* a ``str`` — answered as the content exactly as written (malformed JSON, prose, an empty reply);
* a ``(status, body)`` or ``(status, body, headers)`` tuple — an HTTP error (``body`` a dict is
  sent as JSON, a string as text). 429 replies carry ``retry-after-ms: 20`` unless headers say
  otherwise, as OpenAI's do, so the client's retry waits milliseconds instead of its backoff;
* ``Delay(seconds, reply=None)`` — wait before answering (``reply``, or ``{}``), to make the
  client time out.

A request with ``"stream": true`` is answered the way OpenAI streams: server-sent
``chat.completion.chunk`` events, the usage in a last chunk when ``stream_options.include_usage``
asks for it, then ``data: [DONE]`` (errors and delays work the same for streamed requests).

Every request body is recorded in ``stub.requests`` (parsed JSON) before it is answered; replies
carry ``usage`` counts estimated like a tokenizer would (about four characters a token). An
exhausted script answers HTTP 500 with a message saying so, which the test then sees as an
unexpected fallback or error.

    with OpenAIStub([{"steps": [...]}, (429, {"error": {"message": "slow down"}}), ...]) as stub:
        client = LlmClient(model="gpt-4o-mini", api_key=None, base_url=stub.base_url)
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Delay", "OpenAIStub", "ScriptedReply"]


@dataclass(frozen=True)
class Delay:
    """Wait ``seconds`` before answering with ``reply`` (default: an empty JSON object)."""

    seconds: float
    reply: dict[str, Any] | str | None = None


ScriptedReply = dict[str, Any] | str | tuple[Any, ...] | Delay


#: Characters per streamed chunk (a few tokens, as real servers send them).
STREAM_CHUNK_CHARS = 16


def _tokens(text: str) -> int:
    return max(1, round(len(text) / 4))


class OpenAIStub:
    """A threaded HTTP server answering chat completions from a script (see the module doc)."""

    def __init__(self, script: Iterable[ScriptedReply] = (), *, model: str | None = None) -> None:
        self._script: deque[ScriptedReply] = deque(script)
        self._model = model
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._ids = itertools.count(1)
        self.requests: list[dict[str, Any]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> OpenAIStub:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                stub._handle(self)

            def do_GET(self) -> None:
                self.send_error(404)

            def log_message(self, format: str, *args: Any) -> None:  # quiet test output
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.block_on_close = False
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="openai-stub", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()  # wakes any Delay still sleeping
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the stub is not running")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # --- scripting ---------------------------------------------------------------------------

    def enqueue(self, *replies: ScriptedReply) -> None:
        with self._lock:
            self._script.extend(replies)

    @property
    def remaining(self) -> int:
        with self._lock:
            return len(self._script)

    # --- serving -----------------------------------------------------------------------------

    def _handle(self, http: BaseHTTPRequestHandler) -> None:
        if http.path.rstrip("/") != "/v1/chat/completions":
            self._send(http, 404, {"error": {"message": f"no route {http.path}", "type": "not_found"}})
            return
        length = int(http.headers.get("Content-Length") or 0)
        raw = http.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._send(
                http, 400, {"error": {"message": "the request body is not JSON", "type": "invalid_request"}}
            )
            return
        with self._lock:
            self.requests.append(body)
            item: ScriptedReply | None = self._script.popleft() if self._script else None
        if item is None:
            self._send(
                http, 500, {"error": {"message": "OpenAIStub: no scripted reply left", "type": "stub"}}
            )
            return
        if isinstance(item, Delay):
            if self._stopping.wait(item.seconds):
                return
            item = item.reply if item.reply is not None else {}
        if isinstance(item, tuple):
            status, payload, *rest = item
            headers = dict(rest[0]) if rest else {}
            if status == 429:
                headers.setdefault("retry-after-ms", "20")
            self._send(http, int(status), payload, headers)
            return
        content = item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)
        completion = self._completion(body, content)
        if body.get("stream"):
            self._send_stream(
                http, completion, include_usage=bool((body.get("stream_options") or {}).get("include_usage"))
            )
        else:
            self._send(http, 200, completion)

    @staticmethod
    def _send_stream(
        http: BaseHTTPRequestHandler, completion: dict[str, Any], *, include_usage: bool
    ) -> None:
        """The completion as OpenAI streams it: ``chat.completion.chunk`` events of a few characters
        each, a final chunk with the finish reason, the usage chunk if asked for, then ``[DONE]``."""
        content = completion["choices"][0]["message"]["content"]
        base = {k: completion[k] for k in ("id", "created", "model", "system_fingerprint")}
        base["object"] = "chat.completion.chunk"

        def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
            return {
                **base,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            }

        events = [chunk({"role": "assistant", "content": ""}, None)]
        events += [
            chunk({"content": content[i : i + STREAM_CHUNK_CHARS]}, None)
            for i in range(0, len(content), STREAM_CHUNK_CHARS)
        ]
        events.append(chunk({}, "stop"))
        if include_usage:
            events.append({**base, "choices": [], "usage": completion["usage"]})
        try:
            http.send_response(200)
            http.send_header("Content-Type", "text/event-stream")
            http.send_header("Cache-Control", "no-cache")
            http.send_header("Connection", "close")
            http.end_headers()
            for event in events:
                http.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                http.wfile.flush()
            http.wfile.write(b"data: [DONE]\n\n")
            http.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _completion(self, request: dict[str, Any], content: str) -> dict[str, Any]:
        messages = request.get("messages") or []
        prompt_text = "".join(str(m.get("content", "")) for m in messages if isinstance(m, dict))
        # ~4 characters a token, plus the chat format's few tokens of overhead per message.
        prompt_tokens = _tokens(prompt_text) + 4 * len(messages)
        if "response_format" in request:
            prompt_tokens += _tokens(json.dumps(request["response_format"]))
        completion_tokens = _tokens(content)
        return {
            "id": f"chatcmpl-stub{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self._model or str(request.get("model", "stub-model")),
            "system_fingerprint": "fp_openai_stub",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    @staticmethod
    def _send(
        http: BaseHTTPRequestHandler, status: int, payload: Any, headers: dict[str, str] | None = None
    ) -> None:
        if isinstance(payload, str):
            data, media_type = payload.encode("utf-8"), "text/plain; charset=utf-8"
        else:
            data, media_type = json.dumps(payload).encode("utf-8"), "application/json"
        try:
            http.send_response(status)
            http.send_header("Content-Type", media_type)
            http.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                http.send_header(name, value)
            http.end_headers()
            http.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test): nothing left to answer
