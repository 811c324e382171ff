"""Peak-memory sampling shared by the benchmarks (each runs as a script, so this sits beside them)."""

from __future__ import annotations

import gc
import threading
import time


class RssSampler:
    """Peak RSS of this process, sampled by a daemon thread every ``interval`` seconds; the
    samples (wall-clock time, RSS) are kept so a step's peak can be read from its interval."""

    def __init__(self, interval: float = 0.05) -> None:
        import psutil

        self._process = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        gc.collect()
        self.baseline = self._process.memory_info().rss
        self.peak = self.baseline
        self.samples: list[tuple[float, int]] = []

    def _sample(self) -> None:
        rss = self._process.memory_info().rss
        self.samples.append((time.time(), rss))
        self.peak = max(self.peak, rss)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self._interval)

    def peak_between(self, start: float, end: float) -> int:
        """Highest RSS sampled in [start, end] (wall-clock seconds) or first after it (steps
        shorter than the interval may hold no sample), else the baseline."""
        inside = [rss for at, rss in self.samples if start <= at <= end]
        after = next((rss for at, rss in self.samples if at > end), None)
        return max([*inside, *([after] if after is not None else [])], default=self.baseline)

    def rss_at(self, moment: float) -> int:
        """The last RSS sampled at or before ``moment`` (the baseline before the first sample)."""
        before = [rss for at, rss in self.samples if at <= moment]
        return before[-1] if before else self.baseline

    def step(self, start: float, end: float) -> dict[str, int]:
        """What a step held: its peak, and its peak over the RSS when it started (what it added)."""
        peak = self.peak_between(start, end)
        return {"peak": peak, "added": max(0, peak - self.rss_at(start))}

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
