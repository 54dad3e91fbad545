"""How far can phoenix recall go at precision 0.5 with the evidence the lake holds? A ceiling, not a rule.

Reads an existing lake (``resolve/entities``, ``resolve/attributes``, ``features/events``, ``graph/hubs``) and
its city's ``truth/`` with pandas (no Spark), and builds every candidate (successor, predecessor) pair the
phoenix rules of :func:`radar.graph.patterns.phoenix_pairs` start from, before their limits:

* a shared node (person, address with a house number, phone; no hub, no corporate owner) that S held after
  its establishment and P in the ``graph.phoenix_months`` before its closure;
* a name-only person: a name S holds equal to the name of P's legal representative (any context).

Each pair gets the evidence the rules may use: per tie kind the entities that ever held the node (or the
expected other holders of the name where both firms are), same district, same industry section, how many
predecessors / successors share the tie, S's role, the number of candidate predecessors, and the
resemblance of the trade names (Levenshtein similarity of the name cores). A gradient-boosting classifier is
then *fitted to the truth* (5-fold, grouped by successor, so no successor is scored by a model that saw it),
a successor scores its best pair, and the script reports the highest recall whose precision is still at
least 0.5: no rule over this evidence can be expected to beat it, since the classifier chooses its
thresholds with the answers in hand. The product's own flags (``graph/flags``) are scored beside it.

    .venv/bin/python bench/phoenix_ceiling.py --city /tmp/resolve_bench/city-city-7 --lake /tmp/city-lake

Writes ``bench/results/phoenix_ceiling.json`` (merged by scale).
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("address", "person", "phone", "name")


def _read(lake: Path, table: str) -> pd.DataFrame:
    return pl.read_parquet(f"{lake}/{table}/**/*.parquet", hive_partitioning=True).to_pandas()


def candidate_pairs(lake: Path, as_of: pd.Timestamp, new_months: int, window_months: int) -> pd.DataFrame:
    """Every (successor, predecessor, tie) pair before the rules' limits, with the evidence of each tie."""
    from rapidfuzz.distance import Levenshtein

    from radar.graph.patterns import CLOSURE_EVENTS, PHOENIX_LINK_TYPES, SPECIFIC_ADDRESS

    ent = _read(lake, "resolve/entities")
    attrs = _read(lake, "resolve/attributes")
    events = _read(lake, "features/events")[["entity_id", "event_type", "event_date"]]
    hubs = set(_read(lake, "graph/hubs")["node_id"])
    for c in ("established_date", "deregistered_date"):
        ent[c] = pd.to_datetime(ent[c])
    for c in ("since", "until"):
        attrs[c] = pd.to_datetime(attrs[c])
    a = attrs[attrs["attr_type"].isin(PHOENIX_LINK_TYPES)].copy()
    a["attr_key"] = a["attr_key"].str.strip()
    a = a[a["attr_key"].fillna("").str.len() > 0]
    a = a[~a["attr_key"].str.startswith("org:")]
    person = a["attr_type"].isin(["legal_rep", "shareholder"])
    a["node_type"] = np.where(person, "person", a["attr_type"])
    a["node_id"] = a["node_type"] + ":" + a["attr_key"]
    a = a.join(a.groupby("node_id")["entity_id"].nunique().rename("n_ever"), on="node_id")
    closures = pd.concat(
        [
            ent.loc[ent["deregistered_date"].notna(), ["entity_id", "deregistered_date"]]
            .rename(columns={"deregistered_date": "event_date"})
            .assign(event_type="deregistered"),
            events[events["event_type"].isin(CLOSURE_EVENTS)],
        ]
    )
    closures["event_date"] = pd.to_datetime(closures["event_date"])
    closures = closures[closures["event_date"] <= as_of].drop_duplicates()
    place = ent[["entity_id", "established_date", "district_code", "industry_section"]]
    new = ent.loc[
        (ent["established_date"] > as_of - pd.DateOffset(months=new_months)) & (ent["established_date"] <= as_of),
        "entity_id",
    ]
    s_side = a[a["entity_id"].isin(new)].merge(place, on="entity_id")
    s_side = s_side[
        (s_side["since"].isna() | (s_side["since"] <= as_of))
        & (s_side["until"].isna() | (s_side["until"] > s_side["established_date"]))
    ]
    p_side = a.merge(closures, on="entity_id")
    p_side = p_side[
        (p_side["since"].isna() | (p_side["since"] <= p_side["event_date"]))
        & (p_side["until"].isna() | (p_side["until"] > p_side["event_date"] - pd.DateOffset(months=window_months)))
    ].merge(place.drop(columns="established_date"), on="entity_id")

    def in_window(m: pd.DataFrame) -> pd.DataFrame:
        est = m["established_date"]
        ok = (m["entity_id_s"] != m["entity_id_p"]) & (m["event_date"] <= est)
        return m[ok & (m["event_date"] >= est - pd.DateOffset(months=window_months))]

    p_cols = ["entity_id", "node_id", "attr_label", "attr_type", "attr_key", "event_date", "district_code",
              "industry_section"]  # fmt: skip
    # shared nodes
    nodes = s_side[~s_side["node_id"].isin(hubs)]
    nodes = nodes[(nodes["node_type"] != "address") | nodes["attr_label"].str.contains(SPECIFIC_ADDRESS, na=False)]
    m = in_window(nodes.merge(p_side[p_cols].drop(columns=["attr_label", "attr_key"]), on="node_id",
                              suffixes=("_s", "_p")))  # fmt: skip
    m = m.assign(kind=m["node_type"], e=m["n_ever"] - 2.0, label=m["node_id"])
    # name-only people: P's legal representative's name
    n_all = len(ent)
    holders = a[a["node_type"] == "person"].groupby("attr_label")["entity_id"].nunique().rename("holders")
    reps = p_side[(p_side["node_type"] == "person") & (p_side["attr_type"] == "legal_rep")]
    q = s_side[s_side["node_type"] == "person"].merge(reps[p_cols], on="attr_label", suffixes=("_s", "_p"))
    q = in_window(q[(q["attr_key_s"] != q["attr_key_p"]) & ~(q["attr_key_s"].str.startswith("id:") &
                                                             q["attr_key_p"].str.startswith("id:"))])  # fmt: skip
    q = q.join(holders, on="attr_label")
    sd = q["district_code_s"] == q["district_code_p"]
    ss = q["industry_section_s"] == q["industry_section_p"]
    n_ds = ent.groupby(["district_code", "industry_section"]).size()
    ctx = np.where(
        sd & ss,
        n_ds.reindex(pd.MultiIndex.from_arrays([q["district_code_s"], q["industry_section_s"]])).to_numpy(),
        np.where(
            sd,
            q["district_code_s"].map(ent.groupby("district_code").size()),
            np.where(ss, q["industry_section_s"].map(ent.groupby("industry_section").size()), np.nan),
        ),
    )
    q = q.assign(kind="name", e=(q["holders"] - 2) * ctx / n_all, label="name:" + q["attr_label"])
    cols = ["entity_id_s", "entity_id_p", "kind", "e", "label", "attr_type_s", "district_code_s",
            "district_code_p", "industry_section_s", "industry_section_p"]  # fmt: skip
    pairs = pd.concat([m[cols], q[cols]], ignore_index=True).drop_duplicates(
        ["entity_id_s", "entity_id_p", "label"]
    )
    pairs["same_district"] = pairs["district_code_s"] == pairs["district_code_p"]
    pairs["same_section"] = pairs["industry_section_s"] == pairs["industry_section_p"]
    pairs["n_p"] = pairs.groupby(["entity_id_s", "label"])["entity_id_p"].transform("nunique")
    pairs["n_s"] = pairs.groupby(["entity_id_p", "label"])["entity_id_s"].transform("nunique")
    core = ent.set_index("entity_id")["name_core"].fillna("")
    cs, cp = core.reindex(pairs["entity_id_s"]).to_numpy(), core.reindex(pairs["entity_id_p"]).to_numpy()
    pairs["trade_name"] = [
        Levenshtein.normalized_similarity(x, y) if x and y else 0.0 for x, y in zip(cs, cp, strict=True)
    ]
    return pairs


def pair_features(pairs: pd.DataFrame) -> pd.DataFrame:
    """One row per (successor, predecessor): per tie kind the least common tie, and the pair's context."""
    g = pairs.groupby(["entity_id_s", "entity_id_p"])
    out = g.agg(
        same_district=("same_district", "max"),
        same_section=("same_section", "max"),
        n_ties=("kind", "size"),
        n_p=("n_p", "min"),
        n_s=("n_s", "min"),
        s_is_rep=("attr_type_s", lambda r: bool((r == "legal_rep").any())),
        trade_name=("trade_name", "max"),
    ).reset_index()
    key = pd.MultiIndex.from_frame(out[["entity_id_s", "entity_id_p"]])
    for kind in KINDS:
        e = pairs[pairs["kind"] == kind].groupby(["entity_id_s", "entity_id_p"])["e"].min()
        out[f"e_{kind}"] = e.reindex(key).to_numpy()
    out["n_candidates"] = out.groupby("entity_id_s")["entity_id_p"].transform("size")
    return out


def best_recall_at(scores: pd.Series, truth: set[str], n_true: int, min_precision: float) -> dict[str, Any]:
    """Highest recall among the top-k successors by score whose precision is at least ``min_precision``."""
    s = scores.sort_values(ascending=False)
    hits = np.cumsum(s.index.isin(list(truth)))
    k = np.arange(1, len(s) + 1)
    ok = hits / k >= min_precision
    if not ok.any():
        return {"recall": 0.0, "flagged": 0, "precision": None}
    i = int(np.argmax(np.where(ok, hits, -1)))
    return {"recall": round(hits[i] / n_true, 4), "flagged": int(k[i]), "precision": round(hits[i] / k[i], 4)}


def ceiling(city: Path, lake: Path, seed: int) -> dict[str, Any]:
    """The fitted ceiling and the product's own flags on one city."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import GroupKFold

    from radar.config import policy

    scenario = json.loads((city / "truth" / "scenario.json").read_text())
    as_of = pd.Timestamp(scenario["as_of"])
    g = policy().graph
    pairs = candidate_pairs(lake, as_of, g.new_entity_months, g.phoenix_months)
    # the truth's ids to the lake's, through the USCC the registry row carries
    from graph import truth_ids

    lake_ids = truth_ids(_read(lake, "resolve/entities"), pd.read_parquet(city / "truth" / "entities.parquet"))
    to_lake = pd.Series(lake_ids.index, index=lake_ids.to_numpy())
    to_lake = to_lake[~to_lake.index.duplicated()]
    phoenix = pd.read_parquet(city / "truth" / "phoenix.parquet")
    true_pairs = set(zip(phoenix["entity_id"].map(to_lake), phoenix["predecessor_entity_id"].map(to_lake), strict=True))
    successors = set(phoenix["entity_id"].map(to_lake).dropna())
    n_true = phoenix["entity_id"].nunique()
    x = pair_features(pairs)
    x["true"] = [(s, p) in true_pairs for s, p in zip(x["entity_id_s"], x["entity_id_p"], strict=True)]
    reachable = set(x.loc[x["true"], "entity_id_s"])
    feats = ["same_district", "same_section", "n_ties", "n_p", "n_s", "s_is_rep", "n_candidates",
             *[f"e_{k}" for k in KINDS]]  # fmt: skip
    out: dict[str, Any] = {
        "candidate_pairs": len(x),
        "true_pairs_among_candidates": int(x["true"].sum()),
        "phoenix_successors": n_true,
        "reachable_recall": round(len(reachable) / n_true, 4),
    }
    for name, cols in (("without_trade_name", feats), ("with_trade_name", [*feats, "trade_name"])):
        pred = np.zeros(len(x))
        for train, test in GroupKFold(5).split(x, x["true"], x["entity_id_s"]):
            clf = HistGradientBoostingClassifier(max_iter=200, random_state=seed)
            clf.fit(x.iloc[train][cols].astype(float), x.iloc[train]["true"])
            pred[test] = clf.predict_proba(x.iloc[test][cols].astype(float))[:, 1]
        scores = x.assign(p=pred).groupby("entity_id_s")["p"].max()
        out[f"fitted_{name}"] = best_recall_at(scores, successors, n_true, 0.5)
    flags = _read(lake, "graph/flags")
    flagged = set(flags.loc[flags["flag"] == "phoenix", "entity_id"])
    tp = len(flagged & successors)
    out["product_flags"] = {
        "flagged": len(flagged),
        "precision": round(tp / len(flagged), 4) if flagged else None,
        "recall": round(tp / n_true, 4),
    }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--city", type=Path, required=True, help="a simulated city (with truth/)")
    ap.add_argument("--lake", type=Path, required=True, help="its lake, with resolve, features and graph")
    ap.add_argument("--seed", type=int, default=0, help="the classifier's seed")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "phoenix_ceiling.json")
    args = ap.parse_args()
    scenario = json.loads((args.city / "truth" / "scenario.json").read_text())
    res = ceiling(args.city, args.lake, args.seed)
    res.update(
        {
            "seed": scenario["seed"],
            "entities": scenario["entity_count"],
            "command": "bench/phoenix_ceiling.py " + " ".join(os.sys.argv[1:]),
            "date": date.today().isoformat(),
        }
    )
    print(json.dumps(res, indent=1), flush=True)
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    results.setdefault("scales", {})[scenario["scale"]] = res
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
