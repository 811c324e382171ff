"""Agent discovery: the skills each agent's A2A card advertises, fetched over HTTP.

An agent whose card cannot be fetched is left out of the LLM's choices (it is down or not
deployed); the heuristic planner's availability check uses the same answer.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from orchestrator.llm_planner import AgentSkillInfo

CARD_PATH = "/.well-known/agent-card.json"


def fetch_agent_skills(urls: Mapping[str, str], *, timeout_s: float = 3.0) -> list[AgentSkillInfo]:
    skills: list[AgentSkillInfo] = []
    with httpx.Client(timeout=timeout_s) as http:
        for agent, url in urls.items():
            try:
                card = http.get(url.rstrip("/") + CARD_PATH).raise_for_status().json()
            except (httpx.HTTPError, ValueError):
                continue
            skills.extend(
                AgentSkillInfo(
                    agent=agent,
                    skill=str(skill.get("id", "")),
                    description=str(skill.get("description", ""))[:500],
                    tags=[str(t) for t in skill.get("tags", [])][:12],
                )
                for skill in card.get("skills", [])
                if skill.get("id")
            )
    return skills
