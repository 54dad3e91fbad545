"""Annual reports (年度报告) of the simulated entities, as GSXT holds them.

Every entity registered by the end of a year files that year's report between 1 January and 30 June of the
next (企业信息公示暂行条例: 1 Jan - 30 Jun), and the report is public from its filing day. The risk story
shows in them the way regulators see it:

* a dormant entity files nothing for the year it went dormant and later (the abnormal listing of the life
  course follows in July); if it revives, it files the missing years at once (补报), just before its removal
  from the list;
* riskier entities file late more often (a few days to four months after the deadline);
* shells (large registered capital, high latent risk) report no revenue, no tax and no staff (the Shandong
  screen), and entities in financial distress report falling revenue and often no tax;
* a fifth of the enterprises choose not to publish their financial figures (企业选择不公示: empty).

Money is in yuan here (exported in 万元, the unit of GSXT's annual-report pages).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from radar.simulate.city import City
from radar.simulate.events import Story, rng_for
from radar.simulate.timeline import NEVER, ymd

FIRST_REPORT_YEAR = 2020
LATE_DAYS = (5, 120)  # a late report comes this many days after the deadline
SHELL_MIN_CAPITAL_WAN = 1000.0
NOT_PUBLISHED_SHARE = 0.2


def _deadline(year: np.ndarray) -> np.ndarray:
    """30 June of the year after the report year (day numbers)."""
    june = (np.asarray(year) + 1 - 1970).astype("datetime64[Y]").astype("datetime64[M]") + 5
    return june.astype("datetime64[D]").astype(np.int64) + 29


def annual_reports(city: City, story: Story, hist: object, seed: int) -> pd.DataFrame:
    """One row per filed annual report (canonical annual_report fields plus the meta columns)."""
    rng = rng_for(seed, 313)
    ent = city.entities
    tl = city.timeline
    n = len(ent)
    est = ent["established"].to_numpy()
    dormant = ent["dormant"].to_numpy()
    revived = ent["revived"].to_numpy()
    exit_day = ent["exit_day"].to_numpy()
    risk = ent["latent_risk"].to_numpy()
    cls = ent["cls"].to_numpy(dtype=object)
    last_year = int(ymd(np.array([tl.future_end]))[0][0]) - 1
    years = np.arange(FIRST_REPORT_YEAR, last_year + 1)
    e = np.repeat(np.arange(n), len(years))
    y = np.tile(years, n)
    opens = (y + 1 - 1970).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64)  # 1 January
    deadline = _deadline(y)
    year_end = opens - 1
    due = est[e] <= year_end
    # on time: most reports come in the last two months before the deadline
    lead = rng.exponential(40.0, size=len(e)).astype(np.int64) % (deadline - opens + 1)
    filed = deadline - lead
    late = rng.random(len(e)) < np.clip(0.03 + 0.5 * risk[e], 0, 0.6)
    filed = np.where(late, deadline + rng.integers(*LATE_DAYS, size=len(e)), filed)
    d_e, rv_e = dormant[e], revived[e]
    asleep_at_open = (d_e < opens) & ~(rv_e <= opens)
    # dormancy during the filing window: the report was filed before it, if at all
    mid = (d_e >= opens) & (d_e < filed)
    filed = np.where(mid, opens + (rng.random(len(e)) * np.maximum(d_e - opens, 1)).astype(np.int64), filed)
    # a dormant entity files nothing for the year it went dormant and later, unless it revives
    gone_quiet = d_e <= year_end
    back = gone_quiet & (rv_e < NEVER)
    filed = np.where(back & (rv_e > filed), rv_e + rng.integers(0, 20, size=len(e)), filed)
    filed_ok = due & (~gone_quiet | back) & ~(asleep_at_open & ~back)
    filed_ok &= filed < exit_day[e]
    filed_ok &= filed <= tl.future_end
    e, y, filed, deadline = e[filed_ok], y[filed_ok], filed[filed_ok], deadline[filed_ok]
    m = len(e)

    cap_wan = hist.capital_at(e, filed)  # type: ignore[attr-defined]
    staff = np.maximum(0, np.round(np.exp(np.log(cap_wan + 1) * 0.6) * np.exp(0.3 * rng.standard_normal(m))))
    staff = np.where(cls[e] == "individual", np.maximum(1, np.minimum(staff, 8)), staff)
    per_staff = np.select([cls[e] == "individual", cls[e] == "cooperative"], [8e4, 6e4], 1.5e5)
    revenue = staff * per_staff * np.exp(0.8 * rng.standard_normal(m))
    distress = story.distress[e]
    troubled = distress <= filed
    revenue = np.where(troubled, revenue * 0.4, revenue)
    tax_rate = rng.uniform(0.01, 0.06, size=m)
    no_tax = rng.random(m) < np.where(troubled, 0.6, 0.1 + 0.3 * risk[e])
    tax = np.where(no_tax, 0.0, revenue * tax_rate)
    # the year before dormancy: little or no business
    fading = (dormant[e] < NEVER) & (dormant[e] - filed < 365) & (rng.random(m) < 0.5)
    shell = (
        (cls[e] == "enterprise")
        & (cap_wan >= SHELL_MIN_CAPITAL_WAN)
        & (rng.random(m) < np.clip((risk[e] - 0.15) * 2.0, 0, 0.85))
    )
    zero = fading | shell
    revenue = np.where(zero, 0.0, revenue)
    tax = np.where(zero, 0.0, tax)
    staff = np.where(shell | (fading & (rng.random(m) < 0.5)), 0, staff)
    assets = np.where(
        cls[e] == "individual", np.nan, cap_wan * 1e4 * np.exp(0.7 * rng.standard_normal(m)) + 0.3 * revenue
    )
    hidden = (cls[e] == "enterprise") & (rng.random(m) < NOT_PUBLISHED_SHARE)
    revenue, tax, assets = (np.where(hidden, np.nan, v) for v in (revenue, tax, assets))
    status = np.where(zero & (rng.random(m) < 0.6), "歇业", "开业")
    names = hist.names_at(e, filed)["full"].to_numpy(dtype=object)  # type: ignore[attr-defined]
    web = rng.random(m) < np.select([cls[e] == "enterprise", cls[e] == "cooperative"], [0.25, 0.08], 0.03)
    df = pd.DataFrame(
        {
            "uscc": ent["uscc"].to_numpy(dtype=object)[e],
            "entity_name": names,
            "report_year": y.astype(str),
            "filed_date": filed,
            "operating_status": status,
            "staff_count": staff.astype(np.int64),
            "total_revenue": np.round(revenue, -2),
            "total_tax": np.round(tax, -1),
            "total_assets": np.round(assets, -2),
            "has_website": web,
            "mailing_address": hist.address_at(e, filed),  # type: ignore[attr-defined]
            "phone": ent["phone"].to_numpy(dtype=object)[e],
        }
    )
    # meta columns (radar.simulate.records conventions): entity, person, true USCC, the day it exists from
    df["_entity"] = e.astype(np.int64)
    df["_person"] = np.int64(-1)
    df["_uscc"] = df["uscc"].to_numpy(dtype=object)
    df["_day"] = filed.astype(np.int64)
    df["_dirt"] = ""
    return df.sort_values(["filed_date", "uscc"], kind="stable").reset_index(drop=True)
