"""Chinese names of the simulated city: people, enterprises, individual businesses, cooperatives.

Names are built from parts so that the variants a complaint hotline records (no region prefix, no
company-form suffix, other bracket width, branch dropped, a one-character typo, the shop sign of an
individual business) can be derived from the same parts. Everything is vectorised with pandas/numpy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# ---------------------------------------------------------------- people
# Surnames with rough frequencies in north-east China (common ones repeat, so do full names).
SURNAMES = {
    "王": 8.0,
    "李": 7.6,
    "张": 7.2,
    "刘": 6.0,
    "赵": 3.0,
    "杨": 3.0,
    "孙": 2.4,
    "于": 2.0,
    "高": 1.8,
    "陈": 1.8,
    "徐": 1.4,
    "马": 1.3,
    "郭": 1.2,
    "周": 1.2,
    "吴": 1.0,
    "朱": 1.0,
    "韩": 1.0,
    "宋": 1.0,
    "董": 0.9,
    "胡": 0.9,
    "冯": 0.8,
    "郑": 0.7,
    "姜": 0.7,
    "曹": 0.7,
    "田": 0.7,
    "白": 0.6,
    "崔": 0.6,
    "何": 0.6,
    "林": 0.5,
    "罗": 0.5,
    "黄": 0.5,
    "梁": 0.5,
    "谢": 0.4,
    "唐": 0.4,
    "许": 0.5,
    "邓": 0.3,
    "吕": 0.4,
    "苏": 0.4,
    "卢": 0.3,
    "蒋": 0.3,
    "蔡": 0.3,
    "贾": 0.4,
    "丁": 0.4,
    "魏": 0.4,
    "薛": 0.3,
    "闫": 0.4,
    "付": 0.4,
    "杜": 0.3,
    "石": 0.4,
    "姚": 0.3,
    "范": 0.3,
    "方": 0.3,
    "金": 0.3,
    "侯": 0.4,
    "孟": 0.4,
    "秦": 0.3,
    "邢": 0.3,
    "尹": 0.3,
    "史": 0.3,
    "武": 0.3,
    "常": 0.3,
    "乔": 0.2,
    "齐": 0.3,
    "关": 0.3,
    "佟": 0.2,
    "包": 0.3,
    "康": 0.2,
    "鲍": 0.1,
    "那": 0.1,
    "尚": 0.2,
    "段": 0.2,
    "任": 0.3,
    "袁": 0.2,
    "彭": 0.2,
    "程": 0.3,
    "牛": 0.2,
    "郝": 0.3,
    "陶": 0.1,
    "邱": 0.2,
    "庞": 0.1,
    "葛": 0.1,
}
MALE_SINGLE = list("伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帅旭宁龙林亮峰东成国新")
FEMALE_SINGLE = list("芳娜敏静丽艳娟霞婷雪琳慧颖倩洁晶燕玲萍红梅莉丹欣悦爽")
MALE_POPULAR = [
    "建国",
    "建华",
    "建军",
    "国庆",
    "海涛",
    "志强",
    "志刚",
    "俊杰",
    "浩然",
    "子轩",
    "宇航",
    "振华",
    "永刚",
    "文博",
    "立新",
    "明辉",
    "德胜",
    "玉林",
    "长青",
    "福来",
    "宝山",
    "金龙",
    "树林",
    "洪涛",
    "晓东",
    "晓光",
    "晓峰",
    "鹏飞",
    "海龙",
    "海波",
    "天宇",
    "家豪",
    "博文",
    "一鸣",
    "铁军",
    "永生",
    "国华",
    "春生",
    "凤山",
]
FEMALE_POPULAR = [
    "秀英",
    "玉兰",
    "桂芝",
    "红梅",
    "丽娟",
    "晓丽",
    "淑珍",
    "淑华",
    "桂兰",
    "玉梅",
    "海燕",
    "春梅",
    "雪梅",
    "丽华",
    "凤英",
    "秀兰",
    "美玲",
    "婷婷",
    "欣怡",
    "梓涵",
    "雨欣",
    "思雨",
    "佳怡",
    "晓燕",
    "丽丽",
    "艳红",
    "亚楠",
    "佳琪",
    "淑芬",
    "玉芝",
    "桂荣",
    "秀云",
    "春华",
    "凤霞",
]
MALE_FIRST = list("志建国海晓文永德玉宝明立春洪振俊子宇天家博一金长福树铁中庆万")
MALE_SECOND = list("强刚军华涛峰东光飞龙波林山生成明平辉杰轩航博宇鹏鑫伟新胜利发")
FEMALE_FIRST = list("秀玉桂红丽晓淑海春雪凤美婷欣梓雨思佳艳亚慧静文金")
FEMALE_SECOND = list("英兰芝梅娟丽珍华燕玲霞婷怡涵欣雨琪楠红敏萍洁凤云")


def _pick(rng: np.random.Generator, words: list[str], n: int) -> np.ndarray:
    return np.asarray(words, dtype=object)[rng.integers(0, len(words), size=n)]


def surnames(rng: np.random.Generator, n: int) -> np.ndarray:
    """Surnames drawn with their frequencies."""
    keys = list(SURNAMES)
    w = np.array([SURNAMES[k] for k in keys])
    return np.asarray(keys, dtype=object)[rng.choice(len(keys), size=n, p=w / w.sum())]


def given_names(rng: np.random.Generator, male: np.ndarray) -> np.ndarray:
    """Given names: a quarter single characters, a third popular names, the rest composed."""
    n = len(male)
    u = rng.random(n)
    out = np.empty(n, dtype=object)
    single = u < 0.25
    popular = (u >= 0.25) & (u < 0.58)
    composed = u >= 0.58
    for is_male, pools in (
        (True, (MALE_SINGLE, MALE_POPULAR, MALE_FIRST, MALE_SECOND)),
        (False, (FEMALE_SINGLE, FEMALE_POPULAR, FEMALE_FIRST, FEMALE_SECOND)),
    ):
        g = male == is_male
        for mask, words in ((single & g, pools[0]), (popular & g, pools[1])):
            out[mask] = _pick(rng, words, int(mask.sum()))
        m = composed & g
        k = int(m.sum())
        out[m] = _pick(rng, pools[2], k) + _pick(rng, pools[3], k)
    return out


def person_names(rng: np.random.Generator, male: np.ndarray, surname: np.ndarray | None = None) -> np.ndarray:
    """Full names (surname + given name); pass ``surname`` to name relatives."""
    s = surnames(rng, len(male)) if surname is None else surname
    return s + given_names(rng, male)


# ---------------------------------------------------------------- enterprises
# characters of trade names (字号): a few very common pairs plus composed ones
ZIHAO_POPULAR = [
    "鑫盛",
    "宏达",
    "华信",
    "金源",
    "恒通",
    "瑞丰",
    "兴隆",
    "永盛",
    "德润",
    "顺达",
    "泰和",
    "昌盛",
    "天成",
    "福源",
    "广源",
    "盛世",
    "汇通",
    "佳禾",
    "博远",
    "凯达",
    "中诚",
    "聚鑫",
    "金诚",
    "利民",
    "众诚",
    "亿达",
    "鸿运",
    "祥瑞",
    "嘉禾",
    "鼎盛",
    "宏伟",
    "华隆",
    "东方",
    "辽西",
    "燕山",
    "凌河",
    "大凌",
    "红山",
    "龙腾",
]
ZIHAO_FIRST = list(
    "鑫盛宏华金恒瑞兴永德顺泰昌天福广汇佳博凯中诚聚利众亿鸿祥嘉鼎东辽燕凌龙富安康宝荣益晟森创威腾宇星明光辉联万锦茂鹏翔骏智科尚优新"
)
ZIHAO_SECOND = list(
    "达信源通丰隆盛润和昌成源世通禾远达诚鑫民运瑞发泰宇兴华海川泽旺安康荣益森峰创威腾星辉程远茂林鹏翔航业实力合德"
)
REGION_PREFIXES = ["朝阳市", "朝阳", "辽宁", "辽宁省朝阳市"]
TYPO = {
    "鑫": "新",
    "盛": "胜",
    "宏": "红",
    "达": "大",
    "华": "化",
    "源": "元",
    "恒": "衡",
    "通": "同",
    "瑞": "锐",
    "丰": "峰",
    "兴": "星",
    "隆": "龙",
    "永": "勇",
    "德": "得",
    "润": "闰",
    "顺": "舜",
    "泰": "太",
    "昌": "长",
    "福": "富",
    "广": "光",
    "汇": "会",
    "佳": "家",
    "博": "波",
    "凯": "楷",
    "诚": "成",
    "聚": "巨",
    "利": "力",
    "亿": "艺",
    "鸿": "洪",
    "祥": "翔",
    "嘉": "佳",
    "鼎": "顶",
    "辉": "晖",
    "锦": "金",
    "茂": "贸",
    "鹏": "朋",
    "科": "可",
    "尚": "上",
    "优": "尤",
    "新": "欣",
    "商": "尚",
    "贸": "茂",
    "建": "健",
    "筑": "铸",
    "食": "石",
    "品": "聘",
    "餐": "参",
    "饮": "引",
    "技": "计",
    "程": "成",
    "饺": "角",
    "馆": "管",
    "店": "点",
    "超": "潮",
    "市": "是",
    "美": "每",
    "发": "法",
    "汽": "气",
    "车": "陈",
    "修": "休",
    "理": "里",
}
COMPANY_FORMS = ["有限公司", "有限责任公司", "股份有限公司"]
BRANCH_SUFFIXES = ["朝阳分公司", "朝阳市分公司", "双塔分公司", "建平分公司", "凌源分公司", "北票分公司"]
PARENT_REGIONS = ["辽宁", "沈阳", "大连", "锦州", "北京", "赤峰", "承德", ""]


def zihao(rng: np.random.Generator, n: int) -> np.ndarray:
    """Two-character trade names (字号); popular pairs recur across the city (near-collisions)."""
    popular = rng.random(n) < 0.3
    out = _pick(rng, ZIHAO_FIRST, n) + _pick(rng, ZIHAO_SECOND, n)
    out[popular] = _pick(rng, ZIHAO_POPULAR, int(popular.sum()))
    return out


# ---------------------------------------------------------------- individual businesses
SHOP_OWNER_STYLES = ["老{s}", "小{s}", "{s}记", "{s}氏", "{g}", "{z}", "{z}", "{z}"]
SHOP_LEADS = list("惠民诚信好运福满鑫鑫聚福顺心万家百姓金鼎老街东北乡村")
SHOP_LEAD_PAIRS = [
    "惠民",
    "诚信",
    "好运",
    "福满",
    "鑫鑫",
    "聚福",
    "顺心",
    "万家",
    "百姓",
    "金鼎",
    "老街",
    "东北",
    "乡村",
    "红旗",
    "幸福",
    "平安",
    "兴旺",
    "如意",
    "吉祥",
    "开心",
]


def shop_leads(rng: np.random.Generator, surname: np.ndarray, given: np.ndarray) -> np.ndarray:
    """The lead part of a shop sign: 老张, 王记, the operator's given name, or a lucky word."""
    n = len(surname)
    style = rng.integers(0, 8, size=n)
    out = _pick(rng, SHOP_LEAD_PAIRS, n)
    out[style == 0] = "老" + surname[style == 0]
    out[style == 1] = "小" + surname[style == 1]
    out[style == 2] = surname[style == 2] + "记"
    out[style == 3] = surname[style == 3] + "氏"
    g2 = (pd.Series(given, dtype=object).str.len() == 2).to_numpy()
    m = (style == 4) & g2
    out[m] = given[m]
    return out


# ---------------------------------------------------------------- cooperatives
COOP_PRODUCTS = {
    "0113": ["玉米"],
    "0119": ["杂粮", "谷子", "小米", "高粱"],
    "0121": ["杂豆", "绿豆"],
    "0141": ["蔬菜", "设施蔬菜"],
    "0142": ["食用菌"],
    "0151": ["果树", "苹果", "山杏"],
    "0152": ["葡萄"],
    "0159": ["大枣", "果品"],
    "0171": ["中药材"],
    "0311": ["肉牛", "黄牛"],
    "0313": ["生猪"],
    "0314": ["绒山羊", "肉羊"],
    "0321": ["蛋鸡", "肉鸡"],
    "0392": ["蜜蜂"],
    "0512": ["农机"],
    "0514": ["农产品"],
    "0511": ["种子"],
    "0212": ["苗木"],
    "1314": ["杂粮"],
    "1371": ["蔬菜"],
}
COOP_KIND = {"03": "养殖", "05": "服务", "02": "种植", "01": "种植", "13": "加工"}
VILLAGES = [
    "东村",
    "西营子村",
    "三家子村",
    "五十家子村",
    "大杖子村",
    "小营子村",
    "王家店村",
    "李家沟村",
    "杨树沟村",
    "于家湾村",
    "前进村",
    "团结村",
    "新发村",
    "红旗村",
    "太平村",
    "兴隆村",
    "六家子村",
    "十八台村",
    "二道沟村",
    "北四家子村",
]


def respondent_variants(
    rng: np.random.Generator,
    parts: pd.DataFrame,
    rate: float,
) -> tuple[pd.Series, pd.Series]:
    """How a complainant names an entity: the full name, or (with probability ``rate``) a variant.

    ``parts`` has, per row, the name parts of the entity at that date: ``full``, ``region``, ``core``,
    ``mid``, ``industry``, ``form``, ``branch``, ``cls``, ``shop``. Returns the names and the kind of
    variant (empty for the full name).
    """
    n = len(parts)
    name = parts["full"].to_numpy(dtype=object).copy()
    kind = np.full(n, "", dtype=object)
    ind = (parts["cls"] == "individual").to_numpy()
    # an individual business without a registered trade name is known only by its shop sign; the others are
    # named by their sign as one of the variants
    vary = rng.random(n) < rate
    no_trade = ind & (parts["full"] != parts["region"] + parts["shop"]).to_numpy()
    sign = ind & (no_trade | (vary & (rng.random(n) < 0.7)))
    name[sign] = parts["shop"].to_numpy(dtype=object)[sign]
    kind[sign] = "shop_sign"
    vary &= ~sign
    how = rng.integers(0, 5, size=n)
    region, core, mid = (parts[c].to_numpy(dtype=object) for c in ("region", "core", "mid"))
    industry, form, branch = (parts[c].to_numpy(dtype=object) for c in ("industry", "form", "branch"))
    ent = ~ind
    has_region = (pd.Series(region, dtype=object).str.len() > 0).to_numpy()
    # 0: no region prefix
    m = vary & (how == 0) & ent & has_region
    name[m] = (core + mid + industry + form + branch)[m]
    kind[m] = "no_region"
    # 1: no company form (and no branch): 鑫盛商贸
    m = vary & (how == 1) & ent
    name[m] = (region + core + mid + industry)[m]
    kind[m] = "no_form"
    # 2: other bracket width (only where there is a bracket), else the branch dropped
    has_mid = (pd.Series(mid, dtype=object).str.len() > 0).to_numpy()
    has_branch = (pd.Series(branch, dtype=object).str.len() > 0).to_numpy()
    m = vary & (how == 2) & has_mid
    name[m] = (
        pd.Series(name[m], dtype=object).str.replace("（", "(").str.replace("）", ")").to_numpy(dtype=object)
    )
    kind[m] = "bracket"
    m = vary & (how == 2) & ~has_mid & has_branch
    name[m] = (region + core + mid + industry + form)[m]
    kind[m] = "no_branch"
    # 3: a one-character typo in the trade name (homophone)
    m = vary & (how >= 3)
    typo_core = pd.Series(core[m], dtype=object)
    first = typo_core.str[0].map(TYPO)
    second = typo_core.str[1:]
    changed = first.notna().to_numpy()
    new_core = np.where(changed, first.fillna("") + second, typo_core.to_numpy(dtype=object))
    idx = np.flatnonzero(m)
    full_ind = parts["full"].to_numpy(dtype=object)[idx]
    typo_name = np.where(
        ind[idx],
        [f.replace(c, nc, 1) for f, c, nc in zip(full_ind, typo_core, new_core, strict=True)],
        (region[idx] + new_core + mid[idx] + industry[idx] + form[idx] + branch[idx]),
    )
    name[idx[changed]] = typo_name[changed]
    kind[idx[changed]] = "typo"
    return pd.Series(name, index=parts.index), pd.Series(kind, index=parts.index)
