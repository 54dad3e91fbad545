"""Natural keys of records (FIELDS.md §8.6), the same in the simulator, ingest and exports."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

KEY_SEPARATOR = "|"


def key_part(value: object) -> str:
    """One component of a natural key: NFKC text without surrounding spaces; dates in ISO form."""
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10]
    return unicodedata.normalize("NFKC", str(value)).strip()


def record_key(values: Iterable[object]) -> str:
    """The record key: the natural-key components joined with '|'."""
    return KEY_SEPARATOR.join(key_part(v) for v in values)
