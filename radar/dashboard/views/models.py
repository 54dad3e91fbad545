"""模型: which scoring model was live when, and why (registrations, promotions, refusals, rollbacks)."""

from __future__ import annotations

import json

import polars as pl
import streamlit as st

from radar.dashboard import ui
from radar.dashboard.labels import MODEL_ACTION_LABELS, label

acc = ui.access()
st.title("模型")
ui.show_flash()

info = acc.model_in_use(ui.current_batch())
if info["versions"]:
    st.write(f"当前评分批次使用的模型版本：{'、'.join(info['versions'])}")
if info["run_model"]:
    with st.expander("本批次运行报告中的模型信息"):
        st.json(info["run_model"])

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
