"""Step Functions adapter: content-addressed state machines per plan shape, and executions."""

from __future__ import annotations

import json
from typing import Any


class StepFunctionsRunner:
    def __init__(self, *, sfn_client: Any, role_arn: str) -> None:
        self._sfn = sfn_client
        self._role_arn = role_arn
        # Content-addressed names: a machine known to this container never changes, so a warm
        # orchestrator starts a repeated plan shape without the create call (~0.1 s).
        self._known: dict[str, str] = {}

    def ensure_state_machine(self, name: str, definition: dict[str, Any]) -> str:
        """Create the machine once; identical plans share it because ``name`` hashes the definition."""
        if name in self._known:
            return self._known[name]
        body = json.dumps(definition)
        try:
            response = self._sfn.create_state_machine(
                name=name,
                definition=body,
                roleArn=self._role_arn,
                type="STANDARD",
                tags=[{"key": "analystack:kind", "value": "plan"}],
            )
            arn = str(response["stateMachineArn"])
        except self._sfn.exceptions.StateMachineAlreadyExists as exc:
            # The name is a content hash, so an existing machine has this very definition.
            arn = _arn_from_error(exc) or self._find(name)
        self._known[name] = arn
        return arn

    def _find(self, name: str) -> str:
        paginator = self._sfn.get_paginator("list_state_machines")
        for page in paginator.paginate():
            for machine in page["stateMachines"]:
                if machine["name"] == name:
                    return str(machine["stateMachineArn"])
        raise LookupError(name)

    def run(
        self, machine_name: str, definition: dict[str, Any], *, name: str, payload: dict[str, Any]
    ) -> tuple[str, str]:
        """``(execution arn, state machine arn)``: the plan's machine (created once) started."""
        machine_arn = self.ensure_state_machine(machine_name, definition)
        try:
            return self.start(machine_arn, name=name, payload=payload), machine_arn
        except self._sfn.exceptions.StateMachineDoesNotExist:
            # Deleted behind this container's back (a clean-up): create it again, once.
            self._known.pop(machine_name, None)
            machine_arn = self.ensure_state_machine(machine_name, definition)
            return self.start(machine_arn, name=name, payload=payload), machine_arn

    def start(self, state_machine_arn: str, *, name: str, payload: dict[str, Any]) -> str:
        response = self._sfn.start_execution(
            stateMachineArn=state_machine_arn, name=name, input=json.dumps(payload)
        )
        return str(response["executionArn"])


def _arn_from_error(exc: Exception) -> str | None:
    message = str(exc)
    marker = "arn:"
    if marker in message:
        candidate = message[message.index(marker) :].split()[0].strip("'\".,")
        if ":stateMachine:" in candidate:
            return candidate
    return None
