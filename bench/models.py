"""The risk model against the simulation's truth: does ranking by risk find the entities that will violate?

Runs (or reuses) a simulated city and its lake, then evaluates the scores of the as-of date against the
truth's violations in the 180 days after it, every violation, detected or not (what a regulator wants to
find), and against what was later observed (detected adverse events). Compared with the rule baseline
(conf/policy.yaml ``train.rule_weights`` points) and a random order; the train stage's own time-ordered
validation is printed beside it. Medians over seeds.

    .venv/bin/python bench/models.py --scale small --seeds 7 8 9 --out bench/results/models.json
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

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")


def evaluate(city: Path, lake_dir: Path, horizon: int) -> dict[str, Any]:
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
    run = lake.read_json("reports/run", as_of)
    out["train_stage_validation"] = run["stages"]["train"].get("validation")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", default="small")
    ap.add_argument("--seeds", type=int, nargs="+", default=[7, 8, 9])
    ap.add_argument("--out", type=Path, default=Path("bench/results/models.json"))
    args = ap.parse_args()
    from radar.config import policy
    from radar.jobs.pipeline import run_all
    from radar.simulate import simulate_city

    horizon = policy().labels.horizon_days
    work = Path(tempfile.mkdtemp(prefix="radar-bench-models-"))
    runs = []
    try:
        for seed in args.seeds:
            city = work / f"city-{seed}"
            scenario = simulate_city(args.scale, seed, city)
            lake = work / f"lake-{seed}"
            run_all(city / "raw", date.fromisoformat(scenario["as_of"]), lake)
            res = evaluate(city, lake, horizon)
            res["seed"] = seed
            runs.append(res)
            t = res["true_violation"]
            print(f"seed {seed}: true violations in {horizon} days: base rate {t['base_rate']:.3f}; "
                  f"model AUC {t['model']['auc']}, AUC-PR {t['model']['auc_pr']}, lift@10% {t['model']['lift_at_10pct']}; "
                  f"rule AUC {t['rule']['auc']}, AUC-PR {t['rule']['auc_pr']}, lift@10% {t['rule']['lift_at_10pct']}")
            shutil.rmtree(lake, ignore_errors=True)
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
    for label in summary:
        summary[label]["auc_pr_ratio_model_to_rule"] = round(
            summary[label]["model"]["auc_pr"] / max(summary[label]["rule"]["auc_pr"], 1e-9), 2
        )
    print(f"\nmedian of {len(runs)} seeds ({args.scale}):")
    for label, s in summary.items():
        print(f"  {label:<19} model {s['model']}  rule {s['rule']}  AUC-PR model/rule = {s['auc_pr_ratio_model_to_rule']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"scale": args.scale, "horizon_days": horizon, "median": summary, "runs": runs},
                                   indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    print(f"written {args.out}")


if __name__ == "__main__":
    pd.options.mode.copy_on_write = True
    main()
