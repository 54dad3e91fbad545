"""Sources Spark cannot read line by line, streamed into JSON lines it can: XLSX sheets and JSON arrays.

Nothing is loaded whole: a workbook is read with openpyxl's read-only (streaming) reader, a JSON array one
element at a time. Every data row becomes one JSON line (a workbook row keyed by column position ``c0``,
``c1`` ...), so Spark numbers rows as for any JSON-lines file; a row that cannot be a record (cells beyond the
last header column, an array element that is no object) is written as a JSON string, which Spark's reader
keeps as a malformed row for quarantine. The converter counts the rows it writes: the independent count the
job reconciles against.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from datetime import date, datetime, time
from itertools import islice
from pathlib import Path
from typing import IO, Any

from radar.config import Sources
from radar.ingest.headers import detect_record_type, map_headers

HEAD_ROWS = 20  # a sheet's header row is looked for among its first rows (title rows may come first)
BEYOND_HEADER = "cells beyond the last header column"


class ConversionError(Exception):
    """A workbook or JSON array that cannot be read at all."""


# ------------------------------------------------------------------------------------------ XLSX
def _open_workbook(path: Path) -> Any:
    import openpyxl

    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # zip, XML and openpyxl errors all mean "not a workbook"
        raise ConversionError(f"not a readable XLSX workbook ({type(e).__name__}: {e})"[:300]) from None


def cell_text(v: Any) -> str | None:
    """A cell value as export text: dates in ISO form (no time at midnight), whole numbers without '.0'."""
    if v is None:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, datetime):
        return v.date().isoformat() if v.time() == time() else v.isoformat(sep=" ", timespec="seconds")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
    return str(v)


def _texts(row: tuple[Any, ...]) -> list[str | None]:
    out = [cell_text(v) for v in row]
    return [None if t is None or not t.strip() else t for t in out]


def sheet_heads(path: Path, rows: int = HEAD_ROWS) -> list[tuple[str, list[list[str | None]]]]:
    """(sheet name, first rows as text) of every worksheet of a workbook (chart sheets have no rows)."""
    wb = _open_workbook(path)
    try:
        out = []
        for ws in wb.worksheets:
            ws.reset_dimensions()  # some writers record wrong dimensions; read what the sheet holds
            out.append((ws.title, [_texts(r) for r in islice(ws.iter_rows(values_only=True), rows)]))
        return out
    except Exception as e:
        raise ConversionError(f"not a readable XLSX workbook ({type(e).__name__}: {e})"[:300]) from None
    finally:
        wb.close()


def find_header_row(rows: list[list[str | None]], src: Sources, forced: str | None = None
                    ) -> tuple[int, list[str]] | None:
    """(1-based row, headers) of a sheet's header row: the first of its first rows that names a record type
    (``forced``: that maps a column of it), else the first non-empty row; None for an empty sheet."""
    first: tuple[int, list[str]] | None = None
    for i, row in enumerate(rows, start=1):
        cells = list(row)
        while cells and cells[-1] is None:
            cells.pop()
        if not cells:
            continue
        headers = [(c or "").strip() for c in cells]
        first = first or (i, headers)
        if forced is not None:
            if map_headers(headers, forced, src).columns:
                return i, headers
        elif detect_record_type(headers, src) is not None:
            return i, headers
    return first


def convert_sheet(path: Path, sheet: str, header_row: int, width: int, out: IO[str]) -> int:
    """Write the data rows under a sheet's header row as JSON lines; returns the rows written.

    Empty rows are skipped (as blank lines are in text files), so rows are numbered per sheet from 1.
    """
    wb = _open_workbook(path)
    n = 0
    try:
        ws = wb[sheet]
        ws.reset_dimensions()
        for row in ws.iter_rows(min_row=header_row + 1, values_only=True):
            cells = _texts(row)
            if not any(c is not None for c in cells):
                continue
            if any(c is not None for c in cells[width:]):
                line = json.dumps(f"{BEYOND_HEADER}: " + ",".join(c or "" for c in cells), ensure_ascii=False)
            else:
                line = json.dumps({f"c{i}": c for i, c in enumerate(cells[:width]) if c is not None},
                                  ensure_ascii=False)
            out.write(line + "\n")
            n += 1
    except ConversionError:
        raise
    except Exception as e:
        raise ConversionError(f"sheet '{sheet}' could not be read ({type(e).__name__}: {e})"[:300]) from None
    finally:
        wb.close()
    return n


# ------------------------------------------------------------------------------------------ JSON arrays
_WS = " \t\r\n"


def _elements(chunks: Iterator[str]) -> Iterator[tuple[Any, str | None]]:
    """(element, None) for each element of a top-level JSON array read from text chunks; a tail that does not
    parse ends the iteration as (None, its text)."""
    dec = json.JSONDecoder()
    buf, pos, done = "", 0, False

    def more() -> bool:
        nonlocal buf, pos, done
        if done:
            return False
        chunk = next(chunks, None)
        if chunk is None:
            done = True
            return False
        buf, pos = buf[pos:] + chunk, 0
        return True

    def skip(chars: str) -> None:
        nonlocal pos
        while True:
            while pos < len(buf) and buf[pos] in chars:
                pos += 1
            if pos < len(buf) or not more():
                return

    skip(_WS + "\ufeff")
    if pos < len(buf) and buf[pos] == "[":
        pos += 1
    while True:
        skip(_WS + ",")
        if pos >= len(buf):
            return
        if buf[pos] == "]":
            return
        while True:
            try:
                value, end = dec.raw_decode(buf, pos)
            except ValueError:
                if more():
                    continue
                rest = buf[pos:].strip()
                if rest:
                    yield None, rest
                return
            # a number at the end of the buffer may go on in the next chunk
            if end == len(buf) and not done and more():
                continue
            pos = end
            yield value, None
            break


def json_array_head(text: str, limit: int) -> list[Any]:
    """The first elements of a JSON array given the start of its text (a cut element ends the list)."""
    out = []
    for value, bad in _elements(iter([text])):
        if bad is not None or len(out) >= limit:
            break
        out.append(value)
    return out


def convert_json_array(path: Path, encoding: str, out: IO[str]) -> int:
    """Write each element of a JSON array file as one JSON line; returns the rows written. An element that
    is no object, or a tail that does not parse, becomes one malformed row."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")

    def chunks() -> Iterator[str]:
        with path.open("rb") as f:
            for b in iter(lambda: f.read(1 << 20), b""):
                yield decoder.decode(b)
            yield decoder.decode(b"", final=True)

    n = 0
    for value, bad in _elements(chunks()):
        if bad is not None:
            line = json.dumps(bad, ensure_ascii=False)
        elif isinstance(value, dict):
            line = json.dumps(value, ensure_ascii=False)
        else:
            line = json.dumps(json.dumps(value, ensure_ascii=False), ensure_ascii=False)
        out.write(line + "\n")
        n += 1
    return n


def convert_source(path: Path, fmt: str, out_path: Path, *, sheet: str | None = None, header_row: int = 1,
                   width: int = 0, encoding: str = "utf-8") -> int:
    """Convert one workbook sheet or JSON array into a UTF-8 JSON-lines file; returns the rows written."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with out_path.open("w", encoding="utf-8", newline="\n") as out:
        if fmt == "xlsx":
            assert sheet is not None
            return convert_sheet(path, sheet, header_row, width, out)
        return convert_json_array(path, encoding, out)
