"""Header mapping: which canonical field each column of an export is, and which record type a file is.

A column may carry the Chinese label (either bracket width, known variants and typos), the standard code in
any case, or our snake_case name (conf/sources.yaml). Matching ignores case, width, bracket style and
whitespace; as a second try it also ignores a parenthetical (``罚款金额（万元）`` ~ ``罚款金额``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from radar.config import RecordTypeSpec, Sources, sources

_PAREN = re.compile(r"\([^()]*\)|\[[^\[\]]*\]")
_SPACE = re.compile(r"[\s_\-·•/、]+")


def normalize_header(h: str) -> str:
    """Canonical form of a header for matching: NFKC, no BOM, lower case, no spaces or separators."""
    h = unicodedata.normalize("NFKC", h.replace("\ufeff", "")).strip().lower()
    h = h.replace("【", "[").replace("】", "]")
    return _SPACE.sub("", h)


def _strip_paren(h: str) -> str:
    return _PAREN.sub("", h)


_UNIT_IN_HEADER = re.compile(r"[(\[](?:单位[:：]?)?(人民币)?(万元|万|元)[)\]]")


def unit_in_header(h: str) -> str | None:
    """The money unit a header writes in brackets: ``罚款（元）`` -> yuan, ``金额(万元)`` -> wan, else None."""
    m = _UNIT_IN_HEADER.search(normalize_header(h))
    if m is None:
        return None
    return "yuan" if m.group(2) == "元" else "wan"


@dataclass(frozen=True)
class ColumnMatch:
    """One source column mapped to a canonical field, with the unit its header implies."""

    source: str
    field: str
    unit: str | None = None


@dataclass
class HeaderMapping:
    """The mapping of one file's header row to a record type."""

    record_type: str
    columns: list[ColumnMatch]
    unknown: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)

    @property
    def fields(self) -> set[str]:
        """Canonical fields present in the file."""
        return {c.field for c in self.columns}


_Index = tuple[dict[str, tuple[str, str | None]], dict[str, tuple[str, str | None]]]
_INDEX_CACHE: dict[tuple[str, int], tuple[Sources, _Index]] = {}


def _alias_index(record_type: str, src: Sources) -> _Index:
    """(exact, loose) header -> (field, unit) lookups of a record type, built once per Sources object."""
    hit = _INDEX_CACHE.get((record_type, id(src)))
    if hit is not None and hit[0] is src:
        return hit[1]
    index = _build_index(src.record_types[record_type])
    _INDEX_CACHE[(record_type, id(src))] = (src, index)  # keeps src alive, so its id is not reused
    return index


def _build_index(spec: RecordTypeSpec) -> _Index:
    """Every accepted header of every field (snake name, label, code, aliases), normalised, with its unit."""
    exact: dict[str, tuple[str, str | None]] = {}
    loose: dict[str, tuple[str, str | None]] = {}
    for name, f in spec.fields.items():
        cands: list[tuple[str, str | None]] = [(name, f.unit)]
        if f.label:
            cands.append((f.label, f.unit))
        if f.code:
            cands.append((f.code, f.unit))
        for a in f.aliases:
            alias, _, unit = a.partition("|")
            cands.append((alias, unit or f.unit))
        for alias, unit in cands:
            key = normalize_header(alias)
            exact.setdefault(key, (name, unit))
            loose.setdefault(_strip_paren(key), (name, unit))
    return exact, loose


_SOURCES: Sources | None = None


def _spec(record_type: str) -> RecordTypeSpec:
    return (_SOURCES or sources()).record_types[record_type]


def map_headers(headers: list[str], record_type: str, src: Sources | None = None) -> HeaderMapping:
    """Map a header row to the fields of ``record_type``; unmatched columns are listed as unknown."""
    exact, loose = _alias_index(record_type, src or _SOURCES or sources())
    cols: list[ColumnMatch] = []
    unknown: list[str] = []
    duplicates: list[str] = []
    seen: set[str] = set()
    for h in headers:
        key = normalize_header(h)
        hit = exact.get(key) or loose.get(_strip_paren(key))
        if hit is None:
            unknown.append(h)
            continue
        if hit[0] in seen:
            duplicates.append(h)
            continue
        seen.add(hit[0])
        # a unit the header writes (罚款金额（元）) wins over the field's default unit
        unit = (unit_in_header(h) or hit[1]) if hit[1] is not None else None
        cols.append(ColumnMatch(h, hit[0], unit))
    return HeaderMapping(record_type, cols, unknown, duplicates)


def detect_record_type(headers: list[str], src: Sources | None = None) -> HeaderMapping | None:
    """The record type whose detection fields all appear and which explains most columns, or None."""
    src = src or sources()
    best: tuple[int, int, HeaderMapping] | None = None
    for rt, spec in src.record_types.items():
        m = map_headers(headers, rt, src)
        if not set(spec.detect) <= m.fields:
            continue
        score = (len(m.columns), -len(m.unknown))
        if best is None or score > best[:2]:
            best = (*score, m)
    return best[2] if best else None


def header_for(record_type: str, field_name: str, style: str) -> str:
    """The header a field is exported under in a header ``style`` (label, code, code_lower or snake)."""
    f = _spec(record_type).fields[field_name]
    if style == "label" and f.label:
        return f.label
    if style == "code" and f.code:
        return f.code
    if style == "code_lower" and f.code:
        return f.code.lower()
    return field_name
