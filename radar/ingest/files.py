"""Finding and sniffing the export files of an input folder (no Spark here: only file heads are read).

For each file we decide its format, its text encoding (UTF-8, UTF-8 with BOM, GB18030), its delimiter and
header row, and its record type (from the headers, or from an optional manifest). A file we cannot read is
kept with the reason, so that it is reported and never skipped silently.
"""

from __future__ import annotations

import codecs
import csv
import fnmatch
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from radar.config import Sources
from radar.errors import InputError
from radar.ingest.headers import HeaderMapping, detect_record_type, map_headers

SNIFF_BYTES = 1 << 20
TAIL_BYTES = 1 << 16
TEXT_SUFFIXES = {".csv", ".txt", ".tsv"}
JSON_SUFFIXES = {".jsonl", ".ndjson", ".json"}
MANIFEST_NAMES = ("manifest.yaml", "manifest.yml", "_manifest.yaml")
DELIMITERS = [",", "\t", ";", "|"]


@dataclass
class SourceFile:
    """One file of the input folder and what we learnt about it."""

    path: Path
    relpath: str
    format: str  # csv | jsonl | unsupported
    size: int
    sha256: str = ""
    encoding: str | None = None
    has_bom: bool = False
    delimiter: str = ","
    headers: list[str] = field(default_factory=list)
    mapping: HeaderMapping | None = None
    ends_with_newline: bool = True
    problem: str | None = None  # why the whole file cannot be loaded

    @property
    def record_type(self) -> str | None:
        """The detected (or manifest-given) record type."""
        return self.mapping.record_type if self.mapping else None

    @property
    def spark_encoding(self) -> str:
        """The charset name Spark's CSV reader takes."""
        return {"utf-8": "UTF-8", "gb18030": "GB18030"}.get(self.encoding or "utf-8", "UTF-8")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


ENCODINGS = ("utf-8", "gb18030")
# a file that is valid in an encoding except for a few stray bytes (a field cut mid-character by a database
# export) is read in that encoding, and only its rows with undecodable bytes are quarantined
MAX_BAD_CHAR_SHARE = 0.02


def _decode_errors(body: bytes, enc: str, complete: bool) -> tuple[int, int]:
    """(undecodable sequences, well-decoded non-ASCII characters) of ``body`` in ``enc``."""
    text = codecs.getincrementaldecoder(enc)(errors="replace").decode(body, final=complete)
    bad = text.count("\ufffd")
    return bad, sum(1 for ch in text if ord(ch) > 127) - bad


def _binary_problem(body: bytes, enc: str) -> str | None:
    """A problem when the decoded head is full of control characters (binary content)."""
    text = body[:8192].decode(enc, errors="ignore")[:4096]
    ctrl = sum(1 for ch in text if ord(ch) < 32 and ch not in "\r\n\t")
    if ctrl > 0.01 * max(1, len(text)):
        return "binary content (control characters): not a text export"
    return None


def detect_encoding(head: bytes, complete: bool) -> tuple[str | None, bool, str | None]:
    """(encoding, has_bom, problem) for the first bytes of a text file.

    UTF-8 is tried first (strictly), then GB18030. When neither decodes cleanly, the encoding under which
    at most ``MAX_BAD_CHAR_SHARE`` of the non-ASCII characters are undecodable is taken (its bad rows are
    quarantined later); otherwise, as for binary content (NUL bytes, control characters), the file has a
    problem and is not guessed at.
    """
    if b"\x00" in head[:4096]:
        return None, False, "binary content (NUL bytes): not a text export"
    has_bom = head.startswith(codecs.BOM_UTF8)
    body = head[3:] if has_bom else head
    for enc in ENCODINGS if not has_bom else ("utf-8",):
        try:
            codecs.getincrementaldecoder(enc)(errors="strict").decode(body, final=complete)
        except UnicodeDecodeError:
            continue
        return enc, has_bom, _binary_problem(body, enc)
    scored = []
    for enc in ENCODINGS if not has_bom else ("utf-8",):
        bad, good = _decode_errors(body, enc, complete)
        if bad <= MAX_BAD_CHAR_SHARE * (bad + good):
            scored.append((bad, enc))
    if scored:
        enc = min(scored)[1]
        return enc, has_bom, _binary_problem(body, enc)
    if has_bom:
        return None, True, "has a UTF-8 byte-order mark but is not valid UTF-8"
    return None, False, "neither UTF-8 nor GB18030: unknown text encoding"


def ends_with_line_break(tail: bytes) -> bool:
    """Whether the last non-blank line of a file (given its last bytes) is ended by a line break.

    What follows the last line break may only be blank (spaces, tabs, a DOS end-of-file mark): readers skip
    such a line, so it does not make the last record truncated.
    """
    cut = max(tail.rfind(b"\n"), tail.rfind(b"\r"))
    rest = tail[cut + 1:]
    return not any(b > 0x20 for b in rest)


def _first_line(text: str) -> str:
    return text.split("\n", 1)[0].rstrip("\r")


def _sniff_csv(sf: SourceFile, head: bytes) -> None:
    enc, bom, problem = detect_encoding(head, complete=sf.size <= SNIFF_BYTES)
    sf.encoding, sf.has_bom = enc, bom
    if problem:
        sf.problem = problem
        return
    text = head.decode(enc or "utf-8", errors="ignore").lstrip("\ufeff")
    line = _first_line(text)
    if not line.strip():
        sf.problem = "no header row (the first line is empty)"
        return
    sf.delimiter = max(DELIMITERS, key=line.count)
    sf.headers = [h.strip() for h in next(csv.reader(io.StringIO(line), delimiter=sf.delimiter))]


def _sniff_jsonl(sf: SourceFile, head: bytes) -> None:
    enc, bom, problem = detect_encoding(head, complete=sf.size <= SNIFF_BYTES)
    sf.encoding, sf.has_bom = enc, bom
    if problem:
        sf.problem = problem
        return
    text = head.decode(enc or "utf-8", errors="ignore").lstrip("\ufeff")
    keys: dict[str, None] = {}
    for line in text.splitlines()[:200]:
        line = line.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            keys.update(dict.fromkeys(obj))
    if not keys:
        sf.problem = "no JSON objects found in the first lines (expected JSON lines)"
    sf.headers = list(keys)


def load_manifest(root: Path) -> dict[str, str]:
    """Optional manifest: ``files: {"<glob>": "<record_type>"}`` overriding header detection."""
    for name in MANIFEST_NAMES:
        p = root / name
        if p.exists():
            data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
            files = data.get("files", {}) if isinstance(data, dict) else {}
            if not isinstance(files, dict):
                raise InputError(f"{p}: 'files' must map file patterns to record types")
            return {str(k): str(v) for k, v in files.items()}
    return {}


def discover(root: Path, src: Sources) -> list[SourceFile]:
    """Every export file under ``root`` (recursively), sniffed and typed; sorted by path."""
    root = Path(root)
    if not root.exists():
        raise InputError(f"{root}: input folder not found")
    if not root.is_dir():
        raise InputError(f"{root}: input is not a folder")
    manifest = load_manifest(root)
    paths = sorted(
        p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".") and p.name not in MANIFEST_NAMES
    )
    if not paths:
        raise InputError(f"{root}: input folder is empty (expected export files: CSV or JSON lines)")
    out: list[SourceFile] = []
    for p in paths:
        rel = p.relative_to(root).as_posix()
        suffix = p.suffix.lower()
        fmt = "csv" if suffix in TEXT_SUFFIXES else "jsonl" if suffix in JSON_SUFFIXES else "unsupported"
        sf = SourceFile(path=p, relpath=rel, format=fmt, size=p.stat().st_size)
        sf.sha256 = _sha256(p)
        out.append(sf)
        if fmt == "unsupported":
            sf.problem = f"unsupported file type '{suffix or '(none)'}' (supported: CSV, TSV, TXT, JSON lines)"
            continue
        if sf.size == 0:
            sf.problem = "empty file (0 bytes)"
            continue
        with p.open("rb") as f:
            head = f.read(SNIFF_BYTES)
            f.seek(max(0, sf.size - TAIL_BYTES))
            sf.ends_with_newline = ends_with_line_break(f.read(TAIL_BYTES))
        (_sniff_csv if fmt == "csv" else _sniff_jsonl)(sf, head)
        if sf.problem:
            continue
        forced = next((rt for pat, rt in manifest.items() if fnmatch.fnmatch(rel, pat)), None)
        if forced:
            if forced not in src.record_types:
                sf.problem = (
                    f"the manifest names an unknown record type '{forced}' "
                    f"(known: {', '.join(src.record_types)})"
                )
                continue
            sf.mapping = map_headers(sf.headers, forced, src)
        else:
            sf.mapping = detect_record_type(sf.headers, src)
        if sf.mapping is None:
            shown = ", ".join(sf.headers[:8]) + (" ..." if len(sf.headers) > 8 else "")
            sf.problem = f"record type not recognised from the headers ({shown}); name it in a manifest"
        else:
            missing = [
                f for f, spec in src.record_types[sf.mapping.record_type].fields.items()
                if spec.required and f not in sf.mapping.fields
            ]
            if missing and len(missing) == len(
                [f for f in src.record_types[sf.mapping.record_type].fields.values() if f.required]
            ):
                sf.problem = f"none of the required columns of {sf.mapping.record_type} are present"
    return out
