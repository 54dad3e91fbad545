"""Records as the source systems hold them: one DataFrame per record type, canonical fields of
conf/sources.yaml as columns, before any export formatting or dirt.

Value conventions: dates are day numbers (``NEVER`` = empty, ``LONG_TERM`` = 长期), money is in yuan (NaN =
empty), multi-value cells are joined with ``LIST_SEP``, booleans are True/False/None. Meta columns start with
``_``: ``_entity`` (entity number or -1), ``_person`` (person number or -1), ``_uscc`` (true USCC, empty for
people and unregistered parties), ``_day`` (the day the record exists from: only records with ``_day`` up to
the as-of date are exported), ``_dirt`` (planted dirt, filled in by ``exports``).

Entities change name, legal representative, address and capital over time (the change records); each record
shows the values in force on its own date.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from radar.reference import industry_sections
from radar.simulate import ids, names
from radar.simulate.city import City, outside_entities
from radar.simulate.events import (
    ABN_REASONS,
    ABN_REMOVALS,
    DORMANT_KIND,
    ITEMS,
    KINDS,
    LIST_SEP,
    SERIOUS_REASONS,
    SIGNALS,
    Story,
    check_category,
    rng_for,
)
from radar.simulate.places import make_addresses
from radar.simulate.reports import annual_reports
from radar.simulate.timeline import LONG_TERM, NEVER, day, years_later, ymd

NAME_PARTS = ["region", "core", "mid", "industry", "form", "branch", "shop", "full"]
CLASS_CATEGORY = {
    "enterprise": "法人及非法人组织",
    "cooperative": "法人及非法人组织",
    "individual": "个体工商户",
}
ENTITY_TYPE = {
    "enterprise": "有限责任公司(自然人投资或控股)",
    "individual": "个体工商户",
    "cooperative": "农民专业合作社",
}


def _pick(rng: np.random.Generator, words: list[str], n: int) -> np.ndarray:
    return np.asarray(words, dtype=object)[rng.integers(0, len(words), size=n)]


def _choose_by_key(
    rng: np.random.Generator, keys: np.ndarray, options: dict[str, list[str]], default: list[str]
) -> np.ndarray:
    """One word per row out of the list its key selects (vectorised per distinct key)."""
    keys = np.asarray(keys, dtype=object)
    out = np.empty(len(keys), dtype=object)
    u = rng.random(len(keys))
    for k in pd.unique(keys):
        m = keys == k
        words = np.asarray(options.get(k, default), dtype=object)
        out[m] = words[(u[m] * len(words)).astype(np.int64)]
    return out


def _zf(values: np.ndarray, width: int) -> np.ndarray:
    return ids.zfill(values, width).astype(object)


# ---------------------------------------------------------------- authorities
_DEPTS = [
    # key, name template (city level), abbreviation for document numbers
    ("market", "朝阳市市场监督管理局", "朝市监"),
    ("env", "朝阳市生态环境局", "朝环"),
    ("safety", "朝阳市应急管理局", "朝应急"),
    ("tax", "国家税务总局朝阳市税务局", "朝税"),
    ("housing", "朝阳市住房和城乡建设局", "朝住建"),
    ("transport", "朝阳市交通运输局", "朝交"),
    ("health", "朝阳市卫生健康委员会", "朝卫"),
    ("culture", "朝阳市文化旅游和广播电视局", "朝文旅"),
    ("fire", "朝阳市消防救援支队", "朝消"),
    ("nature", "朝阳市自然资源局", "朝自然资源"),
    ("education", "朝阳市教育局", "朝教"),
    ("credit", "朝阳市发展和改革委员会", "朝发改"),
]


def authorities(city: City, seed: int) -> pd.DataFrame:
    """Government bodies: departments (city level, market and tax also per district) and courts."""
    rng = rng_for(seed, 301)
    rows = [(k, "211300", name, abbr) for k, name, abbr in _DEPTS]
    for _, d in city.districts.iterrows():
        rows.append(
            (
                "market",
                d["code"],
                f"{d['name']}市场监督管理局" if d["code"] != "211371" else "朝阳经济技术开发区市场监督管理局",
                f"朝{d['short'][:1]}市监",
            )
        )
        if d["code"] != "211371":
            rows.append(("tax", d["code"], f"国家税务总局朝阳市{d['name']}税务局", f"朝{d['short'][:1]}税"))
            rows.append(("court", d["code"], f"{d['name']}人民法院", f"辽{d['code'][2:6]}"))
    rows.append(("court", "211300", "辽宁省朝阳市中级人民法院", "辽13"))
    df = pd.DataFrame(rows, columns=["dept", "district_code", "name", "abbr"])
    n = len(df)
    body = ids.org_code_bodies(rng, np.zeros(n, dtype=bool), np.zeros(n, dtype=bool))
    prefix = np.where(df["dept"] == "court", "11", "11")
    df["uscc"], _ = ids.make_uscc(prefix, df["district_code"].to_numpy().astype(str), body)
    return df


def _authority_for(auth: pd.DataFrame, dept: np.ndarray, district: np.ndarray) -> pd.DataFrame:
    """The body of ``dept`` for each row: the district's own where it has one, else the city's."""
    key = pd.DataFrame({"dept": dept, "district_code": district})
    local = key.merge(auth, on=["dept", "district_code"], how="left")
    city_level = key.assign(district_code="211300").merge(auth, on=["dept", "district_code"], how="left")
    out = local.copy()
    miss = out["name"].isna().to_numpy()
    for c in ("name", "abbr", "uscc"):
        out.loc[miss, c] = city_level.loc[miss, c].to_numpy()
    return out[["name", "abbr", "uscc"]]


# ---------------------------------------------------------------- histories
def _at_day(
    hist: pd.DataFrame, cols: list[str], entity: np.ndarray, days: np.ndarray, initial: pd.DataFrame
) -> pd.DataFrame:
    """Values of ``cols`` in force for each (entity, day): the last change up to that day, else the initial."""
    q = pd.DataFrame(
        {
            "entity": np.asarray(entity, dtype=np.int64),
            "day": np.asarray(days, dtype=np.int64),
            "_pos": np.arange(len(entity)),
        }
    )
    safe = q["entity"].clip(lower=0).to_numpy()
    out = initial.iloc[safe][cols].reset_index(drop=True)
    if len(hist):
        h = hist.sort_values("day", kind="stable")[["entity", "day", *cols]]
        m = pd.merge_asof(q.sort_values("day", kind="stable"), h, on="day", by="entity", direction="backward")
        m = m.sort_values("_pos")
        found = m[cols[0]].notna().to_numpy()
        for c in cols:
            out.loc[found, c] = m[c].to_numpy()[found]
    return out


class History:
    """Name, legal representative, address and capital of each entity over time, and the change records."""

    def __init__(self, city: City, story: Story, seed: int):
        rng = rng_for(seed, 302)
        self.city = city
        ent = city.entities
        tl = city.timeline
        n = len(ent)
        cls = ent["cls"].to_numpy()
        est = ent["established"].to_numpy()
        # changes come more often in the year before trouble (dormancy, exit, distress, blacklisting)
        trouble = np.minimum.reduce(
            [
                ent["dormant"].to_numpy(),
                ent["exit_day"].to_numpy(),
                story.distress,
                ent["serious_listed"].to_numpy(),
            ]
        )
        rate = np.select([cls == "individual", cls == "cooperative"], [0.04, 0.05], 0.12)
        a = np.maximum(est + 30, tl.start - 730)
        b = np.minimum(ent["exit_day"].to_numpy(), tl.end)
        span = np.maximum(b - a, 0)
        cnt = rng.poisson(rate * span / 365)
        ta = np.maximum(trouble - 365, a)
        tb = np.minimum(trouble, b)
        tspan = np.where(trouble < NEVER, np.maximum(tb - ta, 0), 0)
        tcnt = rng.poisson(3 * rate * tspan / 365)
        e = np.concatenate([np.repeat(np.arange(n), cnt), np.repeat(np.arange(n), tcnt)])
        lo = np.concatenate([np.repeat(a, cnt), np.repeat(ta, tcnt)])
        width = np.concatenate([np.repeat(span, cnt), np.repeat(tspan, tcnt)])
        d = lo + (rng.random(len(e)) * width).astype(np.int64)
        items = np.array(
            [
                "经营范围变更",
                "住所变更",
                "法定代表人变更",
                "注册资本变更",
                "投资人变更",
                "名称变更",
                "高级管理人员备案（董事、监事、经理等）",
            ],
            dtype=object,
        )
        p = np.array([0.28, 0.2, 0.16, 0.12, 0.12, 0.06, 0.06])
        item = items[rng.choice(len(items), size=len(e), p=p)]
        ec = cls[e]
        # what cannot change: an individual business changes neither name, operator nor investors (that is a
        # new registration); planted structures (rings, phoenix links, cluster addresses) stay as planted
        fixed_people = (
            (ent["ring_id"].to_numpy()[e] >= 0)
            | np.isin(e, ent["phoenix_of"].to_numpy())
            | (ent["phoenix_of"].to_numpy()[e] >= 0)
        )
        fixed_addr = fixed_people | ent["cluster_address"].to_numpy()[e]
        bad = (ec == "individual") & np.isin(
            item, ["名称变更", "法定代表人变更", "投资人变更", "高级管理人员备案（董事、监事、经理等）"]
        )
        bad |= (ec == "cooperative") & np.isin(item, ["名称变更", "投资人变更"])
        bad |= fixed_people & np.isin(item, ["法定代表人变更", "名称变更"])
        bad |= fixed_addr & (item == "住所变更")
        item[bad] = "经营范围变更"
        ch = pd.DataFrame({"entity": e, "day": d, "item": item}).sort_values(["entity", "day"], kind="stable")
        ch = ch.drop_duplicates(["entity", "day", "item"]).reset_index(drop=True)
        self.changes = ch
        self._names(rng, ch)
        self._reps(rng, ch)
        self._addresses(rng, ch)
        self._capital(rng, ch)
        self._scope(rng, ch)
        self._investors(rng, ch)

    # each helper fills before/after of its item and the history table it drives
    def _names(self, rng: np.random.Generator, ch: pd.DataFrame) -> None:
        ent = self.city.entities
        m = (ch["item"] == "名称变更").to_numpy()
        rows = ch[m]
        e = rows["entity"].to_numpy()
        k = len(rows)
        parts = ent.iloc[e][NAME_PARTS].reset_index(drop=True)
        new_core = rng.random(k) < 0.6
        parts.loc[new_core, "core"] = names.zihao(rng, int(new_core.sum()))
        words = ent["industry_words"].to_numpy(dtype=object)[e]
        alt = np.array([w.split(" ")[-1] for w in words], dtype=object)
        parts.loc[~new_core, "industry"] = np.where(
            alt[~new_core] == parts.loc[~new_core, "industry"], "科技", alt[~new_core]
        )
        parts["full"] = (
            parts["region"]
            + parts["core"]
            + parts["mid"]
            + parts["industry"]
            + parts["form"]
            + parts["branch"]
        )
        hist = parts.assign(entity=e, day=rows["day"].to_numpy())
        # successive changes of one entity chain: each one's "before" is the previous one's "after"
        hist = hist.sort_values(["entity", "day"], kind="stable").reset_index(drop=True)
        prev = hist.groupby("entity")["full"].shift(1)
        before = prev.fillna(
            pd.Series(ent["full"].to_numpy(dtype=object)[hist["entity"].to_numpy()])
        ).to_numpy()
        self.name_hist = hist
        self._set(ch, m, hist, before, hist["full"].to_numpy())

    def _set(
        self, ch: pd.DataFrame, mask: np.ndarray, hist: pd.DataFrame, before: np.ndarray, after: np.ndarray
    ) -> None:
        key = pd.MultiIndex.from_arrays([hist["entity"], hist["day"]])
        b = pd.Series(before, index=key)
        a = pd.Series(after, index=key)
        idx = pd.MultiIndex.from_arrays([ch.loc[mask, "entity"], ch.loc[mask, "day"]])
        ch.loc[mask, "before"] = b.loc[idx].to_numpy()
        ch.loc[mask, "after"] = a.loc[idx].to_numpy()

    def _reps(self, rng: np.random.Generator, ch: pd.DataFrame) -> None:
        ent = self.city.entities
        m = (ch["item"] == "法定代表人变更").to_numpy()
        rows = ch[m]
        e = rows["entity"].to_numpy()
        # the new legal representative is a new person (a relative or a nominee)
        new = self._new_people(rng, len(rows))
        hist = pd.DataFrame({"entity": e, "day": rows["day"].to_numpy(), "legal_rep": new})
        hist = hist.sort_values(["entity", "day"], kind="stable").reset_index(drop=True)
        prev = hist.groupby("entity")["legal_rep"].shift(1)
        before_p = prev.fillna(pd.Series(ent["legal_rep"].to_numpy()[hist["entity"].to_numpy()])).astype(
            np.int64
        )
        nm = self.city.people["name"].to_numpy(dtype=object)
        self.rep_hist = hist
        self._set(ch, m, hist, nm[before_p.to_numpy()], nm[hist["legal_rep"].to_numpy()])

    def _new_people(self, rng: np.random.Generator, k: int) -> np.ndarray:
        """Add ``k`` people to the city's people table; returns their numbers."""
        people = self.city.people
        start = len(people)
        male = rng.random(k) < 0.6
        birth = self.city.timeline.start - rng.integers(22 * 365, 65 * 365, size=k)
        div = self.city.districts["code"].to_numpy(dtype=object)[rng.integers(0, 7, size=k)].astype(str)
        seq = rng.integers(250, 500, size=k) * 2 + male  # a sequence range the city's people do not use
        # new people must not repeat an identity number: move the sequence on where they would
        key = pd.Series(div, dtype=object) + "|" + pd.Series(birth).astype(str)
        seq = 500 + (seq - 500 + 2 * key.groupby([key, seq]).cumcount().to_numpy()) % 500
        taken = people["id_no"].to_numpy(dtype=object)
        taken = taken[people["id_no"].str[14:17].astype(int).to_numpy() >= 500].astype(str)
        idn = ids.id_numbers(div, birth.astype("datetime64[D]"), seq)
        clash = np.isin(idn.astype(str), taken)
        while clash.any():
            seq[clash] = 500 + (seq[clash] - 500 + 2 * rng.integers(1, 250, size=int(clash.sum()))) % 500
            idn = ids.id_numbers(div, birth.astype("datetime64[D]"), seq)
            clash = np.isin(idn.astype(str), taken) | pd.Series(idn).duplicated().to_numpy()
        add = pd.DataFrame(
            {
                "person_id": ids.labels("P", np.arange(start, start + k), 7),
                "name": names.person_names(rng, male),
                "male": male,
                "birth": birth,
                "id_no": idn,
                "id_division": div,
            }
        )
        add.index = np.arange(start, start + k)
        self.city.people = pd.concat([people, add])
        return np.arange(start, start + k)

    def _addresses(self, rng: np.random.Generator, ch: pd.DataFrame) -> None:
        ent = self.city.entities
        m = (ch["item"] == "住所变更").to_numpy()
        rows = ch[m]
        e = rows["entity"].to_numpy()
        kind = np.where(ent["cls"].to_numpy()[e] == "individual", "shop", "office").astype(object)
        new = make_addresses(rng, ent["district_code"].to_numpy(dtype=object)[e], kind, "211371")
        hist = pd.DataFrame({"entity": e, "day": rows["day"].to_numpy(), "address": new})
        hist = hist.sort_values(["entity", "day"], kind="stable").reset_index(drop=True)
        prev = hist.groupby("entity")["address"].shift(1)
        before = prev.fillna(
            pd.Series(ent["address"].to_numpy(dtype=object)[hist["entity"].to_numpy()])
        ).to_numpy()
        self.addr_hist = hist
        self._set(ch, m, hist, before, hist["address"].to_numpy())

    def _capital(self, rng: np.random.Generator, ch: pd.DataFrame) -> None:
        ent = self.city.entities
        m = (ch["item"] == "注册资本变更").to_numpy()
        rows = ch[m].sort_values(["entity", "day"], kind="stable")
        e = rows["entity"].to_numpy()
        up = rng.random(len(rows)) < 0.7
        factor = np.where(
            up, rng.choice([2, 3, 5, 10], size=len(rows)), rng.choice([0.2, 0.3, 0.5], size=len(rows))
        )
        cum = pd.Series(factor).groupby(e).cumprod().to_numpy()
        from radar.simulate.city import _nice_capital

        after = _nice_capital(ent["capital_wan"].to_numpy()[e] * cum)
        prev = pd.Series(after).groupby(e).shift(1)
        before = prev.fillna(pd.Series(ent["capital_wan"].to_numpy()[e])).to_numpy()
        hist = pd.DataFrame({"entity": e, "day": rows["day"].to_numpy(), "capital_wan": after})
        self.capital_hist = hist

        def fmt(x: np.ndarray) -> np.ndarray:
            return np.array([f"{v:g}万元人民币" for v in x], dtype=object)

        self._set(ch, m, hist, fmt(before), fmt(after))

    def _scope(self, rng: np.random.Generator, ch: pd.DataFrame) -> None:
        ent = self.city.entities
        m = (ch["item"] == "经营范围变更").to_numpy()
        e = ch.loc[m, "entity"].to_numpy()
        base = business_scope(ent.iloc[e])
        extra = _pick(
            rng,
            [
                "技术服务、技术开发、技术咨询",
                "日用百货销售",
                "货物进出口",
                "农副产品销售",
                "劳务服务（不含劳务派遣）",
                "建筑材料销售",
                "食品销售（仅销售预包装食品）",
                "信息咨询服务（不含许可类信息咨询服务）",
            ],
            len(e),
        )
        ch.loc[m, "before"] = base
        ch.loc[m, "after"] = base + "；" + extra

    def _investors(self, rng: np.random.Generator, ch: pd.DataFrame) -> None:
        people = self.city.people
        ent = self.city.entities
        m = (ch["item"] == "投资人变更").to_numpy()
        e = ch.loc[m, "entity"].to_numpy()
        old = self._new_people(rng, len(e))
        people = self.city.people
        nm = people["name"].to_numpy(dtype=object)
        self.old_investors = pd.DataFrame({"entity": e, "day": ch.loc[m, "day"].to_numpy(), "person": old})
        ch.loc[m, "before"] = nm[old] + "（自然人股东）"
        ch.loc[m, "after"] = nm[ent["controller"].to_numpy()[e]] + "（自然人股东）"
        m2 = (ch["item"] == "高级管理人员备案（董事、监事、经理等）").to_numpy()
        e2 = ch.loc[m2, "entity"].to_numpy()
        ch.loc[m2, "before"] = nm[ent["legal_rep"].to_numpy()[e2]] + "（执行董事）"
        ch.loc[m2, "after"] = nm[ent["legal_rep"].to_numpy()[e2]] + "（执行董事兼总经理）"

    # lookups
    def names_at(self, entity: np.ndarray, days: np.ndarray) -> pd.DataFrame:
        """Name parts in force on each day."""
        return _at_day(
            self.name_hist, NAME_PARTS, entity, days, self.city.entities[NAME_PARTS].reset_index(drop=True)
        )

    def rep_at(self, entity: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Legal representative (person number) in force on each day."""
        init = self.city.entities[["legal_rep"]].reset_index(drop=True)
        return (
            _at_day(self.rep_hist, ["legal_rep"], entity, days, init)["legal_rep"].to_numpy().astype(np.int64)
        )

    def address_at(self, entity: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Registered address in force on each day."""
        init = self.city.entities[["address"]].reset_index(drop=True)
        return _at_day(self.addr_hist, ["address"], entity, days, init)["address"].to_numpy(dtype=object)

    def capital_at(self, entity: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Registered capital (万元) in force on each day."""
        init = self.city.entities[["capital_wan"]].reset_index(drop=True)
        return _at_day(self.capital_hist, ["capital_wan"], entity, days, init)["capital_wan"].to_numpy(
            dtype=float
        )


def business_scope(ent: pd.DataFrame) -> np.ndarray:
    """A business scope text from the industry."""
    from radar.simulate.industries import industry_table

    names_by_class = industry_table().menu.set_index("class")["name"]
    ref = ent["class"].map(names_by_class).fillna(ent["industry_words"].str.split(" ").str[0])
    return (
        "一般项目：" + ref + "；" + "（除依法须经批准的项目外，凭营业执照依法自主开展经营活动）"
    ).to_numpy(dtype=object)


# ---------------------------------------------------------------- record tables
def _meta(
    df: pd.DataFrame, entity: np.ndarray, uscc: np.ndarray, day_: np.ndarray, person: np.ndarray | None = None
) -> pd.DataFrame:
    df["_entity"] = np.asarray(entity, dtype=np.int64)
    df["_person"] = (
        np.full(len(df), -1, dtype=np.int64) if person is None else np.asarray(person, dtype=np.int64)
    )
    df["_uscc"] = np.asarray(uscc, dtype=object)
    df["_day"] = np.asarray(day_, dtype=np.int64)
    df["_dirt"] = ""
    return df


def build_records(
    city: City, story: Story, seed: int, dirt: dict[str, float]
) -> tuple[dict[str, pd.DataFrame], History, pd.DataFrame]:
    """Every record type's records (all dates; ``exports`` keeps those known by the as-of date)."""
    hist = History(city, story, seed)
    auth = authorities(city, seed)
    rng = rng_for(seed, 303)
    outside = outside_entities(rng, 200)
    rec: dict[str, pd.DataFrame] = {}
    rec["registry"] = _registry(city, hist, auth)
    rec["shareholder"] = _shareholders(city, hist, seed)
    rec["key_personnel"] = _key_personnel(city, hist, seed)
    rec["change"] = _changes(city, hist)
    rec["penalty"], penalties = _penalty_records(
        city, story, hist, auth, outside, seed, dirt.get("late_publication", 0.0)
    )
    rec["license"] = _licences(city, hist, auth, seed)
    rec["dishonest_debtor"] = _dishonest_records(city, story, hist, auth, outside, seed)
    rec["abnormal_list"] = _abnormal_records(city, story, hist, auth)
    rec["serious_violation"] = _serious_records(city, story, hist, auth)
    rec["complaint"] = _complaint_records(
        city, story, hist, auth, outside, penalties, seed, dirt.get("name_variant", 0.3)
    )
    rec["spot_check"] = _spot_check_records(city, story, hist, auth)
    rec["repair"], repair_commit = _repairs(city, story, hist, auth, penalties, rec, seed)
    rec["objection"], revoked = _objections(city, hist, auth, penalties, seed)
    rec["commitment"] = _commitments(city, story, hist, auth, rec["license"], repair_commit, seed)
    rec["third_party"] = _third_party_records(city, story, hist)
    rec["annual_report"] = annual_reports(city, story, hist, seed)
    penalties["objection_revoked_day"] = penalties["penalty_id"].map(revoked).fillna(NEVER).astype(np.int64)
    rec["penalty"]["_revoked_day"] = penalties["objection_revoked_day"].to_numpy()
    return rec, hist, penalties


def _registry(city: City, hist: History, auth: pd.DataFrame) -> pd.DataFrame:
    ent = city.entities
    tl = city.timeline
    n = len(ent)
    e = np.arange(n)
    asof = np.full(n, tl.end)
    nm = hist.names_at(e, asof)
    people = city.people
    rep = hist.rep_at(e, asof)
    status = np.full(n, "存续（在营、开业、在册）", dtype=object)
    ex = ent["exit_day"].to_numpy()
    gone = ex <= tl.end
    status[gone & (ent["exit_kind"].to_numpy() == "deregistered")] = "注销"
    status[gone & (ent["exit_kind"].to_numpy() == "revoked")] = "吊销，未注销"
    reg_auth = _authority_for(auth, np.full(n, "market"), ent["registration_division"].to_numpy(dtype=object))
    # 核准日期: the last registration act (a change, the exit, or the establishment)
    last_change = hist.changes[hist.changes["day"] <= tl.end].groupby("entity")["day"].max()
    approval = np.maximum(
        ent["established"].to_numpy(), pd.Series(e).map(last_change).fillna(-(10**6)).to_numpy(dtype=np.int64)
    )
    approval = np.where(gone, ex, approval)
    df = pd.DataFrame(
        {
            "uscc": ent["uscc"].to_numpy(),
            "business_reg_no": ent["reg_no"].to_numpy(),
            "org_code": ent["org_code"].to_numpy(),
            "internal_entity_id": ("21" + ent["uscc"].str[2:8] + ids.labels("", np.arange(n), 9)).to_numpy(
                dtype=object
            ),
            "name": nm["full"].to_numpy(),
            "entity_type": ent["cls"].map(ENTITY_TYPE).to_numpy(),
            "legal_rep_name": people.loc[rep, "name"].to_numpy(),
            "legal_rep_id_no": people.loc[rep, "id_no"].to_numpy(),
            "registered_capital": hist.capital_at(e, asof) * 10000.0,
            "capital_currency": "人民币",
            "established_date": ent["established"].to_numpy(),
            "term_from": ent["established"].to_numpy(),
            "term_to": np.where(ent["cls"].to_numpy() == "enterprise", LONG_TERM, NEVER),
            "registration_authority": reg_auth["name"].to_numpy(),
            "approval_date": approval,
            "registration_status": status,
            "address": hist.address_at(e, asof),
            "business_scope": business_scope(ent),
            "composition_form": np.where(ent["cls"].to_numpy() == "individual", "个人经营", ""),
            "industry_code": ent["class"].to_numpy(),
            "district_code": ent["district_code"].to_numpy(),
            "phone": ent["phone"].to_numpy(),
            "staff_count": np.maximum(
                1, np.round(np.exp(np.log(ent["capital_wan"].to_numpy() + 1) * 0.6))
            ).astype(np.int64),
            "deregistered_date": np.where(gone, ex, NEVER),
        }
    )
    # a few long-term companies have a fixed term instead
    return _meta(df, e, ent["uscc"].to_numpy(), ent["established"].to_numpy())


def _shareholders(city: City, hist: History, seed: int) -> pd.DataFrame:
    rng = rng_for(seed, 304)
    ent = city.entities
    people = city.people
    tl = city.timeline
    e_all = np.flatnonzero(ent["cls"].to_numpy() != "individual")
    coop = ent["cls"].to_numpy()[e_all] == "cooperative"
    extra = np.where(coop, rng.integers(4, 7, size=len(e_all)), rng.integers(0, 3, size=len(e_all)))
    # the controller (usually the legal representative) holds shares; others are new people
    rows_e = np.concatenate([e_all, np.repeat(e_all, extra)])
    person = np.concatenate([ent["controller"].to_numpy()[e_all], hist._new_people(rng, int(extra.sum()))])
    people = city.people
    is_ring_nominee = (ent["ring_id"].to_numpy()[e_all] >= 0) & (
        ent["legal_rep"].to_numpy()[e_all] != ent["controller"].to_numpy()[e_all]
    )
    # nominee legal representatives of rings hold a small stake too
    rows_e = np.concatenate([rows_e, e_all[is_ring_nominee]])
    person = np.concatenate([person, ent["legal_rep"].to_numpy()[e_all[is_ring_nominee]]])
    kind = np.full(len(rows_e), "自然人股东", dtype=object)
    sh_name = people.loc[person, "name"].to_numpy(dtype=object)
    id_type = np.full(len(rows_e), "非公示项", dtype=object)
    id_no = np.full(len(rows_e), "非公示项", dtype=object)
    # some companies hold shares in others: another company of the same ring, or any company
    comp = np.flatnonzero(ent["cls"].to_numpy() == "enterprise")
    k = round(len(comp) * 0.08)
    holders = rng.choice(comp, size=k)
    held = rng.choice(comp, size=k)
    ring = ent["ring_id"].to_numpy()
    ring_members = np.flatnonzero(ring >= 0)
    if len(ring_members):
        rh = rng.choice(ring_members, size=min(len(ring_members), k // 2 + 1), replace=False)
        # another member of the holder's ring: members sorted by ring, step 1..size-1 places on in the group
        order = ring_members[np.argsort(ring[ring_members], kind="stable")]
        r_sorted = ring[order]
        start = np.searchsorted(r_sorted, ring[rh], side="left")
        size = np.searchsorted(r_sorted, ring[rh], side="right") - start
        where = np.zeros(len(ent), dtype=np.int64)
        where[order] = np.arange(len(order))
        pos = where[rh] - start
        step = 1 + (rng.random(len(rh)) * (size - 1)).astype(np.int64)
        rheld = order[start + (pos + step) % size]
        holders = np.concatenate([holders, rh])
        held = np.concatenate([held, rheld])
    ok = holders != held
    holders, held = holders[ok], held[ok]
    asof = np.full(len(holders), tl.end)
    rows_e = np.concatenate([rows_e, held])
    person = np.concatenate([person, np.full(len(held), -1)])
    kind = np.concatenate([kind, np.full(len(held), "企业法人", dtype=object)])
    sh_name = np.concatenate([sh_name, hist.names_at(holders, asof)["full"].to_numpy(dtype=object)])
    id_type = np.concatenate([id_type, np.full(len(held), "企业法人营业执照(公司)", dtype=object)])
    id_no = np.concatenate([id_no, ent["uscc"].to_numpy()[holders]])
    holder_entity = np.concatenate([np.full(len(rows_e) - len(held), -1), holders])
    df = pd.DataFrame(
        {
            "e": rows_e,
            "person": person,
            "shareholder_name": sh_name,
            "shareholder_type": kind,
            "shareholder_id_type": id_type,
            "shareholder_id_no": id_no,
            "holder_entity": holder_entity,
        }
    )
    df = df.drop_duplicates(["e", "shareholder_name"]).reset_index(drop=True)
    e = df["e"].to_numpy()
    share = rng.dirichlet(np.ones(4), size=len(df))[:, 0] + 0.1
    tot = pd.Series(share).groupby(e).transform("sum").to_numpy()
    cap = hist.capital_at(e, np.full(len(e), tl.end)) * 10000.0
    sub = np.round(cap * share / tot, -2)
    est = ent["established"].to_numpy()[e]
    paid = np.where(rng.random(len(df)) < 0.4, sub, 0.0)
    out = pd.DataFrame(
        {
            "uscc": ent["uscc"].to_numpy()[e],
            "entity_name": hist.names_at(e, np.full(len(e), tl.end))["full"].to_numpy(),
            "shareholder_name": df["shareholder_name"].to_numpy(),
            "shareholder_type": df["shareholder_type"].to_numpy(),
            "shareholder_id_type": df["shareholder_id_type"].to_numpy(),
            "shareholder_id_no": df["shareholder_id_no"].to_numpy(),
            "subscribed_amount": sub,
            "subscribed_form": "货币",
            "subscribed_date": years_later(est, rng.choice([10, 20, 30], size=len(e))),
            "paid_amount": np.where(paid > 0, paid, np.nan),
            "paid_date": np.where(paid > 0, est + rng.integers(0, 400, size=len(e)), NEVER),
            "exit_date": NEVER,
            "publish_date": est + rng.integers(1, 20, size=len(e)),
        }
    )
    # investors who left (变更信息 投资人变更)
    old = hist.old_investors
    if len(old):
        oe = old["entity"].to_numpy()
        ocap = hist.capital_at(oe, old["day"].to_numpy()) * 10000.0
        oest = ent["established"].to_numpy()[oe]
        out = pd.concat(
            [
                out,
                pd.DataFrame(
                    {
                        "uscc": ent["uscc"].to_numpy()[oe],
                        "entity_name": hist.names_at(oe, np.full(len(oe), tl.end))["full"].to_numpy(),
                        "shareholder_name": people.loc[old["person"], "name"].to_numpy(),
                        "shareholder_type": "自然人股东",
                        "shareholder_id_type": "非公示项",
                        "shareholder_id_no": "非公示项",
                        "subscribed_amount": np.round(ocap * 0.3, -2),
                        "subscribed_form": "货币",
                        "subscribed_date": years_later(oest, 20),
                        "paid_amount": np.nan,
                        "paid_date": NEVER,
                        "exit_date": old["day"].to_numpy(),
                        "publish_date": oest + 5,
                    }
                ),
            ],
            ignore_index=True,
        )
        e = np.concatenate([e, oe])
        df_person = np.concatenate([df["person"].to_numpy(), old["person"].to_numpy()])
        holder_entity = np.concatenate([df["holder_entity"].to_numpy(), np.full(len(oe), -1)])
    else:
        df_person = df["person"].to_numpy()
        holder_entity = df["holder_entity"].to_numpy()
    out["_holder_entity"] = holder_entity
    return _meta(out, e, ent["uscc"].to_numpy()[e], ent["established"].to_numpy()[e], df_person)


def _key_personnel(city: City, hist: History, seed: int) -> pd.DataFrame:
    rng = rng_for(seed, 305)
    ent = city.entities
    tl = city.timeline
    e_all = np.flatnonzero(ent["cls"].to_numpy() != "individual")
    coop = ent["cls"].to_numpy()[e_all] == "cooperative"
    rep = hist.rep_at(e_all, np.full(len(e_all), tl.end))
    pos1 = np.where(coop, "理事长", np.where(rng.random(len(e_all)) < 0.7, "执行董事兼总经理", "执行董事"))
    sup = hist._new_people(rng, len(e_all))
    people = city.people
    # a ring's controller often sits as supervisor where a nominee is the legal representative
    ctrl = ent["controller"].to_numpy()[e_all]
    sup = np.where(ctrl != rep, ctrl, sup)
    mgr_mask = ~coop & (rng.random(len(e_all)) < 0.25)
    mgr = hist._new_people(rng, int(mgr_mask.sum()))
    people = city.people
    e = np.concatenate([e_all, e_all, e_all[mgr_mask]])
    person = np.concatenate([rep, sup, mgr])
    pos = np.concatenate(
        [pos1, np.full(len(e_all), "监事", dtype=object), np.full(len(mgr), "经理", dtype=object)]
    )
    appointed = ent["established"].to_numpy()[e]
    df = pd.DataFrame(
        {
            "uscc": ent["uscc"].to_numpy()[e],
            "entity_name": hist.names_at(e, np.full(len(e), tl.end))["full"].to_numpy(),
            "person_name": people.loc[person, "name"].to_numpy(),
            "position": pos,
            "person_id_no": "",
            "appointed_date": appointed,
            "left_date": NEVER,
        }
    )
    df = df.drop_duplicates(["uscc", "person_name", "position"])
    return _meta(df, e[df.index], df["uscc"].to_numpy(), appointed[df.index], person[df.index])


def _changes(city: City, hist: History) -> pd.DataFrame:
    ent = city.entities
    tl = city.timeline
    ch = hist.changes
    e = ch["entity"].to_numpy()
    df = pd.DataFrame(
        {
            "uscc": ent["uscc"].to_numpy()[e],
            "entity_name": hist.names_at(e, np.full(len(e), tl.end))["full"].to_numpy(),
            "change_item": ch["item"].to_numpy(),
            "before": ch["before"].to_numpy(),
            "after": ch["after"].to_numpy(),
            "change_date": ch["day"].to_numpy(),
        }
    )
    df = df.drop_duplicates(["uscc", "change_item", "change_date", "after"])
    return _meta(df, e[df.index], df["uscc"].to_numpy(), df["change_date"].to_numpy())


KIND_ITEMS = {
    "food_expired": ["熟食", "饮料", "奶制品", "面包", "调味品", "方便面", "火腿肠", "糕点"],
    "food_license": ["熟食", "预包装食品", "凉菜", "烧烤"],
    "trademark": ["白酒", "洗发水", "运动鞋", "卷烟", "手机配件"],
    "special_equipment": ["锅炉", "电梯", "压力容器", "叉车"],
    "unlicensed": ["水果", "蔬菜", "烧烤", "早餐"],
}
# revocation of a dormant entity's business licence: the legal basis depends on its form
DORMANT_BASIS = {
    "enterprise": "《中华人民共和国公司法》第二百一十一条第一款",
    "individual": "《中华人民共和国市场主体登记管理条例》第四十六条",
    "cooperative": "《中华人民共和国农民专业合作社法》第七十条",
}

_PERSON_KINDS = {
    "unlicensed": (
        "未依法取得营业执照从事经营活动",
        "当事人未依法取得营业执照，擅自从事{item}经营活动",
        "《无证无照经营查处办法》第二条、第十三条",
        "market",
    ),
    "transport": (
        "未取得道路运输经营许可擅自从事道路运输经营",
        "当事人未取得道路运输经营许可，擅自从事道路旅客运输经营",
        "《中华人民共和国道路运输条例》第八条、第六十三条",
        "transport",
    ),
}


def _penalty_records(
    city: City, story: Story, hist: History, auth: pd.DataFrame, outside: pd.DataFrame, seed: int,
    late_share: float = 0.0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Penalty decisions as the 双公示 export gives them; ``late_share`` of them are put online 12-45 days after
    the decision, past the 7 working days the rules allow (the rest within 6 days)."""
    rng = rng_for(seed, 306)
    ent = city.entities
    p = story.penalties.copy()
    n = len(p)
    e = p["entity"].to_numpy()
    d = p["day"].to_numpy()
    is_ent = e >= 0
    se = np.maximum(e, 0)
    kinds = pd.concat(
        [KINDS, pd.DataFrame([DORMANT_KIND], columns=KINDS.columns)], ignore_index=True
    ).set_index("kind")
    for k, (label, facts, basis, dept) in _PERSON_KINDS.items():
        if k not in kinds.index:
            kinds.loc[k] = [label, facts, basis, dept, "违反其他部门相关规定"]
    kk = kinds.loc[p["kind"].to_numpy()]
    person_row = (p["origin"] == "person").to_numpy()
    kk_label = kk["label"].to_numpy(dtype=object).copy()
    kk_facts = kk["facts"].to_numpy(dtype=object).copy()
    kk_basis = kk["basis"].to_numpy(dtype=object).copy()
    dept = kk["department"].to_numpy(dtype=object).copy()
    for k, (label, facts, basis, dp) in _PERSON_KINDS.items():
        m = person_row & (p["kind"].to_numpy() == k)
        kk_label[m], kk_facts[m], kk_basis[m], dept[m] = label, facts, basis, dp
    dormant = (p["kind"].to_numpy() == "dormant") & is_ent
    kk_basis[dormant] = (
        pd.Series(ent["cls"].to_numpy(dtype=object)[se[dormant]]).map(DORMANT_BASIS).to_numpy(dtype=object)
    )
    district = np.where(is_ent, ent["district_code"].to_numpy(dtype=object)[se], "211302")
    # heavy cases and city-registered entities go to the city bureau
    city_case = (p["severity"].to_numpy() == "serious") | (rng.random(n) < 0.2)
    district = np.where(city_case, "211300", district)
    a = _authority_for(auth, dept, district)
    sec = np.where(is_ent, ent["section"].to_numpy(dtype=object)[se], "*")
    item = _choose_by_key(rng, sec, ITEMS, ITEMS["*"])
    by_kind = np.isin(p["kind"].to_numpy(), list(KIND_ITEMS))
    item[by_kind] = _choose_by_key(rng, p["kind"].to_numpy()[by_kind], KIND_ITEMS, ITEMS["*"])
    y, mo, _dd = ymd(d)
    split = pd.Series(kk_facts, dtype=object).str.split("{item}", regex=False)
    facts = (
        split.str[0] + np.where(split.str.len() > 1, item, "") + split.str[-1].where(split.str.len() > 1, "")
    ).to_numpy(dtype=object)
    facts = "经查，" + y.astype(str) + "年" + mo.astype(str) + "月，" + facts.astype(object) + "。"
    # decision numbers: 朝双市监处罚〔2022〕56号 (a sequence per authority and year)
    seq = pd.DataFrame({"a": a["name"].to_numpy(), "y": y}).groupby(["a", "y"]).cumcount().to_numpy() + 1
    suffix = np.where(a["abbr"].str.contains("市监").to_numpy(), "处罚", "罚")
    decision_no = (
        a["abbr"].to_numpy(dtype=object) + suffix + "〔" + y.astype(str) + "〕" + seq.astype(str) + "号"
    )
    nm = hist.names_at(se, d)
    rep = hist.rep_at(se, d)
    people = city.people
    subject = np.where(is_ent, nm["full"].to_numpy(dtype=object), "")
    uscc = np.where(is_ent, ent["uscc"].to_numpy(dtype=object)[se], "")
    category = np.where(is_ent, ent["cls"].map(CLASS_CATEGORY).to_numpy(dtype=object)[se], "自然人")
    legal_rep = np.where(is_ent, people.loc[rep, "name"].to_numpy(dtype=object), "")
    legal_rep_id = np.where(is_ent, people.loc[rep, "id_no"].to_numpy(dtype=object), "")
    reg_no = np.where(is_ent, ent["reg_no"].to_numpy(dtype=object)[se], "")
    org = np.where(is_ent, ent["org_code"].to_numpy(dtype=object)[se], "")
    person = np.full(n, -1, dtype=np.int64)
    pr = np.flatnonzero(person_row)
    person[pr] = rng.choice(len(people), size=len(pr))
    subject[pr] = people["name"].to_numpy(dtype=object)[person[pr]]
    out_rows = np.flatnonzero((p["origin"] == "outside").to_numpy())
    o = outside.iloc[rng.integers(0, len(outside), size=len(out_rows))]
    subject[out_rows] = o["name"].to_numpy()
    uscc[out_rows] = o["uscc"].to_numpy()
    category[out_rows] = "法人及非法人组织"
    legal_rep[out_rows] = names.person_names(rng, rng.random(len(out_rows)) < 0.7)
    true_uscc = uscc.copy()
    cats = p["categories"].to_numpy(dtype=object)
    fine = p["fine_yuan"].to_numpy()
    conf = p["confiscation_yuan"].to_numpy()
    content = pd.Series(np.where(pd.Series(cats).str.contains("警告"), "警告", ""), dtype=object)
    content = content + np.where(
        fine > 0,
        np.char.add(np.char.add("罚款人民币", np.array([f"{x:.0f}" for x in fine], dtype=str)), "元"),
        "",
    )
    content = content + np.where(
        conf > 0,
        np.char.add(np.char.add("没收违法所得", np.array([f"{x:g}" for x in conf], dtype=str)), "元"),
        "",
    )
    content = content + np.where(
        p["stop_days"].to_numpy() > 0,
        np.char.add(np.char.add("责令停产停业", p["stop_days"].to_numpy().astype(str)), "日"),
        "",
    )
    lic = p["licence"].to_numpy(dtype=object)
    content = content + np.where(
        lic == "营业执照", "吊销营业执照", np.where(lic == "许可证", "吊销许可证", "")
    )
    content = content.str.replace(r"(?<=[^，])(罚款|没收|责令|吊销)", r"，\1", regex=True).str.lstrip("，")
    lic_no = np.where(
        lic == "营业执照",
        "营业执照（" + np.asarray(true_uscc, dtype=object) + "）",
        np.where(lic == "许可证", "食品经营许可证（JY" + _zf(rng.integers(0, 10**14, size=n), 14) + "）", ""),
    )
    publish = d + rng.integers(1, 7, size=n)
    late_rng = rng_for(seed, 314)  # a stream of its own: the other draws stay as they were
    late = late_rng.random(n) < late_share
    publish = np.where(late, d + late_rng.integers(12, 46, size=n), publish)
    warn = p["warning_only"].to_numpy()
    publicity_end = np.where(warn, d + 91, years_later(d, 3))
    valid_until = np.where(lic != "", LONG_TERM, publicity_end)
    df = pd.DataFrame(
        {
            "subject_name": subject,
            "subject_category": category,
            "uscc": uscc,
            "business_reg_no": reg_no,
            "org_code": org,
            "tax_reg_no": np.where(is_ent, uscc, ""),
            "legal_rep_name": legal_rep,
            "legal_rep_id_type": np.where(legal_rep_id != "", "身份证", ""),
            "legal_rep_id_no": legal_rep_id,
            "person_id_type": np.where(person_row, "身份证", ""),
            "person_id_no": np.where(
                person >= 0, people["id_no"].to_numpy(dtype=object)[np.maximum(person, 0)], ""
            ),
            "decision_no": decision_no,
            "violation_type": kk_label,
            "violation_facts": facts,
            "legal_basis": kk_basis,
            "penalty_category": cats,
            "penalty_content": content.to_numpy(dtype=object),
            "fine_amount": np.where(fine > 0, fine, np.nan),
            "confiscation_amount": np.where(conf > 0, conf, np.nan),
            "license_suspended_revoked": lic_no,
            "decision_date": d,
            "penalty_valid_until": valid_until,
            "publicity_end_date": publicity_end,
            "publish_date": publish,
            "authority_name": a["name"].to_numpy(),
            "authority_uscc": a["uscc"].to_numpy(),
            "source_unit_name": a["name"].to_numpy(),
            "source_unit_uscc": a["uscc"].to_numpy(),
            "status": "正常",
            "revocation_reason": "",
            "local_code": "211300",
            "updated_at": publish,
            "remark": "",
        }
    )
    df["_dept"] = dept
    df["_origin"] = p["origin"].to_numpy()
    df["_warning_only"] = warn
    df["_penalty_id"] = p["penalty_id"].to_numpy()
    p["decision_no"] = decision_no
    p["authority_name"] = a["name"].to_numpy()
    p["authority_uscc"] = a["uscc"].to_numpy()
    p["subject_name"] = subject
    p["uscc"] = true_uscc
    p["publish"] = publish
    p["person"] = person
    return _meta(df, e, true_uscc, publish, person), p


LICENCES = [
    # (sections/divisions/classes, licence, department, validity years, category, number prefix)
    (
        [
            "H62",
            "5211",
            "5212",
            "5213",
            "5219",
            "5221",
            "5222",
            "5223",
            "5224",
            "5226",
            "5229",
            "5121",
            "5124",
            "5127",
            "5129",
            "6291",
            "6220",
            "6210",
            "6299",
        ],
        "食品经营许可证",
        "market",
        5,
        "普通",
        "JY",
    ),
    (["13", "14", "15"], "食品生产许可证", "market", 5, "普通", "SC"),
    (["5151", "5251", "5252"], "药品经营许可证", "market", 5, "普通", "辽AA"),
    (["61", "8040", "8051", "8052", "8053"], "公共场所卫生许可证", "health", 4, "普通", "朝卫公字"),
    (["54"], "道路运输经营许可证", "transport", 4, "特许", "辽交运管许可朝字"),
    (["E"], "建筑业企业资质证书", "housing", 5, "认可", "D2211"),
    (["B"], "采矿许可证", "nature", 5, "特许", "C2113"),
    (["8425"], "医疗机构执业许可证", "health", 5, "普通", "PDY"),
    (["9011", "9013"], "娱乐经营许可证", "culture", 5, "普通", "朝文娱"),
    (["7291"], "旅行社业务经营许可证", "culture", 5, "普通", "L-LN-"),
    (["7010"], "房地产开发企业资质证书", "housing", 3, "认可", "朝房开"),
    (["8391", "8393", "8394"], "民办学校办学许可证", "education", 5, "普通", "教民"),
]


def _licences(city: City, hist: History, auth: pd.DataFrame, seed: int) -> pd.DataFrame:
    rng = rng_for(seed, 307)
    ent = city.entities
    tl = city.timeline
    sec = ent["section"].to_numpy(dtype=object)
    div = ent["division"].to_numpy(dtype=object)
    cl = ent["class"].to_numpy(dtype=object)
    rows = []
    for keys, name, dept, years, cat, prefix in LICENCES:
        m = np.zeros(len(ent), dtype=bool)
        for k in keys:
            if k.startswith("H"):
                m |= (sec == "H") & (div == k[1:])
            elif len(k) == 1:
                m |= sec == k
            elif len(k) == 2:
                m |= div == k
            else:
                m |= cl == k
        e = np.flatnonzero(m & (rng.random(len(ent)) < 0.85))
        first = ent["established"].to_numpy()[e] + rng.integers(10, 60, size=len(e))
        # renewals every ``years`` years; the export holds decisions since 2016
        n_dec = np.maximum(1, (tl.end - first) // (365 * years) + 1)
        ee = np.repeat(e, n_dec)
        k = np.arange(len(ee)) - np.repeat(np.cumsum(n_dec) - n_dec, n_dec)
        dd = years_later(np.repeat(first, n_dec), k * years) - np.where(
            k > 0, rng.integers(5, 40, size=len(ee)), 0
        )
        ok = (dd >= day("2016-01-01")) & (dd <= tl.future_end) & (dd < ent["exit_day"].to_numpy()[ee])
        rows.append(
            pd.DataFrame(
                {
                    "entity": ee[ok],
                    "day": dd[ok],
                    "licence": name,
                    "dept": dept,
                    "years": years,
                    "category": cat,
                    "prefix": prefix,
                }
            )
        )
    lic = (
        pd.concat(rows, ignore_index=True)
        .sort_values(["day", "entity"], kind="stable")
        .reset_index(drop=True)
    )
    e = lic["entity"].to_numpy()
    d = lic["day"].to_numpy()
    n = len(lic)
    a = _authority_for(
        auth, lic["dept"].to_numpy(dtype=object), ent["district_code"].to_numpy(dtype=object)[e]
    )
    y, _, _ = ymd(d)
    num = (
        lic["prefix"].to_numpy(dtype=object)
        + ent["district_code"].to_numpy(dtype=object)[e]
        + _zf(rng.integers(0, 10**8, size=n), 8)
    )
    seq = pd.DataFrame({"a": a["name"].to_numpy(), "y": y}).groupby(["a", "y"]).cumcount().to_numpy() + 1
    doc = a["abbr"].to_numpy(dtype=object) + "许〔" + y.astype(str) + "〕" + seq.astype(str) + "号"
    doc = np.where(rng.random(n) < 0.4, num, doc)
    valid_to = years_later(d, lic["years"].to_numpy())
    valid_to = np.where(
        lic["category"].to_numpy() == "认可", np.where(rng.random(n) < 0.3, LONG_TERM, valid_to), valid_to
    )
    nm = hist.names_at(e, d)
    rep = hist.rep_at(e, d)
    people = city.people
    df = pd.DataFrame(
        {
            "subject_name": nm["full"].to_numpy(),
            "subject_category": ent["cls"].map(CLASS_CATEGORY).to_numpy(dtype=object)[e],
            "uscc": ent["uscc"].to_numpy()[e],
            "business_reg_no": ent["reg_no"].to_numpy()[e],
            "org_code": ent["org_code"].to_numpy()[e],
            "legal_rep_name": people.loc[rep, "name"].to_numpy(),
            "legal_rep_id_type": "身份证",
            "legal_rep_id_no": people.loc[rep, "id_no"].to_numpy(),
            "decision_doc_title": lic["licence"].to_numpy(dtype=object) + "核发决定书",
            "decision_no": doc,
            "license_category": lic["category"].to_numpy(),
            "license_cert_name": lic["licence"].to_numpy(),
            "license_no": num,
            "license_content": "准予核发" + lic["licence"].to_numpy(dtype=object),
            "decision_date": d,
            "valid_from": d,
            "valid_to": valid_to,
            "authority_name": a["name"].to_numpy(),
            "authority_uscc": a["uscc"].to_numpy(),
            "status": np.where(valid_to >= city.timeline.end, "有效", "无效"),
            "source_unit_name": a["name"].to_numpy(),
            "source_unit_uscc": a["uscc"].to_numpy(),
            "local_code": "211300",
            "remark": "",
        }
    )
    df["_dept"] = lic["dept"].to_numpy()
    return _meta(df, e, ent["uscc"].to_numpy()[e], d + rng.integers(1, 7, size=n))


_BEHAVIOURS = [
    "有履行能力而拒不履行生效法律文书确定义务",
    "违反财产报告制度",
    "违反限制消费令",
    "以虚假诉讼、虚假仲裁或者以隐匿、转移财产等方法规避执行",
    "无正当理由拒不履行执行和解协议",
    "以伪造证据、暴力、威胁等方法妨碍、抗拒执行",
]


def _dishonest_records(
    city: City, story: Story, hist: History, auth: pd.DataFrame, outside: pd.DataFrame, seed: int
) -> pd.DataFrame:
    rng = rng_for(seed, 308)
    ent = city.entities
    people = city.people
    tl = city.timeline
    c = story.dishonest
    n = len(c)
    e = c["entity"].to_numpy()
    person = c["person"].to_numpy()
    is_ent = e >= 0
    is_person = person >= 0
    is_out = person == -2
    se = np.maximum(e, 0)
    sp = np.maximum(person, 0)
    pub = c["publish"].to_numpy()
    filing = c["filing"].to_numpy()
    district = np.where(is_ent, ent["district_code"].to_numpy(dtype=object)[se], "211302")
    district = np.where(district == "211371", "211302", district)
    district = np.where(is_person, people["id_division"].to_numpy(dtype=object)[sp], district)
    district = np.where(
        np.isin(district, ["211302", "211303", "211321", "211322", "211324", "211381", "211382"]),
        district,
        "211302",
    )
    court = _authority_for(auth, np.full(n, "court"), district)
    yf, _, _ = ymd(filing)
    ystart = yf - rng.integers(0, 2, size=n)
    case_seq = (
        pd.DataFrame({"c": court["name"].to_numpy(), "y": yf}).groupby(["c", "y"]).cumcount().to_numpy()
        + 1
        + rng.integers(0, 40, size=n)
    )
    abbr = court["abbr"].to_numpy(dtype=object)
    case_no = "（" + yf.astype(str) + "）" + abbr + "执" + case_seq.astype(str) + "号"
    basis = (
        "（" + ystart.astype(str) + "）" + abbr + "民初" + rng.integers(100, 5000, size=n).astype(str) + "号"
    )
    nm = hist.names_at(se, pub)
    rep = hist.rep_at(se, pub)
    o = outside.iloc[rng.integers(0, len(outside), size=n)]
    name = np.where(is_ent, nm["full"].to_numpy(dtype=object), people["name"].to_numpy(dtype=object)[sp])
    name = np.where(is_out, o["name"].to_numpy(dtype=object), name)
    # organisations: organisation code (older cases) or USCC; people: masked identity number
    org = ent["org_code"].to_numpy(dtype=object)[se]
    org_fmt = (pd.Series(org, dtype=object).str[:8] + "-" + pd.Series(org, dtype=object).str[8:]).to_numpy(
        dtype=object
    )
    card = np.where(rng.random(n) < 0.6, ent["uscc"].to_numpy(dtype=object)[se], org_fmt)
    card = np.where(is_person, ids.mask_id(people["id_no"].to_numpy(dtype=object)[sp]), card)
    card = np.where(is_out, o["uscc"].to_numpy(dtype=object), card)
    true_uscc = np.where(
        is_ent, ent["uscc"].to_numpy(dtype=object)[se], np.where(is_out, o["uscc"].to_numpy(dtype=object), "")
    )
    legal_rep = np.where(is_ent, people["name"].to_numpy(dtype=object)[rep], "")
    legal_rep = np.where(is_out, names.person_names(rng, rng.random(n) < 0.7), legal_rep)
    org_type = ~is_person
    age = ((pub - people["birth"].to_numpy()[sp]) // 365).astype(np.int64)
    amount = np.round(np.exp(np.log(80000) + 1.2 * rng.standard_normal(n)), -2)
    debt = np.array([f"{x:.0f}" for x in amount], dtype=object)
    obligation = "被执行人于判决生效之日起十日内给付申请执行人货款人民币" + debt + "元及利息"
    partly = rng.random(n) < 0.25
    k = 1 + (rng.random(n) < 0.3)
    b1 = np.asarray(_BEHAVIOURS, dtype=object)[
        rng.choice(len(_BEHAVIOURS), size=n, p=[0.6, 0.15, 0.15, 0.05, 0.03, 0.02])
    ]
    b2 = np.asarray(_BEHAVIOURS, dtype=object)[rng.integers(1, 3, size=n)]
    behaviour = np.where((k > 1) & (b1 != b2), b1 + LIST_SEP + b2, b1)
    removed = c["removed"].to_numpy()
    df = pd.DataFrame(
        {
            "debtor_name": name,
            "debtor_id_no": card,
            "legal_rep_name": legal_rep,
            "debtor_type": np.where(org_type, "法人或其他组织", "自然人"),
            "gender": np.where(is_person, np.where(people["male"].to_numpy()[sp], "男", "女"), ""),
            "age": np.where(is_person, age, -1),
            "court_name": court["name"].to_numpy(),
            "province": "辽宁",
            "basis_doc_no": basis,
            "filing_date": filing,
            "case_no": case_no,
            "basis_issuer": np.where(
                rng.random(n) < 0.85, court["name"].to_numpy(dtype=object), "朝阳仲裁委员会"
            ),
            "obligation": obligation,
            "performance_status": np.where(partly, "部分未履行", "全部未履行"),
            "dishonest_behavior": behaviour,
            "publish_date": pub,
            "performed_part": np.where(
                partly, np.char.add(np.array([f"{x * 0.3:.0f}" for x in amount], dtype=str), "元"), "暂无"
            ),
            "unperformed_part": np.where(
                partly, np.char.add(np.array([f"{x * 0.7:.0f}" for x in amount], dtype=str), "元"), "暂无"
            ),
            "removed_date": np.where(removed <= tl.end, removed, NEVER),
        }
    )
    return _meta(df, e, true_uscc, pub, np.where(is_person, person, -1))


def _abnormal_records(city: City, story: Story, hist: History, auth: pd.DataFrame) -> pd.DataFrame:
    ent = city.entities
    tl = city.timeline
    a = story.abnormal
    e = a["entity"].to_numpy()
    d = a["listed"].to_numpy()
    cls = ent["cls"].to_numpy(dtype=object)[e]
    reason = np.array([ABN_REASONS[r][c] for r, c in zip(a["reason"], cls, strict=True)], dtype=object)
    org = _authority_for(auth, np.full(len(a), "market"), ent["district_code"].to_numpy(dtype=object)[e])
    removed = a["removed"].to_numpy()
    known = removed <= tl.end
    y, _, _ = ymd(d)
    seq = pd.DataFrame({"a": org["name"].to_numpy(), "y": y}).groupby(["a", "y"]).cumcount().to_numpy() + 1
    df = pd.DataFrame(
        {
            "uscc": ent["uscc"].to_numpy()[e],
            "entity_name": hist.names_at(e, d)["full"].to_numpy(),
            "listing_reason": reason,
            "listed_date": d,
            "listing_authority": org["name"].to_numpy(),
            "removal_reason": np.where(
                known, a["removal"].map(ABN_REMOVALS).fillna("").to_numpy(dtype=object), ""
            ),
            "removed_date": np.where(known, removed, NEVER),
            "removal_authority": np.where(known, org["name"].to_numpy(dtype=object), ""),
            "listing_doc_no": org["abbr"].to_numpy(dtype=object)
            + "异入〔"
            + y.astype(str)
            + "〕第"
            + _zf(seq, 4)
            + "号",
        }
    )
    return _meta(df, e, ent["uscc"].to_numpy()[e], d)


def _serious_records(city: City, story: Story, hist: History, auth: pd.DataFrame) -> pd.DataFrame:
    ent = city.entities
    tl = city.timeline
    s = story.serious
    e = s["entity"].to_numpy()
    d = s["listed"].to_numpy()
    org = _authority_for(auth, np.full(len(s), "market"), np.full(len(s), "211300"))
    removed = s["removed"].to_numpy()
    known = removed <= tl.end
    removal = s["removal"].map(
        {"repair": "信用修复，提前移出严重违法失信名单", "expired": "列入严重违法失信名单届满三年，移出"}
    )
    df = pd.DataFrame(
        {
            "uscc": ent["uscc"].to_numpy()[e],
            "entity_name": hist.names_at(e, d)["full"].to_numpy(),
            "list_category": np.where(d >= day("2021-09-01"), "严重违法失信名单", "黑名单"),
            "serious_listing_reason": s["reason"].map(SERIOUS_REASONS).to_numpy(),
            "listed_date": d,
            "listing_authority": org["name"].to_numpy(),
            "removal_reason": np.where(known, removal.fillna("").to_numpy(dtype=object), ""),
            "removed_date": np.where(known, removed, NEVER),
            "removal_authority": np.where(known, org["name"].to_numpy(dtype=object), ""),
        }
    )
    return _meta(df, e, ent["uscc"].to_numpy()[e], d)


_PROBLEMS = {
    "质量": "消费者反映在该经营者处购买的{p}存在质量问题，要求退货退款。",
    "价格": "消费者反映该经营者销售{p}未明码标价，结账价格高于标示价格。",
    "食品安全": "消费者反映在该经营者处购买的{p}已过保质期，要求赔偿。",
    "预付卡": "消费者反映在该经营者处办理的预付卡无法正常使用，经营者拒绝退还余额。",
    "合同": "消费者反映该经营者未按约定提供{p}，要求解除合同并退款。",
    "虚假宣传": "反映该经营者在宣传中使用虚假、夸大用语，误导消费者。",
    "售后服务": "消费者反映购买的{p}出现故障，经营者拒绝履行三包义务。",
    "计量": "消费者反映该经营者销售{p}缺斤短两。",
    "服务质量": "消费者反映该经营者提供的{p}存在问题，要求退款。",
}
_SECTION_PROBLEMS = {
    "food": ["食品安全", "价格", "计量", "质量", "食品安全"],
    "F": ["质量", "价格", "售后服务", "虚假宣传"],
    "H": ["食品安全", "价格", "服务质量"],
    "O": ["预付卡", "合同", "服务质量", "价格"],
    "K": ["合同", "服务质量"],
    "P": ["预付卡", "合同"],
    "Q": ["虚假宣传", "服务质量"],
    "G": ["合同"],
    "E": ["合同", "质量"],
    "R": ["预付卡", "价格"],
}
SECTION_NAMES = industry_sections()
_VENDORS = ["无名烧烤摊", "流动水果摊", "早餐摊点", "无照理发店", "流动商贩"]


def _complaint_records(
    city: City,
    story: Story,
    hist: History,
    auth: pd.DataFrame,
    outside: pd.DataFrame,
    penalties: pd.DataFrame,
    seed: int,
    variant_rate: float,
) -> pd.DataFrame:
    rng = rng_for(seed, 309)
    ent = city.entities
    tl = city.timeline
    c = story.complaints
    n = len(c)
    e = c["entity"].to_numpy()
    d = c["day"].to_numpy()
    is_ent = e >= 0
    se = np.maximum(e, 0)
    nm = hist.names_at(se, d)
    parts = nm.assign(cls=ent["cls"].to_numpy(dtype=object)[se])
    resp, variant = names.respondent_variants(rng, parts, variant_rate)
    resp = resp.to_numpy(dtype=object)
    variant = variant.to_numpy(dtype=object)
    addr = hist.address_at(se, d)
    out_idx = c["outside"].to_numpy()
    is_out = (~is_ent) & (out_idx >= 0)
    is_vendor = (~is_ent) & (out_idx == -2)
    o = outside.iloc[np.where(is_out, out_idx % len(outside), 0)]
    resp[is_out] = o["name"].to_numpy(dtype=object)[is_out]
    dist = city.districts
    vend_d = dist["code"].to_numpy(dtype=object)[rng.integers(0, 7, size=n)]
    vend_addr = make_addresses(rng, vend_d, np.full(n, "shop", dtype=object), "211371")
    street = (
        pd.Series(vend_addr)
        .str.extract(r"(?:区|县|市)([^区县市]+?(?:路|街|大街))")[0]
        .fillna("")
        .to_numpy(dtype=object)
    )
    resp[is_vendor] = (street + _pick(rng, _VENDORS, n))[is_vendor]
    variant[~is_ent] = ""
    # the address is given only sometimes (more often when the sign is all the complainant knows)
    no_trade = variant == "shop_sign"
    give = rng.random(n) < np.where(no_trade, 0.7, 0.4)
    addr = np.where(is_vendor, vend_addr, np.where(is_out | ~give, "", addr))
    true_uscc = np.where(
        is_ent, ent["uscc"].to_numpy(dtype=object)[se], np.where(is_out, o["uscc"].to_numpy(dtype=object), "")
    )
    district = np.where(is_ent, ent["district_code"].to_numpy(dtype=object)[se], vend_d)
    district = np.where(district == "211371", "211302", district)
    unit = _authority_for(auth, np.full(n, "market"), district)["name"].to_numpy(dtype=object)
    # 登记编号: district + date + sequence of the day
    y, mo, dd = ymd(d)
    ymd_s = y.astype(str) + _zf(mo, 2).astype(str) + _zf(dd, 2).astype(str)
    seq = pd.DataFrame({"a": district, "d": d}).groupby(["a", "d"]).cumcount().to_numpy() + 1
    reg_no = district.astype(str) + ymd_s + _zf(seq, 6).astype(str)
    sec = np.where(is_ent, ent["section"].to_numpy(dtype=object)[se], "F")
    food = np.where(is_ent, check_category(ent)[se] == "food", False)
    key = np.where(food, "food", sec)
    problem = _choose_by_key(rng, key, _SECTION_PROBLEMS, ["质量", "合同"])
    product = _choose_by_key(rng, key, ITEMS, ITEMS["*"])
    template = pd.Series(problem).map(_PROBLEMS).str.split("{p}", regex=False)
    desc = (
        template.str[0]
        + np.where(template.str.len() > 1, product, "")
        + template.str[-1].where(template.str.len() > 1, "")
    ).to_numpy(dtype=object)
    report = c["appeal"].to_numpy() == "举报"
    desc = np.where(
        report, "举报该经营者" + np.char.add(product.astype(str), "经营中存在违法行为，请依法查处。"), desc
    )
    accepted = d + rng.integers(0, 8, size=n)
    closed = accepted + rng.integers(5, 46, size=n)
    u = rng.random(n)
    outcome = np.where(
        u < 0.58,
        "调解成功",
        np.where(u < 0.8, "调解不成功（终止调解）", np.where(u < 0.93, "不予受理", "撤回")),
    )
    filed = c["case_filed"].to_numpy()
    outcome = np.where(report, np.where(filed, "已立案", "不予立案"), outcome)
    open_ = closed > tl.end
    outcome = np.where(open_, "", outcome)
    amount = np.round(np.exp(np.log(300) + 1.1 * rng.standard_normal(n)), 0)
    recovered = np.where(outcome == "调解成功", np.round(amount * rng.uniform(0.3, 1.0, size=n), 0), np.nan)
    online = is_out | (rng.random(n) < 0.08)
    # the fine of the penalty a filed report led to
    pen = story.violations[(story.violations["complaint_id"] >= 0) & (story.violations["penalty_id"] >= 0)]
    fines = penalties.set_index("penalty_id")["fine_yuan"]
    pen_fine = pd.Series(fines.loc[pen["penalty_id"]].to_numpy(), index=pen["complaint_id"].to_numpy())
    pen_fine = pen_fine[~pen_fine.index.duplicated()]
    penalty_amount = pd.Series(c["complaint_id"].to_numpy()).map(pen_fine).to_numpy(dtype=float)
    df = pd.DataFrame(
        {
            "registration_no": reg_no,
            "appeal_type": c["appeal"].to_numpy(),
            "registered_at": d,
            "accepted_at": accepted,
            "closed_at": np.where(open_, NEVER, closed),
            "registering_unit": np.where(rng.random(n) < 0.3, "朝阳市12345政务服务便民热线", unit),
            "handling_unit": unit,
            "source_channel": _pick(
                rng, ["电话", "全国12315平台", "全国12315平台", "微信", "来信", "来访", "12345转办"], n
            ),
            "respondent_name": resp,
            "respondent_uscc": true_uscc,
            "respondent_address": addr,
            "respondent_entity_type": np.where(
                is_ent, ent["cls"].map(ENTITY_TYPE).to_numpy(dtype=object)[se], ""
            ),
            "industry_class": pd.Series(sec).map(SECTION_NAMES).fillna("").to_numpy(dtype=object),
            "product_name": product,
            "product_service_class": np.where(np.isin(sec, ["F", "C"]), "商品", "服务"),
            "problem_class": problem,
            "description": desc,
            "amount_involved": amount,
            "online_purchase": online,
            "platform": np.where(
                online, _pick(rng, ["淘宝", "京东", "拼多多", "抖音", "快手", "美团"], n), ""
            ),
            "dispute_date": d - rng.integers(0, 30, size=n),
            "professional_complainant": rng.random(n) < 0.04,
            "outcome": outcome,
            "recovered_loss": recovered,
            "case_filed": np.where(report, filed, None),
            "penalty_amount": penalty_amount,
        }
    )
    df["_variant"] = variant
    return _meta(df, e, true_uscc, d)


def _spot_check_records(city: City, story: Story, hist: History, auth: pd.DataFrame) -> pd.DataFrame:
    from radar.simulate.events import CHECK_TASKS

    ent = city.entities
    ch = story.checks
    e = ch["entity"].to_numpy()
    d = ch["day"].to_numpy()
    n = len(ch)
    district = ent["district_code"].to_numpy(dtype=object)[e]
    org = _authority_for(auth, np.full(n, "market"), district)
    cat = ch["category"].to_numpy(dtype=object)
    random_ = ch["check_type"].to_numpy() == "不定向"
    year = ch["year"].to_numpy()
    half = ch["half"].to_numpy()
    cat_code = (
        pd.Series(cat)
        .map({"food": "01", "general": "02", "individual": "03", "coop": "04"})
        .to_numpy(dtype=object)
    )
    plan_name = np.where(
        random_,
        "朝阳市市场监督管理局"
        + year.astype(str)
        + np.where(half == 1, "年上半年", "年下半年")
        + "双随机抽查计划",
        "朝阳市市场监督管理局" + year.astype(str) + "年投诉举报定向检查计划",
    )
    task_id = np.where(
        random_,
        district.astype(str) + year.astype(str) + half.astype(str) + cat_code.astype(str),
        "DX" + district.astype(str) + year.astype(str) + _zf(half, 2).astype(str),
    )
    tname = pd.Series(cat).map({k: v[0] for k, v in CHECK_TASKS.items()}).to_numpy(dtype=object)
    item = pd.Series(cat).map({k: v[1] for k, v in CHECK_TASKS.items()}).to_numpy(dtype=object)
    dname = city.districts.set_index("code").loc[district, "name"].to_numpy(dtype=object)
    task_name = np.where(
        random_,
        year.astype(str) + "年" + dname + tname,
        year.astype(str) + "年" + half.astype(str) + "月" + dname + "投诉举报定向检查",
    )
    df = pd.DataFrame(
        {
            "uscc": ent["uscc"].to_numpy()[e],
            "entity_name": hist.names_at(e, d)["full"].to_numpy(),
            "plan_id": ch["plan_id"].to_numpy(),
            "plan_name": plan_name,
            "task_id": task_id,
            "task_name": task_name,
            "check_type": ch["check_type"].to_numpy(),
            "inspecting_authority": org["name"].to_numpy(),
            "completed_date": d,
            "check_item": np.where(random_, item, "投诉举报核查"),
            "check_result": ch["result"].to_numpy(),
            "inclusion_probability": np.round(ch["inclusion_probability"].to_numpy(), 4),
        }
    )
    df = df.drop_duplicates(["task_id", "uscc"])
    return _meta(df, e[df.index], df["uscc"].to_numpy(), d[df.index] + 3)


def _repairs(
    city: City,
    story: Story,
    hist: History,
    auth: pd.DataFrame,
    penalties: pd.DataFrame,
    rec: dict[str, pd.DataFrame],
    seed: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Credit repairs of penalties (after 6 months), abnormal listings and serious listings."""
    rng = rng_for(seed, 310)
    ent = city.entities
    p = penalties[
        (penalties["entity"] >= 0)
        & ~penalties["warning_only"]
        & (penalties["origin"] != "wrongful")
        & (penalties["kind"] != "dormant")
    ]
    risk = ent["latent_risk"].to_numpy()[p["entity"].to_numpy()]
    take = rng.random(len(p)) < 0.35 * (1 - risk)
    p = p[take]
    apply_p = p["day"].to_numpy() + 183 + rng.exponential(150, size=len(p)).astype(np.int64)
    a = pd.DataFrame(
        {
            "entity": p["entity"].to_numpy(),
            "apply": apply_p,
            "type": "行政处罚信息",
            "ref": p["decision_no"].to_numpy(),
            "orig": p["authority_name"].to_numpy(),
            "dept_auth": p["authority_name"].to_numpy(),
        }
    )
    ab = story.abnormal
    ab = ab[ab["removal"].isin(["report_filed", "reachable", "moved"])]
    ab_rec = rec["abnormal_list"].set_index(["_entity", "listed_date"])["listing_doc_no"]
    ab = ab[rng.random(len(ab)) < 0.5]
    refs = ab_rec.reindex(pd.MultiIndex.from_arrays([ab["entity"], ab["listed"]])).to_numpy(dtype=object)
    auth_name = _authority_for(
        auth, np.full(len(ab), "market"), ent["district_code"].to_numpy(dtype=object)[ab["entity"].to_numpy()]
    )["name"].to_numpy()
    b = pd.DataFrame(
        {
            "entity": ab["entity"].to_numpy(),
            "apply": ab["removed"].to_numpy() - rng.integers(3, 20, size=len(ab)),
            "type": "经营异常名录",
            "ref": refs,
            "orig": auth_name,
            "dept_auth": auth_name,
        }
    )
    sv = story.serious[story.serious["removal"] == "repair"]
    city_market = _authority_for(auth, np.array(["market"]), np.array(["211300"]))["name"].iloc[0]
    c = pd.DataFrame(
        {
            "entity": sv["entity"].to_numpy(),
            "apply": sv["removed"].to_numpy() - rng.integers(10, 40, size=len(sv)),
            "type": "严重失信主体名单",
            "ref": "",
            "orig": city_market,
            "dept_auth": city_market,
        }
    )
    r = pd.concat([a, b, c], ignore_index=True)
    r = r.sort_values(["apply", "entity"], kind="stable").reset_index(drop=True)
    n = len(r)
    e = r["entity"].to_numpy()
    granted = (r["type"].to_numpy() != "行政处罚信息") | (rng.random(n) < 0.9)
    decided = r["apply"].to_numpy() + rng.integers(5, 30, size=n)
    y, _, _ = ymd(decided)
    seq = pd.DataFrame({"y": y}).groupby("y").cumcount().to_numpy() + 1
    repair_id = "XF" + y.astype(str) + _zf(seq, 6).astype(str)
    method = (
        pd.Series(r["type"])
        .map({"行政处罚信息": "停止公示", "经营异常名录": "移出名单", "严重失信主体名单": "移出名单"})
        .to_numpy(dtype=object)
    )
    df = pd.DataFrame(
        {
            "repair_id": repair_id,
            "subject_name": hist.names_at(e, decided)["full"].to_numpy(),
            "uscc": ent["uscc"].to_numpy()[e],
            "repair_info_type": r["type"].to_numpy(),
            "original_record_ref": r["ref"].to_numpy(),
            "original_authority": r["orig"].to_numpy(),
            "apply_date": r["apply"].to_numpy(),
            "decision": np.where(granted, "准予修复", "不予修复"),
            "decision_date": decided,
            "repair_method": np.where(granted, method, ""),
            "repair_authority": r["dept_auth"].to_numpy(),
            "commitment_code": "",
        }
    )
    commit = pd.DataFrame({"entity": e, "day": r["apply"].to_numpy(), "row": np.arange(n)})
    return _meta(df, e, ent["uscc"].to_numpy()[e], decided), commit


def _objections(
    city: City, hist: History, auth: pd.DataFrame, penalties: pd.DataFrame, seed: int
) -> tuple[pd.DataFrame, dict[int, int]]:
    """Objections to penalties: wrongful ones are mostly revoked, real ones mostly upheld."""
    rng = rng_for(seed, 311)
    p = penalties[penalties["entity"] >= 0]
    wrongful = (p["origin"] == "wrongful").to_numpy()
    take = np.where(wrongful, rng.random(len(p)) < 0.9, rng.random(len(p)) < 0.04)
    p = p[take]
    wrongful = wrongful[take]
    n = len(p)
    u = rng.random(n)
    outcome = np.where(wrongful, np.where(u < 0.8, "撤销", "更正"), np.where(u < 0.7, "维持", "更正"))
    applied = p["publish"].to_numpy() + rng.integers(10, 120, size=n)
    decided = applied + rng.integers(10, 45, size=n)
    e = p["entity"].to_numpy()
    y, _, _ = ymd(applied)
    seq = (
        pd.DataFrame({"y": y, "d": applied}).sort_values("d").groupby("y").cumcount().sort_index().to_numpy()
        + 1
    )
    df = pd.DataFrame(
        {
            "objection_id": "YY" + y.astype(str) + _zf(seq, 5).astype(str),
            "applicant_name": p["subject_name"].to_numpy(),
            "uscc": p["uscc"].to_numpy(),
            "record_type": "行政处罚信息",
            "record_ref": p["decision_no"].to_numpy(),
            "reason": np.where(
                wrongful, "申请人认为该处罚信息与本单位无关，主体信息错误", "申请人对处罚信息的公示内容有异议"
            ),
            "applied_date": applied,
            "outcome": outcome,
            "decided_date": decided,
            "deciding_authority": p["authority_name"].to_numpy(),
        }
    )
    revoked = {
        int(pid): int(dd) for pid, dd, o in zip(p["penalty_id"], decided, outcome, strict=True) if o == "撤销"
    }
    return _meta(df, e, p["uscc"].to_numpy(), decided), revoked


def _commitments(
    city: City,
    story: Story,
    hist: History,
    auth: pd.DataFrame,
    licences: pd.DataFrame,
    repair_commit: pd.DataFrame,
    seed: int,
) -> pd.DataFrame:
    """Credit commitments: with licence applications, with credit repairs, and voluntary ones."""
    rng = rng_for(seed, 312)
    ent = city.entities
    tl = city.timeline
    lic = licences[(licences["decision_date"] >= day("2019-01-01")) & (rng.random(len(licences)) < 0.35)]
    a = pd.DataFrame(
        {
            "entity": lic["_entity"].to_numpy(),
            "day": lic["decision_date"].to_numpy() - rng.integers(0, 6, size=len(lic)),
            "type": np.where(rng.random(len(lic)) < 0.5, "审批替代型", "证明事项型"),
            "matter": "申请办理" + lic["license_cert_name"].to_numpy(dtype=object),
            "unit": lic["authority_name"].to_numpy(),
            "unit_uscc": lic["authority_uscc"].to_numpy(),
        }
    )
    credit = auth[auth["dept"] == "credit"].iloc[0]
    b = pd.DataFrame(
        {
            "entity": repair_commit["entity"].to_numpy(),
            "day": repair_commit["day"].to_numpy(),
            "type": "信用修复型",
            "matter": "申请信用修复",
            "unit": credit["name"],
            "unit_uscc": credit["uscc"],
        }
    )
    k = round(len(ent) * 0.02)
    ve = rng.integers(0, len(ent), size=k)
    vd = np.maximum(ent["established"].to_numpy()[ve], tl.start) + rng.integers(0, 1200, size=k)
    c = pd.DataFrame(
        {
            "entity": ve,
            "day": vd,
            "type": np.where(rng.random(k) < 0.6, "主动型", "行业自律型"),
            "matter": "主动公开信用承诺",
            "unit": credit["name"],
            "unit_uscc": credit["uscc"],
        }
    )
    cm = pd.concat([a, b, c], ignore_index=True)
    cm = cm[cm["day"] < ent["exit_day"].to_numpy()[cm["entity"].to_numpy()]]
    cm = cm.sort_values(["day", "entity"], kind="stable").reset_index(drop=True)
    n = len(cm)
    e = cm["entity"].to_numpy()
    d = cm["day"].to_numpy()
    valid = d + rng.choice([365, 730, 1095], size=n)
    # a commitment is breached when the entity commits a violation that is detected while it is valid
    v = story.violations[story.violations["detected"]]
    m = pd.DataFrame({"i": np.arange(n), "entity": e, "d": d, "valid": valid}).merge(
        v[["entity", "detected_day"]], on="entity"
    )
    m = m[(m["detected_day"] >= m["d"]) & (m["detected_day"] <= m["valid"])]
    breach_day = m.groupby("i")["detected_day"].min()
    breached = np.zeros(n, dtype=bool)
    breached[breach_day.index.to_numpy()] = True
    bd = np.full(n, NEVER)
    bd[breach_day.index.to_numpy()] = breach_day.to_numpy() + 30
    determined = np.where(breached, bd, valid)
    known = determined <= tl.end
    partly = rng.random(n) < 0.5
    status = np.where(breached, np.where(partly, "部分履行", "全部未履行"), "全部履行")
    status = np.where(known, status, "")
    district = ent["district_code"].to_numpy(dtype=object)[e]
    district = np.where(district == "211371", "211300", district)
    y, mo, dd = ymd(d)
    seq = pd.DataFrame({"a": district, "d": d}).groupby(["a", "d"]).cumcount().to_numpy() + 1
    code = (
        district.astype(str)
        + y.astype(str)
        + _zf(mo, 2).astype(str)
        + _zf(dd, 2).astype(str)
        + _zf(seq, 6).astype(str)
    )
    df = pd.DataFrame(
        {
            "commitment_code": code,
            "subject_name": hist.names_at(e, d)["full"].to_numpy(),
            "subject_category": ent["cls"].map(CLASS_CATEGORY).to_numpy(dtype=object)[e],
            "subject_id": ent["uscc"].to_numpy()[e],
            "commitment_type": cm["type"].to_numpy(),
            "matter": cm["matter"].to_numpy(),
            "content": "本单位承诺所提交的材料真实有效，严格遵守相关法律法规，自觉接受监督。",
            "breach_liability": "如违反承诺，自愿接受相关部门依法依规作出的处理，并承担相应的法律责任。",
            "commitment_date": d,
            "valid_until": valid,
            "fulfillment_status": status,
            "unfulfilled_content": np.where(known & breached, "未按承诺依法依规经营", ""),
            "breach_action": np.where(
                known & breached,
                np.where(
                    cm["type"].to_numpy() == "信用修复型", "按最长公示期公示", "依法予以处理并记入信用记录"
                ),
                "",
            ),
            "fulfillment_determined_date": np.where(known, determined, NEVER),
            "accepting_unit": cm["unit"].to_numpy(),
            "accepting_unit_uscc": cm["unit_uscc"].to_numpy(),
            "publication_type": np.where(rng.random(n) < 0.8, "可向社会公开", "特定范围内公开"),
        }
    )
    df["_breached"] = breached
    return _meta(df, e, ent["uscc"].to_numpy()[e], d)


def _third_party_records(city: City, story: Story, hist: History) -> pd.DataFrame:
    ent = city.entities
    t = story.third_party
    e = t["entity"].to_numpy()
    d = t["day"].to_numpy()
    sig = t["signal"].to_numpy()
    df = pd.DataFrame(
        {
            "entity_key": ent["uscc"].to_numpy()[e],
            "entity_name": hist.names_at(e, d)["full"].to_numpy(),
            "signal_date": d,
            "signal_name": np.array([SIGNALS[s][0] for s in sig], dtype=object),
            "signal_value": t["value"].to_numpy(),
            "provider": np.array([SIGNALS[s][1] for s in sig], dtype=object),
        }
    )
    return _meta(df, e, ent["uscc"].to_numpy()[e], d + 10)
