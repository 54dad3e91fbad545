"""Reference code tables shipped with the package: GB/T 2260 divisions and GB/T 4754-2017 industries."""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

HERE = Path(__file__).resolve().parent


@cache
def divisions() -> dict[str, str]:
    """GB/T 2260 (2019-04) code -> name."""
    with (HERE / "gb2260_201904.csv").open(encoding="utf-8") as f:
        return {r["code"]: r["name"] for r in csv.DictReader(f)}


def city_districts(city_code: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The county-level units of a prefecture-level city (e.g. 211300 -> 211302 双塔区 ...), plus internal codes."""
    prefix = city_code[:4]
    out = {c: n for c, n in divisions().items() if c.startswith(prefix) and c != city_code}
    out.update(extra or {})
    return dict(sorted(out.items()))


@cache
def industries() -> list[dict[str, str]]:
    """GB/T 4754-2017 rows: level, section, division, group, class, name."""
    with (HERE / "gbt4754_2017.csv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


@cache
def industry_sections() -> dict[str, str]:
    """Section letter -> name (A 农、林、牧、渔业 ... T 国际组织)."""
    return {r["section"]: r["name"] for r in industries() if r["level"] == "1"}


@cache
def industry_code_to_section() -> dict[str, str]:
    """Every division (2-digit), group (3-digit) and class (4-digit) code -> its section letter."""
    out: dict[str, str] = {}
    for r in industries():
        for key in ("division", "group", "class"):
            if r[key]:
                out[r[key]] = r["section"]
    return out


@cache
def industry_names() -> dict[str, str]:
    """Every section letter and division / group / class code -> its name."""
    out: dict[str, str] = {}
    for r in industries():
        code = r["class"] or r["group"] or r["division"] or r["section"]
        out[code] = r["name"]
    return out
