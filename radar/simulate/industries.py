"""Industries of the simulated city: GB/T 4754-2017 classes with weights per entity class and name words.

Each row of ``_MENU``: class code, weight for enterprises, individual businesses and cooperatives, the
industry words of enterprise names (商贸, 建筑工程, ...) and the shop words of individual businesses
(饺子馆, 超市, ...). A further share of enterprises is spread over all plausible classes of the reference
table, named by their section's words.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd

from radar.reference import industries

# class | enterprise weight | individual weight | cooperative weight | enterprise words | shop words
_MENU = """
0113|1|0.5|10|农业发展 种植|种植园
0119|0.5|0|8|农业发展|
0121|0|0|3||
0141|1|0.5|10|农业科技 蔬菜种植|蔬菜种植园
0142|0.3|0|5|食用菌|
0151|0.3|0|6|果业|果园
0152|0.2|0|3|葡萄种植|
0159|0|0|2||
0171|0.3|0|4|中药材种植|
0212|0.3|0|2|苗木|苗圃
0311|1.5|1|10|牧业 肉牛养殖|养牛场
0313|1|1|8|牧业 生猪养殖|养猪场
0314|0.3|0.5|6|牧业|养羊场
0321|0.5|0.5|4|禽业|养鸡场
0392|0|0|1||
0511|0.2|0|2|种业|
0512|0.2|0|5|农机服务|
0514|0.2|0|2|农产品|
0810|0.4|0|0|矿业|
1019|0.5|0|0|矿业 砂石|
1311|0.3|0|0|米业 粮食加工|
1313|0.3|0.3|1|粮食加工|米面加工厂
1314|0.5|0.3|2|杂粮 粮油|杂粮加工坊
1351|0.4|0|0|肉类加工 食品|
1392|0.1|0.5|0|食品|豆腐坊
1411|0.3|0.5|0|食品|糕点坊
1431|0.2|0.3|0|食品|
1512|0.4|0|0|酒业|
2110|0.4|0.3|0|家具|木器加工厂
2231|0.2|0|0|包装|
2625|0.3|0|0|生物科技 肥业|
2740|0.2|0|0|药业|
2927|0.3|0|0|塑料制品|
3021|0.8|0|0|建材 水泥制品|
3031|0.4|0|0|建材|
3130|0.3|0|0|钢铁|
3311|0.7|0|0|钢结构 金属制品|
3312|0.2|0.3|0|门窗|门窗加工部
3511|0.4|0|0|矿山机械 机械制造|
3670|0.3|0|0|汽车配件|
3831|0.2|0|0|电缆|
4415|0.3|0|0|新能源 风电|
4416|0.3|0|0|新能源 光伏科技|
4430|0.3|0|0|热力 供热|
4610|0.1|0|0|供水|
4710|2|0|0|建筑工程 建设工程 建筑安装工程|
4813|1|0|0|市政工程 路桥工程|
4891|1|0|0|园林绿化工程 绿化工程|
4899|0.5|0|0|建设工程|
4910|0.7|0|0|电力工程 电气安装工程|
4920|0.5|0|0|安装工程|
5011|0.8|0|0|装饰工程|
5012|1|1|0|装饰工程 装饰装修|装饰部 装修队
5111|0.5|0.3|0|粮贸 粮食购销|粮食收购站
5113|0.3|0.3|0|饲料|饲料经销部
5121|0.5|0.5|0|粮油|粮油批发部
5123|0.5|1|0|果蔬 农产品|果蔬批发部
5124|0.3|0.5|0|食品|冻品批发部
5127|0.5|0.5|0|酒业 商贸|酒水批发部
5129|0.5|0.5|0|食品|食品批发部
5132|0.3|0|0|服装|
5151|0.3|0|0|医药|
5161|0.8|0|0|煤炭经销 能源|
5164|0.5|0|0|物资 金属材料|
5165|1.2|0.8|0|建材|建材商店
5166|0.5|0.8|0|农资|农资商店
5171|0.3|0.3|0|农机|农机商店
5172|0.3|0.3|0|汽车配件|汽配商店
5174|0.6|0.8|0|五金|五金商店
5175|0.4|0|0|电气设备|
5176|0.3|0|0|电子科技|
5179|0.6|0|0|机电设备|
5181|0.5|0|0|贸易|
5191|0.4|0.5|0|再生资源|废品收购站
5193|0.3|0|0|电子商务|
5199|1.5|0|0|商贸 贸易 经贸|
5211|0.5|3|0|商贸 百货|百货商店 百货店
5212|0.5|3|0|超市 商贸|超市
5213|0|2|0||便利店
5219|0|2|0||日杂商店 商店 杂货店
5221|0|1.5|0||粮油店
5222|0|0.8|0||面包房 糕点店
5223|0|2|0||水果店 蔬菜店 果蔬店
5224|0|1.5|0||鲜肉店 海鲜店
5226|0|1.2|0||烟酒商店 茶叶店
5227|0|0.8|0||烟酒店
5232|0.3|2|0|服饰|服装店 服饰店
5233|0|0.6|0||鞋店
5234|0|0.6|0||化妆品店
5235|0|0.8|0||日杂店
5236|0.2|0.4|0|眼镜|眼镜店
5241|0|0.4|0||文具店
5245|0|0.3|0||金店
5251|0.8|0.5|0|大药房 医药连锁|药店
5261|0.3|0|0|汽车销售服务|
5263|0|0.6|0||汽配商店
5264|0|0.4|0||摩托车行
5265|0.4|0|0|石油|
5272|0.3|0.8|0|家电|电器行
5274|0|1|0||手机店 通讯部
5281|0|0.6|0||五金店
5413|0.2|0.5|0|出租汽车|
5431|1.2|1.5|0|物流 运输|货运部 运输队
5438|0|0.3|0||搬家服务部
5821|0.3|0|0|物流|
5920|0.2|0|0|仓储|
6020|0.3|0.3|0|快递 速递|快递服务部
6110|0.3|0|0|酒店管理 大酒店|
6121|0.2|0|0|酒店管理|
6129|0.3|1|0|宾馆|旅店 宾馆 招待所
6210|1|3.5|0|餐饮管理 餐饮服务|饭店 酒楼 饺子馆 烧烤店 火锅店 家常菜馆 烤肉店
6220|0.3|1.5|0|餐饮管理|快餐店 面馆 包子铺
6231|0|0.2|0||茶社
6241|0.2|0|0|餐饮配送|
6291|0|2|0||小吃部 麻辣烫 煎饼铺 粥铺 烧烤店
6299|0|0.3|0||餐馆
6513|0.5|0|0|软件|
6531|0.8|0|0|信息技术 网络科技 智能科技|
6532|0.3|0|0|智能科技|
6560|0.4|0|0|信息技术咨询|
6633|0.1|0|0|典当|
6635|0.1|0|0|小额贷款|
7010|1|0|0|房地产开发|
7020|1|0.1|0|物业管理 物业服务|
7030|0.4|0.5|0|房地产经纪|房产信息部
7111|0.3|0|0|汽车租赁|
7113|0.5|0.3|0|机械设备租赁|机械租赁站
7212|0.5|0|0|投资管理 资产管理|
7219|0.5|0|0|企业管理|
7223|0.2|0|0|市场管理|
7224|0.3|0|0|供应链管理|
7243|0.8|0|0|商务咨询 信息咨询|
7244|0.3|0|0|健康咨询 健康管理|
7251|0.3|0|0|文化传媒|
7259|0.6|0.5|0|广告 广告传媒|广告部 牌匾部
7263|0.6|0|0|劳务派遣 劳务|
7269|0.3|0|0|人力资源|
7271|0.1|0|0|保安服务|
7291|0.3|0|0|旅行社|
7293|0|0.3|0||图文快印 打字社
7296|0.2|0|0|融资担保|
7297|0.4|0.2|0|企业服务|代办服务部
7299|0.8|0|0|商务服务 企业管理咨询|
7320|0.3|0|0|科技|
7452|0.3|0|0|检测技术|
7481|0.3|0|0|工程管理|
7482|0.3|0|0|工程监理|
7484|0.4|0|0|工程设计 建筑设计|
7492|0.3|0.2|0|装饰设计|设计工作室
7493|0|0.3|0||兽医站 动物诊所
7511|0.5|0|0|农业科技|
7512|0.3|0|0|生物科技|
7514|0.3|0|0|节能科技|
7515|0.4|0|0|新能源科技|
7516|0.5|0|0|环保科技|
7519|1|0|0|科技 科技发展|
7723|0.2|0|0|环境工程|
7820|0.3|0|0|环境卫生 保洁服务|
7840|0.3|0|0|园林绿化|
8010|0.4|0.8|0|家政服务|家政服务部
8030|0|0.6|0||干洗店 洗衣店
8040|0.3|3|0|美容美发 美容|美发店 理发店 美容院 发艺 美甲店
8051|0.2|0.6|0|洗浴|洗浴中心 浴池
8052|0|0.5|0||足疗店
8053|0.2|0.5|0|养生|养生馆 推拿店
8060|0|0.4|0||照相馆 摄影部
8070|0.1|0.2|0|婚庆|婚庆服务部
8111|0.5|2|0|汽车服务 汽车维修|汽车修理部 汽修厂 洗车行 汽车美容店
8113|0|0.3|0||摩托车修理部
8131|0|0.5|0||家电维修部
8122|0|0.3|0||手机维修部
8192|0|0.2|0||修鞋铺
8211|0.2|0.1|0|保洁服务|保洁服务部
8223|0|0.2|0||宠物店
8290|0|0.4|0||服务部
8391|0.3|0|0|职业培训学校 教育咨询|
8393|0.3|0.3|0|文化艺术培训|艺术培训班
8394|0.3|0|0|教育科技 教育咨询|
8425|0.3|0.3|0|医疗 门诊|诊所
8514|0.2|0|0|养老服务|
8730|0.2|0|0|影视传媒|
8890|0.3|0|0|文化传播 文化艺术|
8930|0.3|0.5|0|健身|健身房 瑜伽馆
9011|0.2|0.3|0|娱乐|歌厅
9013|0.2|0.5|0|网络会所|网吧
9019|0|0.3|0||棋牌室 台球厅
9051|0.3|0|0|文化传播 文化活动策划|
"""

# section words for enterprises outside the menu
SECTION_WORDS = {
    "A": "农业发展",
    "B": "矿业",
    "C": "实业",
    "D": "能源",
    "E": "建设工程",
    "F": "商贸",
    "G": "物流",
    "H": "餐饮管理",
    "I": "信息技术",
    "J": "投资",
    "K": "置业",
    "L": "商务服务",
    "M": "科技",
    "N": "环境工程",
    "O": "服务",
    "P": "教育咨询",
    "Q": "医疗科技",
    "R": "文化传媒",
}
# sections and keywords that do not fit a city of this kind (no sea, no airline, no central bank ...)
_IMPLAUSIBLE = "海|核|铁路|航空|中央|监管|远洋|港口|卫星|国际组织|轨道|骆驼|棉花|香蕉|柑橘|石油开采|天然气开采|宗教|人民法院|人民检察院|机关|政协|党派"
RESIDUAL_SECTIONS = "CFELMIGKDNR"
# share of enterprises drawn from the whole reference table instead of the menu
RESIDUAL_SHARE = 0.08


@dataclass(frozen=True)
class IndustryTable:
    """Weights and words per industry class."""

    menu: (
        pd.DataFrame
    )  # class, section, division, name, w_enterprise, w_individual, w_cooperative, words, shop
    residual: pd.DataFrame  # class, section, division, name (plausible classes outside the menu)


@cache
def industry_table() -> IndustryTable:
    """The industry menu joined with the reference GB/T 4754-2017 table (level-4 classes)."""
    ref = pd.DataFrame(industries())
    ref = ref[ref["level"] == "4"][["class", "section", "division", "name"]].reset_index(drop=True)
    rows = [line.split("|") for line in _MENU.strip().splitlines()]
    menu = pd.DataFrame(rows, columns=["class", "we", "wi", "wc", "words", "shop"])
    for c in ("we", "wi", "wc"):
        menu[c] = menu[c].astype(float)
    menu = menu.merge(ref, on="class", how="inner", validate="one_to_one")
    if len(menu) != len(rows):  # a typo in the menu would silently shift the industry mix
        missing = sorted({r[0] for r in rows} - set(menu["class"]))
        raise ValueError(f"industry menu classes not in GB/T 4754-2017: {missing}")
    plausible = ref["section"].isin(list(RESIDUAL_SECTIONS)) & ~ref["name"].str.contains(_IMPLAUSIBLE)
    residual = ref[plausible & ~ref["class"].isin(menu["class"])].reset_index(drop=True)
    return IndustryTable(menu=menu, residual=residual)


def draw_industries(rng: np.random.Generator, cls: np.ndarray) -> pd.DataFrame:
    """Industry class, section, division and naming words for each entity of class ``cls``."""
    tab = industry_table()
    n = len(cls)
    idx = np.empty(n, dtype=np.int64)
    for c, col in (("enterprise", "we"), ("individual", "wi"), ("cooperative", "wc")):
        m = cls == c
        w = tab.menu[col].to_numpy()
        idx[m] = rng.choice(len(w), size=int(m.sum()), p=w / w.sum())
    out = tab.menu.iloc[idx][["class", "section", "division", "words", "shop"]].reset_index(drop=True)
    out.columns = ["class", "section", "division", "industry_words", "shop_words"]
    resid = (cls == "enterprise") & (rng.random(n) < RESIDUAL_SHARE)
    r = tab.residual.iloc[rng.integers(0, len(tab.residual), size=int(resid.sum()))].reset_index(drop=True)
    out.loc[resid, "class"] = r["class"].to_numpy()
    out.loc[resid, "section"] = r["section"].to_numpy()
    out.loc[resid, "division"] = r["division"].to_numpy()
    out.loc[resid, "industry_words"] = r["section"].map(SECTION_WORDS).fillna("实业").to_numpy()
    out.loc[resid, "shop_words"] = ""
    return out


def pick_word(rng: np.random.Generator, words: pd.Series) -> np.ndarray:
    """One word out of each space-separated word list (empty where the list is empty)."""
    lists = words.fillna("").reset_index(drop=True).str.split(" ")
    lens = lists.str.len().to_numpy()
    k = (rng.random(len(words)) * lens).astype(np.int64)
    flat = lists.explode().to_numpy(dtype=object)
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    return flat[starts + k]
