"""A small JSON-only client for any OpenAI-compatible chat API.

The orchestrator asks an LLM for structured JSON (a plan) and nothing else, so this wrapper does
one thing: send a system + user prompt with a JSON schema as ``response_format``, parse the JSON
reply, and report token usage. It turns every failure into one of two typed errors, which the
callers map to a fallback instead of a crash:

* ``LlmUnavailableError`` — the LLM could not answer (timeout, connection refused, rate limit,
  server error, or a request it rejected) after the client's own retries. Retrying later or
  planning without the LLM may help.
* ``LlmResponseError`` — the LLM answered but not with a JSON object (prose, truncated output,
  an empty reply, a refusal). Asking again with the problem spelled out may help.

Any OpenAI-compatible server (OpenAI, vLLM, Ollama, llama.cpp's server, a local test stub)
works through ``base_url``. Tests inject ``http_client=httpx.Client(transport=
httpx.MockTransport(...))`` to run without sockets. ``openai`` is imported when a client is
built, not when this module is imported, so the heuristic path's cold start does not pay for it.

Every message list sent is returned with the reply (``LlmReply.messages``) or attached to the
error, so the job can keep an audit trail of exactly what was sent to the LLM.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel, ConfigDict, Field

from analystack.errors import AgentUnavailableError, AnalystackError

if TYPE_CHECKING:
    import httpx
    import openai

    from analystack.settings import LlmSettings

#: How much of a bad reply is kept on the error (for the repair prompt and the audit trail).
MAX_RAW_CONTENT_CHARS = 8000

#: USD per one million tokens (input, output): OpenAI's published standard-tier list prices as of
#: 2025 (https://openai.com/api/pricing). Batch, cached-input and regional prices differ; models
#: not listed here (local servers, other providers) have no estimate (``None``), never a guess.
#: A dated snapshot matches its family (``gpt-4o-2024-08-06`` -> ``gpt-4o``) unless listed itself.
PRICES_USD_PER_MILLION: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o-2024-05-13": (5.00, 15.00),  # the first gpt-4o snapshot kept its launch price
}
_DATED_SNAPSHOT = re.compile(r"^(?P<family>.+)-\d{4}-\d{2}-\d{2}$")
_CODE_FENCE = re.compile(r"^```[A-Za-z0-9_-]*\s*\n?(?P<body>.*?)\n?```$", re.DOTALL)


class LlmUnavailableError(AgentUnavailableError):
    """The LLM could not be reached or did not answer in time (after the client's retries)."""

    code = "llm_unavailable"


class LlmResponseError(AnalystackError):
    """The LLM answered, but not with the JSON object that was asked for.

    ``raw_content`` (truncated) and ``messages`` are kept for a repair round and the audit trail;
    the message itself never quotes the reply. The tokens were still spent, so they are kept too.
    """

    code = "llm_bad_response"
    http_status = 502

    def __init__(
        self,
        message: str,
        *,
        raw_content: str = "",
        messages: Sequence[Mapping[str, str]] = (),
        model: str = "",
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
    ) -> None:
        super().__init__(message)
        self.raw_content = raw_content[:MAX_RAW_CONTENT_CHARS]
        self.messages = [dict(m) for m in messages]
        self.model = model
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = completion_tokens


class LlmReply(BaseModel):
    """A parsed JSON reply with its token usage and the exact messages that produced it."""

    model_config = ConfigDict(frozen=True)

    data: dict[str, Any]
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str
    """The model the server reports having used (falls back to the requested one)."""
    messages: list[dict[str, str]] = Field(default_factory=list)
    content: str = ""
    """The reply as received (JSON text), e.g. to quote back in a follow-up turn."""


def estimate_cost_usd(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """The list-price cost of a call in USD, or ``None`` for a model without a known price."""
    name = model.strip().lower()
    prices = PRICES_USD_PER_MILLION.get(name)
    if prices is None:
        dated = _DATED_SNAPSHOT.match(name)
        prices = PRICES_USD_PER_MILLION.get(dated.group("family")) if dated else None
    if prices is None:
        return None
    input_price, output_price = prices
    return round((prompt_tokens * input_price + completion_tokens * output_price) / 1_000_000, 8)


@dataclass
class _RawReply:
    """A chat completion's content and usage, whether it came whole or in streamed chunks."""

    has_choices: bool = False
    content: str = ""
    refusal: str = ""
    finish_reason: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str = ""


class LlmClient:
    """JSON-schema chat completions against an OpenAI-compatible endpoint."""

    def __init__(
        self,
        *,
        model: str,
        api_key: str | None,
        base_url: str | None,
        timeout_s: float = 30,
        max_retries: int = 2,
        http_client: httpx.Client | None = None,
        stream: bool = False,
    ) -> None:
        import openai  # deferred: ~0.7 s of import time that the heuristic path never needs

        self.model = model
        self.base_url = base_url
        self.stream = stream
        """Stream replies (server-sent chunks): the timeout then bounds each chunk, not the whole
        answer, which slow local models (llama.cpp, Ollama on a CPU) need for long replies."""
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self._client: openai.OpenAI = openai.OpenAI(
            api_key=api_key or "not-needed",  # local servers accept any key; the SDK insists on one
            base_url=base_url,
            timeout=timeout_s,
            max_retries=max_retries,
            http_client=cast(Any, http_client),  # the SDK accepts httpx.Client as well as httpx2's
        )

    @classmethod
    def from_settings(
        cls,
        settings: LlmSettings,
        *,
        api_key: str | None = None,
        timeout_s: float = 30,
        max_retries: int = 2,
        http_client: httpx.Client | None = None,
    ) -> LlmClient:
        """A client for the configured LLM.

        ``api_key`` overrides the settings' key: on AWS the key lives in Secrets Manager
        (``settings.api_key_secret_arn``) and the caller, which owns the AWS clients, resolves it.
        """
        key = api_key or (settings.api_key.get_secret_value() if settings.api_key else None)
        return cls(
            model=settings.model,
            api_key=key,
            base_url=settings.base_url,
            timeout_s=timeout_s,
            max_retries=max_retries,
            http_client=http_client,
            stream=settings.stream,
        )

    def complete_json(
        self,
        *,
        system: str,
        user: str,
        schema_name: str,
        schema: dict[str, Any],
        history: Sequence[Mapping[str, str]] = (),
    ) -> LlmReply:
        """Ask for one JSON object that follows ``schema`` (temperature 0).

        Args:
            system: the system prompt.
            user: the final user message.
            schema_name: the schema's name for ``response_format`` (letters, digits, ``_``, ``-``).
            schema: a JSON schema; sent with ``strict: False`` so that servers without strict
                structured outputs still accept it (the caller validates the reply itself).
            history: earlier ``{"role", "content"}`` turns placed between the system prompt and
                ``user`` (e.g. a previous reply being corrected).

        Raises:
            LlmUnavailableError: timeout, connection failure, 429, 5xx (after retries), or a
                request the server rejected (4xx, e.g. a bad key or an unknown model).
            LlmResponseError: the reply is empty, a refusal, or not a JSON object.
        """
        import openai

        messages: list[dict[str, str]] = [
            {"role": "system", "content": system},
            *({"role": str(turn["role"]), "content": str(turn["content"])} for turn in history),
            {"role": "user", "content": user},
        ]
        response_format = {
            "type": "json_schema",
            "json_schema": {"name": schema_name, "schema": schema, "strict": False},
        }
        try:
            reply = (
                self._streamed(messages, response_format)
                if self.stream
                else self._whole(messages, response_format)
            )
        except openai.APITimeoutError:
            raise LlmUnavailableError(
                f"The LLM did not answer within {self.timeout_s:g} s ({self._attempts()})",
                details={"reason": "timeout"},
            ) from None
        except openai.APIConnectionError:
            raise LlmUnavailableError(
                f"The LLM endpoint could not be reached ({self._attempts()})",
                details={"reason": "connection"},
            ) from None
        except openai.APIStatusError as exc:
            status = exc.status_code
            if status == 429:
                what = "The LLM is rate-limiting requests (HTTP 429"
            elif status >= 500:
                what = f"The LLM server failed (HTTP {status}"
            else:
                what = f"The LLM rejected the request (HTTP {status}"
            raise LlmUnavailableError(
                f"{what}, {self._attempts()})", details={"reason": "http", "status": str(status)}
            ) from None
        except openai.OpenAIError:
            # e.g. APIResponseValidationError: the server answered something that is not a chat
            # completion at all.
            raise LlmResponseError(
                "The LLM server's response is not a chat completion", messages=messages, model=self.model
            ) from None

        prompt_tokens, completion_tokens = reply.prompt_tokens, reply.completion_tokens
        model = reply.model or self.model

        def bad(message: str, raw: str = "") -> LlmResponseError:
            return LlmResponseError(
                message,
                raw_content=raw,
                messages=messages,
                model=model,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
            )

        if not reply.has_choices:
            raise bad("The LLM's reply has no choices")
        if reply.refusal:
            raise bad("The LLM refused to answer", reply.refusal)
        content = reply.content
        if not content.strip():
            raise bad("The LLM's reply is empty")
        truncated = " (the reply was cut off at the token limit)" if reply.finish_reason == "length" else ""
        try:
            data = json.loads(_strip_code_fence(content))
        except ValueError as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "unreadable"
            raise bad(f"The LLM's reply is not valid JSON: {reason}{truncated}", content) from None
        if not isinstance(data, dict):
            raise bad(f"The LLM's reply is JSON but not an object (got {type(data).__name__})", content)
        return LlmReply(
            data=data,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            model=model,
            messages=messages,
            content=content,
        )

    def _whole(self, messages: list[dict[str, str]], response_format: dict[str, Any]) -> _RawReply:
        response = self._client.chat.completions.create(
            model=self.model,
            messages=cast(Any, messages),
            temperature=0,
            response_format=cast(Any, response_format),
        )
        usage = response.usage
        choice = response.choices[0] if response.choices else None
        return _RawReply(
            has_choices=choice is not None,
            content=(choice.message.content or "") if choice else "",
            refusal=str(getattr(choice.message, "refusal", None) or "") if choice else "",
            finish_reason=str(choice.finish_reason or "") if choice else "",
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            model=response.model or "",
        )

    def _streamed(self, messages: list[dict[str, str]], response_format: dict[str, Any]) -> _RawReply:
        """The reply assembled from its chunks; usage from the final chunk where the server sends
        it (``stream_options.include_usage``), else 0."""
        chunks = self._client.chat.completions.create(
            model=self.model,
            messages=cast(Any, messages),
            temperature=0,
            response_format=cast(Any, response_format),
            stream=True,
            stream_options={"include_usage": True},
        )
        reply = _RawReply()
        parts: list[str] = []
        refusal: list[str] = []
        for chunk in chunks:
            reply.model = chunk.model or reply.model
            if chunk.usage:
                reply.prompt_tokens = chunk.usage.prompt_tokens
                reply.completion_tokens = chunk.usage.completion_tokens
            for choice in chunk.choices:
                reply.has_choices = True
                if choice.delta.content:
                    parts.append(choice.delta.content)
                if getattr(choice.delta, "refusal", None):
                    refusal.append(str(choice.delta.refusal))
                if choice.finish_reason:
                    reply.finish_reason = str(choice.finish_reason)
        reply.content = "".join(parts)
        reply.refusal = "".join(refusal)
        return reply

    def _attempts(self) -> str:
        retries = self.max_retries
        return "no retries" if retries == 0 else f"after {retries} retr{'y' if retries == 1 else 'ies'}"


def _strip_code_fence(content: str) -> str:
    """The JSON inside a Markdown code fence, which some local models add despite the schema."""
    text = content.strip()
    fenced = _CODE_FENCE.match(text)
    return fenced.group("body") if fenced else text


class LlmUsage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = 0.0
    """List-price estimate; ``None`` when a model's price is unknown (e.g. a local server)."""


class LlmAudit:
    """Records every message list sent (for the job's audit trail) and sums the tokens of every answer.

    One per job phase (planning, replanning, synthesis); its ``prompts`` go into the job record.
    """

    def __init__(self, *, schema_name: str) -> None:
        self._schema_name = schema_name
        self.prompts: list[dict[str, Any]] = []
        self._calls: list[tuple[str, int, int]] = []  # (model, prompt tokens, completion tokens)

    def call(
        self,
        llm: LlmClient,
        purpose: str,
        *,
        system: str,
        user: str,
        schema: dict[str, Any],
        history: Sequence[dict[str, str]] = (),
    ) -> LlmReply:
        record: dict[str, Any] = {
            "purpose": purpose,
            "model": llm.model,
            "messages": [{"role": "system", "content": system}, *history, {"role": "user", "content": user}],
            "reply": None,
            "error": None,
        }
        self.prompts.append(record)
        try:
            reply = llm.complete_json(
                system=system, user=user, schema_name=self._schema_name, schema=schema, history=history
            )
        except LlmResponseError as exc:
            record.update(reply=exc.raw_content or None, error=exc.to_dict())
            self._calls.append((exc.model or llm.model, exc.prompt_tokens, exc.completion_tokens))
            raise
        except AnalystackError as exc:
            record["error"] = exc.to_dict()
            raise
        record.update(messages=reply.messages, reply=reply.content)
        self._calls.append((reply.model, reply.prompt_tokens, reply.completion_tokens))
        return reply

    def usage(self) -> LlmUsage:
        """Tokens of every call and their list-price cost (``None`` when a model's price is unknown)."""
        prompt = sum(p for _, p, _ in self._calls)
        completion = sum(c for _, _, c in self._calls)
        costs = [estimate_cost_usd(model, p, c) for model, p, c in self._calls]
        total: float | None = (
            None if any(c is None for c in costs) else round(sum(c or 0.0 for c in costs), 8)
        )
        return LlmUsage(prompt_tokens=prompt, completion_tokens=completion, cost_usd=total)
