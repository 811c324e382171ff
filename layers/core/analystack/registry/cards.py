"""Agent Cards from the network, treated as hostile input: URL rules, size caps, strict types.

A card's text reaches LLM prompts and the API's responses, so it is validated minimally but
strictly (a name, a list of skills, strings where strings belong, bounded counts and lengths)
and control characters are removed. Anything else is refused with ``InvalidAgentCardError``.

**SSRF.** Registering an agent makes the platform fetch a URL a caller chose, from inside the
stack's network. The rules here: only ``http``/``https``; no user-info, query or fragment;
literal link-local, multicast, unspecified and reserved addresses are always refused (the cloud
metadata service lives at 169.254.169.254); loopback and private addresses, and ``localhost``,
only when the caller allows them (the local cloud does; a deployed stack should not); hosts
written as non-canonical numbers (``2130706433``, ``0x7f.1``) are refused because resolvers read
them as addresses. Redirects are never followed (a redirect could point anywhere), bodies are
capped while they stream, and every request has a timeout. Host *names* are not resolved here, so
a name that resolves to a private address (or rebinds) is not caught: deployed stacks should put
registration behind authentication and give the functions an egress allow-list (VPC without a
NAT route to internal services, or a proxy).
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
import unicodedata
from typing import Any

import httpx

from analystack.errors import InvalidInputError
from analystack.registry.models import (
    AGENT_NAME_PATTERN,
    AgentCardUnreachableError,
    AgentSkill,
    InvalidAgentCardError,
)

CARD_PATH = "/.well-known/agent-card.json"
MAX_URL_CHARS = 2048
MAX_CARD_BYTES = 64 * 1024
"""Real cards are a few KiB; the cap also keeps a record well under DynamoDB's 400 KB item limit."""
MAX_SKILLS = 64
MAX_TAGS = 32
MAX_EXAMPLES = 32
MAX_NAME_CHARS = 200
MAX_DESCRIPTION_CHARS = 4000
MAX_SHORT_TEXT_CHARS = 500
MAX_JSON_DEPTH = 20

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]*|\d+)(\.(0x[0-9a-f]*|\d+))*\.?$", re.IGNORECASE)
_NAME_JUNK = re.compile(r"[^a-z0-9_-]+")


def validate_agent_url(url: str, *, allow_private: bool = False) -> str:
    """The A2A base URL for ``url`` (a base URL or its card URL), or ``InvalidInputError``.

    ``allow_private`` admits loopback and private addresses (local runs and tests).
    """
    if not isinstance(url, str) or not url.strip():
        raise InvalidInputError("The agent URL is required")
    if len(url) > MAX_URL_CHARS:
        raise InvalidInputError(f"The agent URL is longer than {MAX_URL_CHARS} characters")
    try:
        parsed = httpx.URL(url.strip())
    except httpx.InvalidURL:
        raise InvalidInputError("The agent URL is not a valid URL") from None
    if parsed.scheme not in ("http", "https"):
        raise InvalidInputError("The agent URL must use http or https")
    host = parsed.host
    if not host:
        raise InvalidInputError("The agent URL has no host")
    if parsed.userinfo:
        raise InvalidInputError("The agent URL must not carry credentials")
    if parsed.query or parsed.fragment:
        raise InvalidInputError("The agent URL must not have a query or fragment")
    _check_host(host, allow_private=allow_private)
    base = str(parsed.copy_with(query=None, fragment=None)).rstrip("/")
    return base.removesuffix(CARD_PATH).rstrip("/")


def _check_host(host: str, *, allow_private: bool) -> None:
    name = host.lower().rstrip(".")
    try:
        address = ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        if _NUMERIC_HOST.match(name):
            raise InvalidInputError(
                "The agent URL's host is a number that is not a plain IP address"
            ) from None
        if (name == "localhost" or name.endswith(".localhost")) and not allow_private:
            raise InvalidInputError("The agent URL points at this machine (localhost)") from None
        return
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_link_local or address.is_multicast or address.is_unspecified or address.is_reserved:
        raise InvalidInputError("The agent URL points at a link-local, multicast or reserved address")
    if not address.is_global and not allow_private:
        raise InvalidInputError("The agent URL points at a loopback or private address")


def agent_name_from_card(card_name: str) -> str:
    """A registry name from a card's display name (``"Data Quality"`` -> ``"data-quality"``)."""
    text = unicodedata.normalize("NFKC", card_name).lower()
    slug = _NAME_JUNK.sub("-", text).strip("-_")[:40].rstrip("-_")
    if not re.match(AGENT_NAME_PATTERN, slug):
        raise InvalidInputError(
            f"The card's name does not make an agent name ({AGENT_NAME_PATTERN}); send a 'name'"
        )
    return slug


def fetch_card(base_url: str, http: httpx.Client) -> dict[str, Any]:
    """GET and validate the card under ``base_url``.

    Raises:
        AgentCardUnreachableError: no answer, an HTTP error or a redirect.
        InvalidAgentCardError: an answer that is not a valid card (too big, not JSON, bad types).
    """
    body = read_capped(http, base_url + CARD_PATH, MAX_CARD_BYTES, what="card")
    return validate_card(parse_card_json(body))


def parse_card_json(body: bytes) -> Any:
    """Strict JSON: no NaN/Infinity (or numbers that overflow to it), at most ``MAX_JSON_DEPTH``
    levels — a card is echoed by the API and stored, where those would break or bloat."""
    try:
        data = json.loads(body, parse_constant=_reject_constant, parse_float=_finite_float)
    except (ValueError, RecursionError):
        raise InvalidAgentCardError("The agent card is not valid JSON") from None
    if _depth(data) > MAX_JSON_DEPTH:
        raise InvalidAgentCardError(f"The agent card nests deeper than {MAX_JSON_DEPTH} levels")
    return data


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if level > MAX_JSON_DEPTH:
                break
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def read_capped(http: httpx.Client, url: str, limit: int, *, what: str) -> bytes:
    """The body of ``GET url`` if it answers 2xx within ``limit`` bytes (read while streaming)."""
    try:
        with http.stream("GET", url, follow_redirects=False) as response:
            if response.is_redirect:
                raise AgentCardUnreachableError(f"The {what} URL redirects (redirects are not followed)")
            if response.status_code >= 400:
                raise AgentCardUnreachableError(f"The {what} URL answered HTTP {response.status_code}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise InvalidAgentCardError(f"The {what} is larger than {limit:,} bytes")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > limit:
                    raise InvalidAgentCardError(f"The {what} is larger than {limit:,} bytes")
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.TimeoutException:
        raise AgentCardUnreachableError(f"The {what} URL did not answer in time") from None
    except httpx.HTTPError:
        # Connection refused, DNS failure, broken stream: the exception's text would name hosts
        # and internals, so only the kind of failure is reported.
        raise AgentCardUnreachableError(f"The {what} URL could not be reached") from None


def validate_card(data: Any) -> dict[str, Any]:
    """The card, checked: a name, 1..MAX_SKILLS skills with string fields, bounded sizes."""
    if not isinstance(data, dict):
        raise InvalidAgentCardError("The agent card must be a JSON object")
    name = data.get("name")
    if not isinstance(name, str) or not clean_text(name):
        raise InvalidAgentCardError("The agent card has no 'name'")
    if len(name) > MAX_NAME_CHARS:
        raise InvalidAgentCardError(f"The agent card's name is longer than {MAX_NAME_CHARS} characters")
    description = data.get("description", "")
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION_CHARS:
        raise InvalidAgentCardError(
            f"The agent card's description must be text of at most {MAX_DESCRIPTION_CHARS} characters"
        )
    skills = data.get("skills")
    if not isinstance(skills, list) or not skills:
        raise InvalidAgentCardError("The agent card advertises no 'skills'")
    if len(skills) > MAX_SKILLS:
        raise InvalidAgentCardError(f"The agent card has more than {MAX_SKILLS} skills")
    parsed = [_skill(index, skill) for index, skill in enumerate(skills)]
    ids = [skill.id for skill in parsed]
    if len(set(ids)) != len(ids):
        raise InvalidAgentCardError("The agent card lists a skill id twice")
    return data


def card_skills(card: dict[str, Any]) -> list[AgentSkill]:
    """The skills of a card that ``validate_card`` accepted, cleaned for prompts and display."""
    return [_skill(index, skill) for index, skill in enumerate(card.get("skills", []))]


def _skill(index: int, skill: Any) -> AgentSkill:
    where = f"skill {index + 1}"
    if not isinstance(skill, dict):
        raise InvalidAgentCardError(f"The agent card's {where} is not an object")
    skill_id = skill.get("id")
    if (
        not isinstance(skill_id, str)
        or not skill_id
        or clean_text(skill_id) != skill_id
        or len(skill_id) > 128
    ):
        raise InvalidAgentCardError(
            f"The agent card's {where} needs an 'id': text of at most 128 characters without spaces at "
            "the ends or control characters"
        )
    texts: dict[str, str] = {}
    for field, limit in (("name", MAX_NAME_CHARS), ("description", MAX_DESCRIPTION_CHARS)):
        value = skill.get(field, "")
        if not isinstance(value, str) or len(value) > limit:
            raise InvalidAgentCardError(
                f"The agent card's {where} '{field}' must be text of at most {limit} characters"
            )
        texts[field] = clean_text(value)
    lists: dict[str, list[str]] = {}
    for field, limit in (("tags", MAX_TAGS), ("examples", MAX_EXAMPLES)):
        value = skill.get(field, [])
        if (
            not isinstance(value, list)
            or len(value) > limit
            or not all(isinstance(v, str) and len(v) <= MAX_SHORT_TEXT_CHARS for v in value)
        ):
            raise InvalidAgentCardError(
                f"The agent card's {where} '{field}' must be a list of at most {limit} short strings"
            )
        lists[field] = [cleaned for cleaned in (clean_text(v) for v in value) if cleaned]
    return AgentSkill(
        id=skill_id,
        name=texts["name"],
        description=texts["description"],
        tags=lists["tags"],
        examples=lists["examples"],
    )


def clean_text(text: str) -> str:
    """``text`` without control characters (they reach prompts, logs and terminals)."""
    return _CONTROL.sub(" ", text).strip()
