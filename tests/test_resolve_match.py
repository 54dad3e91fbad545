"""The probabilistic matcher's comparison on hand-made pairs: names written by ear (homophones), handling
units that serve other districts, candidates alone at the record's address or under the record's name, and
the second stage that weighs each candidate against the record's others.

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
    ENTITY_FIELDS,
    FEATURES,
    NAME_FIELDS,
    RECORD_FIELDS,
    RIVAL_FEATURES,
    compare_pairs,
    pair_features,
    rivals,
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


def test_operator_named_business_at_the_record_s_house_number() -> None:
    """The sign's operator-named business at the house number the record gives; not at another number, not an
    entity with a name of its own there, and not merely in the same village (a village is no premises)."""
    df = _shop_sign_pairs()
    village = {"r_addr": "朝阳县羊山镇王家店村", "r_addr_key": "朝阳县羊山镇王家店村", "e_addr": "朝阳县羊山镇王家店村",
               "e_addr_key": "朝阳县羊山镇王家店村", "e_person_named": True, "e_class": "individual"}
    df = pd.concat([df, pd.DataFrame([
        pair("r1", "e4", "老王饺子馆", "双塔区老李饺子馆", e_addr="双塔区新华路3号", e_addr_key="双塔区新华路3号",
             r_addr="双塔区新华路3号", r_addr_key="双塔区新华路3号", e_class="individual"),
        pair("r2", "e5", "老王饺子馆", "王建军", e_rep="王建军", **village),
    ])], ignore_index=True)
    f = pair_features(df, FOLDS).set_index("eid")
    assert f["operator_at_addr"].to_dict() == {"e1": 1.0, "e2": 0.0, "e3": 0.0, "e4": 0.0, "e5": 0.0}


def test_two_at_the_address_are_not_alone() -> None:
    df = _shop_sign_pairs()
    df.loc[df["eid"] == "e3", ["e_addr", "e_addr_key"]] = "双塔区新华路3号"
    f = compare_pairs(df, folds=FOLDS)
    assert f["addr_unique"].sum() == 0.0


def test_record_dated_outside_the_entity_s_life() -> None:
    """A namesake established after the record's date, or deregistered more than the grace before it, counts
    against; within the grace, while alive, or with a date missing, nothing counts."""
    from datetime import date

    life = {"e_established": date(2018, 5, 1), "e_deregistered": date(2021, 3, 1)}
    df = pd.DataFrame([
        pair("r1", "e1", "幸福理发店", "双塔区幸福理发店", r_date=date(2017, 1, 9), **life),   # before it existed
        pair("r2", "e1", "幸福理发店", "双塔区幸福理发店", r_date=date(2019, 6, 1), **life),   # while alive
        pair("r3", "e1", "幸福理发店", "双塔区幸福理发店", r_date=date(2021, 3, 20), **life),  # within the grace
        pair("r4", "e1", "幸福理发店", "双塔区幸福理发店", r_date=date(2021, 6, 1), **life),   # long gone
        pair("r5", "e1", "幸福理发店", "双塔区幸福理发店", r_date=None, **life),               # no date
        pair("r6", "e2", "幸福理发店", "双塔区幸福理发店", r_date=date(2030, 1, 1),            # never deregistered
             e_established=date(2018, 5, 1)),
    ])
    f = pair_features(df, FOLDS, grace_days=30).set_index("rid")
    assert f["not_yet_established"].to_dict() == {"r1": 1.0, "r2": 0.0, "r3": 0.0, "r4": 0.0, "r5": 0.0, "r6": 0.0}
    assert f["deregistered_before"].to_dict() == {"r1": 0.0, "r2": 0.0, "r3": 0.0, "r4": 1.0, "r5": 0.0, "r6": 0.0}
    assert pair_features(df, FOLDS).set_index("rid").loc["r3", "deregistered_before"] == 1.0  # no grace


def test_spark_compare_matches_pandas(spark: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Spark comparison (the records' candidates brought together, compared per whole record in
    ``mapInPandas``) gives the pandas figures, with Arrow batches of three rows gathered into frames of at least
    four: a record's rows cut between batches still compete with each other, and an entity's former name is still
    one of its names."""
    import radar.resolve.match as match_module
    from radar.resolve.compare import compare_records
    from radar.resolve.match import compare

    monkeypatch.setattr(match_module, "COMPARE_ROWS", 4)

    df, siblings = _compare_inputs()
    want = compare_records(df, FOLDS).set_index(["rid", "eid"]).sort_index()

    def table(cols: list[str], key: list[str]) -> Any:
        return spark.createDataFrame(df[cols].drop_duplicates(key).astype(object).where(df[cols].notna(), None))

    before = spark.conf.get("spark.sql.execution.arrow.maxRecordsPerBatch")
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "3")
    try:
        got = compare(
            table(["rid", "eid"], ["rid", "eid"]), table(RECORD_FIELDS, ["rid"]), table(ENTITY_FIELDS, ["eid"]),
            table(["eid", *NAME_FIELDS], ["eid", "v_kind", "v_full"]),
            spark.createDataFrame(siblings, "rid string, r_core string, eid string"), 2, FOLDS,
        ).toPandas().set_index(["rid", "eid"]).sort_index()
    finally:
        spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", before)
    assert list(got.index) == list(want.index) and len(got) == 10
    for c in FEATURES:
        assert np.allclose(got[c].to_numpy(dtype=float), want[c].to_numpy(dtype=float), atol=1e-6), c
    assert got.loc[("r2", "e4"), "via_former"] == 1.0 and got.loc[("r1", "e2"), "alias_unique"] == 1.0


@pytest.mark.parametrize("min_rows", [1, 4, 7, 100])
def test_whole_records_gathers_batches_without_splitting_a_record(min_rows: int) -> None:
    """Arrow's batches regrouped: every row once and in order, no record's rows in two frames, and every frame
    but the last at least ``min_rows`` long (a record longer than that is one frame of its own)."""
    from radar.resolve.match import whole_records

    rng = np.random.default_rng(3)
    rids = np.repeat([f"r{i:03d}" for i in range(40)], rng.integers(1, 9, 40))
    rows = pd.DataFrame({"rid": rids, "n": np.arange(len(rids))})
    cuts = np.sort(rng.choice(np.arange(1, len(rows)), 12, replace=False))
    batches = [rows.iloc[a:b] for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(rows)], strict=True)]
    batches.insert(3, rows.iloc[0:0])
    frames = list(whole_records(iter(batches), min_rows))
    assert pd.concat(frames)["n"].tolist() == rows["n"].tolist()
    seen = [set(f["rid"]) for f in frames]
    assert all(not (a & b) for i, a in enumerate(seen) for b in seen[i + 1:])
    assert all(len(f) >= min_rows for f in frames[:-1])
    if min_rows > 1:
        assert len(frames) < len(batches) - 1


def _compare_inputs() -> tuple[pd.DataFrame, list[tuple[str, str, str]]]:
    """(record, entity name) rows of three records and five entities (one with a former name), and the code-linked
    records of one record's name (its sibling support)."""
    ents = [("e1", "王建国", "双塔区新华路3号"), ("e2", "王海", "双塔区黄河路8号"), ("e3", "王丽", None),
            ("e4", "聚福超市", None), ("e5", "巨丰超市", "双塔区新华路3号")]
    former = [("e4", "巨福超市")]
    recs = [("r1", "老王饺子馆", "双塔区新华路3号"), ("r2", "巨福超市", None), ("r3", "聚福超市", "双塔区新华路3号")]
    cands = {"r1": ["e1", "e2", "e3"], "r2": ["e4", "e5", "e2"], "r3": ["e4", "e5", "e1", "e3"]}
    siblings = [("s1", RULES.parts_py("老王饺子馆").core, "e2"), ("s2", RULES.parts_py("老王饺子馆").core, "e2")]
    rows = []
    for rid, rname, raddr in recs:
        for eid in cands[rid]:
            ename, eaddr = next((n, a) for e, n, a in ents if e == eid)
            for kind, v in [("registry", ename), *[("former", n) for e, n in former if e == eid]]:
                rows.append(pair(rid, eid, rname, v, v_kind=kind, r_addr=raddr, r_addr_key=raddr, e_addr=eaddr,
                                 e_addr_key=eaddr, e_rep=ename if len(ename) <= 3 else None,
                                 e_person_named=len(ename) <= 3, e_class="individual"))
    df = pd.DataFrame(rows)
    df["alias_n"] = [2 if (r, e) == ("r1", "e2") else None for r, e in zip(df["rid"], df["eid"], strict=True)]
    return df, siblings


# ---------------------------------------------------------------- the second stage: each candidate against the others
S2 = POLICY.match.second_stage
CAP, GAP = S2.logit_cap, S2.close_gap


def _logits() -> pd.DataFrame:
    """First-stage log-odds of hand-made candidates: r1 has a clear best, r2 two alike, r3 one candidate."""
    rows = [("r1", "e1", 5.0), ("r1", "e2", 1.0), ("r1", "e3", 0.5), ("r2", "e1", 3.0), ("r2", "e4", 3.0),
            ("r3", "e5", 14.0)]
    df = pd.DataFrame(rows, columns=["rid", "eid", "z"])
    df["n_candidates"] = np.log(df.groupby("rid")["rid"].transform("size").astype(float))
    df["core_common"] = [0.0, 2.0, 0.0, 1.5, 1.5, 0.0]
    df["name_margin"] = [1.0, -1.0, -1.2, 0.0, 0.0, 2.0]
    return df


def test_rivals_lead_rank_and_close_candidates() -> None:
    df = _logits()
    f = rivals(df, df["z"].to_numpy(), CAP, GAP).set_index(["rid", "eid"])
    assert f.loc[("r1", "e1"), "lead"] == 4.0 and f.loc[("r1", "e1"), "is_top"] == 1.0
    assert f.loc[("r1", "e2"), "lead"] == -4.0 and f.loc[("r1", "e3"), "lead"] == -4.5
    # within GAP (2) of e2 (1.0): e3 (0.5) below and e1 (5.0) above count; nobody comes close to e1
    assert np.expm1(f.loc[("r1", "e2"), "close_rivals"]).round(6) == 2.0
    assert f.loc[("r1", "e1"), "close_rivals"] == 0.0
    # two alike: both the best, neither ahead, each close to the other
    assert f.loc["r2", "lead"].tolist() == [0.0, 0.0] and f.loc["r2", "is_top"].tolist() == [1.0, 1.0]
    assert np.expm1(f.loc["r2", "close_rivals"]).round(6).tolist() == [1.0, 1.0]
    # alone: clipped log-odds, a lead over the missing rival at most CAP
    assert f.loc[("r3", "e5"), "first_logit"] == CAP and f.loc[("r3", "e5"), "lead"] == CAP


def test_rivals_weigh_the_best_candidate_s_name_again() -> None:
    """The lead counts again when ahead, the log-odds again when below even; the best candidate's name features
    are weighed again, the others' are not (a feature the pairs lack counts 0)."""
    df = _logits()
    df.loc[df["rid"] == "r2", "z"] = -3.0
    f = rivals(df, df["z"].to_numpy(), CAP, GAP).set_index(["rid", "eid"])
    assert f["lead_ahead"].tolist() == [4.0, 0.0, 0.0, 0.0, 0.0, CAP]
    assert f["logit_below_zero"].tolist() == [0.0, 0.0, 0.0, -3.0, -3.0, 0.0]
    assert f.loc[("r1", "e1"), "logit_x_lead"] == 5.0 * 4.0 / CAP and f.loc[("r1", "e2"), "logit_x_lead"] == 0.0
    # the sign many namesakes share is weighed again only where it is the best candidate's (r2: both are)
    assert f["top_core_common"].tolist() == [0.0, 0.0, 0.0, 1.5, 1.5, 0.0]
    assert f["top_name_margin"].tolist() == [1.0, 0.0, 0.0, 0.0, 0.0, 2.0]
    assert (f["top_alias_support"] == 0.0).all() and (f["top_exact_no_region"] == 0.0).all()


def _training_pairs(seed: int = 3) -> tuple[pd.DataFrame, np.ndarray]:
    """Synthetic training pairs: shop signs that bring up many candidates of which the right one stands out by its
    name, and names two entities share (either may be the one)."""
    rng = np.random.default_rng(seed)
    rows, labels = [], []
    for i in range(150):  # one right candidate among twenty, its name close
        for j in range(20):
            rows.append({"rid": f"s{i}", "eid": f"e{j}", "name_ratio": 0.85 + rng.normal(0, 0.05) if j == 0
                         else 0.3 + rng.normal(0, 0.05), "n_candidates": np.log(20)})
            labels.append(int(j == 0))
    for i in range(150):  # two entities of the same name, one of them right
        for j in range(2):
            rows.append({"rid": f"d{i}", "eid": f"e{j}", "name_ratio": 0.95 + rng.normal(0, 0.02),
                         "n_candidates": np.log(2)})
            labels.append(int(j == i % 2))
    X = pd.DataFrame(rows)
    for c in FEATURES:
        if c not in X:
            X[c] = 0.0
    return X, np.array(labels)


def test_second_stage_accepts_a_candidate_that_stands_out() -> None:
    """A name that clearly stands out among many candidates is accepted; one of two alike is not, however
    close the name: the second stage learns it from the same training pairs as the first."""
    from radar.resolve.model import fit_match_model, fit_rival_model

    X, y = _training_pairs()
    w = np.ones(len(y))
    first = fit_match_model(X, y, 1.0, 1, w)
    second = fit_rival_model(X, y, 1.0, 1, w, folds=S2.folds, cap=CAP, gap=GAP)
    assert second.features == tuple(RIVAL_FEATURES)
    assert dict(zip(second.features, second.coef, strict=True))["lead"] > 0
    new, _ = _training_pairs(seed=11)
    p = second.predict_proba(rivals(new, first.logit(new), CAP, GAP))
    standout = (new["rid"].str.startswith("s") & (new["eid"] == "e0")).to_numpy()
    alike = new["rid"].str.startswith("d").to_numpy()
    assert p[standout].min() >= POLICY.match.accept
    assert p[alike].max() < POLICY.match.accept


def test_fit_models_two_stages_and_their_fallbacks() -> None:
    """Both stages from the same labelled pairs, each with its calibration on the held-out records; without the
    second stage (disabled by the policy, or too few records to fit it out of fold) the first stage is kept."""
    from radar.resolve.link import fit_models

    X, y = _training_pairs()
    X = X.assign(rid="complaint\u0001" + X["rid"], label=y, _held=X["rid"].str.endswith("7"))
    m = POLICY.match
    first, second, _ = fit_models(X, {"complaint": 1.0}, m)
    assert first.meta["source"] == "fitted" and "calibration" in first.meta
    assert second is not None and second.features == tuple(RIVAL_FEATURES) and "calibration" in second.meta
    off = m.model_copy(update={"second_stage": S2.model_copy(update={"enabled": False})})
    assert fit_models(X, {"complaint": 1.0}, off)[1] is None
    one = X[X["rid"] == "complaint\u0001s0"].assign(_held=False)  # one record: no fold left to learn from
    first, second, _ = fit_models(one, {"complaint": 1.0}, m)
    assert first.meta["source"] == "fitted" and second is None


def test_fit_models_gives_the_same_models_however_many_fits_run_at_once() -> None:
    """The first stage, the out-of-fold fits and both second stages run side by side on the driver's cores: the
    models (weights, trees' probabilities, held-out figures) are those of one fit after another."""
    from radar.resolve.link import fit_models

    X, y = _training_pairs()
    X = X.assign(rid="complaint\u0001" + X["rid"], label=y, _held=X["rid"].str.endswith("7"))
    alone = fit_models(X, {"complaint": 1.0}, POLICY.match, workers=1)
    together = fit_models(X, {"complaint": 1.0}, POLICY.match, workers=4)
    for a, b in zip(alone[:2], together[:2], strict=True):
        assert a is not None and b is not None
        assert a.coef == b.coef and a.intercept == b.intercept and a.meta == b.meta
    assert alone[2] is not None and together[2] is not None
    new, _ = _training_pairs(seed=11)
    z = alone[0].logit(new)
    feats = rivals(new, z, CAP, GAP)
    assert np.array_equal(alone[2].predict_proba(feats), together[2].predict_proba(feats))


# ---------------------------------------------------------------- the gradient-boosted second stage
def _xor_pairs(seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Pairs whose match is an interaction no weighted sum can draw: a candidate is right when exactly one of
    address and phone agrees (two candidates per record). The first stage's log-odds, and so every rival feature
    built on them, say nothing; the trees see the first-stage features too and can."""
    rng = np.random.default_rng(seed)
    rows, labels = [], []
    for i in range(400):
        right = int(rng.integers(2))
        for j in range(2):
            # the right one: exactly one agrees; the other: both or neither (each alone says nothing)
            a = int(rng.integers(2))
            b = 1 - a if j == right else a
            rows.append({"rid": f"complaint\u0001x{seed}-{i}", "eid": f"e{j}", "addr_key": float(a),
                         "phone_agree": float(b), "name_ratio": 0.9 + rng.normal(0, 0.01), "n_candidates": np.log(2)})
            labels.append(int(j == right))
    X = pd.DataFrame(rows)
    for c in FEATURES:
        if c not in X:
            X[c] = 0.0
    return X, np.array(labels)


def _fit_both(X: pd.DataFrame, y: np.ndarray, kind: str = "gbm", wide: bool = True) -> tuple[Any, Any, Any]:
    """Both second stages fitted by :func:`radar.resolve.link.fit_models`, the trees (``wide``) reading the
    first-stage features too."""
    from radar.resolve.link import fit_models

    trees = S2.gbm.model_copy(update={"first_stage_features": wide})
    m = POLICY.match.model_copy(update={"second_stage": S2.model_copy(update={"kind": kind, "gbm": trees})})
    return fit_models(X.assign(label=y, _held=False), {"complaint": 1.0}, m)


def test_gbm_second_stage_is_chosen_by_the_policy() -> None:
    """``second_stage.kind: gbm`` fits the trees beside the logistic second stage (kept for the reasons), with
    its settings in the figures; ``logistic`` fits no trees."""
    X, y = _training_pairs()
    X = X.assign(rid="complaint\u0001" + X["rid"])
    _, second, gbm = _fit_both(X, y, "gbm", wide=S2.gbm.first_stage_features)
    assert second is not None and second.meta["kind"] == "gbm"
    assert gbm is not None and gbm.features[: len(RIVAL_FEATURES)] == tuple(RIVAL_FEATURES)
    assert gbm.meta["settings"]["max_iter"] == S2.gbm.max_iter and gbm.meta["settings"]["seed"] == POLICY.match.seed
    _, second, none = _fit_both(X, y, "logistic")
    assert none is None and second is not None and second.meta["kind"] == "logistic"


def test_gbm_separates_what_the_logistic_stage_cannot() -> None:
    """On pairs the logistic stages cannot tell apart (an interaction of two features), the trees can; their
    probabilities are probabilities."""
    from sklearn.metrics import roc_auc_score

    X, y = _xor_pairs(1)
    first, second, gbm = _fit_both(X, y)
    new, y_new = _xor_pairs(2)
    z = first.logit(new)
    r = rivals(new, z, CAP, GAP)
    p_gbm, p_lr = gbm.predict_proba(r), second.predict_proba(r)
    assert ((p_gbm >= 0) & (p_gbm <= 1)).all()
    assert roc_auc_score(y_new, p_lr) < 0.75
    assert roc_auc_score(y_new, p_gbm) > 0.95


def test_gbm_falls_back_to_the_logistic_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    """Trees that cannot be fitted (here: told so) leave the logistic second stage to give the probability; one
    class of pairs is refused."""
    import radar.resolve.link as link
    from radar.resolve.model import fit_gbm_model

    X, y = _training_pairs()
    X = X.assign(rid="complaint\u0001" + X["rid"])
    with pytest.raises(ValueError):
        fit_gbm_model(X.assign(**{c: 0.0 for c in RIVAL_FEATURES}), np.ones(len(X)), np.ones(len(X)), S2.gbm, 1)

    def refuse(*a: Any, **k: Any) -> Any:
        raise ValueError("no trees today")

    monkeypatch.setattr(link, "fit_gbm_model", refuse)
    _, second, gbm = _fit_both(X, y)
    assert gbm is None and second is not None and second.meta["kind"] == "logistic"
    assert second.meta["gbm_fallback"] == "no trees today"


def test_gbm_fit_is_repeatable() -> None:
    """The same pairs give the same trees (seeded, single-threaded, no random validation split)."""
    X, y = _xor_pairs(1)
    a, b = _fit_both(X, y)[2], _fit_both(X, y)[2]
    new, _ = _xor_pairs(3)
    r = rivals(new, np.zeros(len(new)), CAP, GAP)
    assert np.array_equal(a.predict_proba(r), b.predict_proba(r))


def _scoring(second: Any = None, gbm: Any = None, first: Any = None) -> Any:
    """Scoring by a hand-made first stage (name similarity and door number) unless ``first`` is given; accept at
    0.8, review from 0.5."""
    from radar.resolve.model import MatchModel
    from radar.resolve.scoring import PairScoring

    first = first or MatchModel(("name_ratio", "addr_key"), (10.0, 3.0), -6.0, {})
    return PairScoring(first, second, gbm, CAP, GAP, accept=0.8, review=0.5, tie_margin=0.01)


def _candidates(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    """Candidate rows (rid, eid, name_ratio, addr_key, code_owner, uscc_status, e_trusted_code), other features 0."""
    cols = ["rid", "eid", "name_ratio", "addr_key", "code_owner", "uscc_status", "e_trusted_code"]
    df = pd.DataFrame(rows, columns=cols)
    for f in FEATURES:
        if f not in df:
            df[f] = 0.0
    df["n_candidates"] = np.log(df.groupby("rid")["rid"].transform("size").astype(float))
    return df


def test_best_candidate_of_each_record_and_how_sure_it_is() -> None:
    """The best candidate is the most likely (equal ones: the smallest entity id); a runner-up worth reviewing
    keeps it below acceptance, the record's own code lifts it to acceptance, a candidate with a trusted code
    other than the record's valid one scores 0; its reasons are the largest contributions. The same whatever
    the order of the rows."""
    import json

    f = _candidates([
        ("r1", "e1", 0.9, 0.0, None, None, False), ("r1", "e2", 0.5, 0.0, None, None, False),
        ("r2", "e4", 0.8, 0.0, None, None, False), ("r2", "e3", 0.8, 0.0, None, None, False),
        ("r3", "e5", 0.6, 0.0, "e5", "valid", True),
        ("r4", "e6", 0.9, 1.0, None, "valid", True), ("r4", "e7", 0.7, 0.0, None, "valid", False),
    ])
    sc = _scoring()
    best = sc.best(f).set_index("rid")
    p = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    assert best["eid"].to_dict() == {"r1": "e1", "r2": "e3", "r3": "e5", "r4": "e7"}
    assert best["ties"].to_dict() == {"r1": 1, "r2": 2, "r3": 1, "r4": 1}
    assert np.isclose(best.loc["r1", "p"], p(3.0)) and np.isclose(best.loc["r4", "p"], p(1.0))
    assert best.loc["r2", "p"] == 0.8 - 1e-4  # two alike: a question for a reviewer
    assert best.loc["r3", "p"] == 0.8 and best.loc["r3", "owner_ok"] and not best.loc["r1", "owner_ok"]
    assert sc.probabilities(f).set_index("eid").loc["e6", "p"] == 0.0
    assert json.loads(best.loc["r1", "evidence"]) == [{"label": "名称相似度", "contribution": 9.0}]
    shuffled = sc.best(f.sample(frac=1.0, random_state=4).reset_index(drop=True)).set_index("rid")
    pd.testing.assert_frame_equal(shuffled.sort_index(), best.sort_index())


def test_namesakes_tie_however_many() -> None:
    """Candidates with the same features get the same log-odds and probability, so a record with five namesakes
    has five ties and no best by rounding (a matrix product rounds some of five equal rows apart)."""
    from radar.resolve.model import MatchModel
    from radar.resolve.scoring import row_logit

    rng = np.random.default_rng(0)
    first = MatchModel(tuple(FEATURES), tuple(rng.normal(size=len(FEATURES))), -1.3, {})
    row = dict(zip(FEATURES, rng.random(len(FEATURES)), strict=True))
    f = pd.DataFrame([{**row, "rid": "r1", "eid": f"e{i}", "code_owner": None, "uscc_status": None,
                       "e_trusted_code": False} for i in range(5)])
    assert len(np.unique(row_logit(first, f))) == 1
    assert np.allclose(row_logit(first, f), first.logit(f))
    X, y = _training_pairs()
    _, second, gbm = _fit_both(X.assign(rid="complaint\u0001" + X["rid"]), y)
    for sc in (_scoring(first=first), _scoring(second, None, first), _scoring(second, gbm, first)):
        assert sc.best(f)["ties"].tolist() == [5] and len(set(sc.probabilities(f)["p"])) == 1


def test_scoring_with_trees_gives_their_probability() -> None:
    """With the gradient-boosted second stage, each candidate's probability is the trees' over its rival features
    (the first stage's log-odds against the record's others); the reasons add the logistic second stage's."""
    import json

    X, y = _xor_pairs(1)
    first, second, gbm = _fit_both(X, y)
    new, _ = _xor_pairs(4)
    new = new.assign(code_owner=None, uscc_status=None, e_trusted_code=False)
    for c in FEATURES:
        if c not in new:
            new[c] = 0.0
    sc = _scoring(second, gbm, first)
    got = sc.probabilities(new)
    assert np.array_equal(got["p"].to_numpy(), gbm.predict_proba(rivals(new, first.logit(new), CAP, GAP)))
    best = sc.best(new)
    want = got.sort_values(["rid", "p", "eid"], ascending=[True, False, True]).drop_duplicates("rid")
    assert best["eid"].tolist() == want["eid"].tolist()
    reasons = json.loads(best["evidence"].iloc[0])
    assert 0 < len(reasons) <= 6 and all(r["contribution"] != 0 for r in reasons)


def test_spark_scoring_matches_pandas(spark: Any) -> None:
    """Scored where they are compared (Arrow batches of three rows, so records are cut between batches), the
    records' best candidates and every scored pair are the pandas ones."""
    from radar.resolve.compare import compare_records
    from radar.resolve.match import compare

    df, siblings = _compare_inputs()
    df["code_owner"] = np.where(df["rid"] == "r3", "e4", None)
    df["uscc_status"] = np.where(df["rid"] == "r3", "valid", None)
    df["e_trusted_code"] = df["eid"] != "e3"
    sc = _scoring()
    feats = compare_records(df, FOLDS)
    extra = feats.merge(df[["rid", "code_owner", "uscc_status"]].drop_duplicates("rid"), on="rid").merge(
        df[["eid", "e_trusted_code"]].drop_duplicates("eid"), on="eid"
    )
    want = sc.best(extra).set_index("rid").sort_index()

    def table(cols: list[str], key: list[str]) -> Any:
        return spark.createDataFrame(df[cols].drop_duplicates(key).astype(object).where(df[cols].notna(), None))

    before = spark.conf.get("spark.sql.execution.arrow.maxRecordsPerBatch")
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "3")
    try:
        args = (
            table(["rid", "eid"], ["rid", "eid"]), table([*RECORD_FIELDS, "code_owner", "uscc_status"], ["rid"]),
            table([*ENTITY_FIELDS, "e_trusted_code"], ["eid"]),
            table(["eid", *NAME_FIELDS], ["eid", "v_kind", "v_full"]),
            spark.createDataFrame(siblings, "rid string, r_core string, eid string"), 2, FOLDS,
        )
        got = compare(*args, scoring=sc).toPandas().set_index("rid").sort_index()
        pairs = compare(*args, scoring=sc, every_pair=True).toPandas()
    finally:
        spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", before)
    assert got["eid"].tolist() == want["eid"].tolist() and got["evidence"].tolist() == want["evidence"].tolist()
    assert np.allclose(got["p"], want["p"]) and got["ties"].tolist() == want["ties"].tolist()
    assert got.loc["r3", "owner_ok"] and len(pairs) == 10
    scored = sc.probabilities(extra).set_index(["rid", "eid"])["p"]
    assert np.allclose(pairs.set_index(["rid", "eid"])["p"].reindex(scored.index), scored)


# ---------------------------------------------------------------- blocking: which names are candidates
# the record and entity columns blocking reads
RECORDS = (
    "rid string, r_core string, r_region string, r_form string, r_addr_key string, r_addr_district string, "
    "r_code_district string, r_hint_district string, r_hint_also string, r_person boolean"
)
ENTITIES = (
    "entity_id string, name string, address_key string, district_code string, legal_rep_name string, "
    "entity_class string"
)


def test_top_names_break_ties_by_edit_distance(spark: Any) -> None:
    """Sixteen names tie on their bigram score (``X氏便利``, ``赵纪便利``, ``赵记便利``): the namesake and the
    name a character off come first, not the smallest entity ids; a better score still comes before a closer
    name."""
    from radar.resolve.match import top_names

    names = [(f"e{i:02d}", f"{c}氏便利") for i, c in enumerate("韩孙李周吴郑冯陈褚卫蒋沈杨朱")]
    names += [("e90", "赵纪便利"), ("e99", "赵记便利")]                 # a typo, the namesake: the largest ids
    names += [("f0", "幸运"), ("f1", "幸福"), ("f2", "福")]
    scores = [("赵记便利", eid, 1.0) for eid, _ in names if eid[0] == "e"]
    scores += [("幸福", "f0", 0.9), ("幸福", "f1", 0.5), ("幸福", "f2", 0.5)]
    s = spark.createDataFrame(scores, "r_core string, eid string, _s double")
    nm = spark.createDataFrame(names, "eid string, v_core string")
    got: dict[str, set[str]] = {}
    for r in top_names(s, nm, 2).collect():
        got.setdefault(r["r_core"], set()).add(r["eid"])
    assert got == {"赵记便利": {"e99", "e90"}, "幸福": {"f0", "f1"}}


def test_namesakes_are_candidates_whatever_their_bigrams(spark: Any) -> None:
    """A shop sign whose every bigram is too common to block on still finds the entities bearing it, in every
    district, up to ``blocking.max_exact_entities`` of them."""
    from radar.resolve.match import candidate_pairs

    regs = [(f"a{i}", f"{d}赵记便利店", d) for i, d in enumerate(["双塔区", "龙城区", "北票市"])]
    regs += [(f"b{i}", f"双塔区{c}记便利店", "双塔区") for i, c in enumerate("韩孙李周")]
    ents = spark.createDataFrame([(eid, name, None, "211302", None, "individual") for eid, name, _ in regs], ENTITIES)
    names = spark.createDataFrame([(eid, RULES.parts_py(n).core) for eid, n, _ in regs], "eid string, v_core string")
    recs = spark.createDataFrame(
        [("r1", "赵记便利", None, None, None, None, None, None, None, False)],
        RECORDS,
    )
    siblings = spark.createDataFrame([], "rid string, r_core string, eid string")

    def found(**blocking: Any) -> set[str]:
        pol = POLICY.model_copy(update={"blocking": POLICY.blocking.model_copy(update=blocking)})
        return {r["eid"] for r in candidate_pairs(recs, names, ents, siblings, pol).collect()}

    # 便利 and 记便 are each in more entities than one: nothing left to block on but the name itself
    assert found(max_bigram_entities=1, max_exact_entities=3) == {"a0", "a1", "a2"}
    assert found(max_bigram_entities=1, max_exact_entities=2) == set()


def test_names_that_read_alike_are_candidates(spark: Any) -> None:
    """A name written by ear (富满 for 福满) is a character off the registry's, as are many other names; the
    entities whose names read like it are candidates whatever the bigrams, the others are not."""
    from radar.resolve.match import candidate_pairs

    regs = [("a0", "北票市福满鑫鑫粮油店"), ("b0", "北票市丰满鑫鑫粮油店"), ("b1", "北票市富源鑫鑫粮油店")]
    ents = spark.createDataFrame([(eid, name, None, "211381", None, "individual") for eid, name in regs], ENTITIES)
    names = spark.createDataFrame([(eid, RULES.parts_py(n).core) for eid, n in regs], "eid string, v_core string")
    recs = spark.createDataFrame(
        [("r1", RULES.parts_py("北票市富满鑫鑫粮油店").core, None, None, None, None, None, None, None, False)],
        RECORDS,
    )
    siblings = spark.createDataFrame([], "rid string, r_core string, eid string")
    pol = POLICY.model_copy(update={"blocking": POLICY.blocking.model_copy(update={"max_bigram_entities": 1})})
    assert {r["eid"] for r in candidate_pairs(recs, names, ents, siblings, pol).collect()} == {"a0"}


def test_operator_named_businesses_of_a_crowded_village_are_candidates(spark: Any) -> None:
    """A village hosts more entities than the address blocks on; the ones registered under an operator's name
    are still candidates of a shop sign given there (not of a company's name)."""
    from radar.resolve.match import candidate_pairs

    village = "凌源市宋杖子镇杨树沟村"
    rows = [(f"c{i}", f"凌源市{c}{d}商贸有限公司", village, "211382", "张伟", "enterprise")
            for i, (c, d) in enumerate(zip("甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳", "东南西北中上下左右前后里外春夏秋", strict=True))]
    rows += [("p0", "李海涛", village, "211382", "李海涛", "individual")]
    ents = spark.createDataFrame(rows, ENTITIES)
    names = spark.createDataFrame([(r[0], RULES.parts_py(r[1]).core) for r in rows], "eid string, v_core string")
    recs = spark.createDataFrame(
        [("r1", "老李粮油批发", None, None, village, None, None, None, None, False),
         ("r2", "顺达粮油", None, "有限公司", village, None, None, None, None, False)],
        RECORDS,
    )
    siblings = spark.createDataFrame([], "rid string, r_core string, eid string")
    pol = POLICY.model_copy(update={"blocking": POLICY.blocking.model_copy(update={"max_address_entities": 10})})
    got = {(r["rid"], r["eid"]) for r in candidate_pairs(recs, names, ents, siblings, pol).collect()}
    assert ("r1", "p0") in got and not any(e.startswith("c") for _, e in got)
    assert ("r2", "p0") not in got
