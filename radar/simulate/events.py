"""The risk story: true violations, how they are (or are not) detected, and the events around them.

Month by month (period start to ``future_days`` after the end), each operating entity commits violations
at a rate that grows with its latent risk, more during a ring's crisis and a financial distress episode.
Violations are observed only when detected:

* a double-random spot check (不定向, risk-stratified inclusion probabilities that are recorded) finds an
  active violation with probability ``detection_by_inspection``;
* a targeted check (定向) follows a cluster of complaints or an unfiled report and finds it alike;
* a report (举报) made around the violation becomes a case (立案) and leads to a penalty;
* routine inspections by the responsible department find some more;
* the rest stays undetected (and lapses after a few months).

Complaints (投诉, 举报) rise by ``pre_violation_complaint_boost`` in the three months before a violation,
so they lead the violations they announce. Financial distress leads to dishonest-debtor listings and to
utility and tax arrears; dormancy leads to abnormal listings (see ``city``), unreachable spot checks and
revocation; repeat offenders and three-year abnormal listings end on the serious-violation list.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from radar.simulate import ids
from radar.simulate.city import City
from radar.simulate.timeline import NEVER, day, ymd

# key, 违法行为类型, 违法事实 (template), 处罚依据, department, spot-check result label
_KINDS = [
    (
        "food_expired",
        "经营超过保质期的食品",
        "当事人经营的{item}已超过保质期",
        "《中华人民共和国食品安全法》第三十四条第（十）项、第一百二十四条第一款第（五）项",
        "market",
        "违反食品药品管理相关规定",
    ),
    (
        "food_license",
        "未取得食品经营许可从事食品经营活动",
        "当事人未取得食品经营许可证从事{item}经营活动",
        "《中华人民共和国食品安全法》第三十五条第一款、第一百二十二条第一款",
        "market",
        "违反食品药品管理相关规定",
    ),
    (
        "price",
        "不明码标价",
        "当事人销售{item}未按规定明码标价",
        "《中华人民共和国价格法》第十三条第一款、第四十二条",
        "market",
        "违反其他工商行政管理规定行为",
    ),
    (
        "advert",
        "发布虚假广告",
        "当事人在经营场所及网络平台发布含有虚假内容的广告",
        "《中华人民共和国广告法》第二十八条、第五十五条第一款",
        "market",
        "违反其他工商行政管理规定行为",
    ),
    (
        "quality",
        "销售不合格产品",
        "当事人销售的{item}经抽样检验不合格",
        "《中华人民共和国产品质量法》第三十九条、第五十条",
        "market",
        "违反质量技术监督相关规定",
    ),
    (
        "metrology",
        "使用未经检定的计量器具",
        "当事人使用的电子计价秤未按规定申请周期检定",
        "《中华人民共和国计量法》第九条、《中华人民共和国计量法实施细则》第四十三条",
        "market",
        "违反质量技术监督相关规定",
    ),
    (
        "trademark",
        "销售侵犯注册商标专用权的商品",
        "当事人销售侵犯注册商标专用权的{item}",
        "《中华人民共和国商标法》第五十七条第（三）项、第六十条第二款",
        "market",
        "违反其他工商行政管理规定行为",
    ),
    (
        "consumer",
        "侵害消费者合法权益",
        "当事人对消费者提出的合理退换货要求故意拖延或者无理拒绝",
        "《中华人民共和国消费者权益保护法》第五十六条第一款第（八）项",
        "market",
        "违反其他工商行政管理规定行为",
    ),
    (
        "false_promo",
        "虚假宣传",
        "当事人对其商品的性能、功能作虚假的商业宣传",
        "《中华人民共和国反不正当竞争法》第八条第一款、第二十条第一款",
        "market",
        "违反其他工商行政管理规定行为",
    ),
    (
        "registration",
        "未按规定办理变更登记",
        "当事人变更住所未按规定办理变更登记",
        "《中华人民共和国市场主体登记管理条例》第二十四条、第四十六条",
        "market",
        "违反其他工商行政管理规定行为",
    ),
    (
        "special_equipment",
        "使用未经定期检验的特种设备",
        "当事人使用的{item}未经定期检验",
        "《中华人民共和国特种设备安全法》第四十条、第八十四条第（一）项",
        "market",
        "违反质量技术监督相关规定",
    ),
    (
        "drug",
        "未按规定储存药品",
        "当事人未按照规定的条件储存药品",
        "《中华人民共和国药品管理法》第五十九条、第一百二十六条",
        "market",
        "违反食品药品管理相关规定",
    ),
    (
        "pollution",
        "超标排放大气污染物",
        "当事人生产过程中大气污染物排放浓度超过国家规定的排放标准",
        "《中华人民共和国大气污染防治法》第十八条、第九十九条第（二）项",
        "env",
        "违反其他部门相关规定",
    ),
    (
        "safety",
        "未按规定对从业人员进行安全生产教育和培训",
        "当事人未对从业人员进行安全生产教育和培训",
        "《中华人民共和国安全生产法》第二十八条、第九十七条第（三）项",
        "safety",
        "违反其他部门相关规定",
    ),
    (
        "tax",
        "未按照规定期限办理纳税申报和报送纳税资料",
        "当事人未按照规定期限办理纳税申报",
        "《中华人民共和国税收征收管理法》第二十五条、第六十二条",
        "tax",
        "违反其他部门相关规定",
    ),
    (
        "construction",
        "未取得施工许可证擅自施工",
        "当事人未取得施工许可证擅自施工",
        "《建筑工程施工许可管理办法》第三条、第十二条",
        "housing",
        "违反其他部门相关规定",
    ),
    (
        "transport",
        "未取得道路运输经营许可擅自从事道路运输经营",
        "当事人未取得道路运输经营许可擅自从事道路货物运输经营",
        "《中华人民共和国道路运输条例》第二十四条、第六十三条",
        "transport",
        "违反其他部门相关规定",
    ),
    (
        "hygiene",
        "未依法取得公共场所卫生许可证擅自营业",
        "当事人未依法取得公共场所卫生许可证擅自营业",
        "《公共场所卫生管理条例实施细则》第二十二条、第三十五条",
        "health",
        "违反其他部门相关规定",
    ),
    (
        "culture",
        "互联网上网服务营业场所接纳未成年人",
        "当事人经营的互联网上网服务营业场所接纳未成年人进入",
        "《互联网上网服务营业场所管理条例》第二十一条、第三十一条",
        "culture",
        "违反其他部门相关规定",
    ),
    (
        "fire",
        "消防设施、器材配置不符合标准",
        "当事人经营场所消防设施、器材配置不符合标准",
        "《中华人民共和国消防法》第十六条、第六十条第一款第（一）项",
        "fire",
        "违反其他部门相关规定",
    ),
]
KINDS = pd.DataFrame(_KINDS, columns=["kind", "label", "facts", "basis", "department", "check_label"])
# the revocation of a dormant entity's licence is recorded as a violation of this kind
DORMANT_KIND = (
    "dormant",
    "成立后无正当理由超过六个月未开业或者开业后自行停业连续六个月以上",
    "当事人开业后自行停业连续六个月以上",
    "《中华人民共和国公司法》第二百一十一条第一款",
    "market",
    "违反其他工商行政管理规定行为",
)

# where each kind happens: section weights, then division/class overrides (class codes of 4 digits)
_KIND_WHERE = {
    "food_expired": {"H": 3, "52": 3, "51": 1, "13": 2, "14": 2, "15": 2},
    "food_license": {"H": 1.5, "52": 1},
    "price": {"52": 2, "H": 1.5, "O": 1.5, "K": 1, "G": 0.5, "Q": 0.5},
    "advert": {"*": 0.3, "L": 1, "Q": 1.5, "P": 1.5, "O": 0.8, "M": 0.5},
    "quality": {"F": 1.5, "C": 2},
    "metrology": {"52": 1, "H": 0.3, "5265": 2},
    "trademark": {"F": 1},
    "consumer": {"O": 2, "52": 1, "H": 1, "P": 1.5, "K": 1, "R": 1},
    "false_promo": {"F": 0.5, "O": 0.8, "Q": 1, "P": 1, "I": 0.5, "L": 0.5},
    "registration": {"*": 0.6},
    "special_equipment": {"C": 1, "H": 0.3, "K": 0.5, "R": 0.3},
    "drug": {"5151": 3, "5251": 3, "Q": 1},
    "pollution": {"C": 1.5, "B": 2, "D": 1, "E": 0.3, "03": 0.8},
    "safety": {"C": 1.5, "B": 2, "E": 1.5, "G": 0.5},
    "tax": {"*": 0.4},
    "construction": {"E": 2, "K": 1},
    "transport": {"G": 2},
    "hygiene": {"80": 1.5, "H": 0.3},
    "culture": {"9013": 2, "9011": 2},
    "fire": {"*": 0.3, "H": 1, "R": 1, "O": 0.5},
}
ITEMS = {
    "A": ["玉米", "杂粮", "鸡蛋", "牛肉"],
    "C": ["食品", "建材", "机械零件", "塑料制品", "白酒"],
    "F": ["洗发水", "电线", "化肥", "五金工具", "手机", "服装", "家电", "建材"],
    "food": ["食用油", "饮料", "白酒", "熟食", "大米", "奶制品", "面包", "凉菜"],
    "H": ["熟食", "凉菜", "饮料", "面食", "调味品"],
    "O": ["美发服务", "洗车服务", "家电维修服务", "预付卡服务"],
    "E": ["建材", "装修服务"],
    "G": ["货物运输服务", "快递服务"],
    "K": ["物业服务"],
    "P": ["培训课程"],
    "Q": ["医疗服务", "保健品"],
    "R": ["娱乐服务"],
    "*": ["商品", "服务"],
}
CHECK_LABEL_MINOR = "发现问题经责令已改正"
CHECK_LABEL_FOUND = "发现问题待后续处理"
CHECK_LABEL_CLEAN = "未发现问题"
CHECK_LABEL_UNREACHABLE = "通过登记的住所（经营场所）无法联系"
CHECK_LABEL_NOT_PUBLISHED = "未按规定公示应当公示的信息"
CHECK_LABEL_NO_ACTIVITY = "未发现开展本次抽查涉及的经营活动"
LIST_SEP = "\x1f"  # joins multi-value cells internally; each export file picks its own separator


def rng_for(seed: int, stage: int) -> np.random.Generator:
    """An independent random stream per stage, so a change in one stage leaves the others as they were."""
    return np.random.default_rng(np.random.SeedSequence([seed, stage]))


@dataclass
class Story:
    """What happened in the city (event tables; day numbers; entity numbers index ``City.entities``)."""

    violations: pd.DataFrame
    complaints: pd.DataFrame
    checks: pd.DataFrame
    penalties: pd.DataFrame
    abnormal: pd.DataFrame
    serious: pd.DataFrame
    dishonest: pd.DataFrame
    distress: np.ndarray  # day each entity's financial distress starts (NEVER: none)
    ring_crisis: dict[int, int]  # ring id -> first day of its crisis
    third_party: pd.DataFrame


def kind_weights(ent: pd.DataFrame) -> np.ndarray:
    """(n_entities, n_kinds) weights of the violation kinds that fit each entity's industry."""
    n = len(ent)
    sec = ent["section"].to_numpy(dtype=object)
    div = ent["division"].to_numpy(dtype=object)
    cls4 = ent["class"].to_numpy(dtype=object)
    w = np.zeros((n, len(KINDS)))
    for j, kind in enumerate(KINDS["kind"]):
        where = _KIND_WHERE[kind]
        col = np.full(n, where.get("*", 0.0))
        for key, val in where.items():
            if key == "*":
                continue
            target = sec if len(key) == 1 else div if len(key) == 2 else cls4
            col = np.where(target == key, np.maximum(col, val), col)
        w[:, j] = col
    # tax and registration rules concern every enterprise; keep a floor so every entity can violate something
    w[:, KINDS.index[KINDS["kind"] == "registration"][0]] += 0.05
    return w


def _choose_rows(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """One column index per row, drawn with the row's weights."""
    cum = np.cumsum(weights, axis=1)
    u = rng.random(len(weights)) * cum[:, -1]
    return (cum < u[:, None]).sum(axis=1)


def month_grid(city: City) -> tuple[np.ndarray, np.ndarray]:
    """(alive, operating) boolean (n_entities, n_months) grids."""
    tl = city.timeline
    ent = city.entities
    ms = tl.month_starts
    me = np.append(ms[1:], ms[-1] + 31) - 1
    est = ent["established"].to_numpy()[:, None]
    ex = ent["exit_day"].to_numpy()[:, None]
    alive = (est <= me[None, :]) & (ex > ms[None, :])
    dormant = (ent["dormant"].to_numpy()[:, None] <= ms[None, :]) & (
        ent["revived"].to_numpy()[:, None] > ms[None, :]
    )
    return alive, alive & ~dormant


def simulate_story(city: City, rates: dict[str, float], seed: int) -> Story:
    """Draw the whole risk story of ``city``."""
    tl = city.timeline
    ent = city.entities
    n = len(ent)
    risk = ent["latent_risk"].to_numpy()
    rm = risk / risk.mean()
    alive, operating = month_grid(city)
    ms = tl.month_starts
    n_months = tl.n_months

    # ring crises and financial distress
    rng = rng_for(seed, 201)
    ring = ent["ring_id"].to_numpy()
    rings = np.unique(ring[ring >= 0])
    has_crisis = rng.random(len(rings)) < 0.7
    crisis_month = np.where(has_crisis, rng.integers(0, max(1, n_months - 6), size=len(rings)), -1)
    crisis = {int(r): int(ms[c]) for r, c in zip(rings, crisis_month, strict=True) if c >= 0}
    cm = np.full(n, -1, dtype=np.int64)
    members = ring >= 0
    cm[members] = crisis_month[np.searchsorted(rings, ring[members])]
    months = np.arange(n_months)[None, :]
    window = (cm[:, None] >= 0) & (months >= cm[:, None]) & (months < cm[:, None] + 6)
    crisis_mult = np.where(window, rates.get("ring_crisis_boost", 4.0), 1.0)
    d_rate = rates.get("distress_rate_per_year", 0.015) * rm**1.5
    t0 = np.maximum(ent["established"].to_numpy() + 365, tl.start)
    distress = t0 + (rng.exponential(1.0, n) / d_rate * 365).astype(np.int64)
    in_crisis = cm >= 0
    crisis_day = np.where(in_crisis, ms[np.maximum(cm, 0)], NEVER)
    hit = in_crisis & (rng.random(n) < 0.6)
    distress[hit] = np.minimum(distress[hit], crisis_day[hit] + rng.integers(0, 150, size=int(hit.sum())))
    distress = np.where(
        (distress <= tl.future_end) & (distress < ent["exit_day"].to_numpy()), distress, NEVER
    )
    dm = tl.month_of(np.minimum(distress, tl.future_end))
    distress_mult = np.ones((n, n_months))
    distress_mult[(distress[:, None] < NEVER) & (months >= dm[:, None]) & (months < dm[:, None] + 12)] = 1.8

    # true violations
    rng = rng_for(seed, 202)
    # the base rate is that of an entity of median risk; riskier entities violate more than proportionally
    base = rates.get("base_violation_rate_per_year", 0.05) / 12
    rel = (risk / np.median(risk)) ** 1.5
    lam = base * rel[:, None] * crisis_mult * distress_mult * np.where(operating, 1.0, 0.1 * alive)
    counts = rng.poisson(lam)
    v_ent, v_month = np.nonzero(counts)
    reps = counts[v_ent, v_month]
    v_ent = np.repeat(v_ent, reps)
    v_month = np.repeat(v_month, reps)
    v_day = tl.day_in_month(rng, v_month)
    keep = (v_day >= ent["established"].to_numpy()[v_ent]) & (v_day < ent["exit_day"].to_numpy()[v_ent])
    v_ent, v_month, v_day = v_ent[keep], v_month[keep], v_day[keep]
    kw = kind_weights(ent)
    v_kind = KINDS["kind"].to_numpy()[_choose_rows(rng, kw[v_ent])]
    nv = len(v_ent)
    p_serious = 0.03 + 0.2 * risk[v_ent]
    u = rng.random(nv)
    severity = np.where(u < p_serious, "serious", np.where(u < p_serious + 0.35, "minor", "general"))
    duration = (30 * (1 + rng.geometric(0.3, size=nv))).astype(np.int64)
    order = np.lexsort((v_day, v_ent))
    violations = pd.DataFrame(
        {
            "entity": v_ent[order],
            "day": v_day[order],
            "end_day": (v_day + duration)[order],
            "kind": v_kind[order],
            "severity": severity[order],
        }
    )
    violations["violation_id"] = ids.labels("V", np.arange(len(violations)), 7)
    vcount = np.zeros((n, n_months), dtype=np.int64)
    np.add.at(vcount, (v_ent, v_month), 1)

    complaints = _complaints(city, rates, seed, vcount, alive, operating, rm)
    checks = _spot_checks(city, rates, seed, complaints)
    violations, complaints, checks = _detect(city, rates, seed, violations, complaints, checks)
    checks = _check_results(city, seed, checks, violations)
    penalties, violations = _penalties(city, rates, seed, violations)
    abnormal = _abnormal(city, seed, checks)
    serious = _serious(city, seed, penalties)
    dishonest = _dishonest(city, seed, distress)
    third = _third_party(city, seed, distress)
    return Story(
        violations=violations,
        complaints=complaints,
        checks=checks,
        penalties=penalties,
        abnormal=abnormal,
        serious=serious,
        dishonest=dishonest,
        distress=distress,
        ring_crisis=crisis,
        third_party=third,
    )


# ---------------------------------------------------------------- complaints
_CONSUMER_SECTION = {
    "F": 0.3,
    "H": 1.6,
    "O": 1.4,
    "P": 1.2,
    "Q": 0.8,
    "R": 0.9,
    "K": 0.6,
    "G": 0.4,
    "I": 0.3,
    "L": 0.3,
    "C": 0.25,
    "E": 0.3,
    "A": 0.04,
    "M": 0.1,
    "N": 0.1,
    "J": 0.4,
    "D": 0.3,
    "B": 0.05,
}
_CONSUMER_DIVISION = {"52": 1.3, "61": 1.0, "13": 0.5, "14": 0.6, "15": 0.5}
_CONSUMER_CLASS = {"7020": 1.8, "6020": 1.2, "7291": 1.2, "5012": 1.2, "5261": 1.0, "8111": 1.6}


def consumer_weight(ent: pd.DataFrame) -> np.ndarray:
    """How exposed each entity is to consumer complaints (retail, catering, services high)."""
    w = ent["section"].map(_CONSUMER_SECTION).fillna(0.1).to_numpy()
    d = ent["division"].map(_CONSUMER_DIVISION).to_numpy()
    w = np.where(np.isnan(d), w, d)
    c = ent["class"].map(_CONSUMER_CLASS).to_numpy()
    return np.where(np.isnan(c), w, c)


def _complaints(
    city: City,
    rates: dict[str, float],
    seed: int,
    vcount: np.ndarray,
    alive: np.ndarray,
    operating: np.ndarray,
    rm: np.ndarray,
) -> pd.DataFrame:
    """Complaints and reports per entity and month; they rise before violations."""
    rng = rng_for(seed, 203)
    tl = city.timeline
    ent = city.entities
    n, n_months = vcount.shape
    cbase = consumer_weight(ent) * (0.2 + 0.8 * rm)
    exposure = np.where(operating, 1.0, 0.25 * alive)
    cbase *= (
        rates.get("complaint_rate_per_year", 0.15) / 12 * exposure.sum() / (cbase[:, None] * exposure).sum()
    )
    # a violation in the next three months (pre) or this/last month (post)
    padded = np.concatenate([vcount, np.zeros((n, 3), dtype=np.int64)], axis=1)
    pre = (padded[:, 1 : n_months + 1] + padded[:, 2 : n_months + 2] + padded[:, 3 : n_months + 3]) > 0
    post = (vcount + np.concatenate([np.zeros((n, 1), dtype=np.int64), vcount[:, :-1]], axis=1)) > 0
    boost = rates.get("pre_violation_complaint_boost", 3.0)
    lam = cbase[:, None] * exposure * np.where(pre, boost, 1.0) * np.where(post, 1.5, 1.0)
    counts = rng.poisson(lam)
    e, m = np.nonzero(counts)
    reps = counts[e, m]
    e = np.repeat(e, reps)
    m = np.repeat(m, reps)
    d = tl.day_in_month(rng, m)
    near = (pre | post)[e, m]
    ok = (d >= ent["established"].to_numpy()[e]) & (d < ent["exit_day"].to_numpy()[e])
    e, d, near = e[ok], d[ok], near[ok]
    report = rng.random(len(e)) < np.where(near, 0.35, 0.18)
    df = pd.DataFrame(
        {
            "entity": e,
            "day": d,
            "appeal": np.where(report, "举报", "投诉"),
            "near_violation": near,
            "outside": -1,
        }
    )
    # complaints about entities that are not in the city's registry: online shops elsewhere, street vendors
    k = round(len(df) * 0.03)
    extra = pd.DataFrame(
        {
            "entity": -1,
            "day": rng.integers(tl.start, tl.future_end, size=k),
            "appeal": np.where(rng.random(k) < 0.2, "举报", "投诉"),
            "near_violation": False,
            "outside": np.where(rng.random(k) < 0.6, np.arange(k), -2),
        }
    )
    df = (
        pd.concat([df, extra], ignore_index=True)
        .sort_values(["day", "entity"], kind="stable")
        .reset_index(drop=True)
    )
    df["complaint_id"] = np.arange(len(df))
    return df


# ---------------------------------------------------------------- spot checks
def _regulator_grade(rng: np.random.Generator, risk: np.ndarray) -> np.ndarray:
    """The regulators' own (noisy) risk class of each entity, A-D in the Dandong mix."""
    score = np.log(risk / (1 - risk)) + rng.normal(0, 0.8, size=len(risk))
    q = pd.Series(score).rank(pct=True).to_numpy()
    return np.where(q > 0.98, "D", np.where(q > 0.90, "C", np.where(q > 0.65, "B", "A")))


GRADE_MULT = {"A": 0.5, "B": 1.0, "C": 2.5, "D": 6.0}
PLAN_RATIO = {"enterprise": 0.05, "cooperative": 0.03, "individual": 0.015}  # per year (Henan 2020 baseline)


def check_category(ent: pd.DataFrame) -> np.ndarray:
    sec = ent["section"].to_numpy(dtype=object)
    div = ent["division"].to_numpy(dtype=object)
    food = (
        (sec == "H")
        | np.isin(div, ["13", "14", "15"])
        | np.isin(
            ent["class"].to_numpy(dtype=object),
            ["5211", "5212", "5213", "5221", "5222", "5223", "5224", "5226", "5229"],
        )
    )
    cls = ent["cls"].to_numpy(dtype=object)
    return np.where(
        food,
        "food",
        np.where(cls == "individual", "individual", np.where(cls == "cooperative", "coop", "general")),
    )


CHECK_TASKS = {
    "food": ("食品经营者监督检查", "食品经营者经营条件检查"),
    "general": ("企业公示信息抽查", "A07.公示信息抽查"),
    "individual": ("个体工商户登记事项检查", "个体工商户登记事项检查"),
    "coop": ("农民专业合作社年度报告公示信息抽查", "农民专业合作社年度报告公示信息检查"),
}


def _spot_checks(city: City, rates: dict[str, float], seed: int, complaints: pd.DataFrame) -> pd.DataFrame:
    """Random (不定向, with inclusion probabilities) and targeted (定向, after complaints) checks."""
    rng = rng_for(seed, 204)
    tl = city.timeline
    ent = city.entities
    n = len(ent)
    grade = _regulator_grade(rng, ent["latent_risk"].to_numpy())
    ratio = ent["cls"].map(PLAN_RATIO).to_numpy() * rates.get("spot_check_ratio_scale", 1.0)
    p_plan = np.clip(ratio / 2 * pd.Series(grade).map(GRADE_MULT).to_numpy(), 0.003, 1.0)
    cat = check_category(ent)
    est = ent["established"].to_numpy()
    ex = ent["exit_day"].to_numpy()
    rows = []
    y0, _, _ = ymd(np.array([tl.start]))
    y1, _, _ = ymd(np.array([tl.future_end]))
    for year in range(int(y0[0]), int(y1[0]) + 1):
        for half, month in ((1, 5), (2, 10)):
            d0 = day(f"{year}-{month:02d}-01")
            if d0 < tl.start or d0 > tl.future_end:
                continue
            eligible = (est <= d0 - 90) & (ex > d0)
            drawn = np.flatnonzero(eligible & (rng.random(n) < p_plan))
            done = d0 + rng.integers(0, 75, size=len(drawn))
            ok = done < ex[drawn]
            drawn, done = drawn[ok], done[ok]
            rows.append(
                pd.DataFrame(
                    {
                        "entity": drawn,
                        "day": done,
                        "check_type": "不定向",
                        "inclusion_probability": p_plan[drawn],
                        "plan_id": f"211300{year}{half}",
                        "year": year,
                        "half": half,
                        "category": cat[drawn],
                        "trigger": -1,
                    }
                )
            )
    random_checks = pd.concat(rows, ignore_index=True)
    # targeted checks: an unfiled report, or a second complaint within 60 days
    c = complaints[complaints["entity"] >= 0].sort_values(["entity", "day"])
    prev_same = c["entity"].to_numpy()[:-1] == c["entity"].to_numpy()[1:]
    gap = np.full(len(c), 10**6)
    gap[1:] = np.where(prev_same, np.diff(c["day"].to_numpy()), 10**6)
    trig = ((gap <= 60) & (rng.random(len(c)) < 0.6)) | (
        (c["appeal"].to_numpy() == "举报") & (rng.random(len(c)) < 0.5)
    )
    t = c[trig]
    tday = t["day"].to_numpy() + rng.integers(7, 45, size=len(t))
    te = t["entity"].to_numpy()
    ok = (tday < ex[te]) & (tday <= tl.future_end)
    targeted = pd.DataFrame({"entity": te[ok], "day": tday[ok], "trigger": t["complaint_id"].to_numpy()[ok]})
    targeted["bucket"] = targeted["day"] // 90
    targeted = targeted.drop_duplicates(["entity", "bucket"]).drop(columns="bucket")
    y, mo, _ = ymd(targeted["day"].to_numpy())
    targeted["check_type"] = "定向"
    targeted["inclusion_probability"] = np.nan
    targeted["plan_id"] = [f"211300{a}{b:02d}D" for a, b in zip(y, mo, strict=True)]
    targeted["year"] = y
    targeted["half"] = mo
    targeted["category"] = cat[targeted["entity"].to_numpy()]
    checks = pd.concat([random_checks, targeted[random_checks.columns]], ignore_index=True)
    checks = checks.sort_values(["day", "entity"], kind="stable").reset_index(drop=True)
    checks["check_id"] = np.arange(len(checks))
    return checks


# ---------------------------------------------------------------- detection
def _detect(
    city: City,
    rates: dict[str, float],
    seed: int,
    violations: pd.DataFrame,
    complaints: pd.DataFrame,
    checks: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Which channel detects each violation first (spot check, targeted check, report, routine)."""
    rng = rng_for(seed, 205)
    p_insp = rates.get("detection_by_inspection", 0.8)
    v = violations[["violation_id", "entity", "day", "end_day"]]
    cands = []
    # checks during the violation
    m = v.merge(
        checks[["check_id", "entity", "day", "check_type"]].rename(columns={"day": "cday"}), on="entity"
    )
    m = m[(m["cday"] >= m["day"]) & (m["cday"] <= m["end_day"])]
    m = m[rng.random(len(m)) < p_insp]
    cands.append(
        pd.DataFrame(
            {
                "violation_id": m["violation_id"],
                "detected_day": m["cday"],
                "detected_by": np.where(m["check_type"] == "定向", "targeted_check", "spot_check"),
                "check_id": m["check_id"],
                "complaint_id": -1,
            }
        )
    )
    # reports around the violation become cases
    rep = complaints[(complaints["appeal"] == "举报") & (complaints["entity"] >= 0)]
    m = v.merge(rep[["complaint_id", "entity", "day"]].rename(columns={"day": "rday"}), on="entity")
    m = m[(m["rday"] >= m["day"] - 30) & (m["rday"] <= m["end_day"])]
    filed = rng.random(len(m)) < rates.get("report_case_rate", 0.6)
    m = m[filed]
    cands.append(
        pd.DataFrame(
            {
                "violation_id": m["violation_id"],
                "detected_day": np.maximum(m["rday"], m["day"]) + rng.integers(10, 30, size=len(m)),
                "detected_by": "report",
                "check_id": -1,
                "complaint_id": m["complaint_id"],
            }
        )
    )
    case_filed = np.zeros(len(complaints), dtype=bool)
    case_filed[m["complaint_id"].to_numpy()] = True
    # unfiled reports are sometimes filed anyway (nothing is found)
    is_report = (complaints["appeal"] == "举报").to_numpy()
    case_filed |= is_report & (rng.random(len(complaints)) < 0.05)
    complaints = complaints.assign(case_filed=np.where(is_report, case_filed, False))
    # routine inspections by the responsible department
    k = rng.geometric(rates.get("routine_detection_per_month", 0.15), size=len(v))
    rday = v["day"].to_numpy() + (k - 1) * 30 + rng.integers(0, 30, size=len(v))
    ok = rday <= v["end_day"].to_numpy()
    cands.append(
        pd.DataFrame(
            {
                "violation_id": v["violation_id"].to_numpy()[ok],
                "detected_day": rday[ok],
                "detected_by": "inspection",
                "check_id": -1,
                "complaint_id": -1,
            }
        )
    )
    allc = pd.concat(cands, ignore_index=True).sort_values(["violation_id", "detected_day"], kind="stable")
    first = allc.drop_duplicates("violation_id")
    violations = violations.merge(first, on="violation_id", how="left")
    violations["detected"] = violations["detected_day"].notna()
    violations["detected_day"] = violations["detected_day"].fillna(NEVER).astype(np.int64)
    violations["detected_by"] = violations["detected_by"].fillna("")
    violations["check_id"] = violations["check_id"].fillna(-1).astype(np.int64)
    violations["complaint_id"] = violations["complaint_id"].fillna(-1).astype(np.int64)
    return violations, complaints, checks


def _check_results(city: City, seed: int, checks: pd.DataFrame, violations: pd.DataFrame) -> pd.DataFrame:
    """The result labels of each check: the problem it found, the state of a dormant entity, or none."""
    rng = rng_for(seed, 206)
    ent = city.entities
    e = checks["entity"].to_numpy()
    d = checks["day"].to_numpy()
    n = len(checks)
    result = np.full(n, CHECK_LABEL_CLEAN, dtype=object)
    u = rng.random(n)
    result[u < 0.03] = CHECK_LABEL_NO_ACTIVITY
    dormant = (ent["dormant"].to_numpy()[e] <= d) & (ent["revived"].to_numpy()[e] > d)
    result[dormant & (u < 0.55)] = CHECK_LABEL_UNREACHABLE
    result[dormant & (u >= 0.55) & (u < 0.8)] = CHECK_LABEL_NOT_PUBLISHED
    result[dormant & (u >= 0.8)] = CHECK_LABEL_NO_ACTIVITY
    found = violations[violations["check_id"] >= 0]
    found = found.drop_duplicates("check_id").set_index("check_id")
    label = found["kind"].map(KINDS.set_index("kind")["check_label"])
    minor = (found["severity"] == "minor") & (rng.random(len(found)) < 0.5)
    text = np.where(minor, CHECK_LABEL_MINOR, CHECK_LABEL_FOUND + LIST_SEP + label.to_numpy(dtype=object))
    pos = checks.index[checks["check_id"].isin(found.index)]
    result[pos] = pd.Series(text, index=found.index).loc[checks.loc[pos, "check_id"]].to_numpy()
    checks = checks.assign(result=result, dormant=dormant, corrected=False)
    corrected = pd.Series(minor.to_numpy(), index=found.index)
    checks.loc[pos, "corrected"] = corrected.loc[checks.loc[pos, "check_id"]].to_numpy()
    return checks


# ---------------------------------------------------------------- penalties
def _penalties(
    city: City, rates: dict[str, float], seed: int, violations: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Penalty decisions: for detected violations, revocations of dormant entities, and a few others."""
    rng = rng_for(seed, 207)
    ent = city.entities
    tl = city.timeline
    v = violations
    corrected_only = v["check_id"].ge(0) & (v["severity"] == "minor")
    p_pen = v["severity"].map({"minor": 0.55, "general": 0.93, "serious": 1.0}).to_numpy()
    pen = (
        v["detected"].to_numpy()
        & (rng.random(len(v)) < p_pen)
        & ~(corrected_only.to_numpy() & (rng.random(len(v)) < 0.7))
    )
    lag = np.where(
        v["detected_by"].to_numpy() == "report",
        rng.integers(20, 90, size=len(v)),
        rng.integers(7, 75, size=len(v)),
    )
    pdf = pd.DataFrame(
        {
            "entity": v["entity"].to_numpy()[pen],
            "day": (v["detected_day"].to_numpy() + lag)[pen],
            "kind": v["kind"].to_numpy()[pen],
            "severity": v["severity"].to_numpy()[pen],
            "violation_id": v["violation_id"].to_numpy()[pen],
            "origin": "violation",
        }
    )
    # the licence of a dormant entity that stays on the abnormal list is revoked
    rev = np.flatnonzero(ent["exit_kind"].to_numpy() == "revoked")
    pdf = pd.concat(
        [
            pdf,
            pd.DataFrame(
                {
                    "entity": rev,
                    "day": ent["exit_day"].to_numpy()[rev],
                    "kind": "dormant",
                    "severity": "serious",
                    "violation_id": ids.labels("VD", np.arange(len(rev)), 6),
                    "origin": "revocation",
                }
            ),
        ],
        ignore_index=True,
    )
    # wrongful penalties (no violation behind them; most are objected to and revoked)
    k = max(1, round(len(pdf) * 0.012))
    alive_any = np.flatnonzero(ent["exit_day"].to_numpy() > tl.start)
    we = rng.choice(alive_any, size=k)
    wd = np.maximum(ent["established"].to_numpy()[we] + 60, tl.start) + rng.integers(
        0, tl.future_end - tl.start, size=k
    )
    ok = wd < np.minimum(ent["exit_day"].to_numpy()[we], tl.future_end)
    wk = KINDS["kind"].to_numpy()[_choose_rows(rng, kind_weights(ent.iloc[we]))]
    pdf = pd.concat(
        [
            pdf,
            pd.DataFrame(
                {
                    "entity": we[ok],
                    "day": wd[ok],
                    "kind": wk[ok],
                    "severity": "minor",
                    "violation_id": "",
                    "origin": "wrongful",
                }
            ),
        ],
        ignore_index=True,
    )
    pdf = pdf[pdf["day"] <= tl.future_end]
    # natural persons (unlicensed trading, illegal passenger transport) and entities from elsewhere
    k = max(1, round(len(pdf) * 0.04))
    persons = pd.DataFrame(
        {
            "entity": -1,
            "day": rng.integers(tl.start, tl.future_end, size=k),
            "kind": np.where(rng.random(k) < 0.6, "unlicensed", "transport"),
            "severity": "minor",
            "violation_id": "",
            "origin": "person",
        }
    )
    k2 = max(1, round(len(pdf) * 0.006))
    outside = pd.DataFrame(
        {
            "entity": -1,
            "day": rng.integers(tl.start, tl.future_end, size=k2),
            "kind": np.where(rng.random(k2) < 0.5, "transport", "quality"),
            "severity": "general",
            "violation_id": "",
            "origin": "outside",
        }
    )
    pdf = pd.concat([pdf, persons, outside], ignore_index=True)
    pdf = pdf.sort_values(["day", "entity"], kind="stable").reset_index(drop=True)
    pdf["penalty_id"] = np.arange(len(pdf))
    pdf = _penalty_terms(rng, ent, pdf)
    # which violations ended in a penalty (with its decision day)
    link = pdf[pdf["origin"] == "violation"].set_index("violation_id")["penalty_id"]
    violations = violations.assign(
        penalty_id=violations["violation_id"].map(link).fillna(-1).astype(np.int64)
    )
    return pdf, violations


_NEW_LAW = day("2021-07-15")


def _round_money(x: np.ndarray) -> np.ndarray:
    return np.where(x >= 10000, np.round(x, -3), np.maximum(np.round(x, -2), 100))


def _penalty_terms(rng: np.random.Generator, ent: pd.DataFrame, pdf: pd.DataFrame) -> pd.DataFrame:
    """Penalty categories, fines, confiscations and the licence concerned."""
    n = len(pdf)
    e = pdf["entity"].to_numpy()
    cls = np.where(e >= 0, ent["cls"].to_numpy(dtype=object)[np.maximum(e, 0)], "person")
    sev = pdf["severity"].to_numpy()
    new_law = (pdf["day"].to_numpy() >= _NEW_LAW) & (rng.random(n) < 0.6)
    u = rng.random(n)
    size = np.select([cls == "individual", cls == "person", cls == "cooperative"], [0.3, 0.15, 0.5], 1.0)
    fine = np.zeros(n)
    conf = np.zeros(n)
    minor = sev == "minor"
    general = sev == "general"
    serious = sev == "serious"
    warn_only = minor & (u < 0.65)
    fine_minor = minor & ~warn_only
    fine[fine_minor] = _round_money(
        np.exp(np.log(1500 * size[fine_minor]) + 0.6 * rng.standard_normal(int(fine_minor.sum())))
    )
    fine[general] = _round_money(
        np.exp(np.log(10000 * size[general]) + 0.9 * rng.standard_normal(int(general.sum())))
    )
    fine[serious] = _round_money(
        np.exp(np.log(60000 * size[serious]) + 0.9 * rng.standard_normal(int(serious.sum())))
    )
    with_conf = (general & (u < 0.25)) | serious & (u < 0.6)
    conf[with_conf] = np.round(
        np.exp(np.log(3000 * size[with_conf]) + 1.0 * rng.standard_normal(int(with_conf.sum()))), 1
    )
    warn_and_fine = general & (u > 0.9)
    stop = serious & (u >= 0.6) & (u < 0.8)
    revoke_lic = serious & (u >= 0.8)
    dormant = pdf["kind"].to_numpy() == "dormant"
    revoke_text = np.where(new_law, "吊销许可证件", "暂扣或者吊销许可证、暂扣或者吊销执照")
    warn_text = np.where(new_law & warn_only & (u < 0.05), "通报批评", "警告")
    parts = [
        np.where(dormant, revoke_text, np.where(warn_only | warn_and_fine, warn_text, "")),
        np.where(~dormant & (fine > 0), "罚款", ""),
        np.where(~dormant & (conf > 0), np.where(new_law, "没收违法所得", "没收违法所得、没收非法财物"), ""),
        np.where(~dormant & stop, "责令停产停业", ""),
        np.where(~dormant & revoke_lic, np.where(new_law, "吊销许可证件", "暂扣或者吊销许可证"), ""),
    ]
    joined = pd.Series(parts[0], dtype=object)
    for p in parts[1:]:
        joined = joined + LIST_SEP + p
    cats = joined.str.replace(f"{LIST_SEP}+", LIST_SEP, regex=True).str.strip(LIST_SEP)
    lic_text = np.full(n, "", dtype=object)
    fine[dormant] = 0
    conf[dormant] = 0
    lic_text[revoke_lic & ~dormant] = "许可证"
    lic_text[dormant] = "营业执照"
    return pdf.assign(
        categories=cats.to_numpy(dtype=object),
        fine_yuan=fine,
        confiscation_yuan=conf,
        stop_days=np.where(stop, rng.integers(7, 90, size=n), 0),
        licence=lic_text,
        warning_only=warn_only & ~dormant,
    )


# ---------------------------------------------------------------- lists
ABN_REASONS = {
    "report": {
        "enterprise": "未按照《企业信息公示暂行条例》第八条规定的期限公示年度报告的",
        "cooperative": "未按照《农民专业合作社年度报告公示办法》规定报送年度报告并公示的",
        "individual": "未按规定报送年度报告",
    },
    "unreachable": {
        "enterprise": "通过登记的住所或者经营场所无法联系的",
        "cooperative": "通过登记的住所无法与农民专业合作社取得联系的",
        "individual": "通过登记的经营场所及经营者住所无法取得联系",
    },
}
ABN_REMOVALS = {
    "report_filed": "已补报年度报告",
    "reachable": "已重新取得联系",
    "moved": "已变更登记住所",
    "to_serious": "列入经营异常名录届满3年仍未履行相关义务的，列入严重违法失信名单，自动移出",
    "closed": "企业注（吊）销，不再列入",
}


def _abnormal(city: City, seed: int, checks: pd.DataFrame) -> pd.DataFrame:
    """Abnormal-operations listings: missed annual reports (life course) and unreachable spot checks."""
    rng = rng_for(seed, 208)
    ent = city.entities
    tl = city.timeline
    lc = np.flatnonzero(ent["abn_listed"].to_numpy() < NEVER)
    a = pd.DataFrame(
        {
            "entity": lc,
            "listed": ent["abn_listed"].to_numpy()[lc],
            "reason": "report",
            "removed": ent["abn_removed"].to_numpy()[lc],
            "removal": ent["abn_removed_reason"].to_numpy()[lc],
        }
    )
    un = checks[checks["result"] == CHECK_LABEL_UNREACHABLE]
    e = un["entity"].to_numpy()
    listed = un["day"].to_numpy() + rng.integers(5, 20, size=len(un))
    # not twice for an entity already listed for its annual report at that time
    already = (ent["abn_listed"].to_numpy()[e] <= listed) & (ent["abn_removed"].to_numpy()[e] > listed)
    keep = ~already & (listed <= tl.future_end)
    e, listed = e[keep], listed[keep]
    revived = ent["revived"].to_numpy()[e]
    exit_day = ent["exit_day"].to_numpy()[e]
    removed = np.full(len(e), NEVER)
    removal = np.full(len(e), "", dtype=object)
    m = revived < exit_day
    removed[m] = np.maximum(revived[m], listed[m] + 30)
    removal[m] = np.where(rng.random(int(m.sum())) < 0.6, "reachable", "moved")
    m2 = ~m & (exit_day < NEVER)
    removed[m2] = np.maximum(exit_day[m2], listed[m2] + 1)
    removal[m2] = "closed"
    b = pd.DataFrame(
        {"entity": e, "listed": listed, "reason": "unreachable", "removed": removed, "removal": removal}
    )
    out = pd.concat([a, b], ignore_index=True).drop_duplicates(["entity", "listed"])
    out["removed"] = np.where(out["removed"] <= tl.future_end, out["removed"], NEVER)
    out.loc[out["removed"] >= NEVER, "removal"] = ""
    return out.sort_values(["listed", "entity"], kind="stable").reset_index(drop=True)


SERIOUS_REASONS = {
    "abnormal_3y": "被列入经营异常名录届满3年仍未履行相关义务的",
    "repeat": "因违法行为两年内受到三次以上行政处罚的",
    "serious_penalty": "因食品安全、产品质量等违法行为受到较重行政处罚，性质恶劣、情节严重、社会危害较大",
}


def _serious(city: City, seed: int, penalties: pd.DataFrame) -> pd.DataFrame:
    """Serious-violation listings: three years abnormal, repeat offenders, heavy penalties."""
    rng = rng_for(seed, 209)
    ent = city.entities
    tl = city.timeline
    rows = []
    lc = np.flatnonzero(ent["serious_listed"].to_numpy() < NEVER)
    rows.append(
        pd.DataFrame({"entity": lc, "listed": ent["serious_listed"].to_numpy()[lc], "reason": "abnormal_3y"})
    )
    p = penalties[
        (penalties["entity"] >= 0) & ~penalties["warning_only"] & (penalties["origin"] == "violation")
    ]
    p = p.sort_values(["entity", "day"])
    e = p["entity"].to_numpy()
    d = p["day"].to_numpy()
    third = np.zeros(len(p), dtype=bool)
    third[2:] = (e[2:] == e[:-2]) & (d[2:] - d[:-2] <= 730)
    rows.append(
        pd.DataFrame(
            {
                "entity": e[third],
                "listed": d[third] + rng.integers(20, 60, size=int(third.sum())),
                "reason": "repeat",
            }
        )
    )
    heavy = p[(p["severity"] == "serious") & (p["day"] >= day("2021-09-01"))]
    heavy = heavy[rng.random(len(heavy)) < 0.5]
    rows.append(
        pd.DataFrame(
            {
                "entity": heavy["entity"].to_numpy(),
                "listed": heavy["day"].to_numpy() + rng.integers(15, 45, size=len(heavy)),
                "reason": "serious_penalty",
            }
        )
    )
    s = pd.concat(rows, ignore_index=True).sort_values(["entity", "listed"], kind="stable")
    s = s[
        (s["listed"] <= tl.future_end)
        & (s["listed"] < ent["exit_day"].to_numpy()[s["entity"].to_numpy()] + 1)
    ]
    s = s.drop_duplicates("entity").reset_index(drop=True)
    early = rng.random(len(s)) < 0.2
    removed = np.where(
        early, s["listed"].to_numpy() + rng.integers(365, 700, size=len(s)), s["listed"].to_numpy() + 1095
    )
    s["removed"] = np.where(removed <= tl.future_end, removed, NEVER)
    s["removal"] = np.where(s["removed"] >= NEVER, "", np.where(early, "repair", "expired"))
    return s.sort_values(["listed", "entity"], kind="stable").reset_index(drop=True)


def _dishonest(city: City, seed: int, distress: np.ndarray) -> pd.DataFrame:
    """Court listings of dishonest judgment debtors: distressed entities, some of their people, others."""
    rng = rng_for(seed, 210)
    ent = city.entities
    tl = city.timeline
    cls = ent["cls"].to_numpy()
    p = np.select([cls == "individual", cls == "cooperative"], [0.25, 0.2], 0.45)
    e = np.flatnonzero((distress < NEVER) & (rng.random(len(ent)) < p))
    cases = 1 + (rng.random(len(e)) < 0.3) * rng.geometric(0.6, size=len(e))
    e = np.repeat(e, cases)
    filing = distress[e] + rng.integers(60, 300, size=len(e))
    publish = filing + rng.integers(30, 120, size=len(e))
    rows = pd.DataFrame({"entity": e, "person": -1, "filing": filing, "publish": publish})
    # legal representatives of listed entities with their own (guarantee) cases, and other residents
    firms = rows.drop_duplicates("entity")
    reps = firms[rng.random(len(firms)) < 0.3]
    rows = pd.concat(
        [
            rows,
            pd.DataFrame(
                {
                    "entity": -1,
                    "person": ent["legal_rep"].to_numpy()[reps["entity"].to_numpy()],
                    "filing": reps["filing"].to_numpy() + rng.integers(0, 60, size=len(reps)),
                    "publish": reps["publish"].to_numpy() + rng.integers(0, 60, size=len(reps)),
                }
            ),
        ],
        ignore_index=True,
    )
    k = round(len(ent) * 0.012)
    people = city.people
    others = rng.choice(len(people), size=k, replace=False)
    f = rng.integers(tl.start - 365, tl.future_end, size=k)
    rows = pd.concat(
        [
            rows,
            pd.DataFrame(
                {"entity": -1, "person": others, "filing": f, "publish": f + rng.integers(30, 120, size=k)}
            ),
        ],
        ignore_index=True,
    )
    # a few entities registered elsewhere whose cases run at Chaoyang courts
    k2 = max(1, round(len(rows) * 0.03))
    f = rng.integers(tl.start - 365, tl.future_end, size=k2)
    rows = pd.concat(
        [
            rows,
            pd.DataFrame(
                {"entity": -1, "person": -2, "filing": f, "publish": f + rng.integers(30, 120, size=k2)}
            ),
        ],
        ignore_index=True,
    )
    rows = rows[rows["publish"] <= tl.future_end]
    removed = rows["publish"].to_numpy() + rng.integers(90, 540, size=len(rows))
    fulfilled = rng.random(len(rows)) < 0.35
    rows["removed"] = np.where(fulfilled & (removed <= tl.future_end), removed, NEVER)
    rows = rows.sort_values(["publish", "entity", "person"], kind="stable").reset_index(drop=True)
    rows["case_id"] = np.arange(len(rows))
    return rows


SIGNALS = [
    ("水费欠费金额", "朝阳市自来水有限责任公司", 300.0),
    ("电费欠费金额", "国网辽宁省电力有限公司朝阳供电公司", 2000.0),
    ("欠税金额", "国家税务总局朝阳市税务局", 20000.0),
    ("社保欠缴月数", "朝阳市社会保险事业服务中心", 3.0),
]


def _third_party(city: City, seed: int, distress: np.ndarray) -> pd.DataFrame:
    """Monthly arrears signals: before and during distress and dormancy, plus noise for healthy entities."""
    rng = rng_for(seed, 211)
    ent = city.entities
    tl = city.timeline
    n = len(ent)
    trouble = np.minimum(distress, ent["dormant"].to_numpy())
    e = np.flatnonzero((trouble < NEVER) & (rng.random(n) < 0.7))
    start = trouble[e] - rng.integers(60, 180, size=len(e))
    length = rng.integers(3, 12, size=len(e))
    noise = np.flatnonzero(rng.random(n) < 0.03)
    ns = rng.integers(tl.start, tl.future_end, size=len(noise))
    e = np.concatenate([e, noise])
    start = np.concatenate([start, ns])
    length = np.concatenate([length, rng.integers(1, 3, size=len(noise))])
    sig = rng.integers(0, len(SIGNALS), size=len(e))
    grow = np.concatenate([np.full(len(e) - len(noise), 1.25), np.full(len(noise), 1.0)])
    ep = np.repeat(np.arange(len(e)), length)
    k = np.arange(len(ep)) - np.repeat(np.cumsum(length) - length, length)
    month = tl.month_of(start[ep]) + k
    # signals are reported at the end of each month
    first = tl.month_starts[0]
    month_end = (np.datetime64(int(first), "D").astype("datetime64[M]") + month + 1).astype(
        "datetime64[D]"
    ).astype(np.int64) - 1
    scale = np.array([s[2] for s in SIGNALS])[sig[ep]]
    value = scale * grow[ep] ** k * np.exp(0.4 * rng.standard_normal(len(ep)))
    is_months = sig[ep] == 3
    value = np.where(is_months, np.minimum(k + 1, 24), np.round(value, 2))
    df = pd.DataFrame({"entity": e[ep], "day": month_end, "signal": sig[ep], "value": value})
    df = df[(df["day"] >= tl.start) & (df["day"] <= tl.future_end)]
    df = df[(df["day"] >= ent["established"].to_numpy()[df["entity"].to_numpy()])]
    df = df.drop_duplicates(["entity", "day", "signal"])
    return df.sort_values(["day", "entity", "signal"], kind="stable").reset_index(drop=True)
