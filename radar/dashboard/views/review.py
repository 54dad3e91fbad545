"""待复核匹配: the uncertain record-to-entity matches of the jurisdiction, and a reviewer's decision on each.

A resolve run puts a record whose best candidate entity is likely but not certain (between
``match.review`` and ``match.accept`` of conf/policy.yaml) into the store's review queue. A reviewer sees
the record, the candidate, the probability and the features behind it, and accepts or rejects; the store
keeps who and when, and the next ``radar run`` links an accepted record with method ``review`` and never
proposes a rejected pair again.
"""

from __future__ import annotations

from typing import Any

import polars as pl
import streamlit as st

from radar.dashboard import ui
from radar.dashboard.access import AccessDenied, LakeAccess
from radar.dashboard.labels import source_label
from radar.store.store import REVIEW_LABELS

acc = ui.access()
cfg = ui.settings()
st.title("待复核匹配")
st.caption(
    "系统无法确定归属的记录（匹配概率介于复核阈值与自动确认阈值之间）。确认或否定后，下次运行即采用该结论："
    "确认的记录按“人工复核”关联到该主体，否定的候选不再提出。"
)
ui.show_flash()


def _decide(acc: LakeAccess, review_id: str, decision: str) -> None:
    note = st.session_state.get(f"review_note_{review_id}") or None
    ui.run_action(
        lambda: acc.decide_match(review_id, decision, note),
        f"已记录复核结论：{REVIEW_LABELS[decision]}（下次运行生效）。",
    )


counts = acc.match_review_counts()
c1, c2, c3 = st.columns(3)
c1.metric("待复核", counts.get("pending", 0))
c2.metric("已确认", counts.get("accepted", 0))
c3.metric("已否定", counts.get("rejected", 0))

with st.container(border=True):
    f1, f2, f3, f4 = st.columns(4)
    status = f1.selectbox(
        "状态",
        ["pending", "accepted", "rejected"],
        format_func=lambda s: REVIEW_LABELS[s],
        key="review_status",
    )
    district = f2.selectbox(
        "候选主体所在辖区",
        [None, *acc.visible_districts()],
        format_func=lambda d: (
            ("全部（本人辖区）" if acc.districts else "全部") if d is None else cfg.district_name(d)
        ),
        key="review_district",
    )
    by_type = acc.match_review_types(status)
    source_type = f3.selectbox(
        "记录类型",
        [None, *by_type],
        format_func=lambda t: "全部" if t is None else f"{source_label(t)}（{by_type[t]}）",
        key="review_type",
    )
    # the queue is worked most likely first: a reviewer may leave the least likely proposals for later
    min_probability = f4.number_input(
        "最低匹配概率", min_value=0.0, max_value=1.0, value=0.0, step=0.05, format="%.2f", key="review_min_p"
    )

try:
    reviews = acc.match_reviews(
        status=status, district=district, source_type=source_type, min_probability=min_probability or None
    )
except AccessDenied as e:
    st.error(str(e))
    st.stop()

if not reviews:
    st.info("没有符合条件的复核任务。" if status != "pending" else "暂无待复核的匹配。")
    st.stop()

table = pl.DataFrame(
    [
        {
            "记录类型": source_label(r["source_type"]),
            "记录编号": r["record_key"],
            "记录名称": r["record_name"] or "",
            "记录地址": r["record_address"] or "",
            "记录代码": r["record_uscc"] or "",
            "候选主体": r["entity_name"] or r["entity_id"],
            "主体代码": r["entity_uscc"] or "",
            "匹配概率": round(float(r["probability"]), 3),
            "辖区": cfg.district_name(r["district_code"]),
            "复核人": r["decided_by"] or "",
        }
        for r in reviews
    ],
    infer_schema_length=None,
)
ui.show_table(table, {c: c for c in table.columns})

by_id = {r["review_id"]: r for r in reviews}
picked = st.selectbox(
    "选择一条记录",
    list(by_id),
    format_func=lambda i: (
        f"{by_id[i]['record_name'] or by_id[i]['record_key']} → {by_id[i]['entity_name'] or by_id[i]['entity_id']}"
        f"（{float(by_id[i]['probability']):.2f}）"
    ),
    key="review_pick",
)
r: dict[str, Any] = by_id[picked]

left, right = st.columns(2)
with left, st.container(border=True):
    st.subheader("来源记录")
    st.markdown(f"**{r['record_name'] or '（无名称）'}**")
    st.caption(f"{source_label(r['source_type'])} · 记录编号 {r['record_key']}")
    st.markdown(f"地址：{r['record_address'] or '—'}")
    st.markdown(f"统一社会信用代码：{r['record_uscc'] or '—'}")
with right, st.container(border=True):
    st.subheader("候选主体")
    st.markdown(f"**{r['entity_name'] or r['entity_id']}**")
    st.caption(f"{cfg.district_name(r['district_code'])} · 主体编号 {r['entity_id']}")
    st.markdown(f"地址：{r['entity_address'] or '—'}")
    st.markdown(f"统一社会信用代码：{r['entity_uscc'] or '—'}")

st.metric("匹配概率", f"{float(r['probability']):.3f}")
evidence = r.get("evidence") if isinstance(r.get("evidence"), list) else []
items = [e for e in evidence if isinstance(e, dict)]
if items:
    st.markdown("**匹配依据**（正值支持同一主体，负值反对）")
    ui.show_table(
        pl.DataFrame(
            [{"依据": str(e.get("label", "")), "贡献": float(e.get("contribution") or 0.0)} for e in items]
        ),
        {"依据": "依据", "贡献": "贡献"},
    )
st.caption(f"首次提出 {ui.fmt_date(r['first_as_of'])} · 最近提出 {ui.fmt_date(r['last_as_of'])}")

# the same name proposed for the same entity by other records: decided alike unless the details differ
related = acc.related_match_reviews(picked)
if related:
    st.markdown(f"**同名记录的其他复核任务**（同一候选主体，{len(related)} 条）")
    others = pl.DataFrame(
        [
            {
                "记录类型": source_label(x["source_type"]),
                "记录编号": x["record_key"],
                "记录地址": x["record_address"] or "",
                "匹配概率": round(float(x["probability"]), 3),
                "状态": REVIEW_LABELS.get(x["status"], x["status"]),
                "复核人": x["decided_by"] or "",
            }
            for x in related
        ],
        infer_schema_length=None,
    )
    ui.show_table(others, {c: c for c in others.columns})

if r["status"] != "pending":
    st.markdown(
        f"复核结论：**{REVIEW_LABELS.get(r['status'], r['status'])}**（{r['decided_by'] or '—'}，"
        f"{ui.fmt_time(r['decided_at'])}）" + (f"。备注：{r['note']}" if r.get("note") else "")
    )

if acc.can_act:
    with st.container(border=True):
        st.text_input("备注（可选）", key=f"review_note_{picked}")
        b1, b2 = st.columns(2)
        b1.button(
            "确认为同一主体", key=f"review_accept_{picked}", type="primary",
            on_click=_decide, args=(acc, picked, "accepted"),
        )
        b2.button(
            "不是同一主体", key=f"review_reject_{picked}",
            on_click=_decide, args=(acc, picked, "rejected"),
        )
else:
    st.caption(f"您的角色（{acc.role_settings.label}）只能查看复核任务，不能作出结论。")
