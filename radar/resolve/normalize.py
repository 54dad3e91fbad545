"""Normalising Chinese entity names, addresses and phones for matching.

One set of rules (``NameRules``) is applied both in Python and as Spark SQL, so analysts, tests and the
Spark jobs agree. A name is reduced to its core: half-width, no spaces, no branch (``朝阳分公司``), no
bracketed region marker, no leading region (province, city, district: full or short form), no
organisation-form suffix. ``朝阳市鑫盛商贸有限公司`` and ``鑫盛商贸（朝阳）有限公司`` both become ``鑫盛商贸``.
The parts taken off are kept (:meth:`NameRules.parts_py`, :meth:`NameRules.parts_sql`): the region as a
division code, the organisation form and the branch, because they tell similar names apart
(``建平县老王运输队`` is not ``朝阳县老王运输队``; ``…有限公司`` is not ``…有限责任公司``).

Addresses lose the province and city, fold ``号楼`` / ``幢`` / ``座`` to ``栋``, ``#`` to ``号``, Chinese digits
before ``单元`` / ``层`` / ``栋`` / ``楼`` to Arabic ones, and the dash forms ``19-1-804`` stay as written; the
address key (up to the first ``号`` or ``栋``) ignores what follows the house number (``门市``, a room).

Half-width folding is the same character table in both (full-width ASCII, small-form brackets and the
ideographic space), and "spaces" are the same explicit class of Unicode white space (no-break, en/em,
ideographic, zero-width and BOM included), so the Python and SQL versions give the same result for every text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from radar.config import ResolvePolicy
from radar.ingest.parse import lit
from radar.reference import city_districts, divisions

_ADMIN_SUFFIXES = ("蒙古族自治县", "自治县", "新区", "区", "县", "市", "省")
# a branch after its parent's name: 大连瑞丰实业有限公司朝阳分公司 -> (大连瑞丰实业有限公司, 朝阳分公司)
_BRANCH = r"^(.+?(?:公司|集团|企业|厂|店|社|中心))([^()]{0,12}?(?:分公司|分店|分厂|分部|分社|分中心|营业部|办事处))$"
# what ends an address key: the house number or the building
_ADDRESS_KEY = r"^(.*?[号栋])"
_ROAD = r"^(.*?(?:大街|大路|路|街|巷|胡同|村|屯|组))"
_CN_DIGITS = "一二三四五六七八九"
# the hundred commonest surnames (about 85% of people): a 2-4 character name starting with one and holding
# no business word looks like a natural person's name
SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔"
    "钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢"
    "安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游"
    "辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧"
    "闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝那"
)
_BUSINESS_CHARS = set("店铺行馆厂社部所站场院坊园庄号记氏司业贸局队会中心门市屋吧城阁楼堂")


def _short(name: str) -> str:
    for suf in _ADMIN_SUFFIXES:
        if name.endswith(suf) and len(name) - len(suf) >= 2:
            return name[: -len(suf)]
    return name


def looks_like_person(name: str | None) -> bool:
    """A 2-4 character Chinese name that starts with a common surname and has no business word."""
    if not name:
        return False
    t = re.sub(_SPACE, "", name.translate(_WIDTH))
    return (
        2 <= len(t) <= 4
        and t[0] in SURNAMES
        and all("\u4e00" <= ch <= "\u9fff" for ch in t)
        and not (set(t[1:]) & _BUSINESS_CHARS)
    )


def person_sql(x: str) -> str:
    """``looks_like_person`` in Spark SQL (a boolean, false for null)."""
    t = f"regexp_replace(translate({x}, {lit(_FULL)}, {lit(_HALF)}), {lit(_SPACE)}, '')"
    first = "[" + "".join(sorted(SURNAMES)) + "]"
    rest = "[^" + "".join(sorted(_BUSINESS_CHARS)) + r"\x00-\u4dff\ua000-\uffff]"
    return f"coalesce({t} rlike {lit(f'^{first}{rest}{{1,3}}$')}, false)"


@dataclass(frozen=True)
class NameParts:
    """A name taken apart: the normalised full name, its core, region (division code), form and branch."""

    full: str | None
    core: str | None
    region: str | None
    form: str | None
    branch: str | None


@dataclass(frozen=True)
class NameRules:
    """Regexes that reduce names and addresses to comparable cores."""

    region_prefix: str      # groups: 1 province, 2 city, 3 district
    bracket_region: str     # group 1: the region inside the brackets
    org_suffix: str         # group 1: the organisation form
    address_prefix: str
    region_codes: tuple[tuple[str, str], ...]  # region word -> division code, longest word first
    district_in_text: str   # group 1: the first district name inside a text

    # ------------------------------------------------------------------ Python
    def name_py(self, s: str | None) -> str | None:
        """The core of a name (Python)."""
        return self.parts_py(s).core

    def parts_py(self, s: str | None) -> NameParts:
        """The parts of a name (Python)."""
        if s is None:
            return NameParts(None, None, None, None, None)
        t = clean_py(s)
        full = t or None
        b = re.match(_BRANCH, t)
        branch = None
        if b:
            t, branch = b.group(1), b.group(2)
        region = None
        m = re.search(self.bracket_region, t)
        if m:
            region = self.region_code(m.group(1))
        t = re.sub(self.bracket_region, "", t)
        p = re.match(self.region_prefix, t)
        if p and p.group(0):
            region = self.region_code(p.group(3) or p.group(2) or p.group(1)) or region
        t = re.sub(self.region_prefix, "", t)
        f = re.search(self.org_suffix, t)
        form = f.group(1) if f else None
        t = re.sub(self.org_suffix, "", t)
        t = t.replace("(", "").replace(")", "")
        return NameParts(full, t or None, region, form, branch)

    def region_code(self, word: str | None) -> str | None:
        """The division code of a region word (a district, the city or the province, full or short)."""
        if not word:
            return None
        return dict(self.region_codes).get(word)

    def address_py(self, s: str | None) -> str | None:
        """A comparable address: half-width, no spaces, no province/city prefix, 号楼 -> 栋 and the like."""
        if s is None:
            return None
        t = clean_py(s)
        t = re.sub(self.address_prefix, "", t)
        t = t.replace("号楼", "栋").replace("幢", "栋").replace("座", "栋").replace("#", "号")
        t = re.sub(f"([{_CN_DIGITS}])(?=单元|层|栋|楼)", lambda m: str(_CN_DIGITS.index(m.group(1)) + 1), t)
        return t or None

    def address_key_py(self, core: str | None) -> str | None:
        """The address up to its house number or building (``双塔区长江路10号门市`` -> ``双塔区长江路10号``)."""
        if core is None:
            return None
        m = re.match(_ADDRESS_KEY, core)
        return m.group(1) if m else core

    def road_py(self, core: str | None) -> str | None:
        """The road (or village) of a normalised address, with its district, if one can be seen."""
        if core is None:
            return None
        m = re.match(_ROAD, core)
        return m.group(1) if m else None

    def district_of_text_py(self, s: str | None) -> str | None:
        """The division code of the first district (county, development zone) named in a text."""
        if not s:
            return None
        m = re.search(self.district_in_text, clean_py(s))
        return self.region_code(m.group(1)) if m else None

    # ------------------------------------------------------------------ Spark SQL
    def name_sql(self, x: str) -> str:
        """The core of a name (Spark SQL over the text expression ``x``)."""
        return self.parts_sql(x)["core"]

    def parts_sql(self, x: str) -> dict[str, str]:
        """The parts of a name as Spark SQL expressions (keys: full, core, region, form, branch).

        Each is one self-contained expression; where a DataFrame gets several parts, :meth:`name_steps`
        computes the same once per row.
        """
        steps, parts = self.name_steps(x)
        return {k: inline(v, steps) for k, v in parts.items()}

    def name_steps(self, x: str, prefix: str = "_np") -> tuple[list[tuple[str, str]], dict[str, str]]:
        """The parts of a name as Spark SQL, in steps: (steps, parts).

        ``steps`` is a list of (column name, SQL) to add to a DataFrame in order, each reading the earlier
        ones; ``parts`` (full, core, region, form, branch) are SQL over the steps (see :func:`derive`).
        Written as one expression per part, the cleaned text and the branch, bracket and region regexes
        would run once per part that reads them (Spark inlines them into every use): twice the CPU.
        """
        t, b, br, parent, nob, rest = (f"{prefix}_{n}" for n in ("text", "lead", "branch", "parent", "nobr", "rest"))
        steps = [
            (t, clean_sql(x)),
            (b, f"regexp_extract({t}, {lit(_BRANCH)}, 1)"),
            (br, f"regexp_extract({t}, {lit(_BRANCH)}, 2)"),
            (parent, f"coalesce(nullif({b}, ''), {t})"),
            (nob, f"regexp_replace({parent}, {lit(self.bracket_region)}, '')"),
            (rest, f"regexp_replace({nob}, {lit(self.region_prefix)}, '')"),
        ]
        prefix_word = (
            f"coalesce(nullif(regexp_extract({nob}, {lit(self.region_prefix)}, 3), ''), "
            f"nullif(regexp_extract({nob}, {lit(self.region_prefix)}, 2), ''), "
            f"nullif(regexp_extract({nob}, {lit(self.region_prefix)}, 1), ''))"
        )
        bracket_word = f"nullif(regexp_extract({parent}, {lit(self.bracket_region)}, 1), '')"
        core = f"regexp_replace(regexp_replace({rest}, {lit(self.org_suffix)}, ''), '[()]', '')"
        return steps, {
            "full": f"nullif({t}, '')",
            "core": f"nullif({core}, '')",
            "region": f"coalesce({self._code_sql(prefix_word)}, {self._code_sql(bracket_word)})",
            "form": f"nullif(regexp_extract({rest}, {lit(self.org_suffix)}, 1), '')",
            "branch": f"nullif({br}, '')",
        }

    def address_steps(self, x: str, prefix: str = "_ad") -> tuple[list[tuple[str, str]], dict[str, str]]:
        """An address's normalised form, key and road as Spark SQL in steps (see :meth:`name_steps`):
        parts ``core`` (:meth:`address_sql`), ``key`` and ``road``."""
        core = f"{prefix}_core"
        return [(core, self.address_sql(x))], {
            "core": core, "key": self.address_key_sql(core), "road": self.road_sql(core)
        }

    def _code_sql(self, word: str) -> str:
        # a map lookup evaluates ``word`` once (``CASE word WHEN ...`` repeats it, a regex, for every word)
        pairs = ", ".join(f"{lit(w)}, {lit(c)}" for w, c in self.region_codes)
        return f"element_at(map({pairs}), {word})"

    def address_sql(self, x: str) -> str:
        """The same as ``address_py`` in Spark SQL."""
        t = clean_sql(x)
        t = f"regexp_replace({t}, {lit(self.address_prefix)}, '')"
        t = f"replace(replace(replace(replace({t}, '号楼', '栋'), '幢', '栋'), '座', '栋'), '#', '号')"
        for i, d in enumerate(_CN_DIGITS):
            t = f"regexp_replace({t}, {lit(d + '(?=单元|层|栋|楼)')}, '{i + 1}')"
        return f"nullif({t}, '')"

    def address_key_sql(self, core: str) -> str:
        """The same as ``address_key_py`` in Spark SQL (over a normalised address)."""
        return f"coalesce(nullif(regexp_extract({core}, {lit(_ADDRESS_KEY)}, 1), ''), {core})"

    def road_sql(self, core: str) -> str:
        """The same as ``road_py`` in Spark SQL."""
        return f"nullif(regexp_extract({core}, {lit(_ROAD)}, 1), '')"

    def district_of_text_sql(self, x: str) -> str:
        """The same as ``district_of_text_py`` in Spark SQL."""
        word = f"nullif(regexp_extract({clean_sql(x)}, {lit(self.district_in_text)}, 1), '')"
        return self._code_sql(word)


_FULL = "".join(chr(c) for c in range(0xFF01, 0xFF5F)) + "\u3000\ufe59\ufe5a"
_HALF = "".join(chr(c) for c in range(0x21, 0x7F)) + " ()"
_WIDTH = str.maketrans(_FULL, _HALF)
# white space removed from names and addresses: one explicit class that Python's re and Java's regex read alike
_SPACE = r"[\t\n\x0b\f\r \x85\xa0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff]+"


def clean_py(s: str) -> str:
    """Half-width, without white space."""
    return re.sub(_SPACE, "", s.translate(_WIDTH))


def inline(sql: str, steps: list[tuple[str, str]]) -> str:
    """``sql`` with the step names it reads replaced by their SQL (the steps of :meth:`NameRules.name_steps`)."""
    for name, step in reversed(steps):
        sql = re.sub(rf"\b{re.escape(name)}\b", lambda _m, s=step: f"({s})", sql)
    return sql


def with_steps(df: Any, steps: list[tuple[str, str]]) -> Any:
    """A Spark DataFrame ``df`` with each step (column name, SQL) of :meth:`NameRules.name_steps` as a column,
    in order; a later select of the parts leaves them out."""
    for name, sql in steps:
        df = df.selectExpr("*", f"{sql} AS `{name}`")
    return df


def derive(df: Any, steps: list[tuple[str, str]], outputs: dict[str, str]) -> Any:
    """A Spark DataFrame ``df`` with ``outputs`` (column name -> SQL) as columns, computed through ``steps``
    (:func:`with_steps`), which are dropped again."""
    out = with_steps(df, steps).selectExpr("*", *[f"{sql} AS `{n}`" for n, sql in outputs.items()])
    return out.drop(*[n for n, _ in steps])


def clean_sql(x: str) -> str:
    """``clean_py`` in Spark SQL."""
    return f"regexp_replace(translate({x}, {lit(_FULL)}, {lit(_HALF)}), {lit(_SPACE)}, '')"


def _alt(words: list[str]) -> str:
    words = sorted({w for w in words if w}, key=lambda w: (-len(w), w))
    return "(?:" + "|".join(re.escape(w) for w in words) + ")"


def name_rules(policy: ResolvePolicy) -> NameRules:
    """Rules for the city of ``policy.city_division`` (its province, the city and its districts)."""
    return _name_rules(policy.city_division, tuple(sorted(policy.extra_divisions.items())), tuple(policy.org_suffixes))


@cache
def _name_rules(city: str, extra: tuple[tuple[str, str], ...], org_suffixes: tuple[str, ...]) -> NameRules:
    divs = divisions()
    province_code = city[:2] + "0000"
    province = divs.get(province_code, "")
    city_name = divs.get(city, "")
    dists = city_districts(city, dict(extra))
    prov_words = [province, _short(province)]
    city_words = [city_name, _short(city_name)]
    codes: dict[str, str] = {w: province_code for w in prov_words if w}
    codes.update({w: city for w in city_words if w})
    for code, name in dists.items():
        for w in (name, _short(name)):
            codes.setdefault(w, code)  # a short form equal to the city's name stays the city
    if "211324" in dists:
        codes.setdefault("喀左", "211324")  # the common short name of 喀喇沁左翼蒙古族自治县
        codes.setdefault("喀喇沁左翼", "211324")
    dist_words = [w for w, c in codes.items() if c in dists]
    # the city's name must not eat the start of a district named after it (朝阳 in 朝阳县, 朝阳经济技术开发区)
    tails = {"县", "区", "市"} | {d[len(w):] for d in dist_words for w in city_words if w and d.startswith(w)}
    city_re = f"(?:{_alt(city_words)}(?!{_alt(sorted(tails))}))"
    region_prefix = f"^({_alt(prov_words)})?({city_re})?({_alt(dist_words)})?"
    bracket_region = r"\((" + _alt(prov_words + city_words + dist_words) + r")\)"
    org_suffix = "(" + _alt(list(org_suffixes)) + ")$"
    address_prefix = f"^{_alt(prov_words)}?{city_re}?"
    full_dist_words = [w for w in dist_words if w == dists.get(codes[w]) or len(w) >= 3]
    district_in_text = "(" + _alt(full_dist_words) + ")"
    region_codes = tuple(sorted(codes.items(), key=lambda kv: (-len(kv[0]), kv[0])))
    return NameRules(region_prefix, bracket_region, org_suffix, address_prefix, region_codes, district_in_text)


def phone_sql(x: str) -> str:
    """Digits of a phone number; a mobile keeps its 11 digits, a landline its area code and number."""
    t = f"regexp_replace({x}, '[^0-9]', '')"
    return f"CASE WHEN length({t}) >= 7 THEN {t} END"


def phone_py(s: str | None) -> str | None:
    """``phone_sql`` in Python."""
    if s is None:
        return None
    t = re.sub(r"[^0-9]", "", s)
    return t if len(t) >= 7 else None


# ---------------------------------------------------------------------------- sound (homophones)
# tone marks taken off a pinyin syllable (the diaeresis of ü stays: lü is not lu)
_TONE_MARKS = dict.fromkeys(map(ord, "\u0300\u0301\u0304\u030c"))


_INITIALS = frozenset(
    ("b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h", "j", "q", "x", "zh", "ch", "sh", "r", "z", "c", "s", "y", "w")
)


def _fold(syllable: str, folds: tuple[tuple[str, str], ...]) -> str:
    """A toneless syllable with the confusable sounds of ``folds`` made one: a pair of initials (``zh``, ``z``)
    is folded at the start of the syllable, a pair of finals (``ing``, ``in``) at its end."""
    initial = next((a for a, _ in folds if a in _INITIALS and syllable.startswith(a)), None)
    if initial is not None:
        syllable = dict(folds)[initial] + syllable[len(initial):]
    final = next((a for a, _ in folds if a not in _INITIALS and syllable.endswith(a)), None)
    if final is not None:
        syllable = syllable[: -len(final)] + dict(folds)[final]
    return syllable


@cache
def char_readings(folds: tuple[tuple[str, str], ...] = ()) -> dict[str, tuple[str, ...]]:
    """Every reading (toneless, ``folds`` applied) of each CJK character pypinyin knows (heteronyms: all, the
    commonest first)."""
    import unicodedata

    from pypinyin.pinyin_dict import pinyin_dict

    out: dict[str, tuple[str, ...]] = {}
    for code, readings in pinyin_dict.items():
        if not 0x3400 <= code <= 0x9FFF:
            continue
        syl = [
            _fold(unicodedata.normalize("NFC", unicodedata.normalize("NFD", r).translate(_TONE_MARKS)), folds)
            for r in readings.split(",")
        ]
        out[chr(code)] = tuple(dict.fromkeys(syl))
    return out


def sounds_alike(a: str | None, b: str | None, folds: tuple[tuple[str, str], ...] = ()) -> bool:
    """Whether two texts of the same length read the same, character by character (a character with several
    readings matches any of them; tones ignored; ``folds`` pairs of confusable initials or finals are one)."""
    if not a or not b or len(a) != len(b):
        return False
    readings = char_readings(folds)
    for x, y in zip(a, b, strict=True):
        if x != y:
            rx, ry = readings.get(x), readings.get(y)
            if rx is None or ry is None or set(rx).isdisjoint(ry):
                return False
    return True


def pinyin_key(s: str | None, folds: tuple[tuple[str, str], ...] = ()) -> str | None:
    """A text's commonest readings, space-separated (a character without a reading stays as it is)."""
    if not s:
        return None
    readings = char_readings(folds)
    return " ".join(readings[c][0] if c in readings else c for c in s)
