"""The columnar parser (radar/ingest/columnar.py) gives the answers of Spark's CSV reader and of the SQL
parser: line by line on random dirty lines, value by value on dirty text, and table by table on the ingest
job's dirty input folder."""

from __future__ import annotations

import itertools
import random
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from pyspark.sql import types as T
from test_ingest import PENALTY_LABELS, VECTORS, _penalty, build_input, make_context, run_job

from radar.config import policy, sources
from radar.ingest import columnar as C
from radar.ingest import parse
from radar.ingest.files import discover
from radar.ingest.records import CORRUPT, CSV_READING, spark_path
from radar.jobs import ingest

# ------------------------------------------------------------------------------------------ fields
ALPHABET = ["a", "b", '"', '""', " ", "\t", "中", "'", "x,y"]


def _random_lines(rnd: random.Random, delim: str, n: int) -> list[str]:
    parts = [c.replace(",", delim) for c in ALPHABET] + [delim, delim]
    lines = [delim.join(["h1", "h2", "h3"])]
    fixed = ['a,"b,c",d', 'a,"b""c",d', 'a,"b"c,d', 'a,"b,c', '"a"', '"",b,c', 'a,b"c,d', 'a, "b,c",d',
             'a,"b" ,c', '"a""",b,c', 'a,b,"', 'a,b,""', '"a,b,c"', ",,", 'a,"b""",c', '"""",x,y', "a,b,c,d"]
    lines += [f.replace(",", delim) for f in fixed]
    lines += ["".join(rnd.choice(parts) for _ in range(rnd.randint(1, 14))) for _ in range(n)]
    return [ln for ln in lines if ln.strip("".join(chr(c) for c in range(33)))]


@pytest.mark.parametrize("delim,seed", [(",", 1), ("|", 2), ("\t", 3)])
def test_regular_lines_split_as_sparks_csv_reader(spark: Any, tmp_path: Path, delim: str, seed: int) -> None:
    """Every line the columnar parser splits itself (no quote, or regular quoting) gets the fields and the
    malformed text Spark's reader gives it; the others are left to Spark (``split_regular`` is None)."""
    lines = _random_lines(random.Random(seed), delim, 1500)
    path = tmp_path / "lines.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    schema = T.StructType([T.StructField(f"c{i}", T.StringType()) for i in range(3)]
                          + [T.StructField(CORRUPT, T.StringType())])
    read = spark.read.csv(spark_path(path), schema=schema, header=True, sep=delim, encoding="UTF-8",
                          **CSV_READING).collect()
    data = lines[1:]
    assert len(read) == len(data)
    # the job's way: split_fields on the block's lines (plain lines split by polars, quoted ones by split_regular)
    plan = C.SourcePlan("k", str(path), "utf-8", delim, ("c0", "c1", "c2"), "penalty", 0, 0, 0, 0, False, ())
    block = pl.DataFrame({"_idx": list(range(len(data))), "line": data}, schema={"_idx": pl.Int64, "line": pl.String})
    rows, irregular = C.split_fields(block, plan)
    assert all('"' in ln for ln in irregular["line"].to_list())  # a line without quotes is always split here
    assert rows.height + irregular.height == len(data)
    assert sum('"' in data[i] for i in rows["_idx"].to_list()) > 300  # many quoted lines are compared too
    wrong = [
        (data[r["_idx"]], [r["c0"], r["c1"], r["c2"], r[CORRUPT]], list(read[r["_idx"]]))
        for r in rows.iter_rows(named=True)
        if [r["c0"], r["c1"], r["c2"], r[CORRUPT]] != list(read[r["_idx"]])
    ]
    assert not wrong, wrong[:5]
    # Spark's to decide: a value never closed after an escaped quote, a quote closing before text
    assert all(C.split_regular(x.replace(",", delim), delim) is None for x in ('a,"b""c', 'a,"b"c,d', '"a"b,c'))


def test_line_blocks_end_after_line_breaks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks cover the file, each ends after a whole line (a CR LF is never cut, even across reads), and the
    blocks' non-blank lines are the file's, header left out."""
    rnd = random.Random(5)
    monkeypatch.setattr(C, "_LOOKAHEAD", 1)
    for trial in range(40):
        parts = ["h1,h2\n"]
        for _ in range(rnd.randint(0, 12)):
            parts.append(rnd.choice(["a,b", "", " \t", "中文,x", '"q",r']) + rnd.choice(["\n", "\r\n", "\r"]))
        if rnd.random() < 0.3:
            parts.append("last,line")
        data = "".join(parts).encode("utf-8")
        path = tmp_path / f"f{trial}.csv"
        path.write_bytes(data)
        blocks = C.line_blocks(path, len(data), block_bytes=rnd.randint(1, 9))
        assert blocks[0][0] == 0 and blocks[-1][1] == len(data)
        assert all(a[1] == b[0] for a, b in itertools.pairwise(blocks))
        for _, end in blocks[:-1]:
            assert data[end - 1:end] in (b"\n", b"\r") and data[end - 1:end + 1] != b"\r\n"
        plan = C.SourcePlan("k", str(path), "utf-8", ",", ("a", "b"), "penalty", 0, 0, 0, 0, False, ())
        got = [ln for s, e in blocks for ln in C.block_lines(plan, s, e)["line"].to_list()]
        text = data.decode().replace("\r\n", "\n").replace("\r", "\n").split("\n")
        want = [ln for ln in text if ln.strip("".join(chr(c) for c in range(33)))][1:]
        assert got == want, (data, blocks)


# ------------------------------------------------------------------------------------------ values
TEXTS = [
    None, "", " ", "null", "NULL", "-", "--", "/", "N/A", "\\N", "  长期 ", "长期有效", "无固定期限",
    "2021-03-05", "2021-3-5", "2021/03/05", "2021.3.5", "2021年03月05日", "2021年3月5日 10:00", "20210305",
    "2021-03-05 12:30:00", "2021-02-30", "20210230", "2099-12-31", "9999-9-9", "1900-1-1", "1899-12-31",
    "2100-01-01", "１６１４９５６８００", "1614960000000", "1614960000", "1614963600000", "16149600000",
    "２０２１－０３－０５", "　2021-03-05　", "abc", "2021", "21-3-5", "1,234.5", "１，２３４．５", " 12 ",
    "1.5万元", "2万", "300元", "人民币500元", "RMB 1,000", "CNY2.5万", "两千元", "-3.7", "+4", "1e3", ".5",
    "5.", "12人", "30岁", "3000000000", "-2147483648", "2147483647.9", "NaN", "Infinity", "是", "否", "Y", "n",
    "YES", "No", "TRUE", "f", "1", "0", "警告、罚款", "警告；罚款;没收违法所得", "罚款,,警告 | 其他",
    "没收违法所得、没收非法财物", "a\tb", "\t12\t", "Ｙｅｓ", "ＡＢＣ", "x" * 300,
    VECTORS[1], VECTORS[1].lower(), f" {VECTORS[2][:9]}-{VECTORS[2][9:]} ", VECTORS[3][:17] + "0",
    "00000000000000000X", "9111********1234X", "123456789012345", "ABC123456", "91110000MA01ABCD1", "中文代码",
    VECTORS[4][:8] + "IOZSV" + VECTORS[4][13:],
]
TIMEZONE, SENTINELS = "Asia/Shanghai", ["2099-12-31", "9999-09-09", "9999-12-31", "1900-01-01"]
SEPARATORS, KEEP_WHOLE = [";", "；", ",", "，", "、", "|"], ["没收违法所得、没收非法财物"]
ANSWERS = ("c", "d", "money", "dec", "int", "b", "lst", "o", "u", "status")


@pytest.fixture(scope="module")
def by_sql(spark: Any) -> dict[str, list[Any]]:
    """Each value parser's SQL answer for every text of TEXTS (in order), with a 万元 column for money."""
    df = spark.createDataFrame([(i, t) for i, t in enumerate(TEXTS)], "i INT, x STRING")
    out = df.selectExpr("i", f"{parse.clean_text('x')} AS c").selectExpr(
        "i", "c", f"{parse.date_of_clean('c', TIMEZONE)} AS d", f"{parse.money_of_clean('c', 'wan')} AS money",
        f"{parse.decimal_of_clean('c')} AS dec", f"{parse.int_of_clean('c')} AS int",
        f"{parse.bool_of_clean('c')} AS b", f"{parse.list_of_clean('c', SEPARATORS, KEEP_WHOLE)} AS lst",
        f"{parse.uscc_of_clean('c')} AS u",
    ).selectExpr(
        "*", f"{parse.open_ended_of('c', 'd', SENTINELS)} AS o",
        f"{parse.uscc_status_sql('u', '00000000000000000X', normalized=True)} AS status",
    ).orderBy("i").collect()
    return {k: [r[k] for r in out] for k in ANSWERS}


def by_columns() -> dict[str, list[Any]]:
    """The same answers from radar.ingest.columnar."""
    c = pl.col("c")
    df = pl.DataFrame({"x": TEXTS}, schema={"x": pl.String}).with_columns(C.clean(pl.col("x")).alias("c"))
    df = df.with_columns(
        C.date_of(c, TIMEZONE).alias("d"), C.money_of(c, True).alias("money"), C.decimal_of(c).alias("dec"),
        C.int_of(c).alias("int"), C.bool_of(c).alias("b"), C.list_of(c, SEPARATORS, KEEP_WHOLE).alias("lst"),
        C.uscc_of(c).alias("u"),
    ).with_columns(C.open_ended(c, pl.col("d"), SENTINELS).alias("o"),
                   C.uscc_status(pl.col("u"), "00000000000000000X").alias("status"))
    return {k: df[k].to_list() for k in ANSWERS}


@pytest.mark.parametrize("answer", ANSWERS)
def test_each_value_parser_agrees_with_sql(by_sql: dict[str, list[Any]], answer: str) -> None:
    got, want = by_columns()[answer], by_sql[answer]
    wrong = [(t, w, g) for t, w, g in zip(TEXTS, want, got, strict=True) if w != g]
    assert not wrong, f"{answer}: (text, sql, columnar) {wrong}"


def test_identifier_statuses_cover_every_outcome(by_sql: dict[str, list[Any]]) -> None:
    """The identifiers of TEXTS reach every status the SQL decides, and the Python-decided (null) one."""
    assert set(by_columns()["status"]) >= {"valid", "invalid_checksum", "invalid_format", "placeholder",
                                           "masked", "reg_no", "org_code", "missing", None}
    assert date(2021, 3, 6) in by_columns()["d"]  # epoch milliseconds read in Beijing time


# ------------------------------------------------------------------------------------------ the job
def _with_irregular_quotes(inp: Path) -> None:
    """Lines whose quoting only Spark's reader decides (an unclosed quote, a quote closing before text, a
    quote inside a value), next to regular quoting, in a file read in several blocks."""
    header = ",".join(PENALTY_LABELS)
    rows = []
    for i in range(1, 40):
        fine = "１，２３４．５" if i == 10 else f"{i}.5"  # full-width digits: folded in that block only
        row = _penalty(f"引{i}公司", VECTORS[100 + i], f"朝市监罚〔2021〕7{i}号",
                       fine=f'"{fine}"' if i == 10 else fine)
        kind = i % 5
        if kind == 1:
            row = row.replace(f"引{i}公司", f'"引{i}公司', 1)  # never closed
        elif kind == 2:
            row = row.replace(f"引{i}公司", f'"引{i}"公司', 1)  # closed before text
        elif kind == 3:
            row = row.replace(f"引{i}公司", f'引"{i}"公司', 1)  # inside an unquoted value
        elif kind == 4:
            row = row.replace(f"引{i}公司", f'"引""{i}"",公司"', 1)  # regular, escaped quotes and a comma
        rows.append(row)
    (inp / "penalty" / "r_quotes.csv").write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def both_runs(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    """The ingest job on the dirty input folder of test_ingest (plus irregular quoting), once per parser;
    the columnar parser reads in blocks of a few hundred bytes, so files span several."""
    runs = []
    root = tmp_path_factory.mktemp("ingest-parsers")
    inp = build_input(root)
    _with_irregular_quotes(inp)
    old = C.BLOCK_BYTES
    for parser in ("sql", "columnar"):
        p = policy()
        p = p.model_copy(update={"ingest": p.ingest.model_copy(update={"parser": parser})})
        C.BLOCK_BYTES = 300 if parser == "columnar" else old
        try:
            runs.append(run_job(make_context(spark, root / f"lake-{parser}", inp, pol=p)))
        finally:
            C.BLOCK_BYTES = old
    return runs[0], runs[1]


def _sorted(df: pl.DataFrame) -> pl.DataFrame:
    keys = [c for c in ("source_file", "source_row", "record_key") if c in df.columns]
    return df.sort(keys) if keys else df


def test_both_parsers_publish_the_same_tables(both_runs: tuple[Any, Any]) -> None:
    sql, col = both_runs
    assert sql.tables.keys() == col.tables.keys()
    for name, want in sql.tables.items():
        got = col.tables[name]
        assert got.columns == want.columns, name
        got, want = _sorted(got), _sorted(want)
        differ = [c for c in want.columns if not got[c].equals(want[c])]
        assert not differ, (name, [(c, want[c].to_list(), got[c].to_list()) for c in differ])
    quotes = col.tables["penalty"].filter(pl.col("source_file") == "penalty/r_quotes.csv")
    rejected = col.tables["quarantine"].filter(pl.col("source_file") == "penalty/r_quotes.csv")
    assert quotes.height + rejected.height == 39 and rejected.height > 0 and quotes.height > 0
    assert '引""4"",公司' not in quotes["subject_name"].to_list() and '引"4",公司' in quotes["subject_name"].to_list()
    assert quotes.filter(pl.col("subject_name") == "引10公司")["fine_amount_yuan"].to_list() == [12_345_000.0]
    assert sql.report == col.report | {k: sql.report[k] for k in ("phase_seconds", "parse_cache")}


def test_a_source_that_cannot_be_read_is_reported_and_the_others_load(spark: Any, tmp_path: Path) -> None:
    """A file gone between discovery and parsing: its source gets a problem, the other source's entry is
    written whole. A task that fails returns its error (for the driver to report) instead of failing the job."""
    inp = tmp_path / "in"
    inp.mkdir()
    header = "subject_name,uscc,decision_no,license_category,decision_date,authority_uscc"
    for name in ("a.csv", "b.csv"):
        (inp / name).write_text(f"{header}\n许可,{VECTORS[1]},朝许〔2021〕1号,普通,2021-05-01,{VECTORS[0]}\n",
                                encoding="utf-8")
    files = discover(inp, sources())
    for i, f in enumerate(files):
        f.cache_key = f"k{i}"
    a, b = sorted(files, key=lambda f: f.relpath)
    plan = C.source_plan(b, sources())
    (inp / "b.csv").unlink()
    out = tmp_path / "out"
    ingest._write_columnar(spark, sources(), [[f] for f in files], files, out, tmp_path / "work")
    assert a.problem is None and list((out / f"_key={a.cache_key}").glob("*.parquet"))
    assert b.problem is not None and b.problem.startswith("could not be read: ") and "No such file" in b.problem
    assert not (out / f"_key={b.cache_key}").exists()
    got = C.parse_block(plan, sources(), 0, 100, str(out), str(tmp_path / "side"))
    assert got["key"] == b.cache_key and got["error"].startswith("FileNotFoundError")


def test_when_the_columnar_job_fails_spark_sql_parses_and_says_so(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A failure of the columnar job as a whole (not of one source) costs speed, not rows: the CSV sources are
    parsed by Spark SQL, with a warning."""
    inp = tmp_path / "in"
    inp.mkdir()
    header = "subject_name,uscc,decision_no,license_category,decision_date,authority_uscc"
    (inp / "a.csv").write_text(f"{header}\n许可,{VECTORS[1]},朝许〔2021〕1号,普通,2021-05-01,{VECTORS[0]}\n",
                               encoding="utf-8")

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("Python worker exited unexpectedly")

    monkeypatch.setattr(ingest, "_write_columnar", broken)
    with caplog.at_level("WARNING", logger="radar.jobs.ingest"):
        run = run_job(make_context(spark, tmp_path / "lake", inp))
    assert run.report["files"]["a.csv"]["accepted"] == 1 and run.tables["license"].height == 1
    assert any("columnar parser failed (Python worker exited unexpectedly)" in r.message for r in caplog.records)
