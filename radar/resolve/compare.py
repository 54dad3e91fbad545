"""Comparing a record with a candidate entity: the features of a candidate pair, vectorised with rapidfuzz.

Pure pandas functions over frames of pairs, so they run inside ``mapInPandas`` on Spark executors and on ten
hand-made rows in a test alike. A pair frame has the record's columns (``r_*``), the candidate entity's
(``e_*``) and one of the entity's names (``v_*``: its registry name or a former name from a change record).
:func:`pair_features` compares one record with one name; :func:`best_name` keeps the closest name of each entity; :func:`competition` adds what the
other candidates of the same record look like.

Features are numbers (booleans as 0/1) named in :data:`FEATURES`; missing values never count for or against.
:data:`PAIR_LEVEL` features are added by the caller: the sibling support (how many other records of the same
name carry the entity's code) and the competition among a record's candidates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from radar.resolve.bigrams import grams_of
from radar.resolve.normalize import looks_like_person, sounds_alike

RECORD_FIELDS = [
    "rid", "r_full", "r_core", "r_region", "r_form", "r_branch", "r_person", "r_addr", "r_addr_key", "r_road",
    "r_addr_district", "r_code_district", "r_hint_district", "r_hint_also", "r_hint_type", "r_hint_section", "r_rep", "r_phone",
    "r_date",
]
ENTITY_FIELDS = [
    "eid", "e_district", "e_class", "e_rep", "e_addr", "e_addr_key", "e_road", "e_phone", "e_section",
    "e_industry", "e_core_count", "e_person_named", "e_established", "e_deregistered",
]
NAME_FIELDS = ["v_kind", "v_full", "v_core", "v_region", "v_form", "v_branch"]
FEATURES = [
    "name_ratio", "core_exact", "core_contains", "core_edit1", "core_homophone", "full_exact", "via_former", "via_alias",
    "alias_support", "region_agree", "region_conflict", "district_agree", "district_conflict", "form_agree",
    "form_conflict", "branch_conflict", "addr_exact", "addr_key", "addr_road", "addr_conflict", "rep_agree",
    "rep_conflict", "phone_agree", "phone_conflict", "person_named", "rec_person", "hint_surname",
    "hint_given", "names_operator", "class_conflict", "industry_agree", "industry_conflict", "shop_word",
    "core_common", "short_core", "is_best_name", "name_margin", "exact_rivals", "n_candidates",
    "addr_unique", "alias_unique", "exact_x_addr", "weak_name_x_addr", "exact_no_form", "exact_no_region",
    "operator_at_addr", "not_yet_established", "deregistered_before",
]
# the second stage: how a candidate's first-stage log-odds stand against the record's other candidates (with the
# lead counted again when ahead, the log-odds again when below even, and their product: a linear model cannot
# otherwise tell a clear lead of a middling candidate from a lead among sure ones) ...
RIVAL_FEATURES = [
    "first_logit", "lead", "is_top", "n_candidates", "close_rivals", "lead_ahead", "logit_below_zero", "logit_x_lead",
]
# ... and, for the best candidate only, first-stage features weighed again: how many entities bear its name, how
# far its name leads the others, how many records used the name for it, a name given without its place (a shop
# sign many districts share is a question, the one sign that stands out is not)
TOP_FEATURES = ("core_common", "name_margin", "alias_support", "exact_no_region")
RIVAL_FEATURES += [f"top_{f}" for f in TOP_FEATURES]
SIBLING = ("via_alias", "alias_support")
COMPETITION = ("is_best_name", "name_margin", "exact_rivals", "n_candidates", "addr_unique", "alias_unique")
PAIR_LEVEL = SIBLING + COMPETITION
NAME_LEVEL = tuple(f for f in FEATURES if f not in PAIR_LEVEL)
# names the match explanation uses for a feature that pushed the probability up or down
FEATURE_LABELS = {
    "name_ratio": "名称相似度", "core_exact": "字号核心一致", "core_contains": "名称包含", "core_edit1": "名称差一字",
    "core_homophone": "名称读音相同（同音字）",
    "full_exact": "全称一致", "via_former": "曾用名一致", "via_alias": "其他记录使用的名称", "alias_support": "别名记录数",
    "region_agree": "名称中的区县一致", "region_conflict": "名称中的区县不同", "district_agree": "所在区县一致",
    "district_conflict": "所在区县不同", "form_agree": "组织形式一致", "form_conflict": "组织形式不同",
    "branch_conflict": "分支机构不一致", "addr_exact": "地址一致", "addr_key": "门牌一致", "addr_road": "道路一致",
    "addr_conflict": "地址不同", "rep_agree": "法定代表人一致", "rep_conflict": "法定代表人不同",
    "phone_agree": "电话一致", "phone_conflict": "电话不同", "person_named": "个体户以经营者姓名登记",
    "rec_person": "记录名称像自然人姓名", "hint_surname": "招牌含经营者姓氏", "hint_given": "招牌含经营者名字",
    "names_operator": "记录名称即经营者姓名", "class_conflict": "主体类型不符", "industry_agree": "行业一致",
    "industry_conflict": "行业不同", "shop_word": "招牌行业词与登记行业相符", "core_common": "字号常见程度",
    "short_core": "字号过短", "is_best_name": "名称最接近的候选", "name_margin": "领先其他候选的名称差距",
    "exact_rivals": "同名候选数", "n_candidates": "候选数",
    "addr_unique": "唯一地址一致的候选", "alias_unique": "唯一被其他记录使用该名称的候选", "exact_x_addr": "名称与地址均一致",
    "weak_name_x_addr": "名称不近但地址一致", "exact_no_form": "字号一致，记录省略组织形式",
    "exact_no_region": "字号一致，记录省略地名",
    "operator_at_addr": "以经营者姓名登记的个体户在记录所载门牌",
    "not_yet_established": "记录日期早于主体成立日期", "deregistered_before": "记录日期晚于主体注销日期",
    "first_logit": "逐项比对得分", "lead": "领先次优候选的幅度", "is_top": "得分最高的候选",
    "close_rivals": "得分接近的其他候选数", "lead_ahead": "领先次优候选", "logit_below_zero": "逐项比对得分偏低",
    "logit_x_lead": "得分与领先幅度共同作用",
    "top_core_common": "最高候选的字号常见程度", "top_name_margin": "最高候选领先其他候选的名称差距",
    "top_alias_support": "最高候选的别名记录数", "top_exact_no_region": "最高候选字号一致，记录省略地名",
}
_SURNAME_LEADS = ("老", "小")
_SURNAME_TAILS = ("记", "氏")


def _s(series: pd.Series) -> list[str]:
    """A text column as a list of str, missing values as ''."""
    return series.fillna("").astype(str).tolist()


def _text(series: pd.Series) -> np.ndarray:
    """A text column as an object array of str, missing values as '' (compared elementwise by numpy)."""
    return np.array(_s(series), dtype=object)


def _present(series: pd.Series) -> np.ndarray:
    return np.asarray(_text(series) != "", dtype=bool)


def _eq(a: pd.Series, b: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(both present and equal, both present and different)."""
    x, y = _text(a), _text(b)
    both = np.asarray((x != "") & (y != ""), dtype=bool)
    same = np.asarray(x == y, dtype=bool)
    return both & same, both & ~same


def _bigrams(s: str) -> set[str]:
    """The character bigrams of a text as a set (none for an empty text)."""
    return set(grams_of(s)) if s else set()


def pair_features(
    df: pd.DataFrame, folds: tuple[tuple[str, str], ...] = (), grace_days: int = 0
) -> pd.DataFrame:
    """The features of each (record, entity name) row of ``df`` (columns of RECORD_, ENTITY_ and NAME_FIELDS).

    Returns a frame with rid, eid, v_kind and the pair features (all of FEATURES but the competition ones).
    ``folds``: the pinyin sounds taken as one when comparing how the names read (``resolve.homophone_folds``);
    ``grace_days``: how long after its deregistration a record may still be about an entity
    (``resolve.match.deregistered_grace_days``).
    """
    n = len(df)
    rc, vc = _s(df["r_core"]), _s(df["v_core"])
    out = pd.DataFrame({"rid": df["rid"].to_numpy(), "eid": df["eid"].to_numpy(), "v_kind": df["v_kind"].to_numpy()})
    ratio = process.cpdist(rc, vc, scorer=fuzz.ratio, workers=1) / 100.0 if n else np.zeros(0)
    dist = process.cpdist(rc, vc, scorer=Levenshtein.distance, workers=1) if n else np.zeros(0)
    # vectorised where numpy can; the text tests one pair at a time only on the pairs they can be true for
    rca, vca = np.array(rc, dtype=object), np.array(vc, dtype=object)
    r_len = np.fromiter(map(len, rc), dtype=int, count=n)
    v_len = np.fromiter(map(len, vc), dtype=int, count=n)
    lens = np.minimum(r_len, v_len)
    has = lens > 0
    exact = has & np.asarray(rca == vca, dtype=bool)
    contains = np.zeros(n, dtype=bool)
    for i in np.flatnonzero(~exact & (lens >= 2)):
        a, b = rc[i], vc[i]
        contains[i] = a in b or b in a
    out["name_ratio"] = np.where(has, ratio, 0.0)
    out["core_exact"] = exact.astype(float)
    out["core_contains"] = contains.astype(float)
    out["core_edit1"] = (has & ~exact & (dist == 1) & (lens >= 3)).astype(float)
    # written by ear: the same length, every differing character read alike (鑫盛 / 新胜, 聚福 / 巨福)
    homophone = np.zeros(n, dtype=bool)
    for i in np.flatnonzero(has & ~exact & (r_len == v_len)):
        homophone[i] = sounds_alike(rc[i], vc[i], folds)
    out["core_homophone"] = homophone.astype(float)
    full_same, _ = _eq(df["r_full"], df["v_full"])
    out["full_exact"] = full_same.astype(float)
    out["via_former"] = (df["v_kind"].to_numpy() == "former").astype(float)

    # region: the district the record's name gives against the entity's name and seat
    e_dist = _s(df["e_district"])
    r_region, v_region = _s(df["r_region"]), _s(df["v_region"])
    district_like = [len(x) == 6 and not x.endswith("00") for x in r_region]
    agree = np.array(
        [d and (x in (y, z)) for d, x, y, z in zip(district_like, r_region, v_region, e_dist, strict=True)],
        dtype=bool,
    )
    conflict = np.array(
        [
            d and z != "" and x != z and x != y
            for d, x, y, z in zip(district_like, r_region, v_region, e_dist, strict=True)
        ],
        dtype=bool,
    )
    out["region_agree"] = agree.astype(float)
    out["region_conflict"] = conflict.astype(float)
    # the record's other districts: its address, its code's division, the unit that handled it
    # (a handling unit also serving other divisions stands for each of them: ``resolve.units_also_serve``)
    # (compared column by column; the few records whose unit serves other divisions too, one by one)
    z = np.array(e_dist, dtype=object)
    d_any = np.zeros(n, dtype=bool)
    d_hit = np.zeros(n, dtype=bool)
    for col in ("r_addr_district", "r_code_district", "r_hint_district"):
        o = _text(df[col])
        d_any |= o != ""
        d_hit |= o == z
    also = _s(df["r_hint_also"])
    for i in np.flatnonzero(np.array([a != "" for a in also], dtype=bool)):
        served = [x for x in also[i].split(",") if x]
        d_any[i] |= bool(served)
        d_hit[i] |= z[i] in served
    has_z = z != ""
    d_agree = has_z & d_hit
    d_conflict = has_z & d_any & ~d_hit
    out["district_agree"] = d_agree.astype(float)
    out["district_conflict"] = d_conflict.astype(float)

    f_same, f_diff = _eq(df["r_form"], df["v_form"])
    out["form_agree"] = f_same.astype(float)
    out["form_conflict"] = f_diff.astype(float)
    out["branch_conflict"] = (_present(df["r_branch"]) != _present(df["v_branch"])).astype(float)

    a_exact, _ = _eq(df["r_addr"], df["e_addr"])
    k_same, _ = _eq(df["r_addr_key"], df["e_addr_key"])
    road_same, road_diff = _eq(df["r_road"], df["e_road"])
    _, addr_diff = _eq(df["r_addr_key"], df["e_addr_key"])
    out["addr_exact"] = a_exact.astype(float)
    out["addr_key"] = (k_same & ~a_exact).astype(float)
    out["addr_road"] = (road_same & ~k_same & ~a_exact).astype(float)
    out["addr_conflict"] = (addr_diff & ~road_same & (road_diff | ~_present(df["r_road"]))).astype(float)

    rep_same, rep_diff = _eq(df["r_rep"], df["e_rep"])
    out["rep_agree"] = rep_same.astype(float)
    out["rep_conflict"] = rep_diff.astype(float)
    ph_same, ph_diff = _eq(df["r_phone"], df["e_phone"])
    out["phone_agree"] = ph_same.astype(float)
    out["phone_conflict"] = ph_diff.astype(float)

    # individual businesses: the shop sign against the operator
    e_rep = _s(df["e_rep"])
    person_named = df["e_person_named"].fillna(False).to_numpy(dtype=bool)
    out["person_named"] = person_named.astype(float)
    out["rec_person"] = df["r_person"].fillna(False).to_numpy(dtype=bool).astype(float)
    surname = [r[0] if len(r) >= 2 else "" for r in e_rep]
    given = [r[1:] if len(r) == 3 else "" for r in e_rep]
    # the shop-sign forms of each surname, made once per surname, not per pair
    signs = {s: tuple(p + s for p in _SURNAME_LEADS) + tuple(s + t for t in _SURNAME_TAILS) for s in set(surname)}
    out["hint_surname"] = np.array(
        [s != "" and c.startswith(signs[s]) for c, s in zip(rc, surname, strict=True)], dtype=float
    )
    out["hint_given"] = np.array([g != "" and g in c for c, g in zip(rc, given, strict=True)], dtype=float)
    r_full = _s(df["r_full"])
    out["names_operator"] = np.array([r != "" and r == p for r, p in zip(r_full, e_rep, strict=True)], dtype=float)

    e_class = _s(df["e_class"])
    r_form = _s(df["r_form"])
    r_type = _s(df["r_hint_type"])
    company_form = [("公司" in f) or ("企业" in f) or ("合作社" in f) for f in r_form]
    out["class_conflict"] = np.array(
        [
            (cf and ec == "individual")
            or ("个体" in t and ec in ("enterprise", "cooperative"))
            or (t != "" and "个体" not in t and ("企业" in t or "公司" in t) and ec == "individual")
            for cf, ec, t in zip(company_form, e_class, r_type, strict=True)
        ],
        dtype=float,
    )
    i_same, i_diff = _eq(df["r_hint_section"], df["e_section"])
    out["industry_agree"] = i_same.astype(float)
    out["industry_conflict"] = i_diff.astype(float)
    e_ind = _s(df["e_industry"])
    # bigrams once per distinct text: a record's name and an industry recur across pairs
    sign = {c: _bigrams(c[2:]) for c in set(rc) if len(c) >= 3}
    trade = {i: _bigrams(i) for i in set(e_ind)}
    out["shop_word"] = np.array(
        [c in sign and not sign[c].isdisjoint(trade[i]) for c, i in zip(rc, e_ind, strict=True)], dtype=float
    )
    count = pd.to_numeric(df["e_core_count"], errors="coerce").fillna(1).to_numpy(dtype=float)
    out["core_common"] = np.where(exact, np.log1p(np.maximum(count - 1, 0)), 0.0)
    out["short_core"] = np.array([1.0 / max(len(c), 1) if c else 1.0 for c in rc])
    out["exact_x_addr"] = exact.astype(float) * (a_exact | k_same)
    out["weak_name_x_addr"] = (out["name_ratio"].to_numpy() < 0.5) * (a_exact | k_same)
    # a business registered under its operator's name at the very house number the record gives: the registry
    # knows no shop sign of it, so the sign cannot agree, and the premises say who it is (a village is no premises)
    premises = np.array([k.endswith(("号", "栋")) for k in _s(df["e_addr_key"])], dtype=bool)
    out["operator_at_addr"] = (person_named & (a_exact | k_same) & premises).astype(float)
    # a short name for the entity (the form or the place left out), as complainants write it
    out["exact_no_form"] = (exact & ~_present(df["r_form"]) & _present(df["v_form"])).astype(float)
    out["exact_no_region"] = (exact & ~_present(df["r_region"]) & _present(df["v_region"])).astype(float)
    # the record's date against the entity's life: a namesake that did not exist yet, or had long been
    # deregistered, is another business of that name (a missing date never counts)
    when = pd.to_datetime(df["r_date"], errors="coerce")
    born = pd.to_datetime(df["e_established"], errors="coerce")
    gone = pd.to_datetime(df["e_deregistered"], errors="coerce") + pd.Timedelta(days=grace_days)
    out["not_yet_established"] = (when < born).to_numpy(dtype=float)
    out["deregistered_before"] = (when > gone).to_numpy(dtype=float)
    return out


def best_name(features: pd.DataFrame) -> pd.DataFrame:
    """One row per (record, entity): the features of the entity's name closest to the record's."""
    if features.empty:
        return features
    closeness = (
        features["core_exact"] * 2 + features["core_homophone"] + features["full_exact"] + features["name_ratio"]
        + features["hint_surname"] + features["hint_given"] + features["names_operator"]
    )
    # equally close: the registry name before a former one
    order = features.assign(_c=closeness).sort_values(
        ["rid", "eid", "_c", "v_kind"], ascending=[True, True, False, False], kind="stable"
    )
    return order.drop_duplicates(["rid", "eid"]).drop(columns="_c").reset_index(drop=True)


def competition(features: pd.DataFrame) -> pd.DataFrame:
    """Adds, per record, how this candidate's name compares with the other candidates' names, and whether it
    is the only candidate at the record's address, or the only one other records of the name were linked to."""
    if features.empty:
        for c in COMPETITION:
            features[c] = pd.Series(dtype=float)
        return features
    f = features.copy()
    score = (
        f["name_ratio"] + f["core_exact"] + 0.5 * f["core_homophone"]
        + 0.5 * (f["hint_surname"] + f["hint_given"] + f["names_operator"])
        + 0.5 * np.minimum(f["alias_support"], 1.0)
    )
    order = pd.DataFrame({"rid": f["rid"], "_s": score}).sort_values(["rid", "_s"], ascending=[True, False])
    rank = order.groupby("rid", sort=False).cumcount()
    first = order.loc[rank.to_numpy() == 0].set_index("rid")["_s"]
    second = order.loc[rank.to_numpy() == 1].set_index("rid")["_s"]
    best = f["rid"].map(first).to_numpy(dtype=float)
    other_best = np.where(score >= best, f["rid"].map(second).fillna(-1.0).to_numpy(dtype=float), best)
    n = f.groupby("rid", sort=False)["rid"].transform("size")
    f["is_best_name"] = (score >= best).astype(float)
    f["name_margin"] = np.clip(score - other_best, -2.0, 2.0)
    exact_n = f["core_exact"].groupby(f["rid"]).transform("sum")
    f["exact_rivals"] = np.log1p(np.maximum(exact_n - f["core_exact"], 0))
    f["n_candidates"] = np.log(n.astype(float))
    at_addr = ((f["addr_exact"] + f["addr_key"]) > 0).astype(float)
    f["addr_unique"] = at_addr * (at_addr.groupby(f["rid"]).transform("sum") == 1)
    f["alias_unique"] = f["via_alias"] * (f["via_alias"].groupby(f["rid"]).transform("sum") == 1)
    return f


def rivals(features: pd.DataFrame, logit: np.ndarray, cap: float, gap: float) -> pd.DataFrame:
    """The second-stage features of each (record, candidate) row (:data:`RIVAL_FEATURES`), from the first-stage
    log-odds ``logit`` of the rows: those log-odds (clipped to +-``cap``), the lead over the record's best other
    candidate (+-``cap``; ``-cap`` stands in for a missing rival), whether the candidate is the best, how many
    candidates the record has (log), and how many other candidates are within ``gap`` of it (log1p); then the
    shape terms and the best candidate's :data:`TOP_FEATURES` (a feature ``features`` lacks counts 0).
    :class:`radar.resolve.scoring.PairScoring` scores a record's candidates with them."""
    f = features.copy()
    z = np.clip(np.asarray(logit, dtype=float), -cap, cap)
    f["first_logit"] = z
    if f.empty:
        for c in RIVAL_FEATURES[1:]:
            f[c] = pd.Series(dtype=float)
        return f
    code = pd.factorize(f["rid"])[0]
    order = np.lexsort((-z, code))  # by record, best first
    zs, cs = z[order], code[order]
    start = np.r_[0, np.flatnonzero(np.diff(cs)) + 1]
    size = np.diff(np.r_[start, len(cs)])
    first = np.repeat(zs[start], size)
    second = np.repeat(np.where(size > 1, zs[np.minimum(start + 1, len(zs) - 1)], -cap), size)
    best, other = np.empty_like(z), np.empty_like(z)
    best[order], other[order] = first, second
    rival = np.where(z >= best, other, best)
    f["lead"] = np.clip(z - rival, -cap, cap)
    f["is_top"] = (z >= best).astype(float)
    if "n_candidates" not in f:
        f["n_candidates"] = np.log(np.bincount(code)[code].astype(float))
    # candidates of the same record within ``gap``: records laid end to end on one axis, far enough apart
    span = np.ceil(4 * cap + 2 * gap) + 1
    axis = np.sort(code * span + z)
    ends = np.searchsorted(axis, code * span + cap + gap, side="right")
    close = ends - np.searchsorted(axis, code * span + z - gap, side="left") - 1
    f["close_rivals"] = np.log1p(close.astype(float))
    ahead = np.maximum(f["lead"].to_numpy(), 0.0)
    f["lead_ahead"] = ahead
    f["logit_below_zero"] = np.minimum(z, 0.0)
    f["logit_x_lead"] = z * ahead / cap
    for c in TOP_FEATURES:
        f[f"top_{c}"] = f["is_top"] * (f[c].to_numpy(dtype=float) if c in f else 0.0)
    return f


def compare_records(
    df: pd.DataFrame, folds: tuple[tuple[str, str], ...] = (), grace_days: int = 0
) -> pd.DataFrame:
    """Every feature of every (record, entity) pair in ``df``: all names of the entities and all candidates of
    each record (the competition compares them), with ``alias_n``, how many other records of the record's
    name carry the entity's code (missing: none). Pair features per name, the closest name, the sibling
    support, the competition."""
    f = pair_features(df, folds, grace_days)
    f["_alias_n"] = (
        pd.to_numeric(df["alias_n"], errors="coerce").fillna(0).to_numpy(dtype=float) if "alias_n" in df else 0.0
    )
    f = best_name(f)
    n = f.pop("_alias_n").to_numpy(dtype=float)
    f["via_alias"] = (n > 0).astype(float)
    f["alias_support"] = np.log1p(n)
    return competition(f)


def compare_pairs(
    df: pd.DataFrame, alias_n: pd.Series | None = None, folds: tuple[tuple[str, str], ...] = (), grace_days: int = 0
) -> pd.DataFrame:
    """:func:`compare_records` with the sibling support given apart (``alias_n`` indexed by (rid, eid))."""
    df = df.copy()
    if alias_n is not None:
        df["alias_n"] = alias_n.reindex(list(zip(df["rid"], df["eid"], strict=True))).to_numpy()
    return compare_records(df, folds, grace_days)


def person_named(name_core: str | None, legal_rep: str | None) -> bool:
    """Whether an entity is registered under its operator's name (or a name that looks like a person's)."""
    if not name_core:
        return False
    return (legal_rep is not None and name_core == legal_rep) or looks_like_person(name_core)
