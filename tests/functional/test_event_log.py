"""The progress event log on DynamoDB (moto over HTTP): order, resumption, and settled reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from analystack.aws import client
from analystack.jobs import EVENT_SETTLE_S, EventLog
from analystack.models import ProgressEvent
from analystack.settings import get_settings

pytestmark = pytest.mark.functional


class _Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _event(agent: str, message: str) -> ProgressEvent:
    return ProgressEvent(stage="running", agent=agent, progress=50, message=message)


def test_a_late_stored_event_is_not_skipped_by_a_settled_reader(cloud: Any) -> None:
    table = get_settings().resources.events_table
    clock = _Clock()
    log = EventLog(table=table, dynamodb_client=client("dynamodb"), clock=clock)

    log.append("job-1", _event("quality", "profiled"))
    clock.advance(EVENT_SETTLE_S + 0.5)
    stamped_at = clock.now  # the EDA agent stamps its event now ...
    clock.advance(0.01)
    log.append("job-1", _event("automl", "fitted Ridge"))  # ... but the AutoML agent stores first

    # A reader following the job gets only what has settled: the first event.
    first = log.list("job-1", settled=True)
    assert [e.message for e in first] == ["profiled"]
    # An unsettled read would move the cursor past the EDA event's id before it is stored.
    assert [e.message for e in log.list("job-1")] == ["profiled", "fitted Ridge"]

    # The EDA agent's write lands now, with the earlier id.
    EventLog(table=table, dynamodb_client=client("dynamodb"), clock=lambda: stamped_at).append(
        "job-1", _event("eda", "typed")
    )

    clock.advance(EVENT_SETTLE_S + 0.1)
    resumed = log.list("job-1", after=first[-1].event_id, settled=True)
    assert [e.message for e in resumed] == ["typed", "fitted Ridge"]  # nothing lost, in id order
    assert log.list("job-1", after=resumed[-1].event_id, settled=True) == []
