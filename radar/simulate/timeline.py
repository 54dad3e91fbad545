"""Days and months of the simulation: dates are int64 day numbers (days since 1970-01-01) internally."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

NEVER = np.int64(10**7)  # a day number far beyond any date we write: "does not happen"
LONG_TERM = np.int64((date(2099, 12, 31) - date(1970, 1, 1)).days)  # 长期 (long-term validity)


def day(d: str | date) -> int:
    """Day number of an ISO date."""
    if isinstance(d, str):
        d = date.fromisoformat(d)
    return (d - date(1970, 1, 1)).days


def to_date(n: int) -> date:
    """The date of a day number."""
    return date(1970, 1, 1) + timedelta(days=int(n))


def as_datetime64(days: np.ndarray) -> np.ndarray:
    """Day numbers as numpy datetime64[D]."""
    return np.asarray(days, dtype=np.int64).astype("datetime64[D]")


def ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month (1-12) and day of month of day numbers."""
    d = as_datetime64(days)
    y = d.astype("datetime64[Y]")
    m = d.astype("datetime64[M]")
    year = y.astype(np.int64) + 1970
    month = (m - y.astype("datetime64[M]")).astype(np.int64) + 1
    dom = (d - m.astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, dom


def years_later(days: np.ndarray, years: np.ndarray | int) -> np.ndarray:
    """The same calendar day ``years`` later (29 Feb becomes 28 Feb)."""
    y, m, d = ymd(days)
    y = y + years
    d = np.where((m == 2) & (d == 29), 28, d)
    months = (y - 1970) * 12 + (m - 1)
    return months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) + d - 1


@dataclass(frozen=True)
class Timeline:
    """The simulated period: exports cover ``start``..``end`` (the as-of date); truth runs to ``future_end``."""

    start: int
    end: int
    future_end: int

    @property
    def month_starts(self) -> np.ndarray:
        """First day of each month from the start month to the future end month."""
        first = as_datetime64([self.start]).astype("datetime64[M]")[0]
        last = as_datetime64([self.future_end]).astype("datetime64[M]")[0]
        months = np.arange(first, last + 1)
        return months.astype("datetime64[D]").astype(np.int64)

    @property
    def n_months(self) -> int:
        """Number of simulated months (including the future ones)."""
        return len(self.month_starts)

    def month_of(self, days: np.ndarray) -> np.ndarray:
        """Month index of day numbers (may be negative before the start month)."""
        first = as_datetime64([self.start]).astype("datetime64[M]")[0]
        return (as_datetime64(days).astype("datetime64[M]") - first).astype(np.int64)

    def day_in_month(self, rng: np.random.Generator, months: np.ndarray) -> np.ndarray:
        """A uniformly random day inside each month index."""
        first = as_datetime64([self.start]).astype("datetime64[M]")[0]
        m = first + np.asarray(months, dtype=np.int64)
        start = m.astype("datetime64[D]").astype(np.int64)
        length = (m + 1).astype("datetime64[D]").astype(np.int64) - start
        return start + (rng.random(len(start)) * length).astype(np.int64)
