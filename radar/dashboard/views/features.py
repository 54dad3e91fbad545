"""特征目录: the indicator system behind the risk scores, each feature with its dimension, definition, window and
sources, and how common it is among the entities in the user's jurisdiction at the latest snapshot."""

from __future__ import annotations

import polars as pl
import streamlit as st

from radar.dashboard import ui

acc = ui.access()
st.title("特征目录")
ui.show_flash()
st.caption(
    "指标体系参照市场监管总局企业信用风险分类（基础属性、动态信息、监管信息、关联关系、社会评价）。"
    "每个特征只使用截至快照日已知的信息；经信用修复的记录自修复之日起不再计入，公示期满的处罚不再计入；"
    "经异议撤销的记录在任何日期都不计入。"
)

catalog = acc.feature_catalog(ui.current_batch())
if catalog.is_empty():
    st.info("尚无特征目录。")
    st.stop()

dims = catalog.select("dimension", "dimension_label").unique(maintain_order=True)
counts = catalog.group_by("dimension_label", maintain_order=True).len()
cols = st.columns(max(1, counts.height))
for col, row in zip(cols, counts.iter_rows(named=True), strict=False):
    col.metric(row["dimension_label"], row["len"])

choice = st.selectbox("维度", ["全部", *dims["dimension_label"].to_list()], key="feature_dimension")
query = st.text_input("搜索（名称、特征名或定义）", key="feature_query").strip()
shown = catalog if choice == "全部" else catalog.filter(pl.col("dimension_label") == choice)
if query:
    q = query.lower()
    shown = shown.filter(
        pl.col("label").str.to_lowercase().str.contains(q, literal=True)
        | pl.col("name").str.to_lowercase().str.contains(q, literal=True)
        | pl.col("definition").str.to_lowercase().str.contains(q, literal=True)
    )

profile = acc.feature_profile(ui.current_batch())
if not profile.is_empty():
    shown = shown.join(
        profile.select(
            "name",
            (pl.col("nonzero") / pl.col("entities").clip(lower_bound=1) * 100).round(2).alias("nonzero_pct"),
            pl.col("mean").round(4).alias("mean"),
        ),
        on="name",
        how="left",
    )
    st.caption(f"“非零占比”与“均值”按最新快照日辖区内 {int(profile['entities'][0])} 个主体计算。")
else:
    st.caption("尚无特征快照：仅显示定义。")

ui.show_table(
    shown.with_columns(pl.col("window_days").cast(pl.String)),
    {
        "label": "名称",
        "name": "特征",
        "dimension_label": "维度",
        "definition": "定义",
        "window_days": "窗口（天）",
        "events": "事件",
        "tags": "标签",
        "sources": "数据来源",
        "nonzero_pct": "非零占比（%）",
        "mean": "均值",
    },
    empty="没有符合条件的特征。",
)


@st.cache_data(show_spinner=False)
def _markdown() -> str:
    from radar.config import feature_catalog, policy
    from radar.features.catalog import catalog_markdown

    return catalog_markdown(feature_catalog(), policy().features)


st.download_button("下载特征目录（Markdown）", _markdown(), file_name="features.md", mime="text/markdown")
