"""Progress reporting shared by the agents' pure logic."""

from __future__ import annotations

from collections.abc import Callable


class ThrottledProgress:
    """Strictly increasing progress reports, throttled to ~1 % steps (1.0 and forced ones always
    sent): every report becomes an event-log write and a task update, so wide tables must not
    emit one per column."""

    def __init__(self, callback: Callable[[float, str], None] | None) -> None:
        self.callback = callback
        self.last = -1.0

    def __call__(self, fraction: float, message: str, *, force: bool = False) -> None:
        if self.callback is None:
            return
        fraction = min(max(fraction, 0.0), 1.0)
        if fraction <= self.last or (not force and fraction < 1.0 and fraction - self.last < 0.01):
            return
        self.last = fraction
        self.callback(fraction, message)
