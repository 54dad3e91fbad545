"""总览: grade mix by district, open alerts by severity, the model in use, data quality at a glance."""

from __future__ import annotations

import plotly.express as px
import polars as pl
import streamlit as st

from radar.dashboard import ui
from radar.dashboard.labels import (
    GRADE_COLORS,
    GRADES,
    MODEL_ACTION_LABELS,
    SEVERITY_LABELS,
    SEVERITY_ORDER,
    label,
)

acc = ui.access()
batch = ui.current_batch()
st.title("总览")
ui.show_flash()

scores = acc.scores(batch)
if scores.is_empty():
    ui.notice_missing("评分", "评分")
else:
    used = acc.pick_as_of("score/scores", batch)
    st.caption(f"评分批次：{used}（数据截止日）")
    counts = scores.group_by("grade").len() if "grade" in scores.columns else pl.DataFrame()
    by_grade = {g: 0 for g in GRADES} | {r["grade"]: r["len"] for r in counts.iter_rows(named=True)}
    cols = st.columns(5)
    cols[0].metric("主体总数", f"{scores.height:,}")
    for col, g in zip(cols[1:], GRADES, strict=True):
        share = by_grade.get(g, 0) / scores.height if scores.height else 0
        col.metric(
            f"{g} 级", f"{by_grade.get(g, 0):,}", f"占 {share:.1%}", delta_color="off", delta_arrow="off"
        )

    st.subheader("各辖区信用风险等级分布")
    dist = acc.grade_distribution(batch)
    if dist.is_empty():
        st.caption("评分表缺少等级或辖区字段。")
    else:
        fig = px.bar(
            dist.to_pandas(),
            x="district_name",
            y="count",
            color="grade",
            barmode="stack",
            category_orders={"grade": list(GRADES)},
            color_discrete_map=GRADE_COLORS,
            labels={"district_name": "辖区", "count": "主体数", "grade": "等级"},
        )
        fig.update_layout(legend_title_text="等级", margin={"t": 10, "b": 10})
        st.plotly_chart(fig, key="grade_chart")

left, right = st.columns(2)
with left:
    st.subheader("未办结预警（按严重程度）")
    counts = acc.alert_counts()
    open_ = counts.filter(pl.col("status") != "closed")
    if open_.is_empty():
        st.caption("当前没有未办结的预警。")
    else:
        sev = open_.group_by("severity").agg(pl.col("count").sum())
        by_sev = {r["severity"]: r["count"] for r in sev.iter_rows(named=True)}
        c = st.columns(3)
        for col, s in zip(c, SEVERITY_ORDER, strict=True):
            col.metric(f"{label(SEVERITY_LABELS, s)}风险", by_sev.get(s, 0))
        new = open_.filter(pl.col("status") == "new").get_column("count").sum()
        st.caption(f"其中待处理 {new} 条，核查中 {open_.get_column('count').sum() - new} 条。")

with right:
    st.subheader("当前模型")
    info = acc.model_in_use(batch)
    if info["versions"]:
        st.write(f"评分所用模型版本：{'、'.join(info['versions'])}")
    run_model = info["run_model"] or {}
    trained = run_model.get("trained_at") or run_model.get("training_date") or run_model.get("created_at")
    if run_model:
        name = run_model.get("name") or run_model.get("model_name") or "—"
        st.write(f"模型：{name}，版本 {run_model.get('version', '—')}")
    if trained:
        st.write(f"训练时间：{trained}")
    event = info["champion_event"]
    if event:
        st.caption(
            f"最近一次上线变更：{ui.fmt_time(event['at'])} {label(MODEL_ACTION_LABELS, event['action'])} "
            f"{event['model_name']} 版本 {event['champion_after'] or event['version'] or '—'}"
        )
    if not (info["versions"] or run_model or event):
        st.caption("暂无模型信息。")

st.subheader("数据质量摘要")
tables = acc.dq_tables(batch)
summary = tables.get("record_types") if "record_types" in tables else next(iter(tables.values()), None)
if summary is None or summary.is_empty():
    ui.notice_missing("数据质量报告", "数据接入")
else:
    total = {
        c: int(summary.get_column(c).fill_null(0).sum())
        for c in ("rows_in", "accepted", "quarantined")
        if c in summary.columns
    }
    c = st.columns(3)
    c[0].metric("读入记录", f"{total.get('rows_in', 0):,}")
    c[1].metric("接收记录", f"{total.get('accepted', 0):,}")
    rate = total.get("quarantined", 0) / total["rows_in"] if total.get("rows_in") else 0
    c[2].metric(
        "隔离记录", f"{total.get('quarantined', 0):,}", f"占 {rate:.2%}", delta_color="off", delta_arrow="off"
    )
    st.caption("详情见“数据质量”页。")
