"""Ingest job: raw exports -> typed record tables (``ingest/<record_type>``), quarantine, data-quality report.

1. Discover: every file is hashed, its data rows counted without Spark, its format, encoding, headers and
   record type sniffed (a workbook is one source per sheet).
2. Parse what is new: the sources whose parse cache entry (``LAKE/ingest/_files/_key=<key>``, keyed by content
   hash) is missing are parsed into the shared staging shape (identifier statuses decided there too): CSV
   files by the columnar parser (``radar.ingest.columnar``: polars in Spark's Python workers, one task per
   block of lines; the few lines whose quoting only Spark's CSV reader decides are split by it first),
   the other formats (and CSV, with ``policy.ingest.parser: sql``) in **one** Spark SQL job, whatever their
   record types. The rows per read block are then read from the written Parquet on the driver. Unchanged
   files are not read again.
3. Assemble from the cache: the re-sent records and the objection marks from a few narrow columns (small
   tables, collected to the driver; rows are numbered from the rows before each read block, known on the
   driver: see ``records.number_rows``).
4. Publish: every record table and the quarantine, written from the cache entries in one Spark job of Python
   tasks (``radar.ingest.tables``: polars and pyarrow, a task per cached Parquet file, which also counts the
   data-quality figures of the rows it writes); with ``policy.ingest.publisher: spark``, or should that job
   fail, by Spark's writer (each table from its own cache entries, the marks joined by broadcast, the
   figures observed as it writes). A table whose inputs have not changed is linked, not written. No wide
   row is shuffled or cached.

Per source, rows in (the independent count) = rows accepted + rows quarantined = rows Spark read; the job
fails loudly when they disagree. A source that cannot be loaded at all is reported (and kept in quarantine as
one row with its reason); it never stops the other sources.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import date
from functools import cached_property, reduce
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from radar import LAKE_FORMAT
from radar.errors import InputError, RadarError
from radar.ingest import columnar as C
from radar.ingest import records as R
from radar.ingest import tables as TW
from radar.ingest.cache import KEY_COLUMN, ParseCache, cache_key, fingerprint
from radar.ingest.convert import ConversionError, convert_source
from radar.ingest.files import SourceFile, discover
from radar.ingest.parse import uscc_status_of
from radar.jobs.context import PhaseClock, RunContext
from radar.lake import _claim, as_of_str

log = logging.getLogger(__name__)

QUARANTINE_TABLE = "ingest/quarantine"
DQ_TABLE = "reports/dq"
QUARANTINE_SCHEMA = TW.QUARANTINE_SCHEMA
WRITERS = 4  # tables written side by side: small jobs overlap their scheduling and commit overheads
ROWS_PER_FILE = 1_000_000  # rows per Parquet file of a published table (at least one file per table)
# row groups of a published table (uncompressed bytes): Spark reads a file in as many tasks as it has row
# groups (at most), so a city's 300 MB table of annual reports in one 128 MB group was one task for every job
# reading it while the other core waited (16 MB: its resolve stage 315 -> 300 s)
ROW_GROUP_BYTES = TW.ROW_GROUP_BYTES  # 16 MB, as the tables' writer writes them
# Parquet dictionary-encodes a column until its dictionary page reaches this size, then writes the values again
# plainly: a column of mostly distinct values (names, addresses, record keys) pays for a dictionary it drops in
# every row group. Parquet's 1 MB default let it fill a large one first; at 64 KB the few-valued columns keep
# theirs. The city's largest table (912,710 annual reports) was written in 6.4-7.6 s instead of 8.3-9.5 s
# (files 1.3 % larger).
PARQUET_OPTIONS = {"parquet.dictionary.page.size": str(TW.DICTIONARY_PAGE_BYTES)}  # 64 KB
# Beside the Parquet files of every record table and the quarantine: the signature of what the table was made
# from (``table_signatures``) and the data-quality figures counted while it was written. A later run whose
# table would have the same signature links these files instead of writing them again.
TABLE_INPUTS = "_inputs.json"


def records_table(record_type: str) -> str:
    """Lake table of a record type."""
    return f"ingest/{record_type}"


def run(ctx: RunContext, reuse_tables: bool = True) -> dict[str, Any]:
    """Load every source of ``ctx.input_dir`` into the lake; returns the data-quality report (with the parse
    cache's figures under ``parse_cache``, the tables published again without being written under
    ``tables_reused`` and the wall time of each phase under ``phase_seconds``, which the published report
    leaves out: a re-run must publish the same report).

    A table whose inputs are those of a table already published (same signature, see ``table_signatures``:
    the same files, parser, job and policy) is published by linking that table's files, and its figures come
    from what was counted when it was written; ``reuse_tables=False`` writes every table."""
    spark, src = ctx.spark, ctx.sources
    if ctx.input_dir is None:
        raise InputError("no input folder given")
    clock = PhaseClock()
    files = discover(ctx.input_dir, src)
    clock.lap("discover")
    if not any(f.problem is None for f in files):
        shown = "; ".join(f"{f.relpath}: {f.problem}" for f in files[:10])
        raise InputError(f"{ctx.input_dir}: no loadable export files ({shown})")

    cache = ParseCache(ctx.lake.root)
    fp = fingerprint(src)
    for f in files:
        if f.problem is None:
            f.cache_key = cache_key(f, fp)
    by_key: dict[str, list[SourceFile]] = defaultdict(list)
    for f in files:
        if f.problem is None:
            by_key[f.cache_key].append(f)
    new = [group for k, group in by_key.items() if cache.meta(k) is None]
    if new:
        _parse_new(ctx, cache, new)
    clock.lap("parse")
    loadable = [f for f in files if f.problem is None]
    metas = {f.cache_key: cache.meta(f.cache_key) or {} for f in loadable}
    for f in loadable:
        if f.rows_in is None:  # converted sources: the converter's count
            f.rows_in = metas[f.cache_key].get("rows_in")
    cache.touch(list(metas))

    signatures = table_signatures(ctx, files, loadable, fp)
    reused = _published_alike(ctx, signatures) if reuse_tables else {}
    writing = {rt for rt in ctx.sources.record_types if records_table(rt) not in reused}
    assembly = _Assembly(spark, ctx, loadable, metas, cache, writing)
    if writing:
        _ = assembly.marks  # the marks of re-sent and objected records, found now (timed as the assembly)
    clock.lap("assemble")
    per_file, date_range = _publish(ctx, files, loadable, metas, assembly, signatures, reused)
    clock.lap("publish")

    report = _report(ctx, files, per_file, metas, date_range)
    ctx.lake.publish_json(DQ_TABLE, ctx.as_of, report)
    pruned = cache.prune(set(metas), ctx.policy.ingest.cache_keep_days)
    bad = [f for f, s in report["files"].items() if s.get("reconciled") is False]
    if bad:
        raise RadarError(
            "row counts do not reconcile (rows in != accepted + quarantined) for: "
            + ", ".join(f"{f} ({report['files'][f]})" for f in bad[:5])
        )
    parsed = {f.cache_key for group in new for f in group if f.problem is None}
    return {
        **report,
        "parse_cache": {
            "sources_parsed": sum(1 for f in loadable if f.cache_key in parsed),
            "sources_reused": sum(1 for f in loadable if f.cache_key not in parsed),
            "entries_pruned": len(pruned),
        },
        "tables_reused": sorted(reused),
        "phase_seconds": clock.laps,
    }



# ------------------------------------------------------------------------------------------ reuse
def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def table_signatures(ctx: RunContext, files: list[SourceFile], loadable: list[SourceFile], fp: str) -> dict[str, str]:
    """Per published table (every record table and the quarantine), a hash of everything its rows and
    figures depend on: this job's code and the lake's format, the parser's code and the source configuration (``fp``, see
    ``radar.ingest.cache.fingerprint``), the policy numbers it applies, and the sources it is made from, each by
    path and cache key (content hash and how it was read). A record table is made from the sources of its
    record type and, when an objection can name its records, of the objections; the quarantine from every
    source, and those that could not be loaded with their reason."""
    code = [LAKE_FORMAT, hashlib.sha256(Path(__file__).read_bytes()).hexdigest()]
    policy = [ctx.policy.ingest.late_publication_working_days, ctx.policy.features.objection_retracts,
              ctx.policy.features.objection_corrects]

    def sources(types: set[str] | None) -> list[list[Any]]:
        return sorted([f.relpath, f.record_type, f.cache_key, bool(f.truncated)]
                      for f in loadable if types is None or f.record_type in types)

    out = {}
    for rt, spec in ctx.sources.record_types.items():
        types = {rt, "objection"} if spec.document_no else {rt}
        out[records_table(rt)] = _digest([code, fp, policy, rt, sources(types)])
    failed = sorted([f.relpath, f.record_type, f.problem, ",".join(f.headers)[:500]] for f in files if f.problem)
    out[QUARANTINE_TABLE] = _digest([code, fp, sources(None), failed])
    return out


def _published_alike(ctx: RunContext, signatures: dict[str, str]) -> dict[str, tuple[Path, dict[str, Any]]]:
    """The published tables (this as-of date's first, then the newest) with the signature a table would have
    now: table -> (its partition, its ``TABLE_INPUTS``)."""
    found = {}
    here = as_of_str(ctx.as_of)
    for table, signature in signatures.items():
        dates = ctx.lake.as_of_dates(table)
        for d in ([here] if here in dates else []) + [d for d in reversed(dates) if d != here]:
            part = ctx.lake.partition(table, d)
            try:
                inputs = json.loads((part / TABLE_INPUTS).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if inputs.get("signature") == signature:
                found[table] = (part, inputs)
                break
    return found


def _stats_json(stats: tuple[dict[str, dict[str, int]], Any, Any]) -> dict[str, Any]:
    per_file, first, last = stats
    return {"files": per_file, "first": first.isoformat() if first else None,
            "last": last.isoformat() if last else None}


def _stats_of_json(obj: dict[str, Any]) -> tuple[dict[str, dict[str, int]], Any, Any]:
    def day(s: str | None) -> date | None:
        return date.fromisoformat(s) if s else None

    return obj["files"], day(obj["first"]), day(obj["last"])


# ------------------------------------------------------------------------------------------ parse
def _parse_new(ctx: RunContext, cache: ParseCache, groups: list[list[SourceFile]]) -> None:
    """Parse the sources without a cache entry (one per content key) and add their entries.

    CSV sources go to the columnar parser (``_write_columnar``: a source one of its tasks cannot parse is
    reported; should its job fail as a whole, Spark SQL parses them). Every other source goes into one Spark
    SQL job; if that job fails, each source is parsed on its own so that the one that cannot be read is
    reported (``problem``) and the others still load.
    """
    spark, src = ctx.spark, ctx.sources
    work = ctx.lake.root / "_staging" / f"ingest-{uuid.uuid4().hex[:12]}"
    _claim(work)  # a run that dies leaves it to the lake's recovery
    try:
        todo: list[SourceFile] = []
        converted: dict[str, Path] = {}
        rows_in: dict[str, int] = {}
        for group in groups:
            sf = group[0]
            if sf.converted:
                out = work / "converted" / f"{sf.cache_key}.jsonl"
                try:
                    rows_in[sf.cache_key] = convert_source(
                        sf.path, sf.format, out, sheet=sf.sheet, header_row=sf.header_row,
                        width=len(sf.headers), encoding=sf.encoding or "utf-8",
                    )
                except ConversionError as e:
                    for f in group:
                        f.problem = str(e)
                    continue
                converted[sf.cache_key] = out
            todo.append(sf)
        outputs: list[Path] = []
        columnar = [sf for sf in todo if ctx.policy.ingest.parser == "columnar" and C.parses(sf, src)]
        if columnar:
            try:
                _write_columnar(spark, src, groups, columnar, work / "columnar", work)
                outputs.append(work / "columnar")
            except Exception as e:  # the job itself failed (one source's failure is reported): Spark SQL parses
                log.warning("the columnar parser failed (%s); Spark SQL parses the CSV sources", _error_text(e))
                shutil.rmtree(work / "columnar", ignore_errors=True)
                for sf in columnar:
                    for group in groups:
                        if group[0] is sf:
                            for f in group:
                                f.problem = None
                columnar = []
        by_sql = [sf for sf in todo if sf not in columnar]
        try:
            out = work / "parsed"
            _write_parsed(spark, src, by_sql, converted, out)
            outputs.append(out)
        except Exception as e:  # a Spark failure: find the source that causes it
            if len(by_sql) == 1:
                _fail(groups, by_sql[0], e)
                by_sql = []
            for i, sf in enumerate(by_sql if len(by_sql) > 1 else []):
                out = work / f"parsed-{i}"
                try:
                    _write_parsed(spark, src, [sf], converted, out)
                    outputs.append(out)
                except Exception as e1:
                    _fail(groups, sf, e1)
        ok = [sf for sf in todo if sf.problem is None]
        for sf in ok:
            k = sf.cache_key
            written = next((o / f"_key={k}" for o in outputs if (o / f"_key={k}").exists()), None)
            if written is None:  # no rows at all (a header-only file): an empty entry
                written = work / "empty" / k
                written.mkdir(parents=True)
            counts, odd = _entry_figures(written)
            meta = {
                "key": k,
                "sha256": sf.sha256,
                "source": sf.relpath,
                "record_type": sf.record_type,
                "format": sf.format,
                "blocks": {str(b): n for b, n in sorted(counts.items())},
                "rows_read": sum(counts.values()),
                "rows_in": rows_in.get(k, sf.rows_in),
                "odd_identifiers": odd,
            }
            cache.add(k, written, meta)
    finally:
        shutil.rmtree(work, ignore_errors=True)


_PYTHON_ERROR = re.compile(r"^[A-Za-z_]\w*(Error|Exception|Failure): ")


def _error_text(e: Exception) -> str:
    """What went wrong, in one line: the Python error a worker raised (the last line of its traceback, which
    Spark's message holds), else the message's first line."""
    lines = [line.strip() for line in str(e).strip().splitlines() if line.strip()]
    raised = [line for line in lines if _PYTHON_ERROR.match(line)]
    return (raised[-1] if raised else lines[0] if lines else type(e).__name__)[:300]


def _fail(groups: list[list[SourceFile]], sf: SourceFile, e: Exception) -> None:
    """Mark every source with ``sf``'s content as not loadable, with the error in one line (``_error_text``)."""
    text = _error_text(e)
    for group in groups:
        if group[0] is sf:
            for f in group:
                f.problem = f"could not be read: {text[:300]}"


# Spark would push the parsing projection below the union of the sources, into every source's branch: the
# same large expression compiled once per file. Kept above the union, it is compiled once.
_KEEP_PROJECTIONS_ABOVE_UNIONS = "org.apache.spark.sql.catalyst.optimizer.PushProjectionThroughUnion"
# The parsing stages are too large for whole-stage code generation (its method grows beyond 64 KB): Spark
# would spend seconds of driver CPU compiling it before falling back to compiling each projection on its own.
# Ask for the fallback at once (the small city's parse: some 7 s less JVM CPU).
_PARSE_CONF = {"spark.sql.codegen.wholeStage": "false"}


@contextmanager
def _session_conf(spark: SparkSession, conf: dict[str, str]) -> Iterator[None]:
    """Set SQL options for the queries run inside (the session's, restored after)."""
    before = {k: spark.conf.get(k, None) for k in conf}
    for k, v in conf.items():
        spark.conf.set(k, v)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                spark.conf.unset(k)
            else:
                spark.conf.set(k, v)


def _write_parsed(spark: SparkSession, src: Any, sources: list[SourceFile], converted: dict[str, Path],
                  out: Path) -> None:
    """One Spark job: parse ``sources`` (any record types) and write them partitioned by cache key."""
    if not sources:
        return
    parts = [R.slot_source(R.read_source(spark, sf, converted.get(sf.cache_key)), sf, src) for sf in sources]
    staged = R.parse_slots(reduce(DataFrame.unionByName, parts), src)
    key = "spark.sql.optimizer.excludedRules"
    excluded = ",".join(x for x in (spark.conf.get(key, ""), _KEEP_PROJECTIONS_ABOVE_UNIONS) if x)
    with _session_conf(spark, {key: excluded, **_PARSE_CONF}):
        staged.write.options(**PARQUET_OPTIONS).partitionBy("_key").parquet(str(out))


def _write_columnar(spark: SparkSession, src: Any, groups: list[list[SourceFile]], sources: list[SourceFile],
                    out: Path, work: Path) -> None:
    """Parse CSV ``sources`` with the columnar parser (``radar.ingest.columnar``): one Spark task per block of
    whole lines, each writing its rows to ``out/_key=<key>``. The few lines whose quoting only Spark's CSV
    reader decides are then split by it from the side files the tasks left, and typed by the columnar parser
    into the same entries. A source a task could not parse is reported (``problem``); the others load."""
    side = work / "irregular"
    tasks: list[tuple[C.SourcePlan, int, int]] = []
    plans: dict[str, C.SourcePlan] = {}
    for sf in sources:
        try:
            plans[sf.cache_key] = C.source_plan(sf, src)
            tasks += [(plans[sf.cache_key], s, e) for s, e in C.line_blocks(sf.path, sf.size)]
        except OSError as e:  # gone or unreadable since it was discovered
            _fail(groups, sf, e)
    sources = [sf for sf in sources if sf.problem is None]
    tasks.sort(key=lambda t: t[1] - t[2])  # the largest blocks first
    where, aside = str(out), str(side)

    def parse_block(task: tuple[C.SourcePlan, int, int]) -> dict[str, Any]:
        return C.parse_block(task[0], src, task[1], task[2], where, aside)

    results = spark.sparkContext.parallelize(tasks, max(1, len(tasks))).map(parse_block).collect() if tasks else []
    failed = {r["key"]: r["error"] for r in results if "error" in r}
    for sf in sources:
        if sf.cache_key in failed:
            _fail(groups, sf, RuntimeError(failed[sf.cache_key]))
            shutil.rmtree(out / f"_key={sf.cache_key}", ignore_errors=True)
    irregular = {r["key"] for r in results if r.get("irregular")} - set(failed)
    with_side = [sf for sf in sources if sf.cache_key in irregular]
    if not with_side:
        return
    tokens = work / "irregular-tokens"
    for sf in with_side:  # Spark's reader splits them (one small job per source, nothing typed)
        names = R._raw_names(sf)
        schema = T.StructType([T.StructField(c, T.StringType())
                               for c in (*C.IRREGULAR_PREFIX, *names, R.CORRUPT)])
        df = spark.read.csv(R.spark_path(side / sf.cache_key), schema=schema, header=False, sep=sf.delimiter,
                            encoding="UTF-8", **R.CSV_READING)
        blk, idx = C.IRREGULAR_PREFIX
        df.selectExpr(
            *[f"`{c}`" for c in names],
            f"substr({R.CORRUPT}, length({blk}) + length({idx}) + 3) AS {R.CORRUPT}",  # the line without its prefix
            f"CAST({blk} AS BIGINT) AS _blk", f"CAST({idx} AS BIGINT) AS _idx",
        ).write.parquet(str(tokens / sf.cache_key))
    todo = [(plans[sf.cache_key], str(tokens / sf.cache_key)) for sf in with_side]

    def parse_tokens(task: tuple[C.SourcePlan, str]) -> dict[str, Any]:
        return C.parse_tokens(task[0], src, task[1], where)

    for r in spark.sparkContext.parallelize(todo, len(todo)).map(parse_tokens).collect():
        if "error" in r:
            sf = next(f for f in with_side if f.cache_key == r["key"])
            _fail(groups, sf, RuntimeError(r["error"]))
            shutil.rmtree(out / f"_key={sf.cache_key}", ignore_errors=True)


def _entry_figures(written: Path) -> tuple[dict[int, int], list[str]]:
    """Rows per read block of a freshly parsed source, and its identifiers whose status Python decides
    (``records.odd_identifiers``), read from its Parquet files on the driver: a few narrow columns, no Spark
    job."""
    import pyarrow.parquet as pq

    files = sorted(written.glob("*.parquet"))
    if not files:
        return {}, []
    table = pq.ParquetDataset([str(f) for f in files]).read(columns=["_blk", "party_uscc_raw", "uscc_status"])
    counts = table["_blk"].value_counts().to_pylist()
    return {int(c["values"]): int(c["counts"]) for c in counts}, R.odd_identifiers(table)


# ------------------------------------------------------------------------------------------ assemble
class _Assembly:
    """The cached sources as records: numbered, identifiers checked, re-sent rows folded, objections marked.

    Nothing wide is shuffled or kept, and only small tables are broadcast: the rows are numbered from the
    rows before each read block (``number_rows``), the identifiers' statuses were decided when parsing (the
    few odd ones here, in Python), and what needs every record (the re-sent records and the objection marks)
    is computed once from a few narrow columns and collected (small). ``records`` then reads the cache
    entries a table needs and joins those marks only where a record of the table has one.
    """

    def __init__(self, spark: SparkSession, ctx: RunContext, loadable: list[SourceFile],
                 metas: dict[str, dict[str, Any]], cache: ParseCache, writing: set[str] | None = None) -> None:
        """``writing``: the record types whose tables will be written (all when None): marks are found only for
        their records."""
        src = ctx.sources
        self.writing = writing
        self.spark, self.src, self.cache = spark, src, cache
        # a cached row: the staging shape and the key its entry's folder gives (see radar.ingest.cache)
        self.schema = T.StructType([*R.staging_schema(src).fields, T.StructField(KEY_COLUMN, T.StringType())])
        self.with_rows = {k: m for k, m in metas.items() if m.get("rows_read")}
        files: dict[str, list[tuple[str, str, int | None]]] = defaultdict(list)
        for f in loadable:
            m = metas[f.cache_key]
            files[f.cache_key].append(
                (f.relpath, f.sha256, int(m["rows_read"]) if f.truncated and m.get("rows_read") else None)
            )
        self.entries: dict[str, R.SourceRows] = {}
        for k, m in metas.items():
            offsets, before = {}, 0
            for blk, n in sorted((int(b), int(n)) for b, n in m.get("blocks", {}).items()):
                offsets[blk] = before
                before += n
            self.entries[k] = R.SourceRows(tuple(files.get(k, ())), offsets)
        self.odd_of = {k: m.get("odd_identifiers", []) for k, m in metas.items()}
        self.odd = {v: uscc_status_of(v, src.placeholder_uscc) for vs in self.odd_of.values() for v in vs}
        self.policy = ctx.policy.features

    @cached_property
    def marks(self) -> list[tuple[Any, ...]]:
        """The ``RECORD_MARKS`` rows of every re-sent or objected record of the record types being written
        (computed when first needed: a run that writes no record table needs none). Their records and, when an
        objection can name one of them, the objections are read; nothing else."""
        types = None if self.writing is None else set(self.writing)
        if types is not None and any(self.src.record_types[rt].document_no for rt in types):
            types.add("objection")
        everything = self.checked(types)
        folded = R.folded_records(everything, R.per_type(self.src, "updated_at")).collect()
        current = R.mark_records(everything, self._marks_table(R.record_marks(folded, [])))
        fp = self.policy
        marks = R.objection_marks(current, self.src, fp.objection_retracts, fp.objection_corrects).collect()
        return R.record_marks(folded, marks)

    def _marks_table(self, rows: list[tuple[Any, ...]]) -> DataFrame | None:
        return self.spark.createDataFrame(rows, R.RECORD_MARKS) if rows else None

    def numbered(self, record_type: str | set[str] | None, rejected_only: bool = False) -> DataFrame:
        """The cached rows (of one record type, of several, or all), each with its source file and row number;
        ``rejected_only``: only the rows that may be quarantined (a reason from parsing, or a row of a file whose
        last line is cut), filtered before they are numbered."""
        keys = self._keys(record_type)
        if keys:  # the entries' folders give the key (a partition column)
            staged = self.spark.read.schema(self.schema).option("basePath", R.spark_path(self.cache.root)).parquet(
                *[R.spark_path(self.cache.entry(k)) for k in keys]
            )
        else:
            staged = self.spark.createDataFrame([], self.schema)
        if rejected_only:
            cut = [k for k in keys if any(last is not None for _, _, last in self.entries[k].files)]
            staged = staged.where(F.col("quarantine_reason").isNotNull() | F.col(KEY_COLUMN).isin(cut))
        return R.number_rows(staged, {k: self.entries[k] for k in keys}, few_rows=rejected_only)

    def _keys(self, record_type: str | set[str] | None) -> list[str]:
        """The cache entries with rows of a record type (of several, or all)."""
        types = {record_type} if isinstance(record_type, str) else record_type
        return [k for k, m in self.with_rows.items() if types is None or m.get("record_type") in types]

    def checked(self, record_type: str | set[str] | None) -> DataFrame:
        """``numbered`` with every identifier's status (Python's decided only for the odd values of its
        entries)."""
        odd = {v: self.odd[v] for k in self._keys(record_type) for v in self.odd_of[k]}
        return R.add_uscc_status(self.numbered(record_type), odd)

    def records(self, record_type: str | None = None) -> DataFrame:
        """Every row (of one record type, or all) with its identifier status, current flag, versions and
        objection outcome."""
        rows = [m for m in self.marks if record_type is None or m[0] == record_type]
        return R.mark_records(self.checked(record_type), self._marks_table(rows))


def _publish(
    ctx: RunContext, files: list[SourceFile], loadable: list[SourceFile], metas: dict[str, dict[str, Any]],
    assembly: _Assembly, signatures: dict[str, str], reused: dict[str, tuple[Path, dict[str, Any]]],
) -> tuple[dict[str, dict[str, Any]], dict[str, tuple[Any, Any]]]:
    """Write every record table and the quarantine, counting what the data-quality report needs on the way,
    and keep each table's signature and figures beside it (``TABLE_INPUTS``). A table in ``reused`` (see
    ``_published_alike``) is published by linking its files, with the figures kept beside them.

    The tables are written by polars and pyarrow in Spark's Python workers (``_write_tables``), or, with
    ``policy.ingest.publisher: spark`` or should that job fail as a whole, by Spark (``_write_tables_spark``).
    Returns ``_collect_stats`` of the counts."""
    src = ctx.sources
    not_loaded = [(f.relpath, 0, f.record_type, f"file not loaded: {f.problem}", ",".join(f.headers)[:500])
                  for f in files if f.problem]
    # rows read bound the rows a table gets
    read: dict[str | None, int] = defaultdict(int)
    sources_of: dict[str, list[str]] = defaultdict(list)
    for f in loadable:
        n = int(metas[f.cache_key].get("rows_read") or 0)
        read[f.record_type] += n
        read[None] += n
        sources_of[f.record_type].append(f.relpath)
    accepted: dict[str, tuple[dict[str, dict[str, int]], Any, Any]] = {}
    tables = [records_table(rt) for rt in src.record_types] + [QUARANTINE_TABLE]
    for table in tables:
        if table in reused:
            part, inputs = reused[table]
            ctx.lake.publish_links(table, ctx.as_of, part)
            rt = _record_type_of(table)
            if rt is not None and inputs.get("stats"):
                accepted[rt] = _stats_of_json(inputs["stats"])
    todo = [t for t in tables if t not in reused]
    quarantined: list[dict[str, Any]] | None = None
    if todo and ctx.policy.ingest.publisher == "arrow":
        try:
            quarantined = _write_tables(ctx, todo, assembly, sources_of, not_loaded, signatures, accepted)
        except Exception as e:  # the job itself failed: Spark writes the tables
            log.warning("writing the tables with pyarrow failed (%s); Spark writes them", _error_text(e))
    if quarantined is None:
        _write_tables_spark(ctx, todo, assembly, sources_of, read, not_loaded, signatures, accepted)
    if quarantined is None or QUARANTINE_TABLE not in todo:
        written = ctx.spark.read.schema(QUARANTINE_SCHEMA).parquet(
            str(ctx.lake.require(QUARANTINE_TABLE, ctx.as_of)))
        quarantined = [r.asDict() for r in R.rejected_stats(written).collect()]
    return _collect_stats(accepted, quarantined, loadable)


def _record_type_of(table: str) -> str | None:
    """The record type of a record table (None: the quarantine)."""
    return None if table == QUARANTINE_TABLE else table.split("/", 1)[1]


def _inputs(signature: str, stats: tuple[dict[str, dict[str, int]], Any, Any] | None) -> str:
    """What ``TABLE_INPUTS`` holds: the table's signature and the figures counted while it was written."""
    return json.dumps({"signature": signature, "stats": _stats_json(stats) if stats else None},
                      ensure_ascii=False)


def _write_tables(
    ctx: RunContext, tables: list[str], assembly: _Assembly, sources_of: dict[str, list[str]],
    not_loaded: list[tuple[Any, ...]], signatures: dict[str, str],
    accepted: dict[str, tuple[dict[str, dict[str, int]], Any, Any]],
) -> list[dict[str, Any]]:
    """Write ``tables`` (record tables and the quarantine) with ``radar.ingest.tables``: one Spark job, a task
    per cached Parquet file, each writing its rows into the staging folders; every table is published once
    the job has succeeded (a failure publishes none). Adds each written record table's figures to
    ``accepted``; returns the quarantine's (``records.rejected_stats`` rows; empty when it is not written)."""
    src, sc = ctx.sources, ctx.spark.sparkContext
    late = ctx.policy.ingest.late_publication_working_days
    plans = {rt: TW.table_plan(src, rt, late) for rt in src.record_types if records_table(rt) in tables}
    with_quarantine = QUARANTINE_TABLE in tables
    by_type: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for m in assembly.marks if plans else []:
        by_type[m[0]].append(m)
    with ExitStack() as stack:
        dirs = {t: stack.enter_context(ctx.lake.staging(t, ctx.as_of)) for t in tables}
        tasks: list[tuple[str, TW.EntryPlan, TW.TablePlan | None, str | None, str | None, int]] = []
        for k, m in assembly.with_rows.items():
            rt = m.get("record_type")
            plan = plans.get(rt) if rt is not None else None
            if plan is None and not with_quarantine:
                continue
            e = assembly.entries[k]
            odd = {v: assembly.odd[v] for v in assembly.odd_of[k]}
            entry = TW.EntryPlan(k, rt or "", e.files, e.offsets, odd)
            table_dir = str(dirs[records_table(plan.record_type)]) if plan else None
            quarantine_dir = str(dirs[QUARANTINE_TABLE]) if with_quarantine else None
            for p in sorted(assembly.cache.entry(k).glob("*.parquet")):
                tasks.append((str(p), entry, plan, table_dir, quarantine_dir, p.stat().st_size))
        tasks.sort(key=lambda t: -t[5])  # the largest files first
        marks = sc.broadcast(dict(by_type))

        def write(task: tuple[str, TW.EntryPlan, TW.TablePlan | None, str | None, str | None, int]) -> Any:
            path, entry, plan, table_dir, quarantine_dir, _ = task
            return TW.write_cache_file(path, entry, plan, marks.value.get(entry.record_type, []), table_dir,
                                       quarantine_dir)

        results = sc.parallelize(tasks, len(tasks)).map(write).collect() if tasks else []
        marks.unpersist()
        for rt, plan in plans.items():
            folder = dirs[records_table(rt)]
            if not any(folder.glob("*.parquet")):  # no row: the table still has its columns
                TW.write_rows([], T.StructType.fromJson(json.loads(plan.schema_json)), folder / "part-empty.parquet")
            stats = None
            if sources_of[rt]:
                stats = accepted[rt] = _table_figures([r for r in results if r["record_type"] == rt], sources_of[rt])
            (folder / TABLE_INPUTS).write_text(_inputs(signatures[records_table(rt)], stats), encoding="utf-8")
        if not with_quarantine:
            return []
        folder = dirs[QUARANTINE_TABLE]
        counts: dict[tuple[Any, ...], int] = defaultdict(int)  # as records.rejected_stats counts them
        for r in results:
            for f, rt, reason, n in r["quarantined"]:
                counts[(f, rt, reason)] += n
        for f, _, rt, reason, _ in not_loaded:
            counts[(f, rt, reason.split(":", 1)[0])] += 1
        if not_loaded or not any(folder.glob("*.parquet")):
            TW.write_rows(not_loaded, QUARANTINE_SCHEMA, folder / "part-not-loaded.parquet")
        (folder / TABLE_INPUTS).write_text(_inputs(signatures[QUARANTINE_TABLE], None), encoding="utf-8")
    return [{"source_file": f, "record_type": rt, "reason": reason, "rows": n}
            for (f, rt, reason), n in counts.items()]


def _table_figures(
    results: list[dict[str, Any]], files: list[str]
) -> tuple[dict[str, dict[str, int]], Any, Any]:
    """A record table's figures (as ``records.read_accepted_stats`` reads them) from what its tasks counted:
    per source file (every one of ``files``, zeros where no row was accepted) and the event-date range."""
    per_file = {f: {"accepted": 0, **dict.fromkeys(R.STAT_COUNTS, 0)} for f in files}
    first = last = None
    for r in results:
        for f, counts in r["per_file"].items():
            for n, v in counts.items():
                per_file[f][n] += v
        if r["first"] is not None:
            first = r["first"] if first is None else min(first, r["first"])
            last = r["last"] if last is None else max(last, r["last"])
    return per_file, first, last


def _write_tables_spark(
    ctx: RunContext, tables: list[str], assembly: _Assembly, sources_of: dict[str, list[str]],
    read: dict[str | None, int], not_loaded: list[tuple[Any, ...]], signatures: dict[str, str],
    accepted: dict[str, tuple[dict[str, dict[str, int]], Any, Any]],
) -> None:
    """Write ``tables`` with Spark: each record table from its own cache entries and the quarantine, side by
    side; each record table's figures are observed while it is written (``records.accepted_stats``) and added
    to ``accepted``."""
    spark, src = ctx.spark, ctx.sources
    late = ctx.policy.ingest.late_publication_working_days
    observed: dict[str, Observation] = {}

    def record_table(rt: str) -> Callable[[], DataFrame]:
        def table() -> DataFrame:
            out = R.record_table(assembly.records(rt), rt, src)
            if not sources_of[rt]:
                return out
            observed[rt] = Observation(f"ingest {rt}")
            return out.observe(observed[rt], *R.accepted_stats(out, rt, sources_of[rt], src, late))

        return table

    def quarantine() -> DataFrame:
        rejected = spark.createDataFrame(not_loaded, QUARANTINE_SCHEMA)
        return rejected.unionByName(R.quarantine_table(assembly.numbered(None, rejected_only=True)))

    jobs = [(t, _record_type_of(t)) for t in tables]
    # each writer plans its table too (planning takes the driver a while: it overlaps the other writes), the
    # largest tables first so that the last to finish are short
    jobs.sort(key=lambda j: -read[j[1]])

    def write(job: tuple[str, str | None]) -> None:
        table, rt = job

        def finish(staging: Path) -> None:  # the table's signature and figures, published with it
            obs = observed.get(rt) if rt is not None else None
            stats = R.read_accepted_stats(obs.get, sources_of[rt]) if obs is not None and rt is not None else None
            if stats is not None and rt is not None:
                accepted[rt] = stats
            (staging / TABLE_INPUTS).write_text(_inputs(signatures[table], stats), encoding="utf-8")

        df = record_table(rt)() if rt is not None else quarantine()
        ctx.lake.publish_spark(df, table, ctx.as_of, partitions=read[rt] // ROWS_PER_FILE + 1,
                               row_group_bytes=ROW_GROUP_BYTES, options=PARQUET_OPTIONS, finish=finish)

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        list(pool.map(write, jobs))


# ------------------------------------------------------------------------------------------ report
def _collect_stats(
    accepted: dict[str, tuple[dict[str, dict[str, int]], Any, Any]], quarantined: list[Any],
    loadable: list[SourceFile],
) -> tuple[dict[str, dict[str, Any]], dict[str, tuple[Any, Any]]]:
    """Per-file counts and each record type's event-date range from the observed ``accepted`` figures (record
    type -> ``records.read_accepted_stats``) and the ``rejected_stats`` rows of the quarantine (``quarantined``;
    the rows of sources that could not be loaded at all are not counted here)."""
    out: dict[str, dict[str, Any]] = {
        f.relpath: {"record_type": f.record_type, "accepted": 0, "quarantined": 0, "quarantine_reasons": {}}
        for f in loadable
    }
    ranges: dict[str, tuple[Any, Any]] = {}
    for rt, (per_file, first, last) in accepted.items():
        for name, counts in per_file.items():
            out[name].update(counts)
        if first is not None:
            ranges[rt] = (first, last)
    for r in quarantined:
        st = out.get(r["source_file"])
        if st is None:  # a source not loaded: reported as such
            continue
        st["quarantined"] += r["rows"]
        st["quarantine_reasons"][r["reason"]] = st["quarantine_reasons"].get(r["reason"], 0) + r["rows"]
    return out, ranges


RATE_COUNTS = ("rows_in", "accepted", "quarantined", "duplicates", "uscc_invalid", "uscc_missing",
               "uscc_placeholder", "late_publication", "objection_corrected", "objection_retracted")


def _report(
    ctx: RunContext,
    files: list[SourceFile],
    per_file: dict[str, dict[str, Any]],
    metas: dict[str, dict[str, Any]],
    date_range: dict[str, tuple[Any, Any]],
) -> dict[str, Any]:
    """The data-quality report: per source, per record type, the rejected sources and the date ranges."""
    out_files: dict[str, Any] = {}
    by_type: dict[str, dict[str, Any]] = {}
    # late publication is measured only in a file that gives both a decision and a publication date (the 2019
    # penalty standard has no 公示日期; GSXT's and the regulator's own exports do); elsewhere the figure is None
    # (not applicable), so that a supervisor does not read a 0 as "checked, none late"
    dated_rows: dict[str, int] = {}  # per record type, the accepted rows of the files where it is measured
    for f in files:
        s: dict[str, Any] = {
            "record_type": f.record_type,
            "format": f.format,
            "encoding": (f.encoding or "") + (" (BOM)" if f.has_bom else ""),
            "bytes": f.size,
            "sha256": f.sha256,
        }
        if f.sheet is not None:
            s["sheet"] = f.sheet
            s["header_row"] = f.header_row
        if f.problem:
            s.update({"loaded": False, "problem": f.problem, "rows_in": None})
        else:
            st = per_file.get(f.relpath, {})
            quarantined = int(st.get("quarantined", 0))
            accepted = int(st.get("accepted", 0))
            s.update(
                {
                    "loaded": True,
                    "rows_in": f.rows_in,
                    "rows_read": int(metas.get(f.cache_key, {}).get("rows_read", 0)),
                    "accepted": accepted,
                    "quarantined": quarantined,
                    "quarantine_reasons": dict(sorted(st.get("quarantine_reasons", {}).items())),
                    "unknown_columns": f.mapping.unknown if f.mapping else [],
                    **{k: v for k, v in st.items() if k not in ("accepted", "quarantined", "record_type",
                                                                 "quarantine_reasons")},
                }
            )
            s["reconciled"] = s["rows_in"] == accepted + quarantined == s["rows_read"]
            dated = f.mapping is not None and {"decision_date", "publish_date"} <= f.mapping.fields
            if not dated:
                s["late_publication"] = None
            if s["rows_in"] == 0 and s["rows_read"] == 0:
                s["note"] = "no data rows (header only)" if f.format in ("csv", "xlsx") else "no data rows"
            t = by_type.setdefault(
                f.record_type or "?",
                {"files": 0, **dict.fromkeys(RATE_COUNTS, 0), "unknown_columns": []},
            )
            t["files"] += 1
            for k in RATE_COUNTS:
                t[k] += int(s.get(k) or 0)
            if dated:
                dated_rows[f.record_type or "?"] = dated_rows.get(f.record_type or "?", 0) + accepted
            t["unknown_columns"] = sorted(set(t["unknown_columns"]) | set(s["unknown_columns"]))
        out_files[f.relpath] = s
    for t in by_type.values():
        n = max(1, t["accepted"])
        t["invalid_uscc_rate"] = round(t["uscc_invalid"] / n, 4)
        t["missing_uscc_rate"] = round(t["uscc_missing"] / n, 4)
        t["duplicate_rate"] = round(t["duplicates"] / n, 4)
        # the seed's 重错码率: duplicate or wrong codes among accepted rows
        t["dup_or_wrong_code_rate"] = round((t["duplicates"] + t["uscc_invalid"]) / n, 4)
    for rt, t in by_type.items():
        if rt in dated_rows:
            t["late_publication_rate"] = round(t["late_publication"] / max(1, dated_rows[rt]), 4)
        else:
            t["late_publication"] = t["late_publication_rate"] = None
    return {
        "as_of": ctx.as_of_s,
        "input": str(ctx.input_dir),
        "files": out_files,
        "record_types": by_type,
        "files_rejected": [f.relpath for f in files if f.problem],
        "event_dates": {rt: [a.isoformat(), b.isoformat()] for rt, (a, b) in sorted(date_range.items())},
    }
