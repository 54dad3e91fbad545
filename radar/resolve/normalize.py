"""Normalising Chinese entity names, addresses and phones for matching.

One set of rules (``NameRules``) is applied both in Python and as Spark SQL, so analysts, tests and the
Spark jobs agree. A name is reduced to its core: half-width, no spaces, no bracketed region marker, no
leading region (province, city, district: full or short form), no organisation-form suffix.
``朝阳市鑫盛商贸有限公司`` and ``鑫盛商贸（朝阳）有限公司`` both become ``鑫盛商贸``.

Half-width folding is the same character table in both (full-width ASCII and the ideographic space), and
"spaces" are the same explicit class of Unicode white space (no-break, en/em, ideographic, zero-width and
BOM included), so the Python and SQL versions give the same core for every text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from radar.config import ResolvePolicy
from radar.ingest.parse import lit
from radar.reference import city_districts, divisions

_ADMIN_SUFFIXES = ("蒙古族自治县", "自治县", "新区", "区", "县", "市", "省")


def _short(name: str) -> str:
    for suf in _ADMIN_SUFFIXES:
        if name.endswith(suf) and len(name) - len(suf) >= 2:
            return name[: -len(suf)]
    return name


@dataclass(frozen=True)
class NameRules:
    """Regexes that reduce names and addresses to comparable cores."""

    region_prefix: str
    bracket_region: str
    org_suffix: str
    address_prefix: str

    def name_py(self, s: str | None) -> str | None:
        """The core of a name (Python)."""
        if s is None:
            return None
        t = re.sub(_SPACE, "", s.translate(_WIDTH))
        t = re.sub(self.bracket_region, "", t)
        t = re.sub(self.region_prefix, "", t)
        t = re.sub(self.org_suffix, "", t)
        t = t.replace("(", "").replace(")", "")
        return t or None

    def name_sql(self, x: str) -> str:
        """The core of a name (Spark SQL over the text expression ``x``)."""
        t = f"regexp_replace(translate({x}, {lit(_FULL)}, {lit(_HALF)}), {lit(_SPACE)}, '')"
        t = f"regexp_replace({t}, {lit(self.bracket_region)}, '')"
        t = f"regexp_replace({t}, {lit(self.region_prefix)}, '')"
        t = f"regexp_replace({t}, {lit(self.org_suffix)}, '')"
        t = f"regexp_replace({t}, '[()]', '')"
        return f"nullif({t}, '')"

    def address_py(self, s: str | None) -> str | None:
        """A comparable address: half-width, no spaces, no province/city prefix, 号楼 -> 栋."""
        if s is None:
            return None
        t = re.sub(_SPACE, "", s.translate(_WIDTH))
        t = re.sub(self.address_prefix, "", t)
        t = t.replace("号楼", "栋").replace("幢", "栋").replace("#", "号")
        return t or None

    def address_sql(self, x: str) -> str:
        """The same as ``address_py`` in Spark SQL."""
        t = f"regexp_replace(translate({x}, {lit(_FULL)}, {lit(_HALF)}), {lit(_SPACE)}, '')"
        t = f"regexp_replace({t}, {lit(self.address_prefix)}, '')"
        t = f"replace(replace(replace({t}, '号楼', '栋'), '幢', '栋'), '#', '号')"
        return f"nullif({t}, '')"


_FULL = "".join(chr(c) for c in range(0xFF01, 0xFF5F)) + "\u3000"
_HALF = "".join(chr(c) for c in range(0x21, 0x7F)) + " "
_WIDTH = str.maketrans(_FULL, _HALF)
# white space removed from names and addresses: one explicit class that Python's re and Java's regex read alike
_SPACE = r"[\t\n\x0b\f\r \x85\xa0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff]+"


def _alt(words: list[str]) -> str:
    words = sorted({w for w in words if w}, key=len, reverse=True)
    return "(" + "|".join(re.escape(w) for w in words) + ")"


def name_rules(policy: ResolvePolicy) -> NameRules:
    """Rules for the city of ``policy.city_division`` (its province, the city and its districts)."""
    return _name_rules(policy.city_division, tuple(sorted(policy.extra_divisions.items())), tuple(policy.org_suffixes))


@cache
def _name_rules(city: str, extra: tuple[tuple[str, str], ...], org_suffixes: tuple[str, ...]) -> NameRules:
    divs = divisions()
    province = divs.get(city[:2] + "0000", "")
    city_name = divs.get(city, "")
    districts = list(city_districts(city, dict(extra)).values())
    prov_words = [province, _short(province)]
    city_words = [city_name, _short(city_name)]
    dist_words = [*districts, *(_short(d) for d in districts), "喀左"]
    # the city's name must not eat the start of a district named after it (朝阳 in 朝阳县, 朝阳经济技术开发区)
    tails = {"县", "区", "市"} | {d[len(w):] for d in dist_words for w in city_words if w and d.startswith(w)}
    city_re = f"({_alt(city_words)}(?!{_alt(sorted(tails))}))"
    region_prefix = f"^{_alt(prov_words)}?{city_re}?{_alt(dist_words)}?"
    bracket_region = r"\(" + _alt(prov_words + city_words + dist_words) + r"\)"
    org_suffix = _alt(list(org_suffixes)) + "$"
    address_prefix = f"^{_alt(prov_words)}?{city_re}?"
    return NameRules(region_prefix, bracket_region, org_suffix, address_prefix)


def phone_sql(x: str) -> str:
    """Digits of a phone number; a mobile keeps its 11 digits, a landline its area code and number."""
    t = f"regexp_replace({x}, '[^0-9]', '')"
    return f"CASE WHEN length({t}) >= 7 THEN {t} END"
