"""The agent registry on DynamoDB (the template's ``AgentRegistryTable``, key ``agent_name``).

Conditional writes carry the rules that must hold under concurrency (the gateway registers while
the scheduled refresh runs):

* ``put`` without ``replace`` creates only (``attribute_not_exists``): two registrations of one
  name cannot both win, and a deployed agent is not overwritten by accident;
* ``put_deployed`` (the refresh seeding deployed agents) writes only where no runtime
  registration holds the name, so an operator's explicit replacement survives the next refresh;
* ``remove`` deletes runtime records only, unless the caller (the refresh pruning agents the
  stack no longer deploys) allows deployed ones;
* ``record_health`` updates only the record that was checked (same URL), so a check that started
  before a re-registration does not stamp its result on the new agent.

The card is stored as JSON text: DynamoDB maps would turn its numbers into decimals and reject
some keys, and the text is size-capped at fetch time anyway.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from analystack.dynamo import from_item, to_item, to_value
from analystack.errors import NotFoundError
from analystack.registry.models import (
    AgentChangedError,
    AgentExistsError,
    AgentRecord,
    DeployedAgentError,
    HealthResult,
)

KEY = "agent_name"


class DynamoDbAgentRegistry:
    def __init__(self, *, table: str, dynamodb_client: Any) -> None:
        self._table = table
        self._ddb = dynamodb_client

    def put(self, record: AgentRecord, *, replace: bool = False) -> AgentRecord:
        kwargs: dict[str, Any] = {"TableName": self._table, "Item": _to_item(record)}
        if not replace:
            kwargs["ConditionExpression"] = f"attribute_not_exists({KEY})"
        try:
            self._ddb.put_item(**kwargs)
        except self._ddb.exceptions.ConditionalCheckFailedException:
            raise AgentExistsError(
                f"An agent named '{record.agent}' is already registered; send replace=true to replace it",
                details={"agent": record.agent},
            ) from None
        return record

    def put_deployed(self, record: AgentRecord) -> bool:
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item=_to_item(record.model_copy(update={"source": "deployed"})),
                ConditionExpression=f"attribute_not_exists({KEY}) OR #source = :deployed",
                ExpressionAttributeNames={"#source": "source"},
                ExpressionAttributeValues={":deployed": {"S": "deployed"}},
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def get(self, agent: str) -> AgentRecord:
        response = self._ddb.get_item(TableName=self._table, Key={KEY: {"S": agent}}, ConsistentRead=True)
        if "Item" not in response:
            raise NotFoundError(f"No agent named '{agent}' is registered", details={"agent": agent})
        return _from_item(response["Item"])

    def list(self) -> list[AgentRecord]:
        records: list[AgentRecord] = []
        kwargs: dict[str, Any] = {"TableName": self._table, "ConsistentRead": True}
        while True:
            page = self._ddb.scan(**kwargs)
            records.extend(_from_item(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return sorted(records, key=lambda r: r.agent)

    def remove(self, agent: str, *, allow_deployed: bool = False) -> None:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "Key": {KEY: {"S": agent}},
            "ConditionExpression": f"attribute_exists({KEY})",
        }
        if not allow_deployed:
            kwargs["ConditionExpression"] += " AND #source = :runtime"
            kwargs["ExpressionAttributeNames"] = {"#source": "source"}
            kwargs["ExpressionAttributeValues"] = {":runtime": {"S": "runtime"}}
        try:
            self._ddb.delete_item(**kwargs)
        except self._ddb.exceptions.ConditionalCheckFailedException:
            self.get(agent)  # NotFoundError when it is not there at all
            raise _deployed_error(agent) from None

    def record_health(self, agent: str, result: HealthResult) -> None:
        fields: dict[str, Any] = {
            "status": result.status,
            "latency_ms": result.latency_ms,
            "checked_at": result.checked_at,
            "last_error": result.error,
        }
        if result.card is not None and result.skills is not None:
            fields["card_json"] = json.dumps(result.card, ensure_ascii=False, separators=(",", ":"))
            fields["skills"] = [skill.model_dump() for skill in result.skills]
        sets = {name: value for name, value in fields.items() if value is not None}
        removes = [name for name, value in fields.items() if value is None]
        names = {f"#f{i}": name for i, name in enumerate([*sets, *removes])}
        by_name = {name: alias for alias, name in names.items()}
        expression = "SET " + ", ".join(f"{by_name[n]} = :v{i}" for i, n in enumerate(sets))
        if removes:
            expression += " REMOVE " + ", ".join(by_name[n] for n in removes)
        values = {f":v{i}": to_value(value) for i, value in enumerate(sets.values())}
        values[":url"] = {"S": result.url}
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key={KEY: {"S": agent}},
                UpdateExpression=expression,
                ConditionExpression=f"attribute_exists({KEY}) AND #url = :url",
                ExpressionAttributeNames={**names, "#url": "url"},
                ExpressionAttributeValues=values,
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            self.get(agent)
            raise _changed_error(agent) from None


class InMemoryAgentRegistry:
    """The same contract in one process's memory: for unit tests and single-process tools only —
    behind Lambda its state would die with the container (use ``DynamoDbAgentRegistry``)."""

    def __init__(self, records: list[AgentRecord] | None = None) -> None:
        self._records = {record.agent: record for record in records or []}
        self._lock = threading.Lock()

    def put(self, record: AgentRecord, *, replace: bool = False) -> AgentRecord:
        with self._lock:
            if record.agent in self._records and not replace:
                raise AgentExistsError(
                    f"An agent named '{record.agent}' is already registered; send replace=true to replace it",
                    details={"agent": record.agent},
                )
            self._records[record.agent] = record
        return record

    def put_deployed(self, record: AgentRecord) -> bool:
        with self._lock:
            holder = self._records.get(record.agent)
            if holder is not None and holder.source != "deployed":
                return False
            self._records[record.agent] = record.model_copy(update={"source": "deployed"})
        return True

    def get(self, agent: str) -> AgentRecord:
        with self._lock:
            record = self._records.get(agent)
        if record is None:
            raise NotFoundError(f"No agent named '{agent}' is registered", details={"agent": agent})
        return record

    def list(self) -> list[AgentRecord]:
        with self._lock:
            return sorted(self._records.values(), key=lambda r: r.agent)

    def remove(self, agent: str, *, allow_deployed: bool = False) -> None:
        with self._lock:
            record = self._records.get(agent)
            if record is None:
                raise NotFoundError(f"No agent named '{agent}' is registered", details={"agent": agent})
            if record.source == "deployed" and not allow_deployed:
                raise _deployed_error(agent)
            del self._records[agent]

    def record_health(self, agent: str, result: HealthResult) -> None:
        with self._lock:
            record = self._records.get(agent)
            if record is None:
                raise NotFoundError(f"No agent named '{agent}' is registered", details={"agent": agent})
            if record.url != result.url:
                raise _changed_error(agent)
            update: dict[str, Any] = {
                "status": result.status,
                "latency_ms": result.latency_ms,
                "checked_at": result.checked_at,
                "last_error": result.error,
            }
            if result.card is not None and result.skills is not None:
                update.update(card=result.card, skills=result.skills)
            self._records[agent] = record.model_copy(update=update)


def _deployed_error(agent: str) -> DeployedAgentError:
    return DeployedAgentError(
        f"'{agent}' is deployed with the stack and cannot be removed through the API",
        details={"agent": agent},
    )


def _changed_error(agent: str) -> AgentChangedError:
    return AgentChangedError(
        f"'{agent}' was re-registered while it was being checked", details={"agent": agent}
    )


def _to_item(record: AgentRecord) -> dict[str, Any]:
    data = record.model_dump(mode="json", exclude={"agent", "card"})
    if record.card is not None:
        data["card_json"] = json.dumps(record.card, ensure_ascii=False, separators=(",", ":"))
    return to_item({KEY: record.agent, **data})


def _from_item(item: dict[str, Any]) -> AgentRecord:
    data = from_item(item)
    card_json = data.pop("card_json", None)
    data["agent"] = data.pop(KEY)
    data["card"] = json.loads(card_json) if card_json else None
    return AgentRecord.model_validate(data)
