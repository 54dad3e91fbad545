"""The vectorised parser (radar/ingest/vector.py, ``ingest.parser: arrow``) gives the SQL parser's answers:
value by value on dirty text, and table by table on the ingest job's dirty input folder."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest
from test_ingest import AS_OF, build_input, run_job

from radar.config import policy, profile, sources
from radar.ingest import parse, vector
from radar.jobs.context import RunContext
from radar.lake import Lake

TEXTS = [
    None, "", " ", "null", "NULL", "-", "--", "/", "N/A", "\\N", "  长期 ", "长期有效", "无固定期限",
    "2021-03-05", "2021-3-5", "2021/03/05", "2021.3.5", "2021年03月05日", "2021年3月5日 10:00", "20210305",
    "2021-03-05 12:30:00", "2021-02-30", "20210230", "2099-12-31", "9999-9-9", "1900-1-1", "1899-12-31",
    "2100-01-01", "１６１４９５６８００", "1614960000000", "1614960000", "1614963600000", "16149600000",
    "２０２１－０３－０５", "　2021-03-05　", "abc", "2021", "21-3-5", "1,234.5", "１，２３４．５", " 12 ",
    "1.5万元", "2万", "300元", "人民币500元", "RMB 1,000", "CNY2.5万", "两千元", "-3.7", "+4", "1e3", ".5",
    "5.", "12人", "30岁", "3000000000", "-2147483648", "2147483647.9", "NaN", "Infinity", "是", "否", "Y", "n",
    "YES", "No", "TRUE", "f", "1", "0", "警告、罚款", "警告；罚款;没收违法所得", "罚款,,警告 | 其他",
    "责令停产停业、暂扣或者吊销许可证", "a\tb", "\t12\t", "Ｙｅｓ", "ＡＢＣ", "x" * 300,
]

SPEC = vector.SlotSpec(
    slots=(), timezone="Asia/Shanghai", sentinels=("2099-12-31", "9999-09-09", "9999-12-31", "1900-01-01"),
    separators=(";", "；", ",", "，", "、", "|"), keep_whole=("责令停产停业、暂扣或者吊销许可证",),
)


@pytest.fixture(scope="module")
def by_sql(spark: Any) -> dict[str, list[Any]]:
    """Each parser's SQL answer for every text of TEXTS (in order), with a 万元 header for money."""
    df = spark.createDataFrame([(i, t) for i, t in enumerate(TEXTS)], "i INT, x STRING")
    c = parse.clean_text("x")
    d = parse.date_of_clean("c", SPEC.timezone)
    out = df.selectExpr("i", f"{c} AS c").selectExpr(
        "i", "c", f"{d} AS d",
        f"{parse.money_of_clean('c', 'wan')} AS money", f"{parse.decimal_of_clean('c')} AS dec",
        f"{parse.int_of_clean('c')} AS int", f"{parse.bool_of_clean('c')} AS b",
        f"{parse.list_of_clean('c', list(SPEC.separators), list(SPEC.keep_whole))} AS lst",
    ).selectExpr("*", f"{parse.open_ended_of('c', 'd', list(SPEC.sentinels))} AS o").orderBy("i").collect()
    return {k: [r[k] for r in out] for k in ("c", "d", "money", "dec", "int", "b", "lst", "o")}


def by_polars() -> dict[str, list[Any]]:
    """The same answers from radar.ingest.vector."""
    c = pl.col("c")
    df = pl.DataFrame({"x": TEXTS, "_wan": [1] * len(TEXTS)}, schema={"x": pl.String, "_wan": pl.Int32})
    df = df.with_columns(vector._clean(pl.col("x")).alias("c"))
    df = df.with_columns(
        vector._date(c, SPEC.timezone).alias("d"), vector._money(c, 1).alias("money"),
        vector._decimal(c).alias("dec"), vector._int(c).alias("int"), vector._bool(c).alias("b"),
        vector._list(c, SPEC.separators, SPEC.keep_whole).alias("lst"),
    ).with_columns(vector._open_ended(c, pl.col("d"), SPEC.sentinels).alias("o"))
    return {k: df[k].to_list() for k in ("c", "d", "money", "dec", "int", "b", "lst", "o")}


@pytest.mark.parametrize("parser", ["c", "d", "money", "dec", "int", "b", "lst", "o"])
def test_each_value_parser_agrees_with_sql(by_sql: dict[str, list[Any]], parser: str) -> None:
    got = by_polars()[parser]
    want = by_sql[parser]
    wrong = [(t, w, g) for t, w, g in zip(TEXTS, want, got, strict=True) if w != g]
    assert not wrong, f"{parser}: (text, sql, polars) {wrong}"


def test_dates_the_parsers_must_read() -> None:
    """Not only agreement: the forms of FIELDS §8.4 read as the right day (epoch values in Beijing time)."""
    got = dict(zip(TEXTS, by_polars()["d"], strict=True))
    assert got["2021年3月5日 10:00"] == got["20210305"] == got["2021.3.5"] == date(2021, 3, 5)
    assert got["1614960000000"] == date(2021, 3, 6)  # 2021-03-05 16:00 UTC is 03-06 00:00 in Beijing
    assert got["2021-02-30"] is None and got["20210230"] is None


@pytest.fixture(scope="module")
def both_runs(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    """The ingest job on the dirty input folder of test_ingest, once per parser."""
    runs = []
    for parser in ("sql", "arrow"):
        root = tmp_path_factory.mktemp(f"ingest-{parser}")
        p = policy()
        p = p.model_copy(update={"ingest": p.ingest.model_copy(update={"parser": parser})})
        lake = Lake(root / "lake").open(create=True)
        ctx = RunContext(spark, lake, AS_OF, p, sources(), profile(), input_dir=build_input(root))
        runs.append(run_job(ctx))
    return runs[0], runs[1]


def _sorted(df: pl.DataFrame) -> pl.DataFrame:
    keys = [c for c in ("source_file", "source_row", "record_key") if c in df.columns]
    return df.sort(keys) if keys else df


def test_both_parsers_publish_the_same_tables(both_runs: tuple[Any, Any]) -> None:
    sql, arrow = both_runs
    assert sql.tables.keys() == arrow.tables.keys()
    for name, want in sql.tables.items():
        got = arrow.tables[name]
        assert got.columns == want.columns, name
        got, want = _sorted(got), _sorted(want)
        # the two input folders are built apart: an XLSX holds its own write time, so its hash differs
        differ = [c for c in want.columns if c != "source_sha256" and not got[c].equals(want[c])]
        assert not differ, (name, [(c, want[c].to_list(), got[c].to_list()) for c in differ])
    assert len(sql.tables["penalty"]) > 0 and len(sql.tables["quarantine"]) > 0
    want, got = _no_hashes(sql.report), _no_hashes(arrow.report)
    assert want.keys() == got.keys()
    for k in want:
        if k == "files":
            for f in want[k]:
                assert got[k][f] == want[k][f], f
        assert got[k] == want[k], k


def _no_hashes(x: Any) -> Any:
    """A report without what differs between the two builds of the input folder (an XLSX holds its write time:
    its hash and size) and between two runs (the folder, the phase times)."""
    if isinstance(x, dict):
        return {k: _no_hashes(v) for k, v in x.items() if k not in ("sha256", "bytes", "input", "phase_seconds")}
    return [_no_hashes(v) for v in x] if isinstance(x, list) else x
