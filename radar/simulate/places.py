"""Places of Chaoyang: districts, streets, towns, villages, buildings, and address generation."""

from __future__ import annotations

import numpy as np
import pandas as pd

from radar.simulate.names import VILLAGES

CITY_NAME = "朝阳市"
PROVINCE_CITY = "辽宁省朝阳市"
DEV_ZONE_NAME = "朝阳经济技术开发区"

# code, name, short name (trade-name prefix, court abbreviation), share of entities, urban
_DISTRICTS = [
    ("211302", "双塔区", "双塔", 0.21, True),
    ("211303", "龙城区", "龙城", 0.12, True),
    ("211321", "朝阳县", "朝阳县", 0.12, False),
    ("211322", "建平县", "建平", 0.15, False),
    ("211324", "喀喇沁左翼蒙古族自治县", "喀左", 0.10, False),
    ("211381", "北票市", "北票", 0.12, False),
    ("211382", "凌源市", "凌源", 0.13, False),
]

STREETS = {
    "211302": [
        "友谊大街",
        "朝阳大街",
        "新华路",
        "中山大街",
        "黄河路",
        "长江路",
        "珠江路",
        "文化路",
        "红旗街",
        "站前街",
        "凌凤街",
        "北大街",
        "双塔街",
        "龙山街",
        "光明街",
        "燕都路",
    ],
    "211303": [
        "龙城大街",
        "燕山路",
        "长江路",
        "七道泉子街",
        "西大营子街",
        "龙山路",
        "海龙街",
        "马山街",
        "新华路",
        "半拉山路",
        "龙泉路",
    ],
    "211321": ["柳城街道新华街", "柳城街道朝阳街", "柳城街道建设路", "柳城街道胜利街"],
    "211322": [
        "叶柏寿街道建平大街",
        "叶柏寿街道新城路",
        "万寿街道富民路",
        "铁南街道兴业路",
        "叶柏寿街道红山路",
    ],
    "211324": ["大城子街道利州路", "大城子街道中兴路", "南哨街道大凌河路", "大城子街道紫都路"],
    "211381": ["城关街道中兴路", "南山街道建设路", "桥北街道新华路", "城关街道人民路", "冠山街道振兴路"],
    "211382": ["城关街道中华路", "红山街道凌河路", "北街街道民主路", "城关街道兴源路", "南街街道文化路"],
}
TOWNS = {
    "211321": ["波罗赤镇", "木头城子镇", "羊山镇", "大平房镇", "二十家子镇", "六家子镇", "台子镇", "胜利镇"],
    "211322": ["朱碌科镇", "沙海镇", "黑水镇", "深井镇", "小塘镇", "张家营子镇", "万寿街道", "哈拉道口镇"],
    "211324": ["公营子镇", "平房子镇", "甘招镇", "六官营子镇", "南公营子镇", "老爷庙镇"],
    "211381": ["台吉镇", "大板镇", "宝国老镇", "东官营镇", "北四家子乡", "泉巨永乡"],
    "211382": ["宋杖子镇", "四官营子镇", "刀尔登镇", "万元店镇", "三十家子镇", "乌兰白镇"],
    "211302": ["凌凤街道", "龙山街道"],
    "211303": ["七道泉子镇", "大平房镇", "联合镇"],
}
COMPOUNDS = [
    "金色家园",
    "阳光花园",
    "世纪城",
    "锦绣华庭",
    "龙城佳苑",
    "凌河湾",
    "燕都新城",
    "盛世华府",
    "幸福里",
    "万达广场",
    "恒大名都",
    "东方明珠",
    "天和嘉园",
    "怡景园",
    "和平小区",
    "胜利小区",
    "站南小区",
]
BUILDINGS = [
    "凯旋大厦",
    "金融大厦",
    "商务中心",
    "国际大厦",
    "财富中心",
    "创业大厦",
    "科技大厦",
    "万达广场写字楼",
    "新天地大厦",
    "朝阳总部基地",
]
DEV_ZONE_STREETS = ["辽河路", "松山路", "纬一路", "经二路", "黄河路南段", "龙山路北段"]


def districts(dev_zone_code: str) -> pd.DataFrame:
    """The county-level units of Chaoyang plus the development zone (with its internal code)."""
    df = pd.DataFrame(_DISTRICTS, columns=["code", "name", "short", "share", "urban"])
    zone = pd.DataFrame([(dev_zone_code, DEV_ZONE_NAME, "开发区", 0.05, True)], columns=df.columns)
    df = pd.concat([df, zone], ignore_index=True)
    df["share"] = df["share"] / df["share"].sum()
    return df


def _pick(rng: np.random.Generator, words: list[str], n: int) -> np.ndarray:
    return np.asarray(words, dtype=object)[rng.integers(0, len(words), size=n)]


def make_addresses(
    rng: np.random.Generator, district_code: np.ndarray, kind: np.ndarray, dev_zone_code: str
) -> np.ndarray:
    """Addresses in each district; ``kind``: ``shop`` (street front), ``home``, ``office`` or ``rural``.

    Counties' urban addresses lie in the county seat; rural ones name a town and village.
    """
    n = len(district_code)
    dist = districts(dev_zone_code).set_index("code")
    dname = dist.loc[district_code, "name"].to_numpy(dtype=object)
    prefix = PROVINCE_CITY + dname
    out = np.empty(n, dtype=object)
    num = rng.integers(1, 400, size=n).astype(str)
    street = np.empty(n, dtype=object)
    for code in np.unique(district_code):
        m = district_code == code
        street[m] = _pick(rng, STREETS.get(code, DEV_ZONE_STREETS), int(m.sum()))
    base = prefix + street + num + "号"
    out[:] = base
    shop = kind == "shop"
    door = rng.random(n) < 0.35
    out[shop & door] = (base + "门市")[shop & door]
    home = kind == "home"
    k = int(home.sum())
    out[home] = (
        prefix[home]
        + street[home]
        + _pick(rng, COMPOUNDS, k)
        + "小区"
        + rng.integers(1, 30, size=k).astype(str)
        + "号楼"
        + rng.integers(1, 7, size=k).astype(str)
        + "单元"
        + rng.integers(1, 19, size=k).astype(str)
        + np.char.add("0", rng.integers(1, 5, size=k).astype(str))
        + "室"
    )
    office = kind == "office"
    k = int(office.sum())
    floor = rng.integers(2, 28, size=k)
    out[office] = (
        base[office]
        + _pick(rng, BUILDINGS, k)
        + floor.astype(str)
        + "层"
        + (floor * 100 + rng.integers(1, 30, size=k)).astype(str)
        + "室"
    )
    rural = (kind == "rural") & np.isin(district_code, list(TOWNS))
    k = int(rural.sum())
    towns = np.empty(k, dtype=object)
    codes = district_code[rural]
    for code in np.unique(codes):
        m = codes == code
        towns[m] = _pick(rng, TOWNS[code], int(m.sum()))
    group = rng.random(k) < 0.4
    tail = np.where(group, rng.integers(1, 9, size=k).astype(str) + "组", "")
    out[rural] = prefix[rural] + towns + _pick(rng, VILLAGES, k) + tail
    return out
