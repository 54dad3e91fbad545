"""数据质量: the ingest run's data-quality report per record type and per source file."""

from __future__ import annotations

import polars as pl
import streamlit as st

from radar.dashboard import ui
from radar.dashboard.labels import DQ_COLUMNS, source_label

acc = ui.access()
st.title("数据质量")
ui.show_flash()

as_of = ui.table_as_of(acc, "reports/dq", "接入批次（数据截止日）", key="dq_as_of")
if as_of is None:
    ui.notice_missing("数据质量报告", "数据接入")
    st.stop()
report = acc.dq_report(as_of) or {}
tables = acc.dq_tables(as_of)
rates = ("invalid_uscc_rate", "missing_uscc_rate", "duplicate_rate", "dup_or_wrong_code_rate", "late_publication_rate")
columns = {
    "key": "名称",
    **DQ_COLUMNS,
    "files": "文件数",
    "dup_or_wrong_code_rate": "重错码率",
    "late_publication_rate": "逾期公示率",
    "loaded": "已加载",
    "problem": "问题",
    "reconciled": "行数核对",
}


def _pretty(df: pl.DataFrame, key_label: str) -> pl.DataFrame:
    out = df
    for c in rates:
        if c in out.columns:
            out = out.with_columns((pl.col(c).cast(pl.Float64) * 100).round(2))
    for c in ("late_publication", "late_publication_rate"):  # None: no publication date given (not applicable)
        if c in out.columns:
            out = out.with_columns(
                pl.when(pl.col(c).is_null()).then(pl.lit("不适用")).otherwise(pl.col(c).cast(pl.String)).alias(c)
            )
    if "record_type" in out.columns:
        out = out.with_columns(
            pl.col("record_type").cast(pl.String).map_elements(source_label, return_dtype=pl.String)
        )
    return out.rename({"key": key_label}) if "key" in out.columns else out


titles = {"record_types": ("按记录类型", "记录类型"), "files": ("按来源文件", "来源文件")}
if not tables:
    st.info("该批次的数据质量报告中没有按来源统计的内容。")
for name, df in tables.items():
    title, key_label = titles.get(name, (name, "名称"))
    if name == "record_types":
        df = df.with_columns(pl.col("key").map_elements(source_label, return_dtype=pl.String))
    st.markdown(f"#### {title}")
    if any(c in df.columns for c in rates):
        st.caption("比率单位为 %。")
    ui.show_table(
        _pretty(df, key_label), {key_label: key_label, **{k: v for k, v in columns.items() if k != "key"}}
    )

rejected = report.get("files_rejected")
if rejected:
    st.warning("未能加载的文件：" + "、".join(map(str, rejected)))
dates = report.get("event_dates")
if isinstance(dates, dict) and dates:
    st.markdown("#### 各类记录的时间范围")
    st.dataframe(
        pl.DataFrame(
            [
                {"记录类型": source_label(k), "最早": v[0], "最晚": v[1]}
                for k, v in dates.items()
                if isinstance(v, list) and len(v) == 2
            ]
        ),
        hide_index=True,
    )

run = acc.run_report(as_of)
if run:
    with st.expander("运行报告（各阶段耗时与计数）"):
        st.json(run)
