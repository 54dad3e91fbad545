"""Start the dashboard: ``streamlit run app.py`` bound to 127.0.0.1 only."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from radar.dashboard.access import open_lake_readonly
from radar.dashboard.settings import dashboard_settings
from radar.dashboard.ui import LAKE_ENV, PROFILE_ENV, store_url
from radar.errors import RadarError
from radar.store import Store

APP = Path(__file__).resolve().with_name("app.py")
ADDRESS = "127.0.0.1"  # never listen on other interfaces: put a reverse proxy with TLS in front instead


def command(lake: Path, port: int = 8501, profile: str | None = None) -> list[str]:
    """The streamlit command line that serves the dashboard for a lake."""
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.address", ADDRESS,
        "--server.port", str(int(port)),
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        "--server.runOnSave", "false",
        "--server.fileWatcherType", "none",
        "--client.toolbarMode", "minimal",
        "--", "--lake", str(Path(lake).resolve()),
    ]  # fmt: skip
    if profile:
        cmd += ["--profile", profile]
    return cmd


def serve(lake: Path, port: int = 8501, profile: str | None = None) -> None:
    """Serve the dashboard for a lake on 127.0.0.1:PORT until interrupted.

    Checks first that the lake, conf/dashboard.yaml and the store are usable and that someone can log in,
    so a mistake stops here with one message instead of inside the browser.
    """
    if not 1 <= int(port) <= 65535:
        raise RadarError(f"port {port} is not a TCP port")
    root = open_lake_readonly(lake).root
    dashboard_settings()
    with Store(store_url(root, profile)) as store:
        if not any(u["active"] for u in store.list_users()):
            raise RadarError(
                "no dashboard users yet: create one with 'radar users add' (or 'radar users demo' for a demo)"
            )
    env = dict(os.environ)
    env[LAKE_ENV] = str(root)
    if profile:
        env[PROFILE_ENV] = profile
    env.setdefault("STREAMLIT_BROWSER_GATHER_USAGE_STATS", "false")
    print(f"仪表盘地址 / dashboard: http://{ADDRESS}:{int(port)}  (Ctrl+C 停止)", flush=True)
    proc = subprocess.Popen(command(root, port, profile), env=env)
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        return
    if code != 0:
        raise RadarError(f"the dashboard server stopped with exit code {code}")
