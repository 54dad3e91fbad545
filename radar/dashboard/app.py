"""Credit Radar dashboard (Streamlit entry point): login first, then the pages the user's role may see.

Started by ``radar dashboard --lake LAKE`` (see :mod:`radar.dashboard.launch`); the lake comes after
``--`` on the streamlit command line or from $RADAR_LAKE, the deployment profile from ``--profile`` or
$RADAR_PROFILE.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from radar.dashboard import ui
from radar.dashboard.access import LakeAccess
from radar.dashboard.labels import ROLE_LABELS_FALLBACK
from radar.dashboard.settings import dashboard_settings
from radar.errors import RadarError

VIEWS = Path(__file__).resolve().parent / "views"
# page name in conf/dashboard.yaml -> (file, Chinese title, icon)
PAGES = {
    "overview": ("overview.py", "总览", ":material/dashboard:"),
    "alerts": ("alerts.py", "风险预警", ":material/notifications_active:"),
    "review": ("review.py", "待复核匹配", ":material/rule_settings:"),
    "entity": ("entity.py", "主体画像", ":material/business:"),
    "plans": ("plans.py", "抽查计划", ":material/fact_check:"),
    "quality": ("quality.py", "数据质量", ":material/rule:"),
    "models": ("models.py", "模型", ":material/model_training:"),
    "features": ("features.py", "特征目录", ":material/list_alt:"),
}


def main() -> None:
    """Check the setup, gate on login, then hand over to the chosen page."""
    st.set_page_config(page_title="信用风险监测预警", page_icon=":material/shield:", layout="wide")
    lake, profile_name = ui.launch_args()
    if lake is None:
        st.error("未指定数据湖目录：请用 `radar dashboard --lake 目录` 启动。")
        st.stop()
    try:
        settings = dashboard_settings()
        store = ui.open_store(ui.store_url(lake, profile_name))
    except RadarError as e:
        st.error(f"无法启动：{e}")
        st.stop()

    user = ui.session_user(store, settings)
    if user is None:
        ui.login_form(store)
        st.stop()

    try:
        acc = LakeAccess(lake, user, store=store, settings=settings, profile=profile_name)
    except RadarError as e:
        st.error(f"无法读取数据湖：{e}")
        st.stop()
    st.session_state[ui.ACCESS_KEY] = acc

    role = settings.roles[acc.role]
    with st.sidebar:
        st.markdown(
            f"**{user['display_name']}**（{role.label or ROLE_LABELS_FALLBACK.get(acc.role, acc.role)}）"
        )
        scope = "全市" if not acc.districts else "、".join(settings.district_name(d) for d in acc.districts)
        st.caption(f"管辖范围：{scope}")
        if acc.masked:
            st.caption("个人信息已按角色脱敏显示")
        if ui.batch_selector(acc) is None:
            st.caption("尚无评分批次")
        job = acc.running_job()
        if job:
            st.info(f"数据湖正在更新（{job['command']}，{job['started'][:16].replace('T', ' ')} UTC 起）。"
                    "页面显示上次发布的结果，更新完成后刷新页面即可看到新结果。")
        st.button("退出登录", key="logout", on_click=ui.logout, args=("您已退出登录。",))

    pages = [
        st.Page(VIEWS / PAGES[name][0], title=PAGES[name][1], icon=PAGES[name][2], default=(i == 0))
        for i, name in enumerate(role.pages)
    ]
    st.navigation(pages).run()


if __name__ == "__main__":  # streamlit runs this file as __main__; importing it does nothing
    main()
