"""The tables written by polars and pyarrow (radar/ingest/tables.py) against those Spark writes."""

from __future__ import annotations

import json
import random
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from pyspark.sql import functions as F
from test_ingest import AUTH, VECTORS, _csv, build_input, make_context, run_job

from radar.config import policy, sources
from radar.ingest import records as R
from radar.ingest import tables as TW
from radar.jobs import ingest


def _input(root: Path) -> Path:
    """The dirty input folder of test_ingest, plus what only marks and figures show: a file sent twice under
    two names, a penalty re-sent with a later update, late publications, objections of every outcome, and
    identifiers whose status Python decides."""
    inp = build_input(root)
    v = VECTORS
    header = ("行政相对人名称,行政相对人代码_1(统一社会信用代码),行政处罚决定书文号,处罚类别,处罚决定日期,公示日期,"
              "处罚机关统一社会信用代码,数据更新时间戳")
    rows = [
        f"甲公司,{v[1]},罚1号,罚款,2021-03-01,2021-03-15,{AUTH},2021-03-16",  # 10 working days: late
        f"乙公司,{v[2]},罚2号,罚款,2021-03-01,2021-03-10,{AUTH},2021-03-16",
        f"丙公司,{v[3]},罚3号,罚款,2021-03-02,2021-03-12,{AUTH},2021-03-16",
        f"丁公司,{v[4]},罚4号,罚款,2021-04-01,,{AUTH},",
        f"戊公司,{v[5]},,罚款,2020-01-01,2020-06-01,{AUTH},",  # no decision number: quarantined
        f"己公司,91X10000MA0000000Z,罚6号,罚款,2021-05-01,2021-05-06,{AUTH},",  # an odd identifier
        f"庚公司,某某公司,罚7号,罚款,2021-05-01,2021-05-06,{AUTH},",  # a name where the code should be
    ]
    (inp / "penalty" / "q.csv").write_text(_csv(header, *rows), encoding="utf-8")
    shutil.copy(inp / "penalty" / "q.csv", inp / "penalty" / "q_again.csv")  # the same content twice
    (inp / "penalty" / "r.csv").write_text(_csv(  # re-sends 罚2号, updated later: the current version
        header, f"乙公司,{v[2]},罚2号,罚款,2021-03-01,2021-03-10,{AUTH},2021-04-01"), encoding="utf-8")
    (inp / "o.csv").write_text(_csv(
        "异议编号,统一社会信用代码,异议信息类型,涉及记录文号,处理结果,处理日期",
        f"Y1,{v[1]},行政处罚信息,罚1号,撤销,2021-05-01",
        f"Y2,{v[2]},行政处罚信息,罚2号,更正,2021-05-02",
        f"Y3,{v[3]},行政处罚信息,罚3号,不予撤销,2021-05-03",
        f"Y4,{v[9]},行政处罚信息,罚4号,撤销,2021-05-04",  # another party: names no record
    ), encoding="utf-8")
    return inp


@pytest.fixture(scope="module")
def both(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Any, Any]]:
    """The job on ``_input`` once per publisher: publisher -> (context, run)."""
    root = tmp_path_factory.mktemp("ingest-publishers")
    inp = _input(root)
    out = {}
    for publisher in ("spark", "arrow"):
        p = policy()
        p = p.model_copy(update={"ingest": p.ingest.model_copy(update={"publisher": publisher})})
        ctx = make_context(spark, root / f"lake-{publisher}", inp, pol=p)
        out[publisher] = (ctx, run_job(ctx))
    return out


def _tables(ctx: Any) -> dict[str, Path]:
    return {p.parent.name: p for p in sorted((ctx.lake.root / "ingest").glob(f"*/as_of={ctx.as_of_s}"))}


def _sorted(df: pl.DataFrame) -> pl.DataFrame:
    return df.sort([c for c in ("source_file", "source_row", "reason") if c in df.columns])


def test_both_publishers_write_the_same_tables(spark: Any, both: dict[str, tuple[Any, Any]]) -> None:
    """Every table (record tables with and without rows, the quarantine) has the same Spark schema, rows and
    kept inputs (signature and figures) whichever way it was written, and the marks of re-sent, copied and
    objected records are where they belong."""
    (sctx, _), (actx, _) = both["spark"], both["arrow"]
    by_spark, by_arrow = _tables(sctx), _tables(actx)
    assert by_spark.keys() == by_arrow.keys() == {*sources().record_types, "quarantine"}
    for name, path in by_spark.items():
        want, got = spark.read.parquet(str(path)), spark.read.parquet(str(by_arrow[name]))
        assert got.schema == want.schema, name
        a = _sorted(pl.read_parquet(path / "*.parquet"))
        b = _sorted(pl.read_parquet(by_arrow[name] / "*.parquet"))
        assert a.columns == b.columns and a.height == b.height, name
        differ = [c for c in a.columns if not a[c].equals(b[c])]
        assert not differ, (name, [(c, a[c].to_list(), b[c].to_list()) for c in differ])
        inputs = [json.loads((p / ingest.TABLE_INPUTS).read_text(encoding="utf-8")) for p in (path, by_arrow[name])]
        assert inputs[0] == inputs[1], name
        assert not [p.name for p in by_arrow[name].iterdir() if p.name.startswith(".")], name  # no file half written
    penalty = pl.read_parquet(by_arrow["penalty"] / "*.parquet")
    marked = penalty.filter(pl.col("objection_status").is_not_null()).sort("source_file", "source_row")
    assert marked.select("decision_no", "objection_status", "objection_id").rows() == [
        ("罚1号", "retracted", "Y1"), ("罚2号", "corrected", "Y2"), ("罚3号", "upheld", "Y3"),  # q.csv
        ("罚1号", "retracted", "Y1"), ("罚2号", "corrected", "Y2"), ("罚3号", "upheld", "Y3"),  # q_again.csv
        ("罚2号", "corrected", "Y2"),  # r.csv
    ]
    assert penalty.filter(pl.col("decision_no") == "罚2号").sort("source_file").select(
        "source_file", "is_current", "versions").rows() == [
        ("penalty/q.csv", False, 3), ("penalty/q_again.csv", False, 3), ("penalty/r.csv", True, 3)]
    assert set(penalty.filter(pl.col("subject_name").is_in(["己公司", "庚公司"]))["uscc_status"]) >= {"invalid_format"}


def test_both_publishers_give_the_same_report(both: dict[str, tuple[Any, Any]]) -> None:
    """The data-quality report's every figure (late publications, objection outcomes, duplicates, identifier
    quality, quarantine reasons, event dates) is counted alike."""
    (_, s), (_, a) = both["spark"], both["arrow"]
    assert s.report | {k: a.report[k] for k in ("phase_seconds",)} == a.report
    q = a.report["files"]["penalty/q.csv"]
    assert (q["accepted"], q["quarantined"], q["late_publication"], q["objection_retracted"]) == (6, 1, 2, 1)
    # the same updated time: the later file holds the current versions, but 罚2号's is r.csv's
    assert (q["duplicates"], a.report["files"]["penalty/q_again.csv"]["duplicates"]) == (6, 1)
    assert all(f["reconciled"] for f in a.report["files"].values() if f.get("loaded"))


def test_working_days_are_counted_as_spark_counts_them(spark: Any) -> None:
    """``_working_days`` (polars) agrees with ``records.working_days_sql`` on random spans: weekends at either
    end, end before start, beyond ten years, nulls."""
    rnd = random.Random(11)
    base = date(2020, 1, 1)
    pairs: list[tuple[date | None, date | None]] = [(None, base), (base, None), (None, None)]
    for _ in range(400):
        start = base + timedelta(days=rnd.randrange(0, 2000))
        span = rnd.choice([0, 1, 2, 5, 6, 7, 8, 13, 14, 30, -1, -3, 3660, 3661, 4000, rnd.randrange(0, 400)])
        pairs.append((start, start + timedelta(days=span)))
    frame = spark.createDataFrame(pairs, "s date, e date")
    want = [r[0] for r in frame.select(F.expr(R.working_days_sql("s", "e"))).collect()]
    got = pl.DataFrame(pairs, schema={"s": pl.Date, "e": pl.Date}, orient="row").select(
        TW._working_days(pl.col("s"), pl.col("e")))
    assert got.to_series().to_list() == want
    assert {None, 0, 1, 5} <= set(want)


def test_every_record_tables_schema_is_what_spark_selects(spark: Any) -> None:
    """``record_table_schema`` gives every record type the columns and types ``records.record_table`` selects,
    and ``table_plan`` takes each typed column from its slot."""
    src = sources()
    staged = spark.createDataFrame([], R.staging_schema(src)).select(
        "*", F.lit("f").alias("source_file"), F.lit(1).cast("long").alias("source_row"),
        F.lit("h").alias("source_sha256"))
    marked = R.mark_records(R.add_uscc_status(staged, {}), None)
    for rt in src.record_types:
        want = R.record_table(marked, rt, src).schema
        got = TW.record_table_schema(src, rt)
        assert [(f.name, f.dataType) for f in got.fields] == [(f.name, f.dataType) for f in want.fields], rt
        plan = TW.table_plan(src, rt, 7)
        layout = R.slot_layout(src)
        for f, spec in src.record_types[rt].fields.items():
            assert dict(plan.columns)[R.field_column(f, spec)] == layout.of(rt, f)


def test_when_the_arrow_job_fails_spark_writes_the_tables_and_says_so(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A failure of the writing job inside the workers publishes no table half written: Spark writes them all,
    with a warning, and nothing is left in the lake's staging."""
    inp = tmp_path / "in"
    inp.mkdir()
    header = "subject_name,uscc,decision_no,license_category,decision_date,authority_uscc"
    (inp / "a.csv").write_text(_csv(header, f"许可,{VECTORS[1]},朝许〔2021〕1号,普通,2021-05-01,{VECTORS[0]}",
                                    f"许可,{VECTORS[2]},,普通,2021-05-01,{VECTORS[0]}"), encoding="utf-8")
    real = TW.table_plan

    def broken(src: Any, record_type: str, late_days: int) -> TW.TablePlan:
        plan = real(src, record_type, late_days)
        return TW.TablePlan(plan.record_type, (("record_type", "no_such_column"), *plan.columns[1:]),
                            plan.schema_json, plan.objections, plan.late_days)

    monkeypatch.setattr(TW, "table_plan", broken)
    with caplog.at_level("WARNING", logger="radar.jobs.ingest"):
        ctx = make_context(spark, tmp_path / "lake", inp)
        run = run_job(ctx)
    assert run.report["files"]["a.csv"]["accepted"] == 1 and run.tables["license"].height == 1
    assert run.tables["quarantine"].height == 1
    assert any("writing the tables with pyarrow failed" in r.message and "no_such_column" in r.message
               for r in caplog.records)
    assert not any((ctx.lake.root / "_staging").iterdir())
