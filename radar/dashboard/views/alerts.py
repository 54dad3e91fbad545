"""风险预警: filter the jurisdiction's alerts, read one with its evidence, and take it to a decision."""

from __future__ import annotations

from typing import Any

import polars as pl
import streamlit as st

from radar.dashboard import ui
from radar.dashboard.access import AccessDenied, LakeAccess
from radar.dashboard.labels import (
    ACTION_LABELS,
    OUTCOME_LABELS,
    RULE_LABELS,
    SEVERITY_LABELS,
    SEVERITY_ORDER,
    STATUS_LABELS,
    label,
    source_label,
)
from radar.store import OUTCOMES, TRANSITIONS

# evidence fields shown as one line (the score and grade are shown above)
EVIDENCE_FACTS = {
    "previous_grade": "上期等级",
    "model_version": "模型版本",
    "complaints_90d": "近三个月投诉数",
    "complaint_trend": "投诉增长倍数",
}

acc = ui.access()
cfg = ui.settings()
st.title("风险预警")
ui.show_flash()


# ---------------------------------------------------------------- callbacks (run before the rerun)
# Each gets the version of the alert the user was looking at, so a change made meanwhile by someone
# else is refused by the store instead of silently overwritten.
def _assign_me(acc: LakeAccess, alert_id: str, version: int) -> None:
    ui.run_action(lambda: acc.assign_to_me(alert_id, version), "已指派给您。")


def _assign_other(acc: LakeAccess, alert_id: str, version: int) -> None:
    who = st.session_state.get(f"assignee_{alert_id}")
    ui.run_action(lambda: acc.assign(alert_id, who, version), f"已指派给 {who}。")


def _change_status(acc: LakeAccess, alert_id: str, version: int) -> None:
    status = st.session_state.get(f"status_to_{alert_id}")
    outcome = st.session_state.get(f"status_outcome_{alert_id}") if status == "closed" else None
    note = st.session_state.get(f"status_note_{alert_id}") or None
    ui.run_action(
        lambda: acc.set_status(alert_id, status, version, note=note, outcome=outcome),
        f"状态已改为“{label(STATUS_LABELS, status)}”。",
    )


def _set_outcome(acc: LakeAccess, alert_id: str, version: int) -> None:
    outcome = st.session_state.get(f"outcome_{alert_id}")
    note = st.session_state.get(f"outcome_note_{alert_id}") or None
    ui.run_action(
        lambda: acc.set_outcome(alert_id, outcome, version, note),
        f"处理结论已记为“{label(OUTCOME_LABELS, outcome)}”。",
    )


def _add_note(acc: LakeAccess, alert_id: str) -> None:
    note = st.session_state.get(f"note_{alert_id}") or ""
    if ui.run_action(lambda: acc.add_note(alert_id, note), "备注已添加。"):
        st.session_state[f"note_{alert_id}"] = ""


# ---------------------------------------------------------------- filters
with st.container(border=True):
    f1, f2, f3, f4 = st.columns(4)
    status = f1.multiselect(
        "状态",
        list(STATUS_LABELS),
        default=["new", "in_review"],
        format_func=lambda s: STATUS_LABELS[s],
        key="flt_status",
    )
    severity = f2.multiselect(
        "严重程度",
        list(SEVERITY_ORDER),
        format_func=lambda s: label(SEVERITY_LABELS, s),
        key="flt_severity",
        placeholder="全部",
    )
    districts = acc.visible_districts()
    district = f3.selectbox(
        "辖区",
        [None, *districts],
        format_func=lambda d: (
            ("全部（本人辖区）" if acc.districts else "全部") if d is None else cfg.district_name(d)
        ),
        key="flt_district",
    )
    rules = sorted(set(RULE_LABELS) | set(acc.alert_counts().get_column("rule").to_list()))
    rule = f4.multiselect(
        "预警规则", rules, format_func=lambda r: label(RULE_LABELS, r), key="flt_rule", placeholder="全部"
    )
    mine = st.checkbox("只看指派给我的", key="flt_mine")

try:
    alerts = acc.alerts(
        status=status or None,
        severity=severity or None,
        rule=rule or None,
        district=district,
        assignee=acc.username if mine else None,
    )
except AccessDenied as e:
    st.error(str(e))
    st.stop()

if not alerts:
    st.info("没有符合条件的预警。")
    st.stop()


def _row(a: dict[str, Any]) -> dict[str, Any]:
    return {
        "预警编号": a["alert_id"],
        "主体名称": a["name"],
        "统一社会信用代码": a["uscc"],
        "辖区": cfg.district_name(a["district_code"]),
        "预警规则": label(RULE_LABELS, a["rule"]),
        "严重程度": label(SEVERITY_LABELS, a["severity"]),
        "状态": label(STATUS_LABELS, a["status"]),
        "处理结论": label(OUTCOME_LABELS, a["outcome"]) if a["outcome"] else "",
        "承办人": a["assignee"] or "",
        "办理期限": ui.fmt_date(a["due_date"]),
        "等级": a["grade"] or "",
        "风险分": a["risk_score"],
        "首次预警批次": a["first_as_of"],
        "最近预警批次": a["last_as_of"],
    }


st.caption(f"共 {len(alerts)} 条预警")
st.dataframe(pl.DataFrame([_row(a) for a in alerts]), hide_index=True, key="alerts_table")

# ---------------------------------------------------------------- one alert
st.divider()
by_id = {a["alert_id"]: a for a in alerts}
picked = st.selectbox(
    "查看预警",
    list(by_id),
    format_func=lambda i: (
        f"[{label(SEVERITY_LABELS, by_id[i]['severity'])}] {by_id[i]['title']}（{label(STATUS_LABELS, by_id[i]['status'])}）"
    ),
    key="alert_pick",
)
try:
    alert = acc.alert(picked)
except AccessDenied as e:
    st.error(str(e))
    st.stop()

aid, version = alert["alert_id"], alert["version"]
st.subheader(alert["title"])
m = st.columns(5)
m[0].metric("状态", label(STATUS_LABELS, alert["status"]))
m[1].metric("严重程度", label(SEVERITY_LABELS, alert["severity"]))
m[2].metric("信用等级", alert["grade"] or "—")
m[3].metric("风险分", ui.fmt_score(alert["risk_score"]))
m[4].metric("办理期限", ui.fmt_date(alert["due_date"]))
st.caption(
    f"主体：{alert['name'] or '—'}（{alert['uscc'] or '无信用代码'}，{cfg.district_name(alert['district_code'])}）· "
    f"规则：{label(RULE_LABELS, alert['rule'])} · 首次预警批次 {alert['first_as_of']}，最近 {alert['last_as_of']} · "
    f"承办人：{alert['assignee'] or '未指派'} · 处理结论：{label(OUTCOME_LABELS, alert['outcome']) if alert['outcome'] else '未定'}"
)

# evidence: the reasons and the source records behind them
st.markdown("#### 预警依据")
evidence = alert["evidence"]
shown: set[str] = set()
if isinstance(evidence, dict):
    reasons = evidence.get("reasons")
    if isinstance(reasons, list) and reasons:
        shown.add("reasons")
        rows = [r if isinstance(r, dict) else {"label": str(r)} for r in reasons]
        ui.show_table(
            pl.DataFrame(rows, infer_schema_length=None, strict=False),
            {"label": "原因", "feature": "特征", "value": "取值", "contribution": "贡献度", "text": "说明"},
        )
    for key in ("reasons_text", "text", "summary"):
        if isinstance(evidence.get(key), str):
            shown.add(key)
            st.write(evidence[key])
    facts = [
        f"{name}：{evidence[k]}" for k, name in EVIDENCE_FACTS.items() if evidence.get(k) not in (None, "")
    ]
    shown |= set(EVIDENCE_FACTS) | {"rule", "as_of", "risk_score", "grade"}
    if facts:
        st.caption(" · ".join(facts))
    records: list[dict[str, Any]] = []  # records the alert carries itself
    keys: list[str] = []  # bare record keys, looked up in the lake
    for key in ("records", "record_keys", "source_records"):
        value = evidence.get(key)
        if isinstance(value, list):
            shown.add(key)
            for v in value:
                if isinstance(v, dict):
                    records.append(v)
                elif v is not None:
                    keys.append(str(v))
    if keys:
        found = acc.events(alert["entity_id"], ui.current_batch(), record_keys=keys)
        records += found.rename({"event_date": "date"}).to_dicts() if not found.is_empty() else []
        missing = sorted(set(keys) - {str(r.get("record_key")) for r in records})
        records += [{"record_key": k} for k in missing]
    if records:
        st.markdown("##### 相关源记录")
        table = pl.DataFrame(records, infer_schema_length=None, strict=False)
        for col in ("source_type", "event_type"):
            if col in table.columns:
                table = table.with_columns(
                    pl.col(col).cast(pl.String).map_elements(source_label, return_dtype=pl.String)
                )
        ui.show_table(
            table,
            {
                "date": "日期",
                "source_type": "来源",
                "event_type": "事件",
                "detail": "详情",
                "amount_yuan": "金额（元）",
                "record_key": "记录编号",
            },
        )
    rest = {k: v for k, v in evidence.items() if k not in shown}
    if rest:
        with st.expander("其他依据（原始数据）"):
            st.json(rest)
elif evidence:
    st.json(evidence)
else:
    st.caption("该预警未附依据。")

# workflow
st.markdown("#### 处置")
if not acc.can_act:
    st.caption(f"您的角色（{acc.role_settings.label}）只能查看预警。")
else:
    closed = alert["status"] == "closed"
    a1, a2 = st.columns(2)
    with a1:
        st.button(
            "指派给我",
            key=f"assign_me_{aid}",
            on_click=_assign_me,
            args=(acc, aid, version),
            disabled=closed or alert["assignee"] == acc.username,
        )
    with a2:
        try:
            candidates = {u["username"]: u["display_name"] for u in acc.assignable_users(aid)}
        except AccessDenied:
            candidates = {}
        if candidates and not closed:
            c1, c2 = st.columns([3, 1])
            c1.selectbox(
                "指派给",
                list(candidates),
                format_func=lambda u: f"{candidates[u]}（{u}）",
                key=f"assignee_{aid}",
                label_visibility="collapsed",
            )
            c2.button("指派", key=f"assign_{aid}", on_click=_assign_other, args=(acc, aid, version))

    targets = list(TRANSITIONS[alert["status"]])
    with st.form(f"status_form_{aid}"):
        st.markdown("**变更状态**")
        to = st.selectbox("改为", targets, format_func=lambda s: STATUS_LABELS[s], key=f"status_to_{aid}")
        if "closed" in targets:
            current = OUTCOMES.index(alert["outcome"]) if alert["outcome"] in OUTCOMES else 0
            st.selectbox(
                "处理结论（办结时必填）",
                list(OUTCOMES),
                index=current,
                format_func=lambda o: OUTCOME_LABELS[o],
                key=f"status_outcome_{aid}",
            )
        hint = "重新打开必须说明原因" if closed else "可选"
        st.text_area(f"说明（{hint}）", key=f"status_note_{aid}")
        st.form_submit_button("提交状态变更", on_click=_change_status, args=(acc, aid, version))

    if alert["status"] == "in_review":
        with st.form(f"outcome_form_{aid}"):
            st.markdown("**处理结论**")
            current = OUTCOMES.index(alert["outcome"]) if alert["outcome"] in OUTCOMES else 0
            st.selectbox(
                "结论",
                list(OUTCOMES),
                index=current,
                format_func=lambda o: OUTCOME_LABELS[o],
                key=f"outcome_{aid}",
            )
            st.text_area("说明（可选）", key=f"outcome_note_{aid}")
            st.form_submit_button("保存结论", on_click=_set_outcome, args=(acc, aid, version))

    with st.form(f"note_form_{aid}"):
        st.text_area("添加备注", key=f"note_{aid}")
        st.form_submit_button("添加备注", on_click=_add_note, args=(acc, aid))

# audit trail
st.markdown("#### 处理记录")


def _value(action: str, v: str | None) -> str:
    if v is None:
        return ""
    if action == "status":
        return label(STATUS_LABELS, v)
    if action == "outcome":
        return label(OUTCOME_LABELS, v)
    return v


trail = [
    {
        "时间": ui.fmt_time(e["at"]),
        "操作人": e["username"],
        "操作": label(ACTION_LABELS, e["action"]),
        "原值": _value(e["action"], e["from_value"]),
        "新值": _value(e["action"], e["to_value"]),
        "说明": e["note"] or "",
    }
    for e in acc.alert_history(aid)
]
if trail:
    st.dataframe(pl.DataFrame(trail), hide_index=True, key="alert_trail")
else:
    st.caption("暂无处理记录。")
