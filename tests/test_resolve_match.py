"""The probabilistic matcher's comparison on hand-made pairs: names written by ear (homophones), handling
units that serve other districts, and candidates alone at the record's address or under the record's name.

Pair frames are built row by row (:func:`pair`), compared with the pandas functions of
:mod:`radar.resolve.compare`; the Spark versions (window functions, blocking) are checked against them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from radar.config import policy
from radar.resolve.compare import (
    COMPETITION,
    ENTITY_FIELDS,
    FEATURES,
    NAME_FIELDS,
    RECORD_FIELDS,
    compare_pairs,
    pair_features,
)
from radar.resolve.normalize import name_rules, pinyin_key, sounds_alike

POLICY = policy().resolve
RULES = name_rules(POLICY)
FOLDS = tuple(tuple(f) for f in POLICY.homophone_folds)


def pair(rid: str, eid: str, record_name: str, entity_name: str, **kw: Any) -> dict[str, Any]:
    """One (record, entity name) row: the names taken apart by the policy's rules, other columns from ``kw``
    (``r_*``, ``e_*``), missing ones empty."""
    r, v = RULES.parts_py(record_name), RULES.parts_py(entity_name)
    row: dict[str, Any] = dict.fromkeys([*RECORD_FIELDS, *ENTITY_FIELDS, *NAME_FIELDS])
    row.update(
        rid=rid, eid=eid, r_full=r.full, r_core=r.core, r_region=r.region, r_form=r.form, r_branch=r.branch,
        r_person=False, v_kind="registry", v_full=v.full, v_core=v.core, v_region=v.region, v_form=v.form,
        v_branch=v.branch, e_core_count=1, e_person_named=False,
    )
    row.update(kw)
    return row


# ---------------------------------------------------------------- homophones
@pytest.mark.parametrize(
    ("a", "b", "alike"),
    [
        ("鑫盛商贸", "新胜商贸", True),     # xin sheng: two characters written by ear
        ("聚福", "巨福", True),             # ju: the tone differs (4 / 4) and still alike
        ("福满", "富满", True),             # fu2 / fu4: tones are ignored
        ("昌盛", "长盛", True),             # 长 reads chang or zhang: any reading counts
        ("兴达", "新达", True),             # xing / xin: front and back nasal folded (policy)
        ("宏达", "鸿达", True),
        ("鑫盛", "鑫达", False),            # sheng / da
        ("车行", "陈行", False),            # che / chen: not a fold
        ("宏达", "宏达建筑", False),        # lengths differ: not a spelling of the same name
        ("ABC", "ABD", False),              # no readings
        ("", "", False),
    ],
)
def test_sounds_alike(a: str, b: str, alike: bool) -> None:
    assert sounds_alike(a, b, FOLDS) is alike


def test_folds_come_from_the_policy() -> None:
    """Without folds, a front and a back nasal are different sounds; tones never count."""
    assert not sounds_alike("兴达", "新达")
    assert sounds_alike("福满", "富满")
    assert pinyin_key("鑫盛") == "xin sheng" and pinyin_key("新胜", FOLDS) == "xin sen"


def test_homophone_feature() -> None:
    df = pd.DataFrame([
        pair("r1", "e1", "朝阳市新胜商贸有限公司", "朝阳市鑫盛商贸有限公司"),  # written by ear
        pair("r2", "e1", "朝阳市鑫盛商贸有限公司", "朝阳市鑫盛商贸有限公司"),  # exact: not a homophone
        pair("r3", "e1", "朝阳市鑫达商贸有限公司", "朝阳市鑫盛商贸有限公司"),  # one character, another sound
    ])
    f = pair_features(df, FOLDS).set_index("rid")
    assert f.loc["r1", "core_homophone"] == 1.0 and f.loc["r1", "core_exact"] == 0.0
    assert f.loc["r2", "core_homophone"] == 0.0 and f.loc["r2", "core_exact"] == 1.0
    assert f.loc["r3", "core_homophone"] == 0.0 and f.loc["r3", "core_edit1"] == 1.0


def test_homophone_name_wins_the_competition() -> None:
    """Of two candidates one character off the record's name, the one that reads the same is the best name."""
    df = pd.DataFrame([
        pair("r1", "e1", "巨福超市", "聚福超市"),
        pair("r1", "e2", "巨福超市", "巨丰超市"),
    ])
    f = compare_pairs(df, folds=FOLDS).set_index("eid")
    assert f.loc["e1", "is_best_name"] == 1.0 and f.loc["e2", "is_best_name"] == 0.0
    assert f.loc["e1", "name_margin"] > 0


# ---------------------------------------------------------------- handling units serving other districts
def test_unit_serving_the_zone_does_not_contradict_it() -> None:
    """A 双塔区 unit handles the development zone's complaints: its district agrees with a zone entity's and
    still contradicts another district's."""
    also = POLICY.units_also_serve["211302"][0]
    df = pd.DataFrame([
        pair("r1", "e1", "如意粥铺", "朝阳经济技术开发区如意粥铺", r_hint_district="211302", r_hint_also=also,
             e_district=also),
        pair("r2", "e2", "如意粥铺", "建平县如意粥铺", r_hint_district="211302", r_hint_also=also,
             e_district="211322"),
        pair("r3", "e1", "如意粥铺", "朝阳经济技术开发区如意粥铺", r_hint_district="211302", e_district=also),
    ])
    f = pair_features(df, FOLDS).set_index("rid")
    assert (f.loc["r1", "district_agree"], f.loc["r1", "district_conflict"]) == (1.0, 0.0)
    assert (f.loc["r2", "district_agree"], f.loc["r2", "district_conflict"]) == (0.0, 1.0)
    assert (f.loc["r3", "district_agree"], f.loc["r3", "district_conflict"]) == (0.0, 1.0)  # no policy: conflict


# ---------------------------------------------------------------- alone at the address, alone under the name
def _shop_sign_pairs() -> pd.DataFrame:
    """A shop sign 老王饺子馆 against three operators named 王 (registered under their own names): one at the
    record's address, one another record of the sign was linked to, one with neither."""
    common = {"e_person_named": True, "e_class": "individual", "r_addr": "双塔区新华路3号",
              "r_addr_key": "双塔区新华路3号"}
    return pd.DataFrame([
        pair("r1", "e1", "老王饺子馆", "王建国", e_rep="王建国", e_addr="双塔区新华路3号",
             e_addr_key="双塔区新华路3号", **common),
        pair("r1", "e2", "老王饺子馆", "王海", e_rep="王海", e_addr="双塔区黄河路8号", e_addr_key="双塔区黄河路8号",
             **common),
        pair("r1", "e3", "老王饺子馆", "王丽", e_rep="王丽", **common),
    ])


def test_alone_at_the_address_and_under_the_name() -> None:
    alias = pd.Series([2], index=pd.MultiIndex.from_tuples([("r1", "e2")]))
    f = compare_pairs(_shop_sign_pairs(), alias, FOLDS).set_index("eid")
    assert f["hint_surname"].tolist() == [1.0, 1.0, 1.0]
    assert f["addr_unique"].to_dict() == {"e1": 1.0, "e2": 0.0, "e3": 0.0}
    assert f["alias_unique"].to_dict() == {"e1": 0.0, "e2": 1.0, "e3": 0.0}


def test_two_at_the_address_are_not_alone() -> None:
    df = _shop_sign_pairs()
    df.loc[df["eid"] == "e3", ["e_addr", "e_addr_key"]] = "双塔区新华路3号"
    f = compare_pairs(df, folds=FOLDS)
    assert f["addr_unique"].sum() == 0.0


def test_spark_competition_matches_pandas(spark: Any) -> None:
    """The Spark window version of the competition gives the pandas one's figures."""
    from radar.resolve.compare import best_name
    from radar.resolve.match import add_competition

    alias = pd.Series([2], index=pd.MultiIndex.from_tuples([("r1", "e2")]))
    frames = [_shop_sign_pairs(), pd.DataFrame([pair("r2", "e1", "巨福超市", "聚福超市"),
                                               pair("r2", "e2", "巨福超市", "巨丰超市")])]
    df = pd.concat(frames, ignore_index=True)
    want = compare_pairs(df, alias, FOLDS).set_index(["rid", "eid"]).sort_index()
    base = best_name(pair_features(df, FOLDS))
    n = alias.reindex(list(zip(base["rid"], base["eid"], strict=True))).fillna(0).to_numpy()
    base["via_alias"] = (n > 0).astype(float)
    base["alias_support"] = np.log1p(n)
    base = base[["rid", "eid", *[c for c in FEATURES if c not in COMPETITION]]]
    got = add_competition(spark.createDataFrame(base)).toPandas().set_index(["rid", "eid"]).sort_index()
    for c in COMPETITION:
        assert got[c].round(6).tolist() == want[c].round(6).tolist(), c
