"""Which files each record type is exported in, and the value dirt planted before writing.

The split follows how the data reach a credit platform: penalties per year from the credit-sharing platform
plus the market regulator's own export and a re-sent batch; licences in two periods and a status-update
batch; court listings in two batches; the registry per entity class; complaints per year; spot checks in
two periods; the rest in one file each.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from radar.simulate.city import City
from radar.simulate.events import rng_for
from radar.simulate.exports import (
    ENCODINGS,
    HEADER_STYLES,
    MARKET_PENALTY_HEADERS,
    Exporter,
    _add,
    copies,
    dirty_usccs,
)
from radar.simulate.timeline import day, ymd

# the layout of individual businesses' registry export (个体户 labels: 经营者, 资金数额, 经营场所, 注册日期)
INDIVIDUAL_REGISTRY_HEADERS = {
    "uscc": "统一社会信用代码",
    "business_reg_no": "注册号",
    "name": "个体工商户名称",
    "entity_type": "类型",
    "legal_rep_name": "经营者",
    "registered_capital": "资金数额",
    "established_date": "注册日期",
    "registration_authority": "登记机关",
    "approval_date": "核准日期",
    "registration_status": "登记状态",
    "address": "经营场所",
    "business_scope": "经营范围",
    "composition_form": "组成形式",
    "industry_code": "行业代码",
    "district_code": "行政区划代码",
    "phone": "联系电话",
    "deregistered_date": "注销日期",
}


def _known(df: pd.DataFrame, as_of: int) -> pd.DataFrame:
    out = df[df["_day"] <= as_of].copy()
    out["_copy"] = False
    return out


def _sorted(df: pd.DataFrame, by: str) -> pd.DataFrame:
    return df.sort_values(by, kind="stable")


def _tag(df: pd.DataFrame, mask: np.ndarray, tag: str) -> pd.DataFrame:
    d = df["_dirt"].to_numpy(dtype=object).copy()
    d[mask] = [_add(x, tag) for x in d[mask]]
    df["_dirt"] = d
    return df


def plan_files(ex: Exporter, rec: dict[str, pd.DataFrame], city: City, seed: int) -> None:
    """Plan every export file (rows, dirt, writing choices) on ``ex``."""
    rng = rng_for(seed, 402)
    tl = city.timeline
    as_of = tl.end
    dirt = ex.dirt
    usccs = city.entities["uscc"].to_numpy(dtype=object)
    dup = dirt.get("duplicate_rows", 0.02)

    # ---- registry (and the tables that come from the same system and repeat its USCC)
    reg = _known(rec["registry"], as_of)
    reg = dirty_usccs(rng, reg, "uscc", dirt, usccs, missing=False)
    # legacy individual businesses known only by their registration number
    legacy = (
        (reg["entity_type"].to_numpy() == "个体工商户")
        & (reg["business_reg_no"].str.len().to_numpy() == 15)
        & (reg["_dirt"].to_numpy() == "")
    )
    miss = legacy & (rng.random(len(reg)) < dirt.get("missing_uscc", 0.03) * 4)
    reg.loc[miss, "uscc"] = ""
    reg = _tag(reg, miss, "missing_uscc")
    written = pd.Series(reg["uscc"].to_numpy(), index=reg["_entity"].to_numpy())
    reg_tags = pd.Series(reg["_dirt"].to_numpy(), index=reg["_entity"].to_numpy())
    cls = reg["entity_type"].to_numpy()
    ex.plan(
        "registry",
        "登记基本信息_企业.csv",
        _sorted(reg[(cls != "个体工商户") & (cls != "农民专业合作社")], "established_date"),
    )
    ex.plan(
        "registry",
        "登记基本信息_个体工商户.csv",
        _sorted(reg[cls == "个体工商户"], "established_date"),
        headers=INDIVIDUAL_REGISTRY_HEADERS,
    )
    ex.plan(
        "registry",
        "登记基本信息_农民专业合作社.csv",
        _sorted(reg[cls == "农民专业合作社"], "established_date"),
    )

    def mirror(df: pd.DataFrame) -> pd.DataFrame:
        df = df[df["_entity"].isin(written.index)].copy()
        df["uscc"] = written.loc[df["_entity"]].to_numpy()
        t = reg_tags.loc[df["_entity"]].to_numpy(dtype=object)
        df["_dirt"] = np.where(pd.Series(t).str.contains("uscc").to_numpy(), t, "")
        return df

    sh = mirror(_known(rec["shareholder"], as_of))
    ex.plan("shareholder", "股东及出资信息.csv", _sorted(sh, "uscc"))
    kp = mirror(_known(rec["key_personnel"], as_of))
    ex.plan("key_personnel", "主要人员信息.csv", _sorted(kp, "uscc"))
    ch = mirror(_known(rec["change"], as_of))
    early = ch["change_date"].to_numpy() < day("2023-01-01")
    ex.plan(
        "change",
        "变更信息_2019-2022.csv",
        _sorted(ch[early], "change_date"),
        style="code",
        date_format="epoch_ms",
    )
    ex.plan("change", "变更信息_2023-2024.csv", _sorted(ch[~early], "change_date"))

    # ---- penalties
    pen = _known(rec["penalty"], as_of)
    pen = dirty_usccs(rng, pen, "uscc", dirt, usccs, missing=True, placeholder=True)
    pen = _tag(pen, pen["subject_category"].to_numpy() == "自然人", "natural_person")
    pen = _tag(pen, (pen["_entity"].to_numpy() < 0) & (pen["_uscc"].to_numpy() != ""), "outside_city")
    y, _, _ = ymd(pen["decision_date"].to_numpy())
    market_recent = (pen["_dept"].to_numpy() == "market") & (
        pen["decision_date"].to_numpy() >= day("2023-01-01")
    )
    for year in sorted(set(y.tolist())):
        m = (~market_recent) & (y == year)
        label = f"{year}上半年" if year == ymd([as_of])[0][0] else str(year)
        ex.plan("penalty", f"双公示_行政处罚_{label}.csv", _sorted(pen[m], "decision_date"))
    ex.plan(
        "penalty",
        "市场监管局_行政处罚公示_2023-2024.csv",
        _sorted(pen[market_recent], "decision_date"),
        headers=MARKET_PENALTY_HEADERS,
    )
    # the re-sent batch: copies, and revocations (objections upheld as 撤销, plus corrections by authorities)
    again = copies(rng, pen, dup)
    revoked_day = pen["_revoked_day"].to_numpy()
    by_objection = revoked_day <= as_of
    other = (
        (pen["_entity"].to_numpy() >= 0)
        & ~by_objection
        & (rng.random(len(pen)) < dirt.get("revoked_records", 0.01))
    )
    rv = pen[by_objection | other].copy()
    rv["status"] = "撤销"
    rv["revocation_reason"] = np.where(
        by_objection[by_objection | other], "经异议审核，处罚信息有误，予以撤销", "原处罚决定已被依法撤销"
    )
    rv["_dirt"] = [_add(x, "revoked") for x in rv["_dirt"]]
    batch = pd.concat([again, rv])
    ex.plan(
        "penalty", "行政处罚_补传批次.csv", batch, drop_optional=0.0, style=str(rng.choice(["label", "code"]))
    )

    # ---- licences
    lic = _known(rec["license"], as_of)
    lic = dirty_usccs(rng, lic, "uscc", dirt, usccs, missing=True, placeholder=True)
    early = lic["decision_date"].to_numpy() < day("2022-01-01")
    ex.plan("license", "双公示_行政许可_2016-2021.csv", _sorted(lic[early], "decision_date"))
    ex.plan("license", "双公示_行政许可_2022-2024.csv", _sorted(lic[~early], "decision_date"))
    again = copies(rng, lic, dup)
    rv = lic[rng.random(len(lic)) < dirt.get("revoked_records", 0.01)].copy()
    rv["status"] = "撤销"
    rv["_dirt"] = [_add(x, "revoked") for x in rv["_dirt"]]
    ex.plan("license", "行政许可_状态更新批次.csv", pd.concat([again, rv]), drop_optional=0.0, style="label")

    # ---- court listings
    dd = _known(rec["dishonest_debtor"], as_of)
    dd = _tag(dd, (dd["_entity"].to_numpy() < 0) & (dd["_uscc"].to_numpy() != ""), "outside_city")
    dd = _tag(dd, dd["_person"].to_numpy() >= 0, "natural_person")
    early = dd["publish_date"].to_numpy() < day("2023-01-01")
    first = _sorted(dd[early], "publish_date")
    ex.plan("dishonest_debtor", "失信被执行人_朝阳法院_第一批.csv", first, style="code")
    ex.plan(
        "dishonest_debtor",
        "失信被执行人_朝阳法院_第二批.csv",
        pd.concat([_sorted(dd[~early], "publish_date"), copies(rng, first, dup)]),
        style="label",
    )

    # ---- lists
    ab = _known(rec["abnormal_list"], as_of)
    ab = dirty_usccs(rng, ab, "uscc", dirt, usccs, missing=False)
    ex.plan("abnormal_list", "经营异常名录.csv", _sorted(ab, "listed_date"))
    sv = _known(rec["serious_violation"], as_of)
    ex.plan("serious_violation", "严重违法失信名单.csv", _sorted(sv, "listed_date"))

    # ---- complaints (no complainant data is ever written)
    c = _known(rec["complaint"], as_of)
    c = dirty_usccs(
        rng,
        c,
        "respondent_uscc",
        dirt,
        usccs,
        missing=True,
        missing_rate=dirt.get("complaint_missing_uscc", 0.6),
    )
    c = _tag(c, c["_variant"].to_numpy() != "", "name_variant")
    c = _tag(c, (c["_entity"].to_numpy() < 0) & (c["_uscc"].to_numpy() != ""), "outside_city")
    c = _tag(c, (c["_entity"].to_numpy() < 0) & (c["_uscc"].to_numpy() == ""), "unregistered")
    y, _, _ = ymd(c["registered_at"].to_numpy())
    years = sorted(set(y.tolist()))
    prev = None
    for k, year in enumerate(years):
        rows = _sorted(c[y == year], "registered_at")
        kw: dict[str, object] = {}
        if k == 1:
            kw["drop_optional"] = 0.5  # the public layout: names only
            rows = rows.drop(columns="respondent_uscc")
        if k == 2:
            kw["date_format"] = "datetime"
        if year == years[-1]:
            kw["truncate_last"] = True
            if prev is not None:
                rows = pd.concat([rows, copies(rng, prev, dup)])
        label = f"{year}上半年" if year == years[-1] else str(year)
        ex.plan("complaint", f"12315投诉举报_{label}.csv", rows, **kw)
        prev = rows if k != 1 else None

    # ---- spot checks
    sc = _known(rec["spot_check"], as_of)
    sc = dirty_usccs(rng, sc, "uscc", dirt, usccs, missing=False)
    early = sc["completed_date"].to_numpy() < day("2023-01-01")
    first = _sorted(sc[early], "completed_date")
    ex.plan("spot_check", "双随机抽查结果_2021-2022.csv", first)
    ex.plan(
        "spot_check",
        "双随机抽查结果_2023-2024.csv",
        pd.concat([_sorted(sc[~early], "completed_date"), copies(rng, first, dup)]),
    )

    # ---- commitments, repairs, objections, third-party signals
    cm = dirty_usccs(rng, _known(rec["commitment"], as_of), "subject_id", dirt, usccs, missing=True)
    ex.plan("commitment", "信用承诺.csv", _sorted(cm, "commitment_date"))
    rp = dirty_usccs(rng, _known(rec["repair"], as_of), "uscc", dirt, usccs, missing=True)
    ex.plan("repair", "信用修复.csv", _sorted(rp, "decision_date"))
    ob = dirty_usccs(rng, _known(rec["objection"], as_of), "uscc", dirt, usccs, missing=True)
    ex.plan("objection", "异议处理.csv", _sorted(ob, "decided_date"))
    tp = dirty_usccs(rng, _known(rec["third_party"], as_of), "entity_key", dirt, usccs, missing=False)
    utility = tp["signal_name"].isin(["水费欠费金额", "电费欠费金额"]).to_numpy()
    ex.plan("third_party", "第三方数据_水电欠费.csv", _sorted(tp[utility], "signal_date"))
    ex.plan("third_party", "第三方数据_税务社保.csv", _sorted(tp[~utility], "signal_date"))

    _mix_styles(ex, rng)
    # ---- annual reports (GSXT, the registry's system: its USCC as the registry writes it); planned last, so
    # the files above are written exactly as before
    ar = mirror(_known(rec["annual_report"], as_of))
    ex.plan("annual_report", "企业年度报告.csv", _sorted(ar, "filed_date"))


def _mix_styles(ex: Exporter, rng: np.random.Generator) -> None:
    """Make sure every header style and every encoding occurs (small cities draw few files)."""
    free = [p for p in ex.plans if not p.headers]
    for i, style in enumerate(HEADER_STYLES):
        if not any(p.style == style for p in free):
            free[(3 * i + 1) % len(free)].style = style
    for i, enc in enumerate(ENCODINGS):
        if not any(p.encoding == enc for p in ex.plans):
            ex.plans[(5 * i + 2) % len(ex.plans)].encoding = enc
    # complaints of one year always in GB18030 (the 12315 system's legacy export)
    for p in ex.plans:
        if p.name.startswith("12315投诉举报_2021"):
            p.encoding = "gb18030"
