"""The plan: which agents run, with which inputs, in which order.

A plan is the one contract between the planners (heuristic or LLM) and the compiler that turns
it into Step Functions ASL. It is validated strictly because an LLM writes it: a plan that
names an unknown step, loops, or smuggles data paths would otherwise fail minutes later inside
a running execution, after the user has been told the job started. Validating here turns those
mistakes into an immediate, typed ``InvalidInputError`` with a message safe to show.

Inputs are *references* (to the execution input or to an earlier step's outputs) or literal
strings. Literals are always strings because A2A data parts turn numbers into doubles
(42 -> 42.0), and they are capped in size because Step Functions payloads are capped at 256 KB:
data travels by reference, never inline.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from analystack.errors import InvalidInputError

#: The platform's own agents, named by the short name of their folder.
PLATFORM_AGENTS = (
    "ingestion",
    "quality",
    "eda",
    "visualization",
    "automl",
    "mlops",
    "codegen",
    "nlp",
    "realtime",
)
#: Agents registered at runtime join the platform's (their skills become plannable without a
#: redeploy), so a step's agent is any registry name; the planners check it is one that exists.
AGENT_NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,39}$"
AgentName = Annotated[str, StringConstraints(pattern=AGENT_NAME_PATTERN)]

#: Step ids become Step Functions state names and JSONPath segments, so they stay short and plain.
STEP_ID_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
#: Input and output names become JSON keys (``name`` or ``name.$``) and JSONPath segments.
IDENTIFIER_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
#: Literal inputs are small settings (a target column, a question), never data.
MAX_LITERAL_CHARS = 4096
#: An upper bound that keeps the compiled state machine readable and far below ASL size limits.
MAX_STEPS = 40

_EXECUTION_PATH = re.compile(r"^\$(\.[A-Za-z0-9_]+)+$")
_RESERVED_EXECUTION_ROOTS = ("steps", "error")

StepId = Annotated[str, StringConstraints(pattern=STEP_ID_PATTERN)]
Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN)]
LiteralInput = Annotated[str, StringConstraints(max_length=MAX_LITERAL_CHARS)]


class ExecutionRef(BaseModel):
    """A value taken from the execution input, e.g. ``$.upload.source_uri``.

    Only plain dotted paths are allowed so that a plan cannot express filters or intrinsic
    functions the compiler would pass straight into the state machine. ``$.steps`` and
    ``$.error`` are reserved: step outputs must be referenced with ``StepOutputRef`` so the
    dependency is declared and checked.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str

    @field_validator("path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        if not _EXECUTION_PATH.fullmatch(value):
            raise ValueError(
                "an execution path must look like '$.name.sub' (letters, digits, '_' and '.' only)"
            )
        root = value.split(".")[1]
        if root in _RESERVED_EXECUTION_ROOTS:
            raise ValueError(
                f"'$.{root}' is reserved; reference an earlier step's output with a step reference"
            )
        return value


class StepOutputRef(BaseModel):
    """A value produced by an earlier step (compiled to ``$.steps.<step>.outputs.<output>``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    step: StepId
    output: Identifier


StepInput = LiteralInput | ExecutionRef | StepOutputRef


class PlanStep(BaseModel):
    """One agent call: a skill of an agent, its inputs, and the steps it waits for."""

    model_config = ConfigDict(extra="forbid")

    id: StepId
    agent: AgentName
    skill: Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")]
    description: Annotated[str, StringConstraints(max_length=500)]
    inputs: dict[Identifier, StepInput] = Field(default_factory=dict)
    depends_on: list[StepId] = Field(default_factory=list)

    @field_validator("depends_on")
    @classmethod
    def _dedupe(cls, value: list[str]) -> list[str]:
        # A repeated dependency is harmless; keep the first mention so order stays stable.
        return list(dict.fromkeys(value))

    def output_refs(self) -> list[StepOutputRef]:
        """The step references among this step's inputs."""
        return [value for value in self.inputs.values() if isinstance(value, StepOutputRef)]


class Plan(BaseModel):
    """A validated, acyclic list of steps in dependency order."""

    model_config = ConfigDict(extra="forbid")

    request: str
    language: Literal["ko", "en"]
    planner: Literal["heuristic", "llm"]
    steps: list[PlanStep] = Field(min_length=1, max_length=MAX_STEPS)
    rationale: str
    target_column: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None

    def without(self, step_ids: set[str]) -> list[PlanStep]:
        """The steps not in ``step_ids``, in plan order (the ones still to run after a replan)."""
        return [step for step in self.steps if step.id not in step_ids]

    @model_validator(mode="after")
    def _check_graph(self) -> Plan:
        ids = [step.id for step in self.steps]
        seen: set[str] = set()
        for step_id in ids:
            if step_id in seen:
                raise ValueError(f"step id '{step_id}' is used more than once; step ids must be unique")
            seen.add(step_id)
        known = set(ids)
        for step in self.steps:
            for dep in step.depends_on:
                if dep == step.id:
                    raise ValueError(f"step '{step.id}' depends on itself")
                if dep not in known:
                    raise ValueError(f"step '{step.id}' depends on unknown step '{dep}'")
            for ref in step.output_refs():
                if ref.step not in known:
                    raise ValueError(f"step '{step.id}' uses an output of unknown step '{ref.step}'")
                if ref.step not in step.depends_on:
                    raise ValueError(
                        f"step '{step.id}' uses output '{ref.output}' of step '{ref.step}' "
                        f"but does not list '{ref.step}' in depends_on"
                    )
        cycle = _find_cycle({step.id: step.depends_on for step in self.steps})
        if cycle:
            raise ValueError(f"the steps form a dependency cycle: {' -> '.join(cycle)}")
        position = {step_id: index for index, step_id in enumerate(ids)}
        for step in self.steps:
            for dep in step.depends_on:
                if position[dep] > position[step.id]:
                    raise ValueError(
                        f"step '{step.id}' depends on '{dep}', which is declared after it; "
                        "list steps in dependency order"
                    )
        return self

    def step(self, step_id: str) -> PlanStep:
        """The step with this id (``KeyError`` if there is none)."""
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def agents(self) -> list[str]:
        """The agents the plan uses, in first-use order."""
        return list(dict.fromkeys(step.agent for step in self.steps))

    def levels(self) -> list[list[PlanStep]]:
        """Group steps into topological levels: each level only waits on earlier levels.

        Steps of one level are independent of each other, so the compiler runs them as one
        ``Parallel`` state. A step's level is one more than its deepest dependency; within a
        level, steps keep their declaration order, so the result (and the compiled state
        machine, and its content-addressed name) is deterministic.
        """
        depth: dict[str, int] = {}
        for step in self.steps:  # validated: dependencies are declared earlier
            depth[step.id] = 1 + max((depth[dep] for dep in step.depends_on), default=-1)
        levels: list[list[PlanStep]] = [[] for _ in range(max(depth.values()) + 1)]
        for step in self.steps:
            levels[depth[step.id]].append(step)
        return levels


def _find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """A dependency cycle as a closed path (``a -> b -> a``), or ``None`` if the graph is acyclic."""
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(graph, white)
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = grey
        stack.append(node)
        for dep in graph.get(node, []):
            if dep not in colour:
                continue
            if colour[dep] == grey:
                return [*stack[stack.index(dep) :], dep]
            if colour[dep] == white:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        colour[node] = black
        return None

    for node in graph:
        if colour[node] == white:
            found = visit(node)
            if found:
                return found
    return None


def validate_plan(data: dict[str, Any]) -> Plan:
    """Validate an untrusted plan (e.g. an LLM's JSON) into a ``Plan``.

    Raises:
        InvalidInputError: the plan is malformed. The message lists each problem with its
            location but never echoes the offending values, which may be long or hold
            whatever the LLM was given.
    """
    if not isinstance(data, dict):
        raise InvalidInputError("The plan must be a JSON object")
    try:
        return Plan.model_validate(data)
    except ValidationError as exc:
        problems = [_describe(error) for error in exc.errors(include_url=False, include_input=False)]
        shown = problems[:5]
        more = f" (and {len(problems) - len(shown)} more)" if len(problems) > len(shown) else ""
        raise InvalidInputError(
            "The plan is invalid: " + "; ".join(shown) + more,
            details={"errors": str(len(problems))},
        ) from None


def _describe(error: Any) -> str:
    location = ".".join(str(part) for part in error.get("loc", ()))
    message = str(error.get("msg", "invalid value"))
    message = message.removeprefix("Value error, ")
    text = f"{location}: {message}" if location else message
    return text[:300]
