"""主体画像: find an entity of the jurisdiction; its grade, score and reasons, source records, related parties."""

from __future__ import annotations

import json

import polars as pl
import streamlit as st

from radar.dashboard import ui
from radar.dashboard.labels import (
    FLAG_LABELS,
    GRADE_LABELS,
    OUTCOME_LABELS,
    RULE_LABELS,
    STATUS_LABELS,
    industry_label,
    label,
    source_label,
)

acc = ui.access()
cfg = ui.settings()
batch = ui.current_batch()
st.title("主体画像")
ui.show_flash()

if not (acc.has_table("score/scores") or acc.has_table("resolve/entities")):
    ui.notice_missing("主体", "实体识别或评分")
    st.stop()

query = st.text_input(
    "按名称或统一社会信用代码查找", key="entity_query", placeholder="例如：朝阳 或 91211302…"
)
if not query.strip():
    st.caption("输入主体名称的一部分，或统一社会信用代码的开头。仅在您的管辖范围内查找。")
    st.stop()

found = acc.search_entities(query, batch)
if found.is_empty():
    st.warning("在您的管辖范围内没有找到匹配的主体。")
    st.stop()

rows = found.to_dicts()
options = [r["entity_id"] for r in rows]
by_id = {r["entity_id"]: r for r in rows}


def _option(eid: str) -> str:
    r = by_id[eid]
    grade = f"，{r['grade']}级" if r.get("grade") else ""
    return f"{r.get('name') or eid}（{r.get('uscc') or '无信用代码'}{grade}）"


if len(rows) >= cfg.pages.search_limit:
    st.caption(f"仅显示前 {cfg.pages.search_limit} 个匹配结果，请输入更完整的名称。")
entity_id = st.selectbox("匹配的主体", options, format_func=_option, key="entity_pick")
profile = acc.entity_profile(entity_id, batch)
if profile is None:
    st.warning("该主体不在您的管辖范围内。")
    st.stop()

score = profile["score"] or {}
ent = profile["entity"] or {}
info = {**ent, **{k: v for k, v in score.items() if v is not None}}
st.subheader(info.get("name") or entity_id)
c = st.columns(5)
grade = score.get("grade")
c[0].metric("信用风险等级", label(GRADE_LABELS, grade) if grade else "未评级")
c[1].metric("风险分", ui.fmt_score(score.get("risk_score")))
prev = score.get("previous_grade")
c[2].metric("上期等级", prev or "—")
c[3].metric("模型等级", score.get("model_grade") or "—")
anomaly = score.get("anomaly_score")
c[4].metric(
    "异常度",
    ui.fmt_score(anomaly if anomaly is None or anomaly == anomaly else None),  # NaN: not computed
    help="无监督异常度（0–1，越高越异常）：登记与早期特征与全市同类主体相比的异常程度。"
    "对成立不久、历史记录少的主体尤其有参考价值；不参与风险分和定级。",
)
if score.get("grade_reason"):
    st.caption(f"定级依据：{score['grade_reason']}")

with st.container(border=True):
    fields = [
        ("统一社会信用代码", info.get("uscc")),
        ("主体类型", info.get("entity_type") or info.get("entity_class")),
        ("所属辖区", info.get("district_name") or cfg.district_name(info.get("district_code"))),
        ("行业", info.get("industry_name") or industry_label(info.get("industry_section"))),
        ("法定代表人", info.get("legal_rep_name")),
        ("法定代表人证件号", ent.get("legal_rep_id_no")),
        ("联系电话", ent.get("phone")),
        ("住所", ent.get("address")),
        ("成立日期", ui.fmt_date(ent.get("established_date")) if ent.get("established_date") else None),
        ("登记状态", ent.get("registration_status")),
        (
            "注册资本（元）",
            f"{ent['registered_capital_yuan']:,.0f}"
            if ent.get("registered_capital_yuan") is not None
            else None,
        ),
    ]
    cols = st.columns(3)
    for i, (name, value) in enumerate(fields):
        cols[i % 3].markdown(f"**{name}**：{value if value not in (None, '') else '—'}")

st.markdown("#### 主要风险原因")
if profile["reasons"]:
    ui.show_table(
        pl.DataFrame(profile["reasons"], infer_schema_length=None, strict=False),
        {"label": "原因", "feature": "特征", "value": "取值", "contribution": "贡献度"},
    )
if score.get("reasons_text"):
    st.write(score["reasons_text"])
if not profile["reasons"] and not score.get("reasons_text"):
    st.caption("暂无评分原因。")

st.markdown("#### 相关预警")
alerts = acc.alerts(entity_id=entity_id)
if alerts:
    st.dataframe(
        pl.DataFrame(
            [
                {
                    "预警编号": a["alert_id"],
                    "标题": a["title"],
                    "规则": label(RULE_LABELS, a["rule"]),
                    "状态": label(STATUS_LABELS, a["status"]),
                    "处理结论": label(OUTCOME_LABELS, a["outcome"]) if a["outcome"] else "",
                    "最近预警批次": a["last_as_of"],
                }
                for a in alerts
            ]
        ),
        hide_index=True,
    )
else:
    st.caption("该主体没有预警。")

st.markdown("#### 源记录")
events = acc.events(entity_id, batch)
links = acc.links(entity_id, batch)
if events.is_empty() and links.is_empty():
    st.caption("暂无源记录（或尚未运行特征、实体识别阶段）。")
if not events.is_empty():
    if "source_type" in events.columns:
        events = events.with_columns(
            pl.col(c).cast(pl.String).map_elements(source_label, return_dtype=pl.String)
            for c in ("source_type", "event_type")
            if c in events.columns
        )
    ui.show_table(
        events,
        {
            "event_date": "日期",
            "end_date": "截止日期",
            "source_type": "来源",
            "event_type": "事件",
            "detail": "详情",
            "amount_yuan": "金额（元）",
            "record_key": "记录编号",
        },
    )
if not links.is_empty():
    with st.expander(f"记录归属（{links.height} 条，含匹配方法与置信度）"):
        if "source_type" in links.columns:
            links = links.with_columns(
                pl.col("source_type").map_elements(source_label, return_dtype=pl.String)
            )
        ui.show_table(
            links,
            {
                "source_type": "来源",
                "record_key": "记录编号",
                "method": "匹配方法",
                "probability": "置信度",
                "source_file": "来源文件",
                "source_row": "行号",
            },
        )

st.markdown("#### 关联关系")
if not (acc.has_table("graph/flags") or acc.has_table("graph/components")):
    ui.notice_missing("关联图谱", "关联关系")
    st.stop()
flags = acc.flags(entity_id, batch)
if flags.is_empty():
    st.caption("未发现关联风险标记。")
else:
    for r in flags.iter_rows(named=True):
        with st.expander(f"⚑ {label(FLAG_LABELS, r.get('flag'))}"):
            try:
                st.json(json.loads(r.get("evidence") or "{}"))
            except ValueError:
                st.write(r.get("evidence"))
related = acc.related_parties(entity_id, batch)
comp = related["component"]
members = related["members"]
if "flags" in members.columns:
    members = members.with_columns(
        pl.col("flags").map_elements(
            lambda v: "、".join(label(FLAG_LABELS, f) for f in v.split("、")), return_dtype=pl.String
        )
    )
if "industry_section" in members.columns:
    members = members.with_columns(
        pl.col("industry_section").cast(pl.String).map_elements(industry_label, return_dtype=pl.String)
    )
if comp and (comp.get("component_size") or 0) > 1:
    st.caption(
        f"关联群组 {comp.get('component_id')}：共 {comp.get('component_size', '—')} 个主体，"
        f"跨 {comp.get('n_districts', '—')} 个辖区、{comp.get('n_industries', '—')} 个行业，"
        f"其中高风险成员 {comp.get('risky_members', '—')} 个。"
    )
    ui.show_table(
        members,
        {
            "name": "关联主体",
            "uscc": "统一社会信用代码",
            "district_name": "辖区",
            "industry_section": "行业门类",
            "grade": "等级",
            "risk_score": "风险分",
            "flags": "风险标记",
        },
        empty="管辖范围内没有其他关联主体。",
    )
    if related["outside"]:
        st.caption(
            f"另有 {related['outside']} 个关联主体位于您的管辖范围之外（不予显示，可联系相应辖区或市级用户）。"
        )
else:
    st.caption("未发现关联主体（该主体不与其他主体共享法定代表人、股东、人员、地址或电话）。")
