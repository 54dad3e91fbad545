"""The Credit Radar dashboard (Streamlit) and its data-access layer.

- :mod:`radar.dashboard.access`: :class:`LakeAccess`, one user's jurisdiction-scoped, masked view of the
  lake and the alert store (also for notebooks);
- :mod:`radar.dashboard.launch`: :func:`serve`, behind ``radar dashboard --lake LAKE``;
- :mod:`radar.dashboard.app` and ``views/``: the pages (Chinese UI).
"""
