"""抽查计划: the double-random plans drawn for the jurisdiction, stratum by stratum, with a CSV download."""

from __future__ import annotations

import polars as pl
import streamlit as st

from radar.dashboard import ui
from radar.dashboard.labels import industry_label

acc = ui.access()
cfg = ui.settings()
st.title("抽查计划")
ui.show_flash()

as_of = ui.table_as_of(acc, "plan/plans", "计划批次（数据截止日）", key="plan_as_of")
if as_of is None:
    ui.notice_missing("抽查计划", "抽查计划（radar plan）")
    st.stop()
plan_ids = acc.plan_ids(as_of)
if not plan_ids:
    st.info("该批次的抽查计划中没有您管辖范围内的主体。")
    st.stop()
plan_id = st.selectbox("计划编号", plan_ids, key="plan_id")
rows = acc.plans(as_of, plan_id)

seeds = rows.get_column("seed").unique().to_list() if "seed" in rows.columns else []
c = st.columns(3)
c[0].metric("本辖区抽中主体", f"{rows.height:,}")
c[1].metric("随机种子", "、".join(str(s) for s in seeds) or "—")
if "inclusion_probability" in rows.columns and rows.height:
    c[2].metric("平均入样概率", f"{rows.get_column('inclusion_probability').mean():.2%}")
if "draw_method" in rows.columns:
    st.caption(
        f"抽取方法：{rows.get_column('draw_method').drop_nulls().first() or '—'}。"
        "任何人可用公布的种子复核：radar plan verify。"
    )

st.markdown("#### 分层情况")
strata = acc.plan_strata(as_of, plan_id)
if "inclusion_probability" in strata.columns:
    strata = strata.with_columns(
        (pl.col("inclusion_probability") * 100).round(2).alias("inclusion_probability")
    )
ui.show_table(
    strata,
    {
        "stratum": "层",
        "grade": "等级",
        "stratum_size": "层内主体数（全计划）",
        "stratum_drawn": "层内抽中数（全计划）",
        "drawn_here": "本辖区抽中数",
        "inclusion_probability": "入样概率（%）",
    },
)

st.markdown("#### 抽中主体名单")
if "district_code" in rows.columns:
    rows = rows.with_columns(
        pl.col("district_code")
        .cast(pl.String)
        .map_elements(cfg.district_name, return_dtype=pl.String)
        .alias("district_name")
    )
if "inspectors" in rows.columns:
    if rows.schema["inspectors"] == pl.String:  # radar.plan joins names with ";"
        rows = rows.with_columns(pl.col("inspectors").str.replace_all(";", "、", literal=True))
    else:
        rows = rows.with_columns(pl.col("inspectors").cast(pl.List(pl.String)).list.join("、"))
if "industry_section" in rows.columns:
    rows = rows.with_columns(
        pl.col("industry_section").cast(pl.String).map_elements(industry_label, return_dtype=pl.String)
    )
columns = {
    "uscc": "统一社会信用代码",
    "name": "主体名称",
    "district_name": "辖区",
    "industry_section": "行业门类",
    "grade": "等级",
    "stratum": "层",
    "inclusion_probability": "入样概率",
    "inspectors": "检查人员",
}
ui.show_table(rows, columns)

export = rows.select(
    [c for c in ("plan_id", *columns, "entity_id", "district_code", "seed", "as_of") if c in rows.columns]
)
csv = export.rename({k: v for k, v in columns.items() if k in export.columns}).write_csv()
st.download_button(
    "下载名单（CSV）",
    data=("\ufeff" + csv).encode("utf-8"),  # with a BOM, so Excel opens it as UTF-8
    file_name=f"抽查计划_{plan_id}_{as_of}.csv",
    mime="text/csv",
    key="plan_csv",
)
