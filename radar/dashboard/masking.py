"""Masking of personal data for roles that do not need it: 张*, 2113**********1234, 138****5678.

Columns are masked by kind (name, ID number, phone) as conf/dashboard.yaml lists them; evidence JSON by
its keys; free text by the person names known for the row and by the shape of ID-card and mobile numbers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

import polars as pl

from radar.dashboard.settings import MaskingSettings

# an 18-character resident ID (6-digit area, birth date, sequence, check) not inside a longer code
_ID_NO = re.compile(
    r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![0-9A-Za-z])"
)
_MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def mask_name(name: str | None) -> str | None:
    """张三 -> 张*, 欧阳娜娜 -> 欧***: the family name's first character stays."""
    if not name:
        return name
    name = str(name).strip()
    return name[0] + "*" * (len(name) - 1) if len(name) > 1 else "*"


def mask_id_no(id_no: str | None) -> str | None:
    """211302199001011234 -> 2113**********1234."""
    if not id_no:
        return id_no
    s = str(id_no).strip()
    return s[:4] + "*" * (len(s) - 8) + s[-4:] if len(s) > 8 else "*" * len(s)


def mask_phone(phone: str | None) -> str | None:
    """13812345678 -> 138****5678 (other numbers: first three and last four kept)."""
    if not phone:
        return phone
    s = str(phone).strip()
    return s[:3] + "*" * (len(s) - 7) + s[-4:] if len(s) >= 8 else "*" * len(s)


def mask_text(text: str | None, names: Iterable[str | None] = (), scan: bool = True) -> str | None:
    """Free text with the given person names and (when ``scan``) any ID-card or mobile numbers masked."""
    if not text:
        return text
    out = str(text)
    # longest first, so 欧阳娜娜 is masked before a shorter name inside it
    for name in sorted({n.strip() for n in names if n and len(n.strip()) > 1}, key=len, reverse=True):
        out = out.replace(name, mask_name(name) or "")
    if scan:
        out = _ID_NO.sub(lambda m: mask_id_no(m.group(0)) or "", out)
        out = _MOBILE.sub(lambda m: mask_phone(m.group(0)) or "", out)
    return out


def _typed_kind(d: dict[str, Any], rules: MaskingSettings | None) -> str | None:
    """The kind of personal data a {"type": ..., "label": ...} item's label holds, if any."""
    if rules is None or not isinstance(d.get("type"), str):
        return None
    return rules.typed_label_kinds.get(d["type"])


def collect_names(
    value: Any, name_keys: set[str], found: set[str], rules: MaskingSettings | None = None
) -> None:
    """Add to ``found`` the person names held under ``name_keys`` (or as the label of a person-typed
    item) anywhere in parsed evidence."""
    if isinstance(value, dict):
        label_key = rules.typed_label_key if rules else None
        typed_name = _typed_kind(value, rules) == "name"
        for k, v in value.items():
            if k in name_keys or (typed_name and k == label_key):
                for item in v if isinstance(v, list) else [v]:
                    if isinstance(item, str) and item.strip():
                        found.add(item.strip())
            else:
                collect_names(v, name_keys, found, rules)
    elif isinstance(value, list):
        for v in value:
            collect_names(v, name_keys, found, rules)


_MASKERS = {"name": mask_name, "id": mask_id_no, "phone": mask_phone}


def mask_evidence(value: Any, rules: MaskingSettings, names: Iterable[str | None] = ()) -> Any:
    """Evidence (parsed JSON) with personal data masked: values under name/ID/phone keys, labels of
    person- or phone-typed items, and the names found there (plus ``names``) wherever they appear."""
    kinds = (
        {k: "name" for k in rules.name_keys}
        | {k: "id" for k in rules.id_keys}
        | {k: "phone" for k in rules.phone_keys}
    )
    known: set[str] = {n for n in names if n}
    collect_names(value, set(rules.name_keys), known, rules)

    def walk(v: Any, kind: str | None = None) -> Any:
        if isinstance(v, dict):
            typed = _typed_kind(v, rules)
            return {
                k: walk(x, typed if (typed and k == rules.typed_label_key) else kinds.get(k))
                for k, x in v.items()
            }
        if isinstance(v, list):
            return [walk(x, kind) for x in v]
        if not isinstance(v, str):
            return v
        if kind is not None:
            return _MASKERS[kind](v)
        return mask_text(v, known, rules.scan_text)

    return walk(value)


def mask_evidence_text(
    text: str | None, rules: MaskingSettings, names: Iterable[str | None] = ()
) -> str | None:
    """Like :func:`mask_evidence` for JSON text (non-JSON text is masked as free text)."""
    if not text:
        return text
    try:
        value = json.loads(text)
    except ValueError:
        return mask_text(text, names, rules.scan_text)
    return json.dumps(mask_evidence(value, rules, names), ensure_ascii=False)


def _masked_column(col: str, kind: str) -> pl.Expr:
    c = pl.col(col).cast(pl.String).str.strip_chars()
    n = c.str.len_chars()
    stars = c.str.replace_all(".", "*")
    if kind == "name":
        masked = (
            pl.when(n > 1).then(c.str.slice(0, 1) + c.str.slice(1).str.replace_all(".", "*")).otherwise(stars)
        )
    elif kind == "id":
        masked = (
            pl.when(n > 8)
            .then(c.str.slice(0, 4) + c.str.slice(4, n - 8).str.replace_all(".", "*") + c.str.slice(-4))
            .otherwise(stars)
        )
    else:
        masked = (
            pl.when(n >= 8)
            .then(c.str.slice(0, 3) + c.str.slice(3, n - 7).str.replace_all(".", "*") + c.str.slice(-4))
            .otherwise(stars)
        )
    return pl.when(c.is_null() | (n == 0)).then(c).otherwise(masked).alias(col)


def mask_frame(df: pl.DataFrame, rules: MaskingSettings) -> pl.DataFrame:
    """A lake table with its personal-data columns masked (vectorised; columns it lacks are skipped)."""
    exprs = []
    for kind, cols in (
        ("name", rules.name_columns),
        ("id", rules.id_columns),
        ("phone", rules.phone_columns),
    ):
        exprs += [_masked_column(c, kind) for c in cols if c in df.columns]
    return df.with_columns(exprs) if exprs else df
