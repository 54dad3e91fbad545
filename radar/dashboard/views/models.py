"""模型: which scoring model was live when, and why (registrations, promotions, refusals, rollbacks); the
operations alerts and the drift checks of the scoring run (feature and score PSI)."""

from __future__ import annotations

import json

import polars as pl
import streamlit as st

from radar.config import feature_catalog
from radar.dashboard import ui
from radar.dashboard.labels import MODEL_ACTION_LABELS, SEVERITY_LABELS, label

DRIFT_KIND_LABELS = {"feature": "模型特征", "score": "风险分分布"}
FEATURE_LABELS = {f.name: f.label for f in feature_catalog().features} | {"risk_score": "风险分"}

acc = ui.access()
st.title("模型")
ui.show_flash()

info = acc.model_in_use(ui.current_batch())
if info["versions"]:
    st.write(f"当前评分批次使用的模型版本：{'、'.join(info['versions'])}")
if info["run_model"]:
    with st.expander("本批次运行报告中的模型信息"):
        st.json(info["run_model"])

st.markdown("#### 运维预警（模型漂移）")
ops = acc.operations_alerts()
if not ops:
    st.caption("暂无运维预警：各次评分的模型特征与风险分分布均未发生显著漂移。")
else:
    for o in ops:
        icon = "🔴" if o["status"] == "open" else "⚪"
        head = f"{icon} {o['as_of']} · {label(SEVERITY_LABELS, o['severity'])} · {o['title']}"
        with st.expander(head, expanded=o["status"] == "open" and o is ops[0]):
            st.caption(
                f"模型 {o['model_name'] or ''} v{o['model_version'] or '—'}；"
                f"{'待确认' if o['status'] == 'open' else '已确认（' + (o['acknowledged_by'] or '') + '）'}；"
                f"更新于 {ui.fmt_time(o['updated_at'])}"
            )
            drifted = (o["details"] or {}).get("drifted") or []
            if drifted:
                st.dataframe(
                    pl.DataFrame(
                        [
                            {
                                "类型": DRIFT_KIND_LABELS.get(d["kind"], d["kind"]),
                                "特征": FEATURE_LABELS.get(d["feature"], d["feature"]),
                                "PSI": d["psi"],
                                "阈值": d["threshold"],
                                "参照样本数": d["n_reference"],
                                "本期样本数": d["n_current"],
                            }
                            for d in drifted
                        ]
                    ),
                    hide_index=True,
                    key=f"ops_{o['id']}",
                )
            if o["status"] == "open" and acc.can_act and st.button("确认已知悉", key=f"ack_{o['id']}"):
                acc.acknowledge_operations_alert(o["id"])
                st.rerun()

drift = acc.drift(ui.current_batch())
if not drift.is_empty():
    with st.expander(f"本批次漂移检测（{drift.height} 项，{int(drift['drifted'].sum())} 项漂移）"):
        st.caption(
            "PSI（群体稳定性指数）：特征对照冠军模型训练数据的分布，风险分对照上一期评分。阈值取常规水平与"
            "样本量下无漂移 PSI 分位数中的较大者（conf/policy.yaml monitoring.drift）。"
        )
        st.dataframe(
            drift.select(
                pl.col("kind").replace_strict(DRIFT_KIND_LABELS, default=pl.col("kind")).alias("类型"),
                pl.col("feature").replace_strict(FEATURE_LABELS, default=pl.col("feature")).alias("特征"),
                pl.col("psi").alias("PSI"),
                pl.col("threshold").alias("阈值"),
                pl.col("drifted").replace_strict({True: "是", False: "否"}, return_dtype=pl.String).alias("漂移"),
                pl.col("n_reference").alias("参照样本数"),
                pl.col("n_current").alias("本期样本数"),
            ),
            hide_index=True,
            key="drift_table",
        )

history = acc.model_history()
st.markdown("#### 模型变更记录")
if not history:
    st.info("暂无模型变更记录：训练与准入阶段尚未登记任何模型。")
    st.stop()
st.dataframe(
    pl.DataFrame(
        [
            {
                "时间": ui.fmt_time(e["at"]),
                "模型": e["model_name"],
                "版本": e["version"] or "",
                "操作": label(MODEL_ACTION_LABELS, e["action"]),
                "原因": e["reason"] or "",
                "变更前冠军": e["champion_before"] or "",
                "变更后冠军": e["champion_after"] or "",
                "评估指标": json.dumps(e["metrics"], ensure_ascii=False) if e["metrics"] is not None else "",
            }
            for e in history
        ]
    ),
    hide_index=True,
    key="model_history",
)
