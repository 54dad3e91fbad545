"""The city's market entities, the people behind them, and each entity's latent risk and life course.

One row per entity in ``City.entities`` (index = entity number 0..n-1), one row per person in
``City.people``. Dates are day numbers (see ``timeline``); ``NEVER`` means "does not happen".

The life course is drawn here because the risk story and the phoenix companies depend on it:

* dormancy (the entity stops operating: no annual report, unreachable) with a hazard rising with risk;
* after dormancy: revival, deregistration (注销), revocation (吊销) or a zombie that stays listed;
* the annual-report abnormal listing (经营异常名录) that dormancy causes, its removal, and the move to the
  serious-violation list after three years listed;
* deregistration of active entities (higher churn for individual businesses).

Rings (common control) and phoenix companies (a closed or blacklisted entity's people, address or phone
open a new one) are planted here too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from radar.simulate import ids, names
from radar.simulate.industries import draw_industries, pick_word
from radar.simulate.places import districts, make_addresses
from radar.simulate.timeline import NEVER, Timeline, as_datetime64, day, ymd

CLASSES = ("enterprise", "individual", "cooperative")
USCC_PREFIX = {"enterprise": "91", "individual": "92", "cooperative": "93"}
NICE_CAPITAL = np.array(
    [
        0.5,
        1,
        2,
        3,
        5,
        8,
        10,
        20,
        30,
        50,
        80,
        100,
        150,
        200,
        300,
        500,
        800,
        1000,
        2000,
        3000,
        5000,
        8000,
        10000,
        20000,
    ]
)
# risk shifts (log-odds) by industry section and entity class
SECTION_RISK = {
    "F": 0.2,
    "H": 0.35,
    "O": 0.2,
    "E": 0.3,
    "L": 0.3,
    "J": 0.5,
    "K": 0.2,
    "G": 0.1,
    "A": -0.3,
    "M": -0.1,
    "I": -0.1,
    "P": 0.1,
    "R": 0.25,
    "D": -0.3,
    "N": -0.2,
    "B": 0.25,
    "C": 0.0,
    "Q": 0.0,
}
CLASS_RISK = {"enterprise": 0.0, "individual": -0.1, "cooperative": 0.05}
OUTSIDE_DIVISIONS = [
    "210102",
    "210103",
    "210202",
    "210702",
    "210902",
    "211002",
    "211402",
    "130802",
    "150402",
    "150404",
    "110105",
    "120101",
    "130203",
]
OUTSIDE_CITY_NAMES = {
    "210102": "沈阳",
    "210103": "沈阳",
    "210202": "大连",
    "210702": "锦州",
    "210902": "阜新",
    "211002": "辽阳",
    "211402": "葫芦岛",
    "130802": "承德",
    "150402": "赤峰",
    "150404": "赤峰",
    "110105": "北京",
    "120101": "天津",
    "130203": "唐山",
}
PHOENIX_LINKS = ("legal_rep", "shareholder", "address", "phone")
PHOENIX_MAX_MONTHS = 12  # a successor is founded within this many months of its predecessor's closure


@dataclass
class City:
    """The simulated city."""

    entities: pd.DataFrame
    people: pd.DataFrame
    rings: pd.DataFrame  # ring_id, entity, controller (person)
    phoenix: pd.DataFrame  # entity, predecessor, link_type, months_after, trigger
    timeline: Timeline
    districts: pd.DataFrame


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class _People:
    """Accumulates people; every person gets a unique GB 11643 identity number."""

    def __init__(self, rng: np.random.Generator, district_codes: list[str], start: int):
        self.rng = rng
        self.codes = district_codes
        self.start = start
        self.parts: list[pd.DataFrame] = []
        self.n = 0

    def add(
        self, n: int, surname: np.ndarray | None = None, min_age: int = 22, max_age: int = 68
    ) -> np.ndarray:
        """Add ``n`` adults (optionally with given surnames); returns their person numbers."""
        rng = self.rng
        male = rng.random(n) < 0.62  # legal representatives are more often men
        name = names.person_names(rng, male, surname)
        age_days = rng.integers(min_age * 365, max_age * 365, size=n)
        birth = self.start - age_days
        # most were born in Chaoyang; some elsewhere in Liaoning or neighbouring provinces
        local = rng.random(n) < 0.85
        div = np.where(
            local,
            np.asarray(self.codes, dtype=object)[rng.integers(0, len(self.codes), size=n)],
            np.asarray(OUTSIDE_DIVISIONS, dtype=object)[rng.integers(0, len(OUTSIDE_DIVISIONS), size=n)],
        )
        seq = rng.integers(0, 250, size=n) * 2 + np.where(male, 1, 0)  # odd = male; 500-999 are for later
        df = pd.DataFrame(
            {"name": name, "male": male, "birth": birth, "id_division": div.astype(str), "seq": seq}
        )
        idx = np.arange(self.n, self.n + n)
        df.index = idx
        self.parts.append(df)
        self.n += n
        return idx

    def table(self) -> pd.DataFrame:
        """All people with unique identity numbers and person ids."""
        df = pd.concat(self.parts)
        # resolve identity collisions (same division, birth day and sequence) by moving the sequence on
        key = df["id_division"] + "|" + df["birth"].astype(str)
        df["seq"] = (df["seq"] + 2 * df.groupby([key, df["seq"]]).cumcount()) % 500
        df["id_no"] = ids.id_numbers(
            df["id_division"].to_numpy(), as_datetime64(df["birth"].to_numpy()), df["seq"].to_numpy()
        )
        df["person_id"] = ids.labels("P", np.arange(len(df)), 7)
        return df[["person_id", "name", "male", "birth", "id_no", "id_division"]]


def _nice_capital(x: np.ndarray) -> np.ndarray:
    i = np.abs(np.log(x)[:, None] - np.log(NICE_CAPITAL)[None, :]).argmin(axis=1)
    return NICE_CAPITAL[i]


def _established(rng: np.random.Generator, cls: np.ndarray, tl: Timeline) -> np.ndarray:
    """Establishment days: many long before the period, a steady stream during it."""
    n = len(cls)
    new_share = np.select([cls == "individual", cls == "cooperative"], [0.30, 0.08], 0.20)
    during = rng.random(n) < new_share
    mean_age = np.select([cls == "individual", cls == "cooperative"], [5.0, 7.0], 8.0)
    age_years = rng.gamma(1.6, mean_age / 1.6)
    est = tl.start - 1 - (age_years * 365.25).astype(np.int64)
    floor = np.where(cls == "cooperative", day("2007-07-01"), day("1988-01-01"))
    est = np.maximum(est, floor + rng.integers(0, 3000, size=n))
    est[during] = rng.integers(tl.start, tl.end - 20, size=int(during.sum()))
    return est


def _name_parts(
    rng: np.random.Generator,
    ent: pd.DataFrame,
    dist: pd.DataFrame,
    op_name: np.ndarray,
    op_surname: np.ndarray,
) -> pd.DataFrame:
    """Name parts per entity: region, core (字号), mid, industry, form, branch, shop; and the full name."""
    n = len(ent)
    cls = ent["cls"].to_numpy()
    dname = dist.set_index("code").loc[ent["district_code"], "name"].to_numpy(dtype=object)
    dist.set_index("code").loc[ent["district_code"], "short"].to_numpy(dtype=object)
    region = np.full(n, "", dtype=object)
    core = names.zihao(rng, n)
    mid = np.full(n, "", dtype=object)
    industry = pick_word(rng, ent["industry_words"])
    form = np.full(n, "", dtype=object)
    branch = np.full(n, "", dtype=object)
    shop = np.full(n, "", dtype=object)

    e = cls == "enterprise"
    u = rng.random(n)
    county = np.isin(ent["district_code"].to_numpy(), ["211321", "211322", "211324", "211381", "211382"])
    region[e & (u < 0.25)] = "朝阳市"
    region[e & (u >= 0.25) & (u < 0.40)] = "朝阳"
    m = e & (u >= 0.40) & (u < 0.58)
    region[m & county] = dname[m & county]
    region[m & ~county] = "朝阳市" + dname[m & ~county]
    region[e & (u >= 0.58) & (u < 0.63)] = "辽宁"
    m = e & (u >= 0.63) & (u < 0.71)
    mid[m] = "（朝阳）"
    f = rng.random(n)
    form[e] = np.where(f[e] < 0.6, "有限公司", np.where(f[e] < 0.93, "有限责任公司", "股份有限公司"))
    br = e & (rng.random(n) < 0.04)
    region[br] = names._pick(rng, names.PARENT_REGIONS, int(br.sum()))
    mid[br] = ""
    form[br] = "有限公司"
    branch[br] = names._pick(rng, names.BRANCH_SUFFIXES, int(br.sum()))

    i = cls == "individual"
    given = pd.Series(op_name, dtype=object).str[1:].to_numpy(dtype=object)  # surnames are one character
    lead = names.shop_leads(rng, op_surname, given)
    shop_word = pick_word(rng, ent["shop_words"])
    shop_word = np.where(shop_word == "", "经营部", shop_word)
    core[i] = lead[i]
    industry[i] = shop_word[i]
    region[i] = dname[i]
    shop[i] = (lead + shop_word)[i]

    c = cls == "cooperative"
    products = ent["class"].map({k: " ".join(v) for k, v in names.COOP_PRODUCTS.items()}).fillna("农业")
    product = pick_word(rng, products)
    kind = ent["division"].map(names.COOP_KIND).fillna("专业").to_numpy(dtype=object)
    industry[c] = (product + kind)[c]
    village = names._pick(rng, names.VILLAGES, n)
    by_village = c & (rng.random(n) < 0.4)
    core[by_village] = np.array([v[:-1] for v in village[by_village]], dtype=object)
    region[c] = np.where(county[c], dname[c], "朝阳市" + dname[c])
    form[c] = "农民专业合作社"

    parts = pd.DataFrame(
        {
            "region": region,
            "core": core,
            "mid": mid,
            "industry": industry,
            "form": form,
            "branch": branch,
            "shop": shop,
        },
        index=ent.index,
    )
    parts["full"] = (
        parts["region"] + parts["core"] + parts["mid"] + parts["industry"] + parts["form"] + parts["branch"]
    )
    # individual businesses without a registered trade name appear under the operator's name
    no_trade = i & (rng.random(n) < 0.2)
    parts.loc[no_trade, "full"] = op_name[no_trade]
    parts["has_trade_name"] = ~no_trade
    # the registry refuses exact duplicates: draw new trade names for repeats (not for operators' names)
    for _ in range(20):
        dup = parts["full"].duplicated() & parts["has_trade_name"]
        if not dup.any():
            break
        k = int(dup.sum())
        new_core = names.zihao(rng, k)
        ind_dup = dup & (ent["cls"] == "individual")
        new_core = np.where(
            ind_dup[dup].to_numpy(),
            parts.loc[dup, "core"].to_numpy(dtype=object) + names._pick(rng, list("鑫兴旺顺发"), k),
            new_core,
        )
        parts.loc[dup, "core"] = new_core
        parts.loc[ind_dup, "shop"] = parts.loc[ind_dup, "core"] + parts.loc[ind_dup, "industry"]
        parts.loc[dup, "full"] = (
            parts.loc[dup, "region"]
            + parts.loc[dup, "core"]
            + parts.loc[dup, "mid"]
            + parts.loc[dup, "industry"]
            + parts.loc[dup, "form"]
            + parts.loc[dup, "branch"]
        )
    return parts


def _latent_risk(rng: np.random.Generator, ent: pd.DataFrame, tl: Timeline) -> np.ndarray:
    """Latent risk in (0, 1): a logistic of a normal draw shifted by industry, class, age and capital."""
    n = len(ent)
    z = rng.standard_normal(n)
    shift = ent["section"].map(SECTION_RISK).fillna(0.0).to_numpy() + ent["cls"].map(CLASS_RISK).to_numpy()
    young = (tl.start - ent["established"].to_numpy()) < 2 * 365
    cap = ent["capital_wan"].to_numpy()
    e = (ent["cls"] == "enterprise").to_numpy()
    shift = shift + 0.3 * young + 0.2 * (e & (cap < 10)) + 0.35 * (e & young & (cap >= 5000))
    return _sigmoid(-2.4 + 1.0 * z + shift)


def _lifecycle(rng: np.random.Generator, ent: pd.DataFrame, tl: Timeline, rm: np.ndarray) -> pd.DataFrame:
    """Dormancy, revival, exit, abnormal listing (annual report) and serious listing of each entity."""
    n = len(ent)
    cls = ent["cls"].to_numpy()
    est = ent["established"].to_numpy()
    hist_start = day("2018-01-01")
    # dormancy: the entity stops operating (hazard per year)
    d_rate = np.where(cls == "individual", 0.010, 0.016) * rm**1.2
    t0 = np.maximum(est + 180, hist_start)
    dormant = t0 + (rng.exponential(1.0, n) / d_rate * 365).astype(np.int64)
    dormant = np.where(dormant <= tl.future_end, dormant, NEVER)
    is_dormant = dormant < NEVER
    u = rng.random(n)
    revive = np.full(n, NEVER)
    exit_day = np.full(n, NEVER)
    exit_kind = np.full(n, "", dtype=object)
    m = is_dormant & (u < 0.15)
    revive[m] = dormant[m] + rng.integers(180, 540, size=int(m.sum()))
    m = is_dormant & (u >= 0.15) & (u < 0.47)
    exit_day[m] = dormant[m] + rng.integers(180, 1100, size=int(m.sum()))
    exit_kind[m] = "deregistered"
    m = is_dormant & (u >= 0.47) & (u < 0.77)
    exit_day[m] = dormant[m] + rng.integers(700, 1500, size=int(m.sum()))
    exit_kind[m] = "revoked"
    # entities that closed before the period are not part of the city: keep them dormant (zombies)
    before = exit_day < tl.start
    exit_day[before] = NEVER
    exit_kind[before] = ""
    # annual report: a dormant enterprise or cooperative misses the report for the year it went dormant and
    # is listed in July of the following year (individual businesses are marked alike)
    y, _, _ = ymd(dormant.clip(max=tl.future_end))
    july = ((y + 1 - 1970).astype("datetime64[Y]").astype("datetime64[M]") + 6).astype("datetime64[D]")
    abn = july.astype(np.int64) + rng.integers(0, 20, size=n)
    listed = is_dormant & (abn < np.minimum(exit_day, revive)) & (abn <= tl.future_end)
    abn = np.where(listed, abn, NEVER)
    abn_removed = np.where(listed & (revive < NEVER), revive + rng.integers(0, 30, size=n), NEVER)
    abn_removed_reason = np.where(listed & (revive < NEVER), "report_filed", "")
    serious = np.where(listed, abn + 3 * 365 + rng.integers(1, 30, size=n), NEVER)
    ok = serious < np.minimum(np.minimum(exit_day, abn_removed), tl.future_end)
    serious = np.where(ok, serious, NEVER)
    abn_removed = np.where(ok, serious, abn_removed)
    abn_removed_reason = np.where(ok, "to_serious", abn_removed_reason)
    closed = listed & (abn_removed == NEVER) & (exit_day < NEVER)
    abn_removed = np.where(closed, exit_day, abn_removed)
    abn_removed_reason = np.where(closed, "closed", abn_removed_reason)
    # revocation follows at least a year on the abnormal list
    rev = (exit_kind == "revoked") & listed
    exit_day[rev] = np.maximum(exit_day[rev], abn[rev] + 365 + rng.integers(0, 90, size=int(rev.sum())))
    rev_no_list = (exit_kind == "revoked") & ~listed
    exit_kind[rev_no_list] = "deregistered"
    # deregistration of entities that keep operating
    x_rate = np.select([cls == "individual", cls == "cooperative"], [0.045, 0.02], 0.025) * rm**0.5
    t0 = np.maximum(est + 90, tl.start)
    x = t0 + (rng.exponential(1.0, n) / x_rate * 365).astype(np.int64)
    take = (x < exit_day) & (x <= tl.future_end) & ~(is_dormant & (dormant < x))
    exit_day[take] = x[take]
    exit_kind[take] = "deregistered"
    exit_day = np.where(exit_day <= tl.future_end, exit_day, NEVER)
    exit_kind = np.where(exit_day < NEVER, exit_kind, "")
    return pd.DataFrame(
        {
            "dormant": dormant,
            "revived": revive,
            "exit_day": exit_day,
            "exit_kind": exit_kind,
            "abn_listed": abn,
            "abn_removed": abn_removed,
            "abn_removed_reason": abn_removed_reason,
            "serious_listed": serious,
        },
        index=ent.index,
    )


def _base_entities(
    rng: np.random.Generator, n: int, mix: dict[str, float], dist: pd.DataFrame, tl: Timeline
) -> pd.DataFrame:
    p = np.array([mix[c] for c in CLASSES])
    cls = np.asarray(CLASSES, dtype=object)[rng.choice(3, size=n, p=p / p.sum())]
    ent = pd.DataFrame({"cls": cls})
    # cooperatives sit in the rural counties
    share = dist["share"].to_numpy()
    rural_share = np.where(dist["urban"].to_numpy(), 0.05, share)
    dcode = dist["code"].to_numpy(dtype=object)
    ent["district_code"] = dcode[rng.choice(len(dist), size=n, p=share)]
    coop = cls == "cooperative"
    ent.loc[coop, "district_code"] = dcode[
        rng.choice(len(dist), size=int(coop.sum()), p=rural_share / rural_share.sum())
    ]
    ind = draw_industries(rng, cls)
    ent = pd.concat([ent, ind], axis=1)
    ent["established"] = _established(rng, cls, tl)
    med = np.select([cls == "individual", cls == "cooperative"], [3.0, 100.0], 100.0)
    sig = np.select([cls == "individual", cls == "cooperative"], [1.0, 1.0], 1.3)
    ent["capital_wan"] = _nice_capital(med * np.exp(sig * rng.standard_normal(n)))
    return ent


def _plant_rings(rng: np.random.Generator, ent: pd.DataFrame, share: float, dist: pd.DataFrame) -> np.ndarray:
    """Ring membership (-1 = none): groups of 3-15 entities, mostly enterprises, over several districts."""
    n = len(ent)
    ring = np.full(n, -1, dtype=np.int64)
    target = round(share * n)
    sizes: list[int] = []
    size_p = 1.0 / np.arange(3, 16) ** 1.2
    while sum(sizes) < target and target >= 3:
        sizes.append(int(rng.choice(np.arange(3, 16), p=size_p / size_p.sum())))
    if not sizes:
        return ring
    total = sum(sizes)
    e_idx = np.flatnonzero(ent["cls"].to_numpy() == "enterprise")
    o_idx = np.flatnonzero(ent["cls"].to_numpy() == "individual")
    n_e = min(len(e_idx), round(total * 0.85))
    members = np.concatenate(
        [rng.choice(e_idx, n_e, replace=False), rng.choice(o_idx, total - n_e, replace=False)]
    )
    rng.shuffle(members)
    ring[members] = np.repeat(np.arange(len(sizes)), sizes)
    # a ring spans several districts: move one member of a single-district ring elsewhere
    m = ring >= 0
    nuniq = ent.loc[m].groupby(ring[m])["district_code"].nunique()
    for r in nuniq.index[nuniq.to_numpy() < 2]:
        last = np.flatnonzero(ring == r)[-1]
        others = dist["code"][dist["code"] != ent.at[last, "district_code"]].to_numpy()
        ent.at[last, "district_code"] = others[rng.integers(0, len(others))]
    return ring


def build_city(
    spec_rates: dict[str, float], mix: dict[str, float], n: int, seed: int, tl: Timeline, dev_zone_code: str
) -> City:
    """Draw the entities, people, rings and phoenix companies of a city of ``n`` entities."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 101]))
    dist = districts(dev_zone_code)
    n_phoenix = round(spec_rates.get("phoenix_share", 0.01) * n)
    n_base = n - n_phoenix
    ent = _base_entities(rng, n_base, mix, dist, tl)
    ring = _plant_rings(rng, ent, spec_rates.get("ring_share", 0.03), dist)
    ent["ring_id"] = ring

    people = _People(rng, list(dist["code"].iloc[:7]), tl.start)
    rep = people.add(n_base)
    ent["legal_rep"] = rep
    ent["controller"] = rep
    # some people represent two entities (same district)
    multi = np.flatnonzero((rng.random(n_base) < 0.03) & (ring < 0))
    for code, grp in pd.Series(multi).groupby(ent["district_code"].to_numpy()[multi]):
        pool = np.flatnonzero((ent["district_code"].to_numpy() == code) & (ring < 0))
        ent.loc[grp.to_numpy(), ["legal_rep", "controller"]] = np.repeat(
            rep[rng.choice(pool, size=len(grp))], 2
        ).reshape(-1, 2)
    # rings: one controller each; members' legal representatives are the controller or nominees
    n_rings = int(ring.max()) + 1 if (ring >= 0).any() else 0
    ring_controller = people.add(n_rings, min_age=30, max_age=62) if n_rings else np.array([], dtype=np.int64)
    ring_rows = pd.DataFrame(columns=["ring_id", "entity", "controller"])
    if n_rings:
        mem = np.flatnonzero(ring >= 0)
        ctrl = ring_controller[ring[mem]]
        ent.loc[mem, "controller"] = ctrl
        first = pd.Series(mem).groupby(ring[mem]).transform("min").to_numpy() == mem
        is_ctrl = first | (rng.random(len(mem)) < 0.4)
        ent.loc[mem[is_ctrl], "legal_rep"] = ctrl[is_ctrl]
        nominee = mem[~is_ctrl]
        pdf = pd.concat(people.parts)
        relative = rng.random(len(nominee)) < 0.5
        sur = pdf.loc[ctrl[~is_ctrl], "name"].str[0].to_numpy(dtype=object)
        new_sur = np.where(relative, sur, names.surnames(rng, len(nominee)))
        ent.loc[nominee, "legal_rep"] = people.add(len(nominee), surname=new_sur)
        ring_rows = pd.DataFrame({"ring_id": ring[mem], "entity": mem, "controller": ctrl})

    pdf = pd.concat(people.parts)
    op_name = pdf.loc[ent["legal_rep"], "name"].to_numpy(dtype=object)
    parts = _name_parts(
        rng, ent, dist, op_name, pd.Series(op_name, dtype=object).str[0].to_numpy(dtype=object)
    )
    ent = pd.concat([ent, parts], axis=1)
    ent = _addresses_and_phones(rng, ent, dev_zone_code)
    ent["latent_risk"] = _latent_risk(rng, ent, tl)
    in_ring = ent["ring_id"].to_numpy() >= 0
    ring_risk = _sigmoid(-0.6 + 0.7 * rng.standard_normal(n_base))
    ent.loc[in_ring, "latent_risk"] = np.maximum(ent.loc[in_ring, "latent_risk"], ring_risk[in_ring])
    ent["phoenix_of"] = -1
    rm = ent["latent_risk"].to_numpy() / ent["latent_risk"].mean()
    ent = pd.concat([ent, _lifecycle(rng, ent, tl, rm)], axis=1)

    ent, phoenix = _phoenix(rng, ent, people, n_phoenix, tl, dist, dev_zone_code)
    ent = _identifiers(rng, ent, dev_zone_code)
    ent["entity_id"] = ids.labels("E", np.arange(len(ent)), 7)
    people_df = people.table()
    return City(
        entities=ent,
        people=people_df,
        rings=ring_rows.astype(np.int64),
        phoenix=phoenix,
        timeline=tl,
        districts=dist,
    )


def _addresses_and_phones(rng: np.random.Generator, ent: pd.DataFrame, dev_zone_code: str) -> pd.DataFrame:
    """Registered addresses (with cluster and ring addresses shared by many) and phone numbers."""
    n = len(ent)
    cls = ent["cls"].to_numpy()
    sec = ent["section"].to_numpy()
    dcode = ent["district_code"].to_numpy(dtype=object)
    urban = np.isin(dcode, ["211302", "211303", dev_zone_code])
    kind = np.full(n, "office", dtype=object)
    u = rng.random(n)
    kind[(cls == "enterprise") & (u < 0.45)] = "shop"
    kind[(cls == "enterprise") & (u >= 0.85)] = "home"
    kind[cls == "individual"] = np.where(u[cls == "individual"] < 0.85, "shop", "home")
    kind[(cls == "cooperative") | ((sec == "A") & ~urban)] = "rural"
    kind[~urban & (cls != "enterprise") & (u < 0.3)] = "rural"
    ent["address"] = make_addresses(rng, dcode, kind, dev_zone_code)
    # cluster (registered-agent) addresses: >= 10 mostly service enterprises in an office building
    ring = ent["ring_id"].to_numpy()
    address = ent["address"].to_numpy(dtype=object).copy()
    cluster = np.zeros(n, dtype=bool)
    n_clusters = max(2, n // 400)
    zone_codes = np.array(["211302", "211303", dev_zone_code], dtype=object)
    c_code = zone_codes[rng.integers(0, 3, size=n_clusters)]
    c_size = 10 + rng.geometric(1 / 9, size=n_clusters)
    c_addr = make_addresses(rng, c_code, np.full(n_clusters, "office", dtype=object), dev_zone_code)
    eligible = (cls == "enterprise") & np.isin(sec, list("LMIFJK")) & (ring < 0)
    for code in zone_codes:
        pool = rng.permutation(np.flatnonzero(eligible & (dcode == code)))
        which = np.flatnonzero(c_code == code)
        ends = np.cumsum(c_size[which])
        which = which[ends <= len(pool)]
        members = pool[: int(c_size[which].sum())]
        address[members] = c_addr[np.repeat(which, c_size[which])]
        cluster[members] = True
    # phones: landlines for some enterprises, mobiles otherwise
    mobile = (cls != "enterprise") | (rng.random(n) < 0.55)
    phone = ids.landlines(rng, n)
    phone[mobile] = ids.mobiles(rng, int(mobile.sum()))
    # accountancy agents: one phone for many small companies
    e_idx = rng.permutation(np.flatnonzero(cls == "enterprise"))
    n_agents = max(1, n // 500)
    a_size = 5 + rng.geometric(1 / 8, size=n_agents)
    keep = np.cumsum(a_size) <= len(e_idx)
    members = e_idx[: int(a_size[keep].sum())]
    phone[members] = ids.landlines(rng, n_agents)[np.repeat(np.arange(n_agents)[keep], a_size[keep])]
    # rings share a phone and (within a district) the office of their first member
    mem = np.flatnonzero(ring >= 0)
    if len(mem):
        r = ring[mem]
        ring_phone = ids.mobiles(rng, int(r.max()) + 1)
        share = rng.random(len(mem)) < 0.6
        phone[mem[share]] = ring_phone[r[share]]
        first = pd.Series(mem).groupby(r).transform("min").to_numpy()
        same = (dcode[mem] == dcode[first]) & (rng.random(len(mem)) < 0.5)
        enough = np.bincount(r[same], minlength=int(r.max()) + 1)[r] >= 2
        move = same & enough
        address[mem[move]] = address[first[move]]
    ent["address"] = address
    ent["cluster_address"] = cluster
    ent["phone"] = phone
    return ent


def _phoenix(
    rng: np.random.Generator,
    ent: pd.DataFrame,
    people: _People,
    n_phoenix: int,
    tl: Timeline,
    dist: pd.DataFrame,
    dev_zone_code: str,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """New entities opened by the people, address or phone of a closed or blacklisted entity."""
    cols = ["entity", "predecessor", "link_type", "months_after", "trigger"]
    if n_phoenix == 0:
        return ent, pd.DataFrame(columns=cols)
    exit_day = ent["exit_day"].to_numpy()
    serious = ent["serious_listed"].to_numpy()
    trigger = np.minimum(exit_day, serious)
    cand = np.flatnonzero(
        (trigger >= tl.start - 180) & (trigger <= tl.end - 60) & (ent["cls"] != "cooperative").to_numpy()
    )
    k = min(n_phoenix, len(cand))
    w = ent["latent_risk"].to_numpy()[cand] ** 2
    pred = (
        np.sort(rng.choice(cand, size=k, replace=False, p=w / w.sum())) if k else np.array([], dtype=np.int64)
    )
    months_after = np.minimum(1 + rng.geometric(0.25, size=k), PHOENIX_MAX_MONTHS)
    est = trigger[pred] + (months_after * 30.4).astype(np.int64) + rng.integers(0, 20, size=k)
    # a successor opens within PHOENIX_MAX_MONTHS of the closure: the day jitter must not carry one planted
    # in the last month past that window (12 months and 19 days is no longer "within 12 months")
    est = np.minimum(est, trigger[pred] + int(PHOENIX_MAX_MONTHS * 365 / 12) - 1)
    est = np.minimum(est, tl.end - 5)
    months_after = np.maximum(1, ((est - trigger[pred]) / 30.4).astype(np.int64))
    # fill up with ordinary new entities when there are too few closures to copy
    n_extra = n_phoenix - k
    succ = ent.loc[pred].copy()
    succ["established"] = est
    # class: mostly the predecessor's; industry: often the same section
    same_industry = rng.random(k) < 0.6
    redraw = draw_industries(rng, succ["cls"].to_numpy())
    for c in ("class", "section", "division", "industry_words", "shop_words"):
        succ[c] = np.where(same_industry, succ[c].to_numpy(dtype=object), redraw[c].to_numpy(dtype=object))
    same_district = rng.random(k) < 0.7
    other = dist["code"].to_numpy(dtype=object)[rng.integers(0, len(dist), size=k)]
    succ["district_code"] = np.where(same_district, succ["district_code"].to_numpy(dtype=object), other)
    succ["capital_wan"] = _nice_capital(succ["capital_wan"].to_numpy() * np.exp(0.5 * rng.standard_normal(k)))
    # link types: a primary one and sometimes a second
    primary = np.asarray(PHOENIX_LINKS, dtype=object)[rng.choice(4, size=k, p=[0.45, 0.25, 0.15, 0.15])]
    second = np.asarray(PHOENIX_LINKS, dtype=object)[rng.integers(2, 4, size=k)]
    has_second = (rng.random(k) < 0.4) & (second != primary)
    links = [(i, primary[i]) for i in range(k)] + [(i, second[i]) for i in np.flatnonzero(has_second)]
    link_df = (
        pd.DataFrame(links, columns=["i", "link_type"]) if links else pd.DataFrame(columns=["i", "link_type"])
    )
    has = {t: np.zeros(k, dtype=bool) for t in PHOENIX_LINKS}
    for t in PHOENIX_LINKS:
        has[t][link_df.loc[link_df["link_type"] == t, "i"].to_numpy(dtype=np.int64)] = True
    # people: same legal rep; or the controller stays as shareholder behind a relative
    pred_rep = ent.loc[pred, "legal_rep"].to_numpy()
    pred_ctrl = ent.loc[pred, "controller"].to_numpy()
    pdf = pd.concat(people.parts)
    sur = pdf.loc[pred_ctrl, "name"].str[0].to_numpy(dtype=object)
    new_rep = people.add(k, surname=np.where(rng.random(k) < 0.6, sur, names.surnames(rng, k)))
    succ["legal_rep"] = np.where(has["legal_rep"], pred_rep, new_rep)
    succ["controller"] = np.where(
        has["legal_rep"] | has["shareholder"], pred_ctrl, succ["legal_rep"].to_numpy()
    )
    # the shareholder link needs a company with shareholders: make such successors enterprises
    succ.loc[has["shareholder"], "cls"] = "enterprise"
    pdf = pd.concat(people.parts)
    op_name = pdf.loc[succ["legal_rep"], "name"].to_numpy(dtype=object)
    succ = succ.reset_index(drop=True)
    parts = _name_parts(
        rng, succ, dist, op_name, pd.Series(op_name, dtype=object).str[0].to_numpy(dtype=object)
    )
    for c in parts.columns:
        succ[c] = parts[c].to_numpy()
    kind = np.where(succ["cls"].to_numpy() == "individual", "shop", "office").astype(object)
    new_addr = make_addresses(rng, succ["district_code"].to_numpy(dtype=object), kind, dev_zone_code)
    pred_addr = ent.loc[pred, "address"].to_numpy(dtype=object)
    keep_addr = has["address"]
    succ["address"] = np.where(keep_addr, pred_addr, new_addr)
    # an address names its district: a successor at the old address is in the old district
    succ.loc[keep_addr, "district_code"] = ent.loc[pred[keep_addr], "district_code"].to_numpy()
    succ["cluster_address"] = np.where(keep_addr, ent.loc[pred, "cluster_address"].to_numpy(), False)
    succ["phone"] = np.where(has["phone"], ent.loc[pred, "phone"].to_numpy(dtype=object), ids.mobiles(rng, k))
    risk = ent.loc[pred, "latent_risk"].to_numpy()
    succ["latent_risk"] = np.clip(
        np.maximum(risk, _sigmoid(-0.8 + 0.6 * rng.standard_normal(k))) + 0.05, 0, 0.97
    )
    succ["phoenix_of"] = pred
    succ["ring_id"] = np.where(has["legal_rep"] | has["shareholder"], ent.loc[pred, "ring_id"].to_numpy(), -1)
    if n_extra:
        extra = _base_entities(
            rng, n_extra, {"enterprise": 0.5, "individual": 0.5, "cooperative": 0.0}, dist, tl
        )
        extra["established"] = rng.integers(tl.start, tl.end - 20, size=n_extra)
        rep = people.add(n_extra)
        extra["legal_rep"] = rep
        extra["controller"] = rep
        extra["ring_id"] = -1
        pdf = pd.concat(people.parts)
        op = pdf.loc[rep, "name"].to_numpy(dtype=object)
        extra = pd.concat(
            [
                extra,
                _name_parts(rng, extra, dist, op, pd.Series(op, dtype=object).str[0].to_numpy(dtype=object)),
            ],
            axis=1,
        )
        extra = _addresses_and_phones(rng, extra, dev_zone_code)
        extra["latent_risk"] = _latent_risk(rng, extra, tl)
        extra["phoenix_of"] = -1
        succ = pd.concat([succ, extra], ignore_index=True)
    rm = succ["latent_risk"].to_numpy() / ent["latent_risk"].mean()
    life = _lifecycle(rng, succ, tl, rm)
    for c in life.columns:
        succ[c] = life[c].to_numpy()
    out = pd.concat([ent, succ[ent.columns]], ignore_index=True)
    first_new = len(ent)
    link_df["entity"] = first_new + link_df["i"].to_numpy(dtype=np.int64)
    link_df["predecessor"] = pred[link_df["i"].to_numpy(dtype=np.int64)]
    link_df["months_after"] = months_after[link_df["i"].to_numpy(dtype=np.int64)]
    p_idx = link_df["predecessor"].to_numpy(dtype=np.int64)
    link_df["trigger"] = np.where(
        exit_day[p_idx] <= serious[p_idx], ent["exit_kind"].to_numpy()[p_idx], "blacklisted"
    )
    phoenix = link_df[cols].sort_values(["entity", "link_type"]).reset_index(drop=True)
    return out, phoenix


def _identifiers(rng: np.random.Generator, ent: pd.DataFrame, dev_zone_code: str) -> pd.DataFrame:
    """USCC, organisation code and (for older entities) the legacy 15-digit registration number."""
    n = len(ent)
    cls = ent["cls"].to_numpy()
    modern = ent["established"].to_numpy() >= day("2015-10-01")
    body = ids.org_code_bodies(rng, modern, cls == "individual")
    prefix = ent["cls"].map(USCC_PREFIX).to_numpy(dtype=object).astype(str)
    # the division is the registration authority's: the city bureau registers part of the enterprises and
    # the development zone's entities (the zone has no GB/T 2260 code)
    reg_div = ent["district_code"].to_numpy(dtype=object).copy()
    city_level = ((cls == "enterprise") & (rng.random(n) < 0.3)) | (reg_div == dev_zone_code)
    reg_div[city_level] = "211300"
    ent["registration_division"] = reg_div
    ent["uscc"], ent["org_code"] = ids.make_uscc(prefix, reg_div.astype(str), body)
    kind_digit = np.select([cls == "individual", cls == "cooperative"], [6, 2], 0)
    reg = ids.reg_numbers(reg_div.astype(str), rng.integers(0, 10**7, size=n), kind_digit)
    ent["reg_no"] = np.where(modern, "", reg)
    return ent


def outside_entities(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Entities registered outside Chaoyang that appear in some records (uscc, name, division)."""
    div = np.asarray(OUTSIDE_DIVISIONS, dtype=object)[rng.integers(0, len(OUTSIDE_DIVISIONS), size=n)]
    body = ids.org_code_bodies(rng, np.ones(n, dtype=bool), np.zeros(n, dtype=bool))
    uscc, org = ids.make_uscc(np.full(n, "91"), div.astype(str), body)
    city = pd.Series(div).map(OUTSIDE_CITY_NAMES).to_numpy(dtype=object)
    words = np.asarray(["商贸", "电子商务", "物流", "建筑工程", "食品", "科技", "贸易"], dtype=object)
    name = city + names.zihao(rng, n) + words[rng.integers(0, len(words), size=n)] + "有限公司"
    return pd.DataFrame({"uscc": uscc, "org_code": org, "name": name, "division": div})
