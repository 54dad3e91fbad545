"""The parse cache: each source's parsed rows, kept in the lake and reused while the source is unchanged.

Layout (under ``LAKE/ingest/_files/``)::

    _key=<key>/part-*.parquet   the parsed rows of one source (the staging schema of radar.ingest.records)
    _key=<key>/_meta.json       its row counts: per read block (to number rows) and the converter's count;
                                the identifiers whose status Python decides (``odd_identifiers``)

The folder name makes the key a partition column: Spark reads it once per file, not from each row's path.

A key is the hash of the source's content (``sha256``), how it is read (format, sheet, header row,
encoding, delimiter, headers, record type) and a fingerprint of the parsing code and conf/sources.yaml: a
changed file, a changed manifest, a changed mapping or a new version of the parser each give a new key, so a
stale entry is never read. Entries appear whole (written aside, then renamed into place) and are dropped
once unused for ``keep_days``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from radar import __version__
from radar.config import Sources
from radar.ingest.files import SourceFile

CACHE_DIR = "ingest/_files"
META = "_meta.json"
KEY_COLUMN = "_key"  # the partition column an entry's folder gives its rows
_PREFIX = f"{KEY_COLUMN}="
# the modules whose code decides what a parsed row holds
_PARSER_MODULES = ("parse.py", "records.py", "headers.py", "convert.py", "keys.py")


def fingerprint(src: Sources) -> str:
    """A hash of the parser's code and the source configuration: part of every cache key."""
    h = hashlib.sha256(__version__.encode())
    here = Path(__file__).parent
    for name in _PARSER_MODULES:
        h.update((here / name).read_bytes())
    h.update(src.model_dump_json().encode())
    return h.hexdigest()


def cache_key(sf: SourceFile, fp: str) -> str:
    """The cache key of a sniffed, typed source (see the module docstring)."""
    spec = {
        "fp": fp,
        "sha256": sf.sha256,
        "format": sf.format,
        "sheet": sf.sheet,
        "header_row": sf.header_row,
        "encoding": sf.encoding,
        "bom": sf.has_bom,
        "delimiter": sf.delimiter,
        "headers": sf.headers,
        "record_type": sf.record_type,
        "ends_with_newline": sf.ends_with_newline,
    }
    return hashlib.sha256(json.dumps(spec, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


class ParseCache:
    """The cache folder of one lake."""

    def __init__(self, lake_root: Path):
        self.root = Path(lake_root) / CACHE_DIR

    def entry(self, key: str) -> Path:
        """The folder of one cache entry."""
        return self.root / f"{_PREFIX}{key}"

    def meta(self, key: str) -> dict[str, Any] | None:
        """The metadata of a complete entry, or None when the entry is missing (or unreadable)."""
        try:
            return json.loads((self.entry(key) / META).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def add(self, key: str, written: Path, meta: dict[str, Any]) -> None:
        """Move a freshly written entry folder into place with its metadata (the rename makes it visible)."""
        (written / META).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        target = self.entry(key)
        if target.exists():
            if self.meta(key) is not None:
                shutil.rmtree(written, ignore_errors=True)  # the same content was cached meanwhile
                return
            shutil.rmtree(target, ignore_errors=True)  # an incomplete entry (no metadata): replace it
        self.root.mkdir(parents=True, exist_ok=True)
        os.replace(written, target)

    def touch(self, keys: list[str]) -> None:
        """Record that entries were used now (their metadata's modification time)."""
        now = time.time()
        for k in keys:
            with contextlib.suppress(OSError):
                os.utime(self.entry(k) / META, (now, now))

    def prune(self, keep: set[str], keep_days: float) -> list[str]:
        """Drop entries not in ``keep`` that were last used more than ``keep_days`` ago; returns their keys."""
        if not self.root.exists():
            return []
        limit = time.time() - keep_days * 86400
        dropped = []
        for d in self.root.iterdir():
            # an entry's folder, or one of the layout before the key was a partition column (never used now)
            key = d.name.removeprefix(_PREFIX)
            if (key == d.name and d.name.startswith("_")) or not d.is_dir() or key in keep:
                continue
            try:
                used = (d / META).stat().st_mtime
            except OSError:
                used = d.stat().st_mtime
            if used < limit:
                shutil.rmtree(d, ignore_errors=True)
                dropped.append(key)
        return dropped
