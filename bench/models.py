"""The risk model against the simulation's truth: does ranking by risk find the entities that will violate?

Runs (or reuses) a simulated city and its lake, then evaluates the scores of the as-of date against the
truth's violations in the 180 days after it, every violation, detected or not (what a regulator wants to
find), and against what was later observed (detected adverse events). Compared with the rule baseline
(conf/policy.yaml ``train.rule_weights`` points) and a random order; the train stage's own time-ordered
validation is printed beside it. Medians over seeds.

Violations are observed only where someone looked, so the bench also evaluates both scores the way a
regulator could without the simulation's truth: on the inspections after the as-of date (truth/checks),
raw (every inspection, unweighted) and honest (only the random draws, each weighted by 1 / its inclusion
probability: Horvitz-Thompson, radar.models.selection_bias), with the selection bias raw minus weighted.

To read the targets against, it also measures ceilings (``ceilings``): ranking by the simulation's hidden
risk, and the production model trained on the true violations (with and without every past violation,
detected or not, as extra features): no model of the observable data can be expected above the last.

    .venv/bin/python bench/models.py --scale small --seeds 7 8 9 --out bench/results/models.json
    .venv/bin/python bench/models.py --city CITY --lake LAKE   # a city already run through the pipeline
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from radar.models.selection_bias import METRICS

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")


def random_draw_evaluation(city: Path, frame: pd.DataFrame, as_of: date, horizon: int, top_share: float) -> dict[str, Any]:
    """Raw vs Horvitz-Thompson figures of the model and the rule baseline on the inspections in the horizon."""
    from radar.models.selection_bias import selection_bias_report

    path = city / "truth" / "checks.parquet"
    if not path.exists():
        return {"skipped": "the simulation has no truth/checks.parquet (simulate again with this version)"}
    checks = pd.read_parquet(path)
    checks["date"] = pd.to_datetime(checks["date"]).dt.date
    window = checks[(checks["date"] > as_of) & (checks["date"] <= as_of + timedelta(days=horizon))]
    insp = window.merge(frame[["uscc", "risk_score", "rule_points"]], on="uscc", how="inner")
    k = max(1, round(top_share * len(frame)))
    out = selection_bias_report(insp, ["risk_score", "rule_points"], k=k)
    out["unscored_inspections"] = len(window) - len(insp)
    for key in ("problem_found", "violation_found"):
        out[f"{key}_share_random"] = round(float(insp.loc[insp["random_draw"], key].mean()), 4)
    out["model"], out["rule"] = out.pop("risk_score"), out.pop("rule_points")
    return out


def _truth_labels(table: pd.DataFrame, violations: pd.DataFrame, horizon: int) -> np.ndarray:
    """1 where the entity (by USCC) truly violates within ``horizon`` days after the row's snapshot."""
    out = np.zeros(len(table), dtype=int)
    for day, idx in table.groupby("snapshot_date").groups.items():
        ahead = violations[(violations["date"] > day) & (violations["date"] <= day + pd.Timedelta(days=horizon))]
        pos = table.index.get_indexer(idx)
        out[pos] = table.loc[idx, "uscc"].isin(set(ahead["uscc"])).to_numpy()
    return out


def ceilings(city: Path, lake_dir: Path, as_of: date, horizon: int) -> dict[str, Any]:
    """How far any model could get on this city, to read the targets against.

    * ``latent_risk``: ranking by the simulation's hidden risk itself (no observable data reaches it);
    * ``truth_labels``: the production model (same features, settings and time-ordered split) trained on
      the true violations instead of the observed adverse events: what the features can carry;
    * ``truth_labels_and_past_violations``: the same, also told every past violation, detected or not
      (1, 3 and 10 years): what the whole observable history could carry at best.
    """
    from radar.config import policy
    from radar.features.tables import model_table
    from radar.jobs.train import feature_columns
    from radar.lake import Lake
    from radar.models import evaluate_scores
    from radar.models.estimator import RiskModel

    lake = Lake(lake_dir).open(recover=False)
    table = model_table(lake, as_of).to_pandas()
    ids = lake.read_polars("resolve/entities", as_of).select("entity_id", "uscc").to_pandas()
    table = table.merge(ids, on="entity_id", how="left").reset_index(drop=True)
    table["snapshot_date"] = pd.to_datetime(table["snapshot_date"])
    violations = pl.read_parquet(city / "truth" / "violations.parquet").select("uscc", "date").to_pandas()
    violations["date"] = pd.to_datetime(violations["date"])
    table["truth"] = _truth_labels(table, violations, horizon)
    past = []
    for window in (365, 1095, 3650):
        name = f"past_true_violations_{window}d"
        counts = np.zeros(len(table))
        for day, idx in table.groupby("snapshot_date").groups.items():
            seen = violations[(violations["date"] <= day) & (violations["date"] > day - pd.Timedelta(days=window))]
            counts[table.index.get_indexer(idx)] = table.loc[idx, "uscc"].map(seen["uscc"].value_counts()).fillna(0)
        table[name] = counts
        past.append(name)
    now = table[table["snapshot_date"] == pd.Timestamp(as_of)]
    known = table[(table["snapshot_date"] <= pd.Timestamp(as_of) - pd.Timedelta(days=horizon))]
    tp = policy().train
    rng = np.random.default_rng(tp.seed)
    y_now = now["truth"].to_numpy()
    k = max(1, len(now) // 100)

    def scored(values: np.ndarray) -> dict[str, float]:
        m = evaluate_scores(y_now, values, k=k)
        return {key: round(float(m[key]), 4) for key in ("auc", "auc_pr", "lift_at_10pct")}

    latent = pl.read_parquet(city / "truth" / "entities.parquet").select("uscc", "latent_risk").to_pandas()
    out: dict[str, Any] = {"latent_risk": scored(now.merge(latent, on="uscc", how="left")["latent_risk"]
                                                 .fillna(0).to_numpy())}
    features = feature_columns()
    for name, cols in [("truth_labels", features), ("truth_labels_and_past_violations", features + past)]:
        y = known["truth"].to_numpy()
        keep = (y == 1) | (rng.random(len(y)) < min(1.0, tp.negative_sample_ratio * y.sum() / max(1, (y == 0).sum())))
        model = RiskModel.from_policy(tp, cols).fit(known.loc[keep, [*cols, "snapshot_date"]], y[keep])
        out[name] = scored(model.predict_proba(now[[*cols, "snapshot_date"]])[:, 1])
    return out


def evaluate(city: Path, lake_dir: Path, horizon: int, top_share: float = 0.05) -> dict[str, Any]:
    """Model and rule-baseline metrics at the as-of date against true and observed future violations."""
    from radar.config import policy
    from radar.lake import Lake
    from radar.models import evaluate_scores

    scenario = json.loads((city / "truth" / "scenario.json").read_text(encoding="utf-8"))
    as_of = date.fromisoformat(scenario["as_of"])
    lake = Lake(lake_dir).open(recover=False)
    scores = lake.read_polars("score/scores", as_of).select("entity_id", "uscc", "risk_score")
    snap = lake.read_polars("features/snapshots", as_of).filter(pl.col("snapshot_date") == as_of)
    weights = policy().train.rule_weights
    rule = sum(pl.col(f).fill_null(0) * w for f, w in weights.items() if f in snap.columns)
    snap = snap.with_columns(rule_points=rule).select("entity_id", "rule_points")
    truth = pl.read_parquet(city / "truth" / "violations.parquet")
    end = as_of + timedelta(days=horizon)
    in_window = truth.filter((pl.col("date") > as_of) & (pl.col("date") <= end))
    true_ids = set(in_window["uscc"].to_list())
    detected_ids = set(in_window.filter(pl.col("detected"))["uscc"].to_list())
    frame = scores.join(snap, on="entity_id", how="left").to_pandas()
    frame["rule_points"] = frame["rule_points"].fillna(0.0)
    rng = np.random.default_rng(0)
    frame["random"] = rng.random(len(frame))
    out: dict[str, Any] = {"entities": len(frame)}
    k = max(1, len(frame) // 100)
    for label_name, ids in [("true_violation", true_ids), ("detected_violation", detected_ids)]:
        y = frame["uscc"].isin(ids).to_numpy().astype(int)
        out[label_name] = {"base_rate": round(float(y.mean()), 4)}
        for scorer, col in [("model", "risk_score"), ("rule", "rule_points"), ("random", "random")]:
            m = evaluate_scores(y, frame[col].to_numpy(float), k=k)
            out[label_name][scorer] = {key: round(float(m[key]), 4) for key in ("auc", "auc_pr", "lift_at_10pct")}
        out[label_name]["auc_pr_ratio_model_to_rule"] = round(
            out[label_name]["model"]["auc_pr"] / max(out[label_name]["rule"]["auc_pr"], 1e-9), 2
        )
    out["random_draws"] = random_draw_evaluation(city, frame, as_of, horizon, top_share)
    out["ceilings"] = ceilings(city, lake_dir, as_of, horizon)
    run = lake.read_json("reports/run", as_of)
    out["train_stage_validation"] = run["stages"]["train"].get("validation")
    return out


def _median(values: list[float]) -> float:
    finite = [v for v in values if v == v]  # NaN: no problem among the draws of that seed
    return round(statistics.median(finite), 4) if finite else float("nan")


def _print_random_draws(res: dict[str, Any]) -> None:
    """One seed's raw vs Horvitz-Thompson figures."""
    if "skipped" in res:
        print(f"  inspections: {res['skipped']}")
        return
    print(f"  inspections in the horizon: {res['inspections']} ({res['random_draws']} random draws standing for "
          f"{res['population_estimate']:.0f} entities; precision@k: the riskiest {res['k']} entities, raw: the same share "
          f"of the inspections)")
    for scorer in ("model", "rule"):
        r = res[scorer]
        print(f"    {scorer:<5} raw {r['raw']}\n          HT  {r['weighted']}\n          bias {r['selection_bias']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", default="small")
    ap.add_argument("--seeds", type=int, nargs="+", default=[7, 8, 9])
    ap.add_argument("--out", type=Path, default=Path("bench/results/models.json"))
    ap.add_argument("--top-share", type=float, default=0.05,
                    help="precision@k on inspections: k = this share of the scored entities")
    ap.add_argument("--city", type=Path, default=None,
                    help="reuse this simulated city (its truth/scenario.json names scale and seed) instead of --seeds")
    ap.add_argument("--lake", type=Path, default=None,
                    help="with --city: evaluate this lake, already run on that city, instead of running the pipeline")
    args = ap.parse_args()
    if args.lake is not None and args.city is None:
        ap.error("--lake needs --city")
    from radar.config import policy
    from radar.jobs.pipeline import run_all
    from radar.simulate import simulate_city

    horizon = policy().labels.horizon_days
    work = Path(tempfile.mkdtemp(prefix="radar-bench-models-"))
    runs = []
    seeds = args.seeds
    if args.city is not None:
        given = json.loads((args.city / "truth" / "scenario.json").read_text(encoding="utf-8"))
        seeds, args.scale = [int(given["seed"])], given["scale"]
    try:
        for seed in seeds:
            city = args.city or work / f"city-{seed}"
            scenario = simulate_city(args.scale, seed, city) if args.city is None else given
            lake = args.lake or work / f"lake-{seed}"
            if args.lake is None:
                run_all(city / "raw", date.fromisoformat(scenario["as_of"]), lake)
            res = evaluate(city, lake, horizon, args.top_share)
            res["seed"] = seed
            runs.append(res)
            t = res["true_violation"]
            print(f"seed {seed}: true violations in {horizon} days: base rate {t['base_rate']:.3f}; "
                  f"model AUC {t['model']['auc']}, AUC-PR {t['model']['auc_pr']}, lift@10% {t['model']['lift_at_10pct']}; "
                  f"rule AUC {t['rule']['auc']}, AUC-PR {t['rule']['auc_pr']}, lift@10% {t['rule']['lift_at_10pct']}")
            _print_random_draws(res["random_draws"])
            print(f"  ceilings (true violations): {res['ceilings']}")
            if args.lake is None:
                shutil.rmtree(lake, ignore_errors=True)
            if args.city is None:
                shutil.rmtree(city, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def med(label: str, scorer: str, metric: str) -> float:
        return round(statistics.median(r[label][scorer][metric] for r in runs), 4)

    summary = {
        label: {
            scorer: {m: med(label, scorer, m) for m in ("auc", "auc_pr", "lift_at_10pct")}
            for scorer in ("model", "rule", "random")
        }
        for label in ("true_violation", "detected_violation")
    }
    summary["ceilings"] = {
        name: {m: _median([r["ceilings"][name][m] for r in runs]) for m in ("auc", "auc_pr", "lift_at_10pct")}
        for name in runs[0]["ceilings"]
    }
    draws = [r["random_draws"] for r in runs if "skipped" not in r["random_draws"]]
    if draws:
        summary["random_draws"] = {
            scorer: {
                view: {m: _median([d[scorer][view][m] for d in draws]) for m in METRICS}
                for view in ("raw", "weighted", "selection_bias")
            }
            for scorer in ("model", "rule")
        }
    for label in ("true_violation", "detected_violation"):
        summary[label]["auc_pr_ratio_model_to_rule"] = round(
            summary[label]["model"]["auc_pr"] / max(summary[label]["rule"]["auc_pr"], 1e-9), 2
        )
    print(f"\nmedian of {len(runs)} seeds ({args.scale}):")
    for label in ("true_violation", "detected_violation"):
        s = summary[label]
        print(f"  {label:<19} model {s['model']}  rule {s['rule']}  AUC-PR model/rule = {s['auc_pr_ratio_model_to_rule']}")
    for name, figures in summary["ceilings"].items():
        print(f"  ceiling, {name:<33} {figures}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if "random_draws" in summary:
        for scorer, views in summary["random_draws"].items():
            print(f"  inspections, {scorer:<5} raw {views['raw']}\n"
                  f"                    HT-weighted {views['weighted']}\n"
                  f"                    selection bias (raw - weighted) {views['selection_bias']}")
    args.out.write_text(json.dumps({"scale": args.scale, "horizon_days": horizon, "top_share": args.top_share,
                                    "median": summary, "runs": runs},
                                   indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    print(f"written {args.out}")


if __name__ == "__main__":
    pd.options.mode.copy_on_write = True
    main()
