"""What every job receives: the Spark session, the lake, the as-of date, the configuration."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from radar.config import Policy, Profile, Sources
from radar.lake import Lake


@dataclass
class RunContext:
    """The shared state of one ``radar run`` (or one stage run on its own)."""

    spark: SparkSession
    lake: Lake
    as_of: date
    policy: Policy
    sources: Sources
    profile: Profile
    input_dir: Path | None = None
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def as_of_s(self) -> str:
        """The as-of date as ISO text (the partition name)."""
        return self.as_of.isoformat()

    @contextmanager
    def stage(self, name: str) -> Iterator[dict[str, Any]]:
        """Time a stage and collect its figures under ``report['stages'][name]``."""
        info: dict[str, Any] = {}
        t0 = time.perf_counter()
        try:
            yield info
        finally:
            info["seconds"] = round(time.perf_counter() - t0, 2)
            self.report.setdefault("stages", {})[name] = info


class PhaseClock:
    """Wall seconds of a job's phases (``lap`` ends one), for the run report: where a slow stage spends its
    time."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self._t, 2)
        self._t = now
