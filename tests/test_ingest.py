"""The ingest job end to end on one tiny hand-made input folder full of dirt.

One folder holds every bad file next to good ones, and the job runs on it twice (the second run checks
that a re-run gives identical tables); Spark work stays small. Outputs are read back with polars.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from pyspark.sql import functions as F

from radar.config import policy, profile, sources
from radar.errors import InputError
from radar.ingest import columnar
from radar.ingest.files import SourceFile, detect_encoding, ends_with_line_break
from radar.ingest.records import (
    ENCODINGS,
    MALFORMED,
    extra_column_keys,
    malformed_code,
    parse_tasks,
    present_mask,
    spark_path,
)
from radar.jobs import ingest
from radar.jobs.context import RunContext
from radar.lake import Lake

AS_OF = date(2022, 1, 1)
VECTORS = [
    line.strip()
    for line in Path(__file__).with_name("uscc_valid_vectors.txt").read_text(encoding="utf-8").splitlines()
    if line.strip()
]
AUTH = VECTORS[0]  # the deciding authority's USCC
LONG_NAME = "朝阳市龙城区鑫隆达商贸有限责任公司"

PENALTY_LABELS = [
    "行政相对人名称", "行政相对人代码_1(统一社会信用代码)", "行政处罚决定书文号", "处罚类别", "罚款金额（万元）",
    "处罚决定日期", "处罚机关统一社会信用代码", "当前状态", "数据导出时间",
]
PENALTY_CODES = ["CF_XDR_MC", "CF_XDR_SHXYM", "CF_WSH", "CF_CFLB", "CF_NR_FK", "CF_JDRQ", "CF_CFJGDM", "CF_ZT"]


def _bad_check(code: str) -> str:
    """The USCC with a wrong check character."""
    return code[:-1] + ("0" if code[-1] != "0" else "1")


def _csv(*rows: str, end: str = "\n") -> str:
    """CSV text of header and rows (already joined by commas), each line ended by ``end``."""
    return "".join(r + end for r in rows)


def _penalty(name: str, uscc: str, no: str, category: str = "罚款", fine: str = "1", when: str = "2021-03-05",
             status: str = "正常", export: str = "x") -> str:
    """One penalty row under PENALTY_LABELS."""
    return ",".join([name, uscc, no, category, fine, when, AUTH, status, export])


# a file name with spaces, glob characters and a percent sign (Spark reads paths as patterns and URIs)
BLANK = "m 空行 [2] {a,b} #%20.csv"

# 40-row licence file, numbered by its subject name; row 17 lacks a required value
SPLIT_ROWS = 40
SPLIT_BAD_ROW = 17


def build_input(root: Path) -> Path:
    """The input folder: good exports and one file for each kind of dirt."""
    inp = root / "导出 exports [2021]"
    (inp / "penalty").mkdir(parents=True)
    (inp / "forced").mkdir()
    v = VECTORS
    header = ",".join(PENALTY_LABELS)

    # UTF-8, label headers, an unknown column; one row per problem
    (inp / "penalty" / "a_labels.csv").write_text(_csv(
        header,
        _penalty("甲公司", v[1], "朝市监罚〔2021〕1号", fine="0.2", when="2021/03/05", export="x1"),  # re-sent in b
        _penalty("乙公司", _bad_check(v[2]), "朝市监罚〔2021〕2号", "警告、罚款", fine="两千元", when="2021-03-06"),
        _penalty("丙公司", "", "朝市监罚〔2021〕3号", fine='"1,234.5"', when="2021年03月07日"),
        _penalty("丁公司", v[3], "", when="20210308"),  # 4: no decision number
        _penalty("戊公司", v[4], "朝市监罚〔2021〕5号") + ",extra,cols",  # 5: wrong column count
        _penalty("己公司", "00000000000000000X", "朝市监罚〔2021〕6号", "没收违法所得、没收非法财物",
                 when="1609430399999"),  # epoch ms: 2020-12-31 23:59:59.999 in Beijing
        _penalty("庚公司", "9111********1234X", "朝市监罚〔2021〕7号", fine="3000元"),
        ",,,,,,,,",  # 8: empty row
        _penalty("辛公司", v[5], "朝市监罚〔2021〕9号", when="2021-02-30"),  # 9: no such date
    ), encoding="utf-8")

    # GB18030, code headers, CRLF: re-sends 甲 as revoked, and a long Chinese name
    (inp / "penalty" / "b_codes_gb18030.csv").write_bytes(_csv(
        ",".join(PENALTY_CODES),
        ",".join(["甲公司", v[1], "朝市监罚〔2021〕1号", "罚款", "0.2", "2021/03/05", AUTH, "撤销"]),
        ",".join([LONG_NAME, v[6], "朝市监罚〔2021〕10号", "罚款", "0.3", "2021-04-01", AUTH, "正常"]),
        end="\r\n",
    ).encode("gb18030"))

    (inp / "c_empty.csv").write_bytes(b"")
    (inp / "d_header_only.csv").write_text(header + "\n", encoding="utf-8")
    # invalid under UTF-8 and GB18030 alike
    (inp / "e_bad_encoding.csv").write_bytes(
        (header + "\n").encode("utf-8") + b"\xff\xfe\x80\xff," * 12 + b"\n" + b"\x80\xff\xfe\xff" * 12 + b"\n"
    )
    # UTF-8 with one character cut mid-byte (a byte-length truncation): only that row is lost
    good = _csv(header, *[_penalty(f"壬{i}公司", v[20 + i], f"朝市监罚〔2021〕2{i}号") for i in range(1, 4)])
    (inp / "f_one_bad_byte.csv").write_bytes(
        good.encode("utf-8").replace("壬2公司".encode(), "壬2公司".encode() + "司".encode()[:2])
    )
    # the last line ends mid-record (same column count, no line break)
    (inp / "g_truncated.csv").write_text(
        _csv(header, _penalty("癸公司", v[7], "朝市监罚〔2021〕31号")) + _penalty("子公司", v[8], "朝市监罚〔2021〕32号")[:-1],
        encoding="utf-8",
    )
    # a required column is missing altogether: every row is quarantined, the file still loads
    (inp / "penalty" / "p_no_date_column.csv").write_text(
        "行政相对人名称,行政处罚决定书文号,处罚类别\n寅公司,朝市监罚〔2021〕51号,警告\n", encoding="utf-8"
    )
    (inp / "h_garbage.csv").write_bytes(bytes(range(256)) * 8)  # binary with a .csv name
    (inp / "i_unknown_type.csv").write_text("foo,bar,baz\n1,2,3\n", encoding="utf-8")
    (inp / "j_report.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    # a real workbook: every sheet is a source with its own header row and record type; typed cells
    # (a date cell, a number) as well as text; a sheet holding only a title is reported, not fatal
    import openpyxl

    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "处罚"
    ws.append(PENALTY_LABELS)
    ws.append(["卯公司", v[10], "朝市监罚〔2021〕61号", "罚款", 0.5, datetime(2021, 7, 1), AUTH, "正常", "x"])
    ws.append(["辰公司", v[11], "朝市监罚〔2021〕62号", "警告", None, "2021/07/02", AUTH, "正常", "x"])
    lic = book.create_sheet("许可")
    lic.append(["subject_name", "uscc", "decision_no", "license_category", "decision_date", "authority_uscc"])
    lic.append(["许可丙", v[12], "朝许〔2021〕95号", "普通", datetime(2021, 8, 1), AUTH])
    lic.append(["许可丁", v[13], "朝许〔2021〕96号", "", "2021-08-02", AUTH])  # no category: quarantined
    book.save(inp / "q_ledger.xlsx")
    (inp / ".hidden.csv").write_text("ignored", encoding="utf-8")
    (inp / "manifest.yaml").write_text('files:\n  "forced/*.csv": no_such_type\n', encoding="utf-8")
    (inp / "forced" / "k_forced.csv").write_text(_csv(header, _penalty("丑公司", v[9], "朝市监罚〔2021〕41号")),
                                                 encoding="utf-8")

    # licences, snake_case headers, read in several blocks; row 17 misses its category
    rows = []
    for i in range(1, SPLIT_ROWS + 1):
        cat = "" if i == SPLIT_BAD_ROW else "普通"
        rows.append(f"许可{i},{v[30 + i]},朝许〔2021〕{i}号,{cat},2021-05-{i % 28 + 1:02d},{AUTH}")
    (inp / "l_licences.csv").write_text(
        _csv("subject_name,uscc,decision_no,license_category,decision_date,authority_uscc", *rows), encoding="utf-8"
    )
    # blank and whitespace-only lines (a tab, spaces) between rows, a blank tail with a DOS end-of-file mark
    # after the last line break; unknown columns without a header or with a repeated one
    (inp / BLANK).write_text(
        "subject_name,uscc,decision_no,license_category,decision_date,authority_uscc,ID,,ID\n"
        f"许可甲,{v[80]},朝许〔2021〕91号,普通,2021-06-01,{AUTH},7,,8\n\n \t \n   \n"
        f"许可乙,{v[81]},朝许〔2021〕92号,特许,2021-06-02,{AUTH},9,x,10\n\n \t\x1a",
        encoding="utf-8",
    )

    # JSON lines complaints: epoch ms as a JSON number, an unknown key, a broken line, a whitespace line
    lines = [
        json.dumps({"REGINO": "TS001", "INVNAME": "某某超市", "REGTIME": 1609430400000, "UNISCID": v[90],
                    "INVOAM": "1,200元", "ISPROF": "是"}, ensure_ascii=False),
        '{"REGINO": "TS002", "INVNAME": "broken',
        " \t ",
        json.dumps({"REGINO": "TS003", "INVNAME": "某某店", "REGTIME": "2021-02-01 10:00:00", "INVOAM": 35,
                    "ISPROF": "否", "地方编码": "211302"}, ensure_ascii=False),
    ]
    # the last object has no line break after it
    (inp / "n_complaints.jsonl").write_text("\n".join(lines), encoding="utf-8")
    # JSON lines in GB18030 with CRLF line breaks
    gb = [json.dumps({"REGINO": f"GB00{i}", "INVNAME": name, "REGTIME": "2021年6月1日"}, ensure_ascii=False)
          for i, name in enumerate([LONG_NAME, "某某便利店"], start=1)]
    (inp / "o_complaints_gb18030.jsonl").write_bytes(("\r\n".join(gb) + "\r\n").encode("gb18030"))
    return inp


@dataclass
class Run:
    """One job run: its report and the tables it published."""

    report: dict[str, Any]
    tables: dict[str, pl.DataFrame]


RUN_SPECIFIC = ("parse_cache", "tables_reused", "phase_seconds")  # what the job returns and does not publish


def make_context(spark: Any, lake_dir: Path, input_dir: Path | None, as_of: date = AS_OF,
                 pol: Any = None) -> RunContext:
    """A RunContext as the pipeline builds it, with the test session and a lake in ``lake_dir``."""
    lake = Lake(lake_dir).open(create=True)
    return RunContext(spark, lake, as_of, pol or policy(), sources(), profile(), input_dir=input_dir)


def run_job(ctx: RunContext, reuse_tables: bool = True) -> Run:
    """Run the ingest job and read back the tables this test looks at."""
    report = ingest.run(ctx, reuse_tables=reuse_tables)
    names = ["penalty", "license", "complaint", "registry", "quarantine"]
    tables = {n: ctx.lake.read_polars(f"ingest/{n}", ctx.as_of) for n in names}
    published = {k: v for k, v in report.items() if k not in RUN_SPECIFIC}
    assert ctx.lake.read_json("reports/dq", ctx.as_of) == json.loads(json.dumps(published, default=str))
    return Run(report, tables)


@pytest.fixture(scope="module")
def job(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[RunContext, Run]:
    """The job run once on the dirty folder (small read splits and parsing blocks, so one file is read in
    several blocks)."""
    root = tmp_path_factory.mktemp("ingest")
    ctx = make_context(spark, root / "lake", build_input(root))
    old, old_block = spark.conf.get("spark.sql.files.maxPartitionBytes"), columnar.BLOCK_BYTES
    spark.conf.set("spark.sql.files.maxPartitionBytes", "512")
    columnar.BLOCK_BYTES = 512
    try:
        assert spark.read.text(spark_path(ctx.input_dir / "l_licences.csv")).rdd.getNumPartitions() > 1
        path = ctx.input_dir / "l_licences.csv"
        assert len(columnar.line_blocks(path, path.stat().st_size)) > 1
        return ctx, run_job(ctx)
    finally:
        spark.conf.set("spark.sql.files.maxPartitionBytes", old)
        columnar.BLOCK_BYTES = old_block


@pytest.fixture(scope="module")
def run(job: tuple[RunContext, Run]) -> Run:
    """The first run's report and tables."""
    return job[1]


def rows_of(df: pl.DataFrame, **where: Any) -> list[dict[str, Any]]:
    """The rows of ``df`` whose columns equal the given values."""
    for k, v in where.items():
        df = df.filter(pl.col(k) == v)
    return df.to_dicts()


def one(df: pl.DataFrame, **where: Any) -> dict[str, Any]:
    """The single row of ``df`` matching the given values."""
    found = rows_of(df, **where)
    assert len(found) == 1, (where, found)
    return found[0]


def quarantine_reason(run: Run, file: str, row: int) -> str:
    """The quarantine reason of one data row of one file."""
    return one(run.tables["quarantine"], source_file=file, source_row=row)["reason"]


# ------------------------------------------------------------------------------------------ per file
def test_every_loaded_file_reconciles(run: Run) -> None:
    files = run.report["files"]
    loaded = {f: s for f, s in files.items() if s["loaded"]}
    assert set(loaded) == {
        "penalty/a_labels.csv", "penalty/b_codes_gb18030.csv", "d_header_only.csv", "f_one_bad_byte.csv",
        "g_truncated.csv", "l_licences.csv", BLANK, "n_complaints.jsonl", "o_complaints_gb18030.jsonl",
        "penalty/p_no_date_column.csv", "q_ledger.xlsx#处罚", "q_ledger.xlsx#许可",
    }
    for f, s in loaded.items():
        assert s["reconciled"] is True, f
        assert s["rows_in"] == s["accepted"] + s["quarantined"] == s["rows_read"], f
    expected = {  # rows_in, accepted, quarantined
        "penalty/a_labels.csv": (9, 5, 4),
        "penalty/b_codes_gb18030.csv": (2, 2, 0),
        "d_header_only.csv": (0, 0, 0),
        "f_one_bad_byte.csv": (3, 2, 1),
        "g_truncated.csv": (2, 1, 1),
        "l_licences.csv": (SPLIT_ROWS, SPLIT_ROWS - 1, 1),
        BLANK: (2, 2, 0),
        "n_complaints.jsonl": (3, 2, 1),
        "o_complaints_gb18030.jsonl": (2, 2, 0),
        "penalty/p_no_date_column.csv": (1, 0, 1),
        "q_ledger.xlsx#处罚": (2, 2, 0),
        "q_ledger.xlsx#许可": (2, 1, 1),
    }
    assert {f: (s["rows_in"], s["accepted"], s["quarantined"]) for f, s in loaded.items()} == expected
    # the tables hold exactly the accepted and quarantined rows
    accepted = pl.concat([run.tables[t].select("source_file") for t in ("penalty", "license", "complaint")])
    for f, (_, acc, quar) in expected.items():
        assert accepted.filter(pl.col("source_file") == f).height == acc, f
        assert run.tables["quarantine"].filter(pl.col("source_file") == f).height == quar, f


def test_files_that_cannot_be_loaded_are_rejected_with_a_reason(run: Run) -> None:
    files = run.report["files"]
    problems = {
        "c_empty.csv": "empty file",
        "e_bad_encoding.csv": "neither UTF-8 nor GB18030",
        "h_garbage.csv": "binary content",
        "i_unknown_type.csv": "record type not recognised from the headers (foo, bar, baz)",
        "j_report.xlsx": "not a readable XLSX workbook",
        "forced/k_forced.csv": "unknown record type 'no_such_type'",
    }
    assert sorted(run.report["files_rejected"]) == sorted(problems)
    assert ".hidden.csv" not in files and "manifest.yaml" not in files
    q = run.tables["quarantine"]
    for f, text in problems.items():
        assert files[f]["loaded"] is False and text in files[f]["problem"], f
        row = one(q, source_file=f)
        assert row["source_row"] == 0 and row["reason"] == f"file not loaded: {files[f]['problem']}"
    assert one(q, source_file="i_unknown_type.csv")["raw"] == "foo,bar,baz"


def test_header_only_file_loads_nothing_and_says_so(run: Run) -> None:
    s = run.report["files"]["d_header_only.csv"]
    assert s["record_type"] == "penalty" and s["note"] == "no data rows (header only)"
    assert "note" not in run.report["files"]["penalty/a_labels.csv"]


def test_quarantine_rows_carry_file_row_number_reason_and_raw_text(run: Run) -> None:
    f = "penalty/a_labels.csv"
    assert quarantine_reason(run, f, 4) == "missing required value: decision_no"
    assert quarantine_reason(run, f, 5) == "malformed row: the number of columns does not match the header"
    assert quarantine_reason(run, f, 8) == "empty row: no values"
    assert quarantine_reason(run, f, 9) == "unparseable date in decision_date: 2021-02-30"
    assert quarantine_reason(run, "penalty/p_no_date_column.csv", 1) == "missing required column: decision_date"
    raw = one(run.tables["quarantine"], source_file=f, source_row=5)["raw"]
    assert raw == _penalty("戊公司", VECTORS[4], "朝市监罚〔2021〕5号") + ",extra,cols"
    row4 = one(run.tables["quarantine"], source_file=f, source_row=4)
    assert row4["record_type"] == "penalty" and row4["raw"].startswith("丁公司,")
    # accepted rows keep their numbers too
    assert {r["source_row"] for r in rows_of(run.tables["penalty"], source_file=f)} == {1, 2, 3, 6, 7}


def test_row_numbers_hold_across_read_blocks(run: Run) -> None:
    lic = run.tables["license"].filter(pl.col("source_file") == "l_licences.csv")
    assert lic.height == SPLIT_ROWS - 1
    assert all(r["subject_name"] == f"许可{r['source_row']}" for r in lic.to_dicts())
    bad = one(run.tables["quarantine"], source_file="l_licences.csv")
    assert bad["source_row"] == SPLIT_BAD_ROW and bad["reason"] == "missing required value: license_category"
    assert bad["raw"].startswith(f"许可{SPLIT_BAD_ROW},")


def test_blank_and_whitespace_lines_are_not_rows(run: Run) -> None:
    got = rows_of(run.tables["license"], source_file=BLANK)
    assert sorted((r["source_row"], r["subject_name"]) for r in got) == [(1, "许可甲"), (2, "许可乙")]
    # a blank tail after the last line break does not make the last row truncated
    assert run.report["files"][BLANK]["quarantined"] == 0


def test_ends_with_line_break() -> None:
    assert ends_with_line_break(b"a,b\n") and ends_with_line_break(b"a,b\r\n") and ends_with_line_break(b"a,b\r")
    assert ends_with_line_break(b"a,b\n\n  \t") and ends_with_line_break(b"a,b\r\n\x1a")
    assert not ends_with_line_break(b"a,b") and not ends_with_line_break(b"a,b\nc,")


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_scan_counts_the_lines_spark_reads_whatever_the_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    """The non-blank lines ``scan`` counts equal, on random texts of every kind of line break, blank and
    whitespace-only lines, a count line by line, however the reads cut the text (a CR LF split between two
    reads is one line break); and the content hash is the file's."""
    import hashlib
    import random
    import re

    from radar.ingest import files as F_

    blank = {"csv": set(range(0x21)), "jsonl": {0x20, 0x09, 0x0D, 0x0A}}[fmt]

    def by_line(data: bytes) -> int:
        lines = re.split(rb"\r\n|\r|\n", data)
        return sum(1 for line in lines if any(b not in blank for b in line))

    rng = random.Random(11)
    pieces = [b"a", b"\xe4\xb8\xad", b" ", b"\t", b"\x00", b"\x0b", b"\r", b"\n", b"\r\n", b"\r\n\r\n", b"{}"]
    path = tmp_path / "t.txt"
    for case in range(60):
        data = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 40)))
        path.write_bytes(data)
        for chunk in (1, 2, 3, 7, 1 << 20):
            monkeypatch.setattr(F_, "SCAN_CHUNK", chunk)
            assert F_.scan(path, fmt) == (hashlib.sha256(data).hexdigest(), by_line(data)), (case, chunk, data)


def test_truncated_last_line_is_quarantined(run: Run) -> None:
    f = "g_truncated.csv"
    assert one(run.tables["penalty"], source_file=f)["subject_name"] == "癸公司"
    q = one(run.tables["quarantine"], source_file=f)
    assert q["source_row"] == 2 and q["reason"] == "truncated last line: the file ends mid-record"
    assert q["raw"] == _penalty("子公司", VECTORS[8], "朝市监罚〔2021〕32号")[:-1]


# ------------------------------------------------------------------------------------------ encodings
def test_gb18030_file_is_read_as_gb18030(run: Run) -> None:
    s = run.report["files"]["penalty/b_codes_gb18030.csv"]
    assert s["encoding"] == "gb18030"
    row = one(run.tables["penalty"], decision_no="朝市监罚〔2021〕10号")
    assert row["subject_name"] == LONG_NAME and row["source_file"] == "penalty/b_codes_gb18030.csv"
    assert row["fine_amount_yuan"] == pytest.approx(3000.0)


def test_gb18030_json_lines_are_read_as_gb18030(run: Run) -> None:
    f = "o_complaints_gb18030.jsonl"
    assert run.report["files"][f]["encoding"] == "gb18030"
    got = sorted((r["source_row"], r["respondent_name"], r["registered_at"])
                 for r in rows_of(run.tables["complaint"], source_file=f))
    assert got == [(1, LONG_NAME, date(2021, 6, 1)), (2, "某某便利店", date(2021, 6, 1))]


def test_a_stray_byte_costs_one_row_not_the_file(run: Run) -> None:
    f = "f_one_bad_byte.csv"
    assert run.report["files"][f]["encoding"] == "utf-8"
    assert sorted(r["subject_name"] for r in rows_of(run.tables["penalty"], source_file=f)) == ["壬1公司", "壬3公司"]
    q = one(run.tables["quarantine"], source_file=f)
    assert q["source_row"] == 2 and q["reason"] == "undecodable bytes: the row is not valid UTF-8"


def test_detect_encoding() -> None:
    text = "行政相对人名称,处罚类别\n朝阳市某某商贸有限公司,罚款\n" * 3
    assert detect_encoding(text.encode("utf-8"), True) == ("utf-8", False, None)
    assert detect_encoding(b"\xef\xbb\xbf" + text.encode("utf-8"), True) == ("utf-8", True, None)
    assert detect_encoding(text.encode("gb18030"), True) == ("gb18030", False, None)
    # a multi-byte character cut by the sniff window is not an error while the file goes on
    assert detect_encoding(text.encode("utf-8")[:-5], False)[0] == "utf-8"
    # a GB18030 file with one broken character stays GB18030 (never read as UTF-8 mojibake)
    broken = text.encode("gb18030").replace("某某".encode("gb18030"), b"\xc4,", 1)
    assert detect_encoding(broken, True) == ("gb18030", False, None)
    assert detect_encoding(b"\xef\xbb\xbf" + text.encode("gb18030"), True)[2] == (
        "has a UTF-8 byte-order mark but is not valid UTF-8"
    )
    assert "neither UTF-8 nor GB18030" in str(detect_encoding(text.encode("utf-8") + b"\xff\x80" * 40, True)[2])
    assert "NUL bytes" in str(detect_encoding(b"a,b\x00\x00", True)[2])
    assert "control characters" in str(detect_encoding(b"a,b\n" + bytes(range(1, 32)) * 10, True)[2])


# ------------------------------------------------------------------------------------------ values
def test_values_are_typed(run: Run) -> None:
    p = run.tables["penalty"]
    bing = one(p, decision_no="朝市监罚〔2021〕3号")
    assert bing["fine_amount_yuan"] == pytest.approx(12_345_000.0)  # 1,234.5 万元
    assert bing["decision_date"] == date(2021, 3, 7)
    ji = one(p, decision_no="朝市监罚〔2021〕6号")
    assert ji["decision_date"] == date(2020, 12, 31)  # epoch ms, the Beijing date
    assert ji["penalty_category"] == ["没收违法所得、没收非法财物"]
    geng = one(p, decision_no="朝市监罚〔2021〕7号")
    assert geng["fine_amount_yuan"] == pytest.approx(3000.0)  # "3000元" under a 万元 header
    yi = one(p, decision_no="朝市监罚〔2021〕2号")
    assert yi["penalty_category"] == ["警告", "罚款"]

    mao = one(p, decision_no="朝市监罚〔2021〕61号")  # workbook cells: a number under 万元, a date cell
    assert mao["fine_amount_yuan"] == pytest.approx(5000.0) and mao["decision_date"] == date(2021, 7, 1)
    assert mao["source_file"] == "q_ledger.xlsx#处罚" and mao["source_row"] == 1
    assert one(p, decision_no="朝市监罚〔2021〕62号")["decision_date"] == date(2021, 7, 2)
    lic = one(run.tables["license"], decision_no="朝许〔2021〕95号")
    assert lic["decision_date"] == date(2021, 8, 1) and lic["source_file"] == "q_ledger.xlsx#许可"

    c = run.tables["complaint"]
    first = one(c, registration_no="TS001")
    assert first["registered_at"] == date(2021, 1, 1) and first["source_row"] == 1
    assert first["amount_involved_yuan"] == pytest.approx(1200.0) and first["professional_complainant"] is True
    third = one(c, registration_no="TS003")
    assert third["source_row"] == 3 and third["amount_involved_yuan"] == pytest.approx(35.0)
    assert third["registered_at"] == date(2021, 2, 1) and third["professional_complainant"] is False
    q = one(run.tables["quarantine"], source_file="n_complaints.jsonl")
    assert q["source_row"] == 2 and q["reason"] == "malformed row: not a JSON object"
    assert q["raw"] == '{"REGINO": "TS002", "INVNAME": "broken'


def test_mixed_type_money_column_keeps_the_row_and_flags_the_text(run: Run) -> None:
    p = run.tables["penalty"].filter(pl.col("source_file") == "penalty/a_labels.csv")
    yi = one(p, decision_no="朝市监罚〔2021〕2号")
    assert yi["fine_amount_yuan"] is None and yi["issues"] == ["bad_money:fine_amount"]
    numeric = p.filter(pl.col("decision_no") != "朝市监罚〔2021〕2号")
    assert numeric["fine_amount_yuan"].null_count() == 0
    assert all(i == [] for i in numeric["issues"].to_list())
    assert run.report["files"]["penalty/a_labels.csv"]["rows_with_issues"] == 1


def test_unknown_columns_are_kept_in_extra_and_reported(run: Run) -> None:
    jia = one(run.tables["penalty"], source_file="penalty/a_labels.csv", source_row=1)
    assert jia["extra"] == {"数据导出时间": "x1"}
    assert run.report["files"]["penalty/a_labels.csv"]["unknown_columns"] == ["数据导出时间"]
    assert run.report["record_types"]["penalty"]["unknown_columns"] == ["数据导出时间"]
    assert one(run.tables["penalty"], decision_no="朝市监罚〔2021〕10号")["extra"] is None
    ts3 = one(run.tables["complaint"], registration_no="TS003")
    assert ts3["extra"] == {"地方编码": "211302"}
    assert one(run.tables["complaint"], registration_no="TS001")["extra"] == {"地方编码": None}
    assert run.report["files"]["n_complaints.jsonl"]["unknown_columns"] == ["地方编码"]
    # blank or repeated headers get distinct keys (a repeated key would fail the whole job)
    lic = {r["subject_name"]: r["extra"] for r in rows_of(run.tables["license"], source_file=BLANK)}
    assert lic == {"许可甲": {"ID#7": "7", "#8": None, "ID#9": "8"}, "许可乙": {"ID#7": "9", "#8": "x", "ID#9": "10"}}
    assert run.report["files"][BLANK]["unknown_columns"] == ["ID", "", "ID"]


def test_extra_column_keys() -> None:
    headers = ["a", "ID", "", "ID", " note ", ""]
    assert extra_column_keys(headers, [1, 2, 3, 4, 5]) == ["ID#2", "#3", "ID#4", "note", "#6"]
    assert extra_column_keys(headers, [1]) == ["ID"]


def test_per_row_codes_cover_every_source() -> None:
    """What differs between sources travels as numbers (see records.slot_source): every format has its
    malformed-row message, every encoding Spark reads text in its own code, every field its own presence bit."""
    for fmt, expected in [("csv", "columns does not match"), ("xlsx", "cells beyond"), ("jsonl", "JSON object"),
                          ("json_array", "JSON object")]:
        assert expected in MALFORMED[malformed_code(SourceFile(path=Path("x"), relpath="x", format=fmt, size=1))]
    for enc in ("utf-8", "gb18030", None):
        assert SourceFile(path=Path("x"), relpath="x", format="csv", size=1, encoding=enc).spark_encoding in ENCODINGS
    penalty = sources().record_types["penalty"]
    names = list(penalty.fields)
    assert present_mask(penalty, set()) == 0
    assert present_mask(penalty, set(names)) == (1 << len(names)) - 1
    assert present_mask(penalty, {names[0], names[-1]}) == 1 | 1 << (len(names) - 1)


def test_small_sources_share_parsing_tasks(spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sources are parsed by about one task per BYTES_PER_PARSE_TASK of text, and never fewer than the cores."""
    from radar.ingest import records

    paths = []
    for i in range(5):
        paths.append(tmp_path / f"f{i}.csv")
        paths[-1].write_text("a,b\n1,2\n", encoding="utf-8")
    df = spark.read.csv([spark_path(p) for p in paths], header=True)
    cores = spark.sparkContext.defaultParallelism
    assert parse_tasks(df) == cores
    monkeypatch.setattr(records, "BYTES_PER_PARSE_TASK", 1)
    assert parse_tasks(df) == max(cores, sum(p.stat().st_size for p in paths))


def test_small_tables_keep_one_partition_per_core(spark: Any) -> None:
    """The small tables collected to the driver (re-sent records, objection marks) are not spread over the
    shuffle partitions."""
    from radar.ingest.records import small

    df = spark.range(100).groupBy((F.col("id") % 7).alias("k")).count()
    assert small(df).rdd.getNumPartitions() <= spark.sparkContext.defaultParallelism
    assert sorted(small(df).collect()) == sorted(df.collect())


@pytest.mark.parametrize("literal_rows", [0, 100], ids=["joined", "literals"])
def test_rows_are_numbered_per_file_across_blocks_and_copies(
    spark: Any, monkeypatch: pytest.MonkeyPatch, literal_rows: int
) -> None:
    """Both ways of numbering (a broadcast join of the read blocks, literal cases for a few) give each row its
    file, content hash and data-row number; a copy of a file numbers its rows too, a truncated copy's last
    row is quarantined (unless already rejected), and a row of an unknown key or block is dropped."""
    from radar.ingest import records as R

    monkeypatch.setattr(R, "LITERAL_NUMBERING_ROWS", literal_rows)
    staged = spark.createDataFrame(
        [("k1", 0, 0, None, "a"), ("k1", 0, 1, None, "b"), ("k1", 0, 2, "bad", "c"),
         ("k1", 100, 0, None, "d"), ("k1", 100, 1, None, "e"), ("k1", 999, 0, None, "lost block"),
         ("k2", 0, 0, None, "f"), ("k2", 0, 1, None, "g"), ("k3", 0, 0, None, "lost key"),
         ("k4", 0, 0, "bad", "h")],
        "_key string, _blk bigint, _idx bigint, quarantine_reason string, x string",
    )
    entries = {
        "k1": R.SourceRows((("a.csv", "h1", None),), {0: 0, 100: 3}),
        "k2": R.SourceRows((("b.csv", "h2", None), ("b_cut.csv", "h2", 2)), {0: 0}),
        "k4": R.SourceRows((("d.csv", "h4", 1),), {0: 0}),
    }
    out = R.number_rows(staged, entries)
    assert out.columns == ["_key", "quarantine_reason", "x", "source_file", "source_sha256", "source_row"]
    got = sorted((r["source_file"], r["source_row"], r["x"], r["source_sha256"], r["quarantine_reason"])
                 for r in out.collect())
    assert got == [
        ("a.csv", 1, "a", "h1", None), ("a.csv", 2, "b", "h1", None), ("a.csv", 3, "c", "h1", "bad"),
        ("a.csv", 4, "d", "h1", None), ("a.csv", 5, "e", "h1", None),
        ("b.csv", 1, "f", "h2", None), ("b.csv", 2, "g", "h2", None),
        ("b_cut.csv", 1, "f", "h2", None), ("b_cut.csv", 2, "g", "h2", R.TRUNCATED),
        ("d.csv", 1, "h", "h4", "bad"),
    ]


def test_published_tables_come_in_row_groups_readers_can_split(spark: Any, tmp_path: Path) -> None:
    """A table published with a row-group size is one file of several row groups, so a reader splits it into
    several tasks; without one, the same rows are one group (and one task)."""
    import pyarrow.parquet as pq

    lake = Lake(tmp_path / "lake").open(create=True)
    df = spark.range(20_000).select("id", F.sha2(F.col("id").cast("string"), 256).alias("text"))
    grouped = lake.publish_spark(df, "ingest/grouped", AS_OF, partitions=1, row_group_bytes=64 * 1024)
    plain = lake.publish_spark(df, "ingest/plain", AS_OF, partitions=1)
    files = [sorted(p.glob("*.parquet")) for p in (grouped, plain)]
    assert [len(f) for f in files] == [1, 1]
    assert pq.ParquetFile(files[0][0]).metadata.num_row_groups > 4
    assert pq.ParquetFile(files[1][0]).metadata.num_row_groups == 1
    assert lake.read_polars("ingest/grouped", AS_OF).equals(lake.read_polars("ingest/plain", AS_OF))
    old = spark.conf.get("spark.sql.files.maxPartitionBytes")
    spark.conf.set("spark.sql.files.maxPartitionBytes", str(256 * 1024))
    try:
        tasks = [lake.read_spark(spark, t, AS_OF).rdd.mapPartitions(lambda it: [sum(1 for _ in it)]).collect()
                 for t in ("ingest/grouped", "ingest/plain")]
    finally:
        spark.conf.set("spark.sql.files.maxPartitionBytes", old)
    assert sum(1 for n in tasks[0] if n) > 1 and sum(1 for n in tasks[1] if n) == 1
    assert sum(tasks[0]) == sum(tasks[1]) == 20_000


def test_identifier_status_in_spark_is_python_stdnums(spark: Any) -> None:
    """Spark decides every printable-ASCII identifier's status exactly as ``uscc_status_of`` (python-stdnum)
    does, and leaves the others (spaces, control and non-ASCII characters) to it."""
    import random

    from radar.ingest.parse import clean_uscc, uscc_status_of, uscc_status_sql

    placeholder = sources().placeholder_uscc
    rng = random.Random(7)
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    values: list[str | None] = [None, "", placeholder, "-", "*", "330106000012345", "12345678X", "abcdefghi"]
    for v in VECTORS:
        values += [v, _bad_check(v), v.lower(), v[:8] + "-" + v[8:], v[:-1], v + "0", v[:9] + "I" + v[10:],
                   v[:4] + "*" * 8 + v[12:], v[:3] + "O" + v[4:], "9" + v[1:], v.replace(v[5], "A", 1)]
    for _ in range(3000):
        n = rng.choice([8, 9, 14, 15, 16, 17, 18, 18, 18, 19])
        pool = rng.choice([alphabet, "0123456789", alphabet + "IOSVZ-*`'!~", "0123456789ABC xyz\t中文１"])
        values.append("".join(rng.choice(pool) for _ in range(n)))
    values += ["91350100M000100Y4\u3000", "91350100M000100Y43", "９1350100M000100Y43", "913501-00M000100Y43"]
    df = spark.createDataFrame([(v,) for v in values], "x string")
    got = df.selectExpr("x", f"{uscc_status_sql('x', placeholder)} AS s").collect()
    decided = [(r["x"], r["s"]) for r in got if r["s"] is not None]
    assert [(x, s) for x, s in decided if s != uscc_status_of(x, placeholder)] == []
    left = {r["x"] for r in got if r["s"] is None}
    assert all(not x.isascii() or not x.isprintable() or " " in x for x in left)
    assert len(decided) > 0.8 * len(values) and {s for _, s in decided} >= {"valid", "invalid_checksum",
                                                                             "invalid_format", "masked"}
    # the parser's form: the code cleaned once (upper case, no dashes or spaces), then read as it is
    cleaned = df.selectExpr(f"{clean_uscc('x')} AS u").selectExpr(
        "u", f"{uscc_status_sql('u', placeholder, normalized=True)} AS s"
    ).collect()
    wrong = [(r["u"], r["s"]) for r in cleaned if r["s"] is not None and r["s"] != uscc_status_of(r["u"], placeholder)]
    assert wrong == [] and sum(r["s"] == "valid" for r in cleaned) > sum(s == "valid" for _, s in decided)


def test_identifier_quality_is_counted(run: Run) -> None:
    p = run.tables["penalty"]
    status = {r["subject_name"]: r["uscc_status"] for r in rows_of(p, source_file="penalty/a_labels.csv")}
    assert status == {"甲公司": "valid", "乙公司": "invalid_checksum", "丙公司": "missing",
                      "己公司": "placeholder", "庚公司": "masked"}
    yi = one(p, subject_name="乙公司")
    assert yi["party_uscc"] is None and yi["party_uscc_raw"] == _bad_check(VECTORS[2])
    jia = rows_of(p, subject_name="甲公司")[0]
    assert jia["party_uscc"] == VECTORS[1] and jia["org_category_code"] == VECTORS[1][1]
    s = run.report["files"]["penalty/a_labels.csv"]
    assert (s["uscc_valid"], s["uscc_invalid"], s["uscc_missing"], s["uscc_placeholder"]) == (1, 1, 1, 1)
    t = run.report["record_types"]["penalty"]
    assert (t["uscc_invalid"], t["uscc_missing"], t["uscc_placeholder"]) == (1, 1, 1)
    assert t["invalid_uscc_rate"] == pytest.approx(1 / t["accepted"], abs=1e-4)


# ------------------------------------------------------------------------------------------ versions
def test_resent_record_folds_into_one_current_revoked_version(run: Run) -> None:
    versions = sorted(rows_of(run.tables["penalty"], decision_no="朝市监罚〔2021〕1号"), key=lambda r: r["source_file"])
    assert [v["source_file"] for v in versions] == ["penalty/a_labels.csv", "penalty/b_codes_gb18030.csv"]
    assert [v["versions"] for v in versions] == [2, 2]
    assert [v["is_current"] for v in versions] == [False, True]
    assert [v["record_status"] for v in versions] == ["active", "revoked"]
    assert versions[0]["record_key"] == versions[1]["record_key"] == f"{AUTH}|朝市监罚〔2021〕1号|甲公司"
    # every other record has one current version
    others = run.tables["penalty"].filter(pl.col("decision_no") != "朝市监罚〔2021〕1号")
    assert others["is_current"].all() and (others["versions"] == 1).all()
    assert run.report["files"]["penalty/a_labels.csv"]["duplicates"] == 1
    assert run.report["files"]["penalty/b_codes_gb18030.csv"]["revoked_or_invalid"] == 1


def test_report_counts_late_publications_objection_outcomes_and_event_dates(spark: Any, tmp_path: Path) -> None:
    """The report's per-file figures, counted while the tables are written: publications later than 7 working
    days after the decision (7 is not late), the objections' outcomes (撤销 retracts, 更正 corrects, 不予撤销
    upholds), the event-date range of accepted rows only, and zeros for a file with no accepted row."""
    inp = tmp_path / "in"
    (inp / "penalty").mkdir(parents=True)
    header = "行政相对人名称,行政相对人代码_1(统一社会信用代码),行政处罚决定书文号,处罚类别,处罚决定日期,公示日期,处罚机关统一社会信用代码"
    v = VECTORS
    (inp / "penalty" / "p.csv").write_text(_csv(
        header,
        f"甲公司,{v[1]},罚1号,罚款,2021-03-01,2021-03-15,{AUTH}",  # Monday to Monday: 10 working days, late
        f"乙公司,{v[2]},罚2号,罚款,2021-03-01,2021-03-10,{AUTH}",  # 7 working days: on time
        f"丙公司,{v[3]},罚3号,罚款,2021-03-02,2021-03-12,{AUTH}",  # 8 working days: late
        f"丁公司,{v[4]},罚4号,罚款,2021-04-01,,{AUTH}",  # not published yet: not late
        f"戊公司,{v[5]},,罚款,2020-01-01,2020-06-01,{AUTH}",  # no decision number: quarantined
    ), encoding="utf-8")
    (inp / "penalty" / "bad.csv").write_text(_csv(header, f"己公司,{v[6]},罚6号,罚款,,,{AUTH}"), encoding="utf-8")
    # the 2019 standard's layout has no 公示日期: late publication cannot be measured there
    (inp / "penalty" / "q.csv").write_text(_csv(
        header.replace(",公示日期", ""),
        f"庚公司,{v[7]},罚7号,罚款,2021-03-01,{AUTH}",
        f"辛公司,{v[8]},罚8号,罚款,2021-03-02,{AUTH}",
    ), encoding="utf-8")
    (inp / "o.csv").write_text(_csv(
        "异议编号,统一社会信用代码,异议信息类型,涉及记录文号,处理结果,处理日期",
        f"Y1,{v[1]},行政处罚信息,罚1号,撤销,2021-05-01",
        f"Y2,{v[2]},行政处罚信息,罚2号,更正,2021-05-02",
        f"Y3,{v[3]},行政处罚信息,罚3号,不予撤销,2021-05-03",
    ), encoding="utf-8")
    report = run_job(make_context(spark, tmp_path / "lake", inp)).report
    p = report["files"]["penalty/p.csv"]
    assert (p["accepted"], p["quarantined"], p["reconciled"]) == (4, 1, True)
    assert p["quarantine_reasons"] == {"missing required value": 1}
    assert (p["late_publication"], p["objection_retracted"], p["objection_corrected"]) == (2, 1, 1)
    assert (p["uscc_valid"], p["duplicates"], p["rows_with_issues"]) == (4, 0, 0)
    bad = report["files"]["penalty/bad.csv"]
    assert (bad["accepted"], bad["quarantined"], bad["reconciled"]) == (0, 1, True)
    assert bad["late_publication"] == bad["duplicates"] == bad["uscc_valid"] == 0
    assert report["files"]["penalty/q.csv"]["accepted"] == 2
    assert report["files"]["penalty/q.csv"]["late_publication"] is None
    t = report["record_types"]["penalty"]  # the rate over the rows of the files that give a publication date
    assert (t["files"], t["accepted"], t["late_publication"], t["late_publication_rate"]) == (3, 6, 2, 0.5)
    assert report["event_dates"]["penalty"] == ["2021-03-01", "2021-04-01"]  # not the quarantined 2020 row
    assert report["event_dates"]["objection"] == ["2021-05-01", "2021-05-03"]
    assert report["files"]["o.csv"]["accepted"] == 3
    # an objection has no publication date: late publication does not apply (None), it is not 0
    assert report["files"]["o.csv"]["late_publication"] is None
    assert report["record_types"]["objection"]["late_publication_rate"] is None


def _last_job_id(spark: Any) -> int:
    return max(spark.sparkContext.statusTracker().getJobIdsForGroup(), default=-1)


def test_rerun_gives_identical_tables(job: tuple[RunContext, Run]) -> None:
    """The same folder again, into the same lake (now with Spark's default read splits), every table written
    again: same tables, same row numbers, same report; and few Spark jobs: one per published table, one per
    table with re-sent or objected records (its marks are broadcast) and a handful for the whole run (among
    them the broadcasts of the read blocks that number every source when the marks are looked for), not
    several per table."""
    ctx, first = job
    before = _last_job_id(ctx.spark)
    second = run_job(ctx, reuse_tables=False)
    jobs = _last_job_id(ctx.spark) - before
    tables = len(ctx.sources.record_types) + 1  # and the quarantine
    marked = [n for n, df in first.tables.items() if n != "quarantine" and (
        (df["versions"] > 1).any() or ("objection_status" in df.columns and df["objection_status"].is_not_null().any())
    )]
    assert marked, "the input has re-sent records"
    assert jobs <= tables + len(marked) + 16, jobs  # was about 6 per table
    cache = second.report.pop("parse_cache")
    assert cache["sources_parsed"] == 0 and cache["sources_reused"] > 0  # unchanged files are not read again
    assert second.report.pop("phase_seconds")["parse"] < first.report["phase_seconds"]["parse"]
    assert second.report.pop("tables_reused") == []
    assert second.report == {k: v for k, v in first.report.items() if k not in RUN_SPECIFIC}
    for name, df in first.tables.items():
        cols = [c for c in df.columns if df[c].dtype.is_nested() is False]
        a = df.sort(cols).to_dicts()
        b = second.tables[name].select(df.columns).sort(cols).to_dicts()
        assert a == b, name


def _published_files(lake: Lake, table: str, as_of: date) -> dict[str, os.stat_result]:
    part = lake.partition(table, as_of)
    return {p.name: p.stat() for p in part.iterdir() if p.is_file()}


def test_unchanged_tables_are_linked_not_written_again(job: tuple[RunContext, Run]) -> None:
    """The same folder once more, into the same lake: no table's inputs changed, so none is written again
    (no Spark job but reading the quarantine's figures back) and the report is the same, its figures kept from
    when the tables were written; at a later as-of date each table's files are hard links to those of the
    first (nothing is copied)."""
    ctx, first = job
    tables = sorted([ingest.records_table(rt) for rt in ctx.sources.record_types] + [ingest.QUARANTINE_TABLE])
    before = _last_job_id(ctx.spark)
    again = run_job(ctx)
    assert _last_job_id(ctx.spark) - before <= 2
    assert again.report.pop("tables_reused") == tables
    expected = {k: v for k, v in first.report.items() if k not in RUN_SPECIFIC}
    assert {k: v for k, v in again.report.items() if k not in RUN_SPECIFIC} == expected
    for name, df in first.tables.items():
        cols = [c for c in df.columns if df[c].dtype.is_nested() is False]
        assert again.tables[name].select(df.columns).sort(cols).to_dicts() == df.sort(cols).to_dicts(), name

    later = make_context(ctx.spark, ctx.lake.root, ctx.input_dir, as_of=date(2022, 2, 1))
    moved = run_job(later)
    assert moved.report.pop("tables_reused") == tables
    assert {k: v for k, v in moved.report.items() if k not in RUN_SPECIFIC} == {**expected, "as_of": "2022-02-01"}
    for table in tables:
        old, new = _published_files(ctx.lake, table, AS_OF), _published_files(ctx.lake, table, later.as_of)
        assert new.keys() == old.keys() and any(n.endswith(".parquet") for n in new), table
        assert all(new[n].st_ino == old[n].st_ino for n in new), table


def test_a_changed_source_rewrites_only_the_tables_made_from_it(spark: Any, tmp_path: Path) -> None:
    """A new complaint file rewrites the complaint table and the quarantine and links the others; a changed
    objection rewrites the tables of the record types an objection can name; a changed penalty file rewrites
    the penalties (still marked by the unchanged objection); a changed policy number rewrites
    every record table (not the quarantine, which it does not change). Each time the lake
    holds what a fresh ingest of the folder gives."""
    inp = tmp_path / "in"
    inp.mkdir()
    v = VECTORS
    (inp / "p.csv").write_text(_csv(
        "行政相对人名称,行政相对人代码_1(统一社会信用代码),行政处罚决定书文号,处罚类别,处罚决定日期,公示日期,处罚机关统一社会信用代码",
        f"甲公司,{v[1]},罚1号,罚款,2021-03-01,2021-03-15,{AUTH}",
        f"乙公司,{v[2]},罚2号,罚款,2021-03-01,2021-03-10,{AUTH}",
        f"丙公司,{v[3]},,罚款,2021-03-01,2021-03-10,{AUTH}",  # quarantined: no decision number
    ), encoding="utf-8")
    objection = "异议编号,统一社会信用代码,异议信息类型,涉及记录文号,处理结果,处理日期"
    (inp / "o.csv").write_text(_csv(objection, f"Y1,{v[1]},行政处罚信息,罚1号,更正,2021-05-01"), encoding="utf-8")
    complaint = json.dumps({"REGINO": "TS001", "INVNAME": "某某超市", "REGTIME": "2021-01-01", "UNISCID": v[4]},
                           ensure_ascii=False)
    (inp / "c.jsonl").write_text(complaint + "\n", encoding="utf-8")
    lake = tmp_path / "lake"
    all_tables = {ingest.records_table(rt) for rt in sources().record_types} | {ingest.QUARANTINE_TABLE}

    def check(ctx: RunContext, rewritten: set[str], case: str) -> Run:
        done = run_job(ctx)
        assert set(done.report.pop("tables_reused")) == all_tables - rewritten, case
        fresh = run_job(make_context(spark, tmp_path / f"fresh-{case}", inp, pol=ctx.policy), reuse_tables=False)
        assert done.report["files"] == fresh.report["files"] and done.report["record_types"] == fresh.report[
            "record_types"], case
        for table in sorted(all_tables):
            assert ctx.lake.digest(table, AS_OF) == Lake(tmp_path / f"fresh-{case}").digest(table, AS_OF), (case, table)
        return done

    check(make_context(spark, lake, inp), all_tables, "first")
    (inp / "c2.jsonl").write_text(complaint.replace("TS001", "TS002").replace("某某超市", "某某商店") + "\n{bad\n",
                                  encoding="utf-8")
    check(make_context(spark, lake, inp), {"ingest/complaint", ingest.QUARANTINE_TABLE}, "complaint")
    (inp / "o.csv").write_text(_csv(objection, f"Y1,{v[1]},行政处罚信息,罚1号,撤销,2021-05-01"), encoding="utf-8")
    named = {ingest.records_table(rt) for rt, spec in sources().record_types.items() if spec.document_no}
    assert "ingest/penalty" in named and "ingest/complaint" not in named
    done = check(make_context(spark, lake, inp), named | {"ingest/objection", ingest.QUARANTINE_TABLE}, "objection")
    assert one(done.tables["penalty"], decision_no="罚1号")["objection_status"] == "retracted"
    with (inp / "p.csv").open("a", encoding="utf-8") as fh:  # the objection still names 罚1号
        fh.write(f"丁公司,{v[5]},罚4号,罚款,2021-04-01,2021-04-02,{AUTH}\n")
    done = check(make_context(spark, lake, inp), {"ingest/penalty", ingest.QUARANTINE_TABLE}, "penalty")
    assert one(done.tables["penalty"], decision_no="罚1号")["objection_status"] == "retracted"
    pol = policy()
    stricter = pol.model_copy(update={"ingest": pol.ingest.model_copy(update={"late_publication_working_days": 3})})
    done = check(make_context(spark, lake, inp, pol=stricter), all_tables - {ingest.QUARANTINE_TABLE}, "policy")
    assert done.report["files"]["p.csv"]["late_publication"] == 2


# ------------------------------------------------------------------------------------------ input errors
def test_missing_or_empty_input_folder_is_a_clear_error(spark: Any, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="input folder not found"):
        ingest.run(make_context(spark, tmp_path / "lake", tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / ".DS_Store").write_bytes(b"\x00")
    with pytest.raises(InputError, match="input folder is empty"):
        ingest.run(make_context(spark, tmp_path / "lake", tmp_path / "empty"))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.csv").write_bytes(b"")
    with pytest.raises(InputError, match=r"no loadable export files \(x.csv: empty file"):
        ingest.run(make_context(spark, tmp_path / "lake", tmp_path / "bad"))
    with pytest.raises(InputError, match="no input folder"):
        ingest.run(make_context(spark, tmp_path / "lake", None))


def test_parse_cache_prunes_entries_unused_for_long(tmp_path: Path) -> None:
    """Entries not kept and unused for longer than ``keep_days`` go (so do folders of the layout before the key
    was a partition column); kept, recent and other folders stay."""
    import os
    import time

    from radar.ingest.cache import ParseCache

    cache = ParseCache(tmp_path)
    for key in ("kept", "stale", "recent"):
        written = tmp_path / "w" / key
        written.mkdir(parents=True)
        (written / "part-0.parquet").write_bytes(b"")
        cache.add(key, written, {"key": key})
        assert cache.entry(key).name == f"_key={key}" and cache.meta(key) == {"key": key}
    (cache.root / "oldlayout").mkdir()
    (cache.root / "_work").mkdir()
    long_ago = time.time() - 3 * 86400
    for d in (cache.entry("kept"), cache.entry("stale"), cache.root / "oldlayout", cache.root / "_work"):
        for p in (d, *d.iterdir()):
            os.utime(p, (long_ago, long_ago))
    assert sorted(cache.prune({"kept"}, keep_days=1)) == ["oldlayout", "stale"]
    assert sorted(p.name for p in cache.root.iterdir()) == ["_key=kept", "_key=recent", "_work"]
