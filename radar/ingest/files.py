"""Finding and sniffing the export files of an input folder (no Spark here: only file heads are read).

For each file we decide its format, its text encoding (UTF-8, UTF-8 with BOM, GB18030), its delimiter and
header row, and its record type (from the headers, or from an optional manifest). An XLSX workbook is one
source per sheet (``book.xlsx#Sheet1``), each with its own header row. A file we cannot read is kept with the
reason, so that it is reported and never skipped silently.

Every file is read once in full to take its content hash (``sha256``: what the parse cache is keyed by) and,
for text files, to count its data rows independently of Spark's readers (``rows_in``): the job checks that
rows in = rows accepted + rows quarantined.
"""

from __future__ import annotations

import codecs
import csv
import fnmatch
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from radar.config import Sources
from radar.errors import InputError
from radar.ingest import convert
from radar.ingest.headers import HeaderMapping, detect_record_type, map_headers

SNIFF_BYTES = 1 << 20
TAIL_BYTES = 1 << 16
TEXT_SUFFIXES = {".csv", ".txt", ".tsv"}
JSON_SUFFIXES = {".jsonl", ".ndjson", ".json"}
XLSX_SUFFIXES = {".xlsx", ".xlsm"}
MANIFEST_NAMES = ("manifest.yaml", "manifest.yml", "_manifest.yaml")
DELIMITERS = [",", "\t", ";", "|"]
SUPPORTED = "CSV, TSV, TXT, JSON lines, JSON arrays, XLSX"


@dataclass
class SourceFile:
    """One source of the input folder (a file, or one sheet of a workbook) and what we learnt about it."""

    path: Path
    relpath: str  # the file's path under the input folder; a sheet adds "#<sheet name>"
    format: str  # csv | jsonl | json_array | xlsx | unsupported
    size: int
    sha256: str = ""
    encoding: str | None = None
    has_bom: bool = False
    delimiter: str = ","
    headers: list[str] = field(default_factory=list)
    mapping: HeaderMapping | None = None
    ends_with_newline: bool = True
    problem: str | None = None  # why the whole source cannot be loaded
    sheet: str | None = None  # the worksheet of an XLSX source
    header_row: int = 1  # XLSX: the 1-based sheet row holding the headers (title rows may precede it)
    rows_in: int | None = None  # data rows counted without Spark (text files at discovery, others when converted)
    cache_key: str = ""  # the parse cache entry of this source (see radar.ingest.cache)

    @property
    def record_type(self) -> str | None:
        """The detected (or manifest-given) record type."""
        return self.mapping.record_type if self.mapping else None

    @property
    def spark_encoding(self) -> str:
        """The charset name Spark's CSV reader takes."""
        return {"utf-8": "UTF-8", "gb18030": "GB18030"}.get(self.encoding or "utf-8", "UTF-8")

    @property
    def converted(self) -> bool:
        """Whether Spark reads this source from a JSON-lines conversion (workbook sheets, JSON arrays)."""
        return self.format in ("xlsx", "json_array")

    @property
    def truncated(self) -> bool:
        """Whether a CSV file's last line lacks its line break (the last record is cut short)."""
        return self.format == "csv" and not self.ends_with_newline


# A blank line is what Spark's readers skip: in CSV, nothing above U+0020 (Spark trims spaces, tabs and control
# characters); in JSON lines, nothing but JSON whitespace. Each pattern finds the blank lines in text whose line
# breaks are all LF, as the line break before a blank line (a line break is taken for the first line).
_BLANK_AFTER_LF = {
    "csv": re.compile(rb"\n[\x00-\x09\x0b-\x20]*(?=\n)"),
    "jsonl": re.compile(rb"\n[ \t]*(?=\n)"),
}
SCAN_CHUNK = 1 << 20  # bytes read at a time by ``scan``


def nonblank_lines(text: bytes, fmt: str) -> int:
    """The non-blank lines of ``text`` (whole lines: it ends with a line break or ends the file) in a text
    format (``csv``, ``jsonl``). Lines end at LF, CR LF or CR. Only the blank lines are matched, so the count
    costs a few passes over the bytes, not an object per line."""
    text = text.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    lines = text.count(b"\n")
    if text and not text.endswith(b"\n"):
        lines += 1
        text += b"\n"
    return lines - len(_BLANK_AFTER_LF[fmt].findall(b"\n" + text))


def scan(path: Path, fmt: str) -> tuple[str, int | None]:
    """(sha256, non-blank lines) of a file, read once in 1 MiB chunks (memory stays bounded).

    Lines end at LF, CR LF or CR, as Spark's line readers take them; in UTF-8 and GB18030 neither byte occurs
    inside a multi-byte character, so lines can be counted on the bytes. Non-text formats get no count.
    """
    h = hashlib.sha256()
    text = fmt in _BLANK_AFTER_LF
    n, carry = 0, b""
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(SCAN_CHUNK), b""):
            h.update(chunk)
            if not text:
                continue
            buf = carry + chunk
            cut = max(buf.rfind(b"\n"), buf.rfind(b"\r"))
            if cut < 0:
                carry = buf
                continue
            n += nonblank_lines(buf[:cut + 1], fmt)
            carry = buf[cut + 1:]
    if not text:
        return h.hexdigest(), None
    return h.hexdigest(), n + nonblank_lines(carry, fmt)


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


def _sniff_json(sf: SourceFile, head: bytes) -> None:
    """JSON lines (one object per line) or a JSON array of objects (``[{...}, {...}]``)."""
    enc, bom, problem = detect_encoding(head, complete=sf.size <= SNIFF_BYTES)
    sf.encoding, sf.has_bom = enc, bom
    if problem:
        sf.problem = problem
        return
    text = head.decode(enc or "utf-8", errors="ignore").lstrip("\ufeff")
    keys: dict[str, None] = {}
    if text.lstrip().startswith("["):
        sf.format = "json_array"
        for obj in convert.json_array_head(text, limit=200):
            if isinstance(obj, dict):
                keys.update(dict.fromkeys(obj))
        if not keys:
            sf.problem = "no JSON objects found at the start of the JSON array"
        sf.headers = list(keys)
        return
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
        sf.problem = "no JSON objects found in the first lines (expected JSON lines or a JSON array)"
    sf.headers = list(keys)


def load_manifest(root: Path) -> dict[str, str]:
    """Optional manifest: ``files: {"<glob>": "<record_type>"}`` overriding header detection.

    A pattern matches a file's path under the input folder, or one sheet of a workbook
    (``"台账.xlsx#处罚*"``); a pattern naming the workbook covers all of its sheets.
    """
    for name in MANIFEST_NAMES:
        p = root / name
        if p.exists():
            data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
            files = data.get("files", {}) if isinstance(data, dict) else {}
            if not isinstance(files, dict):
                raise InputError(f"{p}: 'files' must map file patterns to record types")
            return {str(k): str(v) for k, v in files.items()}
    return {}


def _forced(manifest: dict[str, str], relpath: str) -> str | None:
    base = relpath.split("#", 1)[0]
    return next((rt for pat, rt in manifest.items() if fnmatch.fnmatch(relpath, pat) or fnmatch.fnmatch(base, pat)),
                None)


def _type_source(sf: SourceFile, src: Sources, manifest: dict[str, str]) -> None:
    """Decide the record type of a sniffed source from its headers (or the manifest); set ``problem`` if none."""
    forced = _forced(manifest, sf.relpath)
    if forced:
        if forced not in src.record_types:
            sf.problem = (
                f"the manifest names an unknown record type '{forced}' (known: {', '.join(src.record_types)})"
            )
            return
        sf.mapping = map_headers(sf.headers, forced, src)
    else:
        sf.mapping = detect_record_type(sf.headers, src)
    if sf.mapping is None:
        shown = ", ".join(sf.headers[:8]) + (" ..." if len(sf.headers) > 8 else "")
        sf.problem = f"record type not recognised from the headers ({shown}); name it in a manifest"
        return
    required = [f for f, spec in src.record_types[sf.mapping.record_type].fields.items() if spec.required]
    if required and not any(f in sf.mapping.fields for f in required):
        sf.problem = f"none of the required columns of {sf.mapping.record_type} are present"


def _workbook_sources(p: Path, rel: str, size: int, sha: str, src: Sources,
                      manifest: dict[str, str]) -> list[SourceFile]:
    """One source per worksheet; a workbook that cannot be opened is one source with the reason."""
    try:
        sheets = convert.sheet_heads(p)
    except convert.ConversionError as e:
        return [SourceFile(path=p, relpath=rel, format="xlsx", size=size, sha256=sha, problem=str(e))]
    if not sheets:
        return [SourceFile(path=p, relpath=rel, format="xlsx", size=size, sha256=sha,
                           problem="the workbook has no worksheets")]
    out = []
    for name, rows in sheets:
        sf = SourceFile(path=p, relpath=f"{rel}#{name}", format="xlsx", size=size, sha256=sha, sheet=name)
        out.append(sf)
        forced = _forced(manifest, sf.relpath)
        found = convert.find_header_row(rows, src, forced)
        if found is None:
            sf.problem = "empty sheet (no header row)"
            continue
        sf.header_row, sf.headers = found
        _type_source(sf, src, manifest)
    return out


def discover(root: Path, src: Sources) -> list[SourceFile]:
    """Every export source under ``root`` (recursively), sniffed and typed; sorted by path."""
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
        raise InputError(f"{root}: input folder is empty (expected export files: {SUPPORTED})")
    out: list[SourceFile] = []
    for p in paths:
        rel = p.relative_to(root).as_posix()
        suffix = p.suffix.lower()
        fmt = ("csv" if suffix in TEXT_SUFFIXES else "jsonl" if suffix in JSON_SUFFIXES
               else "xlsx" if suffix in XLSX_SUFFIXES else "unsupported")
        size = p.stat().st_size
        sha, lines = scan(p, fmt)
        if fmt == "xlsx" and size > 0:
            out.extend(_workbook_sources(p, rel, size, sha, src, manifest))
            continue
        sf = SourceFile(path=p, relpath=rel, format=fmt, size=size, sha256=sha)
        out.append(sf)
        if fmt == "unsupported":
            hint = " (save it as .xlsx)" if suffix in (".xls", ".et") else ""
            sf.problem = f"unsupported file type '{suffix or '(none)'}'{hint} (supported: {SUPPORTED})"
            continue
        if size == 0:
            sf.problem = "empty file (0 bytes)"
            continue
        with p.open("rb") as f:
            head = f.read(SNIFF_BYTES)
            f.seek(max(0, size - TAIL_BYTES))
            sf.ends_with_newline = ends_with_line_break(f.read(TAIL_BYTES))
        (_sniff_csv if fmt == "csv" else _sniff_json)(sf, head)
        if lines is not None and sf.format != "json_array":
            sf.rows_in = max(0, lines - 1) if fmt == "csv" else lines
        if sf.problem:
            continue
        _type_source(sf, src, manifest)
    return out
