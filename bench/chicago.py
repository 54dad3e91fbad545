"""The Chicago real-data benchmark (issue 7), several seeds: medians beside the city's figures.

For each seed: choose the booster setting by rolling-origin validation inside the training period (before
2014-04-17, the last inspection with an inspector before the test period), fit on every training row,
rank the 1,637 test inspections of 2014-09-02..2014-10-31 once. The features are built once (they take no
seed). Prints the median table (the city's stored score, the simple baseline and the real order alongside,
and the city's published figures), the per-inspector and per-district tables of the median seed, and writes
``bench/results/chicago.json``.

    .venv/bin/python bench/chicago.py --seeds 1 2 3 4 5
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import lightgbm
import pandas as pd

from radar.chicago.benchmark import (
    CITY_PUBLISHED,
    format_fairness,
    format_table,
    prepare,
    run_benchmark,
)
from radar.chicago.data import resolve_data_dir

METRICS = (
    "auc",
    "auc_within_inspector",
    "days_earlier",
    "first_half_share",
    "first_half_gain",
    "auc_pr",
    "lift_at_10pct",
)


def medians(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per scorer and metric: the median over the seeds."""
    out: dict[str, dict[str, float]] = {}
    for scorer in runs[0]["metrics"]:
        out[scorer] = {}
        for m in METRICS:
            values = [r["metrics"][scorer][m] for r in runs if r["metrics"][scorer].get(m) is not None]
            if values:
                out[scorer][m] = round(statistics.median(values), 6)
    return out


def spread(runs: list[dict[str, Any]], scorer: str) -> dict[str, list[float]]:
    """Min and max over the seeds of each metric of one scorer."""
    return {
        m: [min(r["metrics"][scorer][m] for r in runs), max(r["metrics"][scorer][m] for r in runs)]
        for m in ("auc", "days_earlier", "first_half_share")
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=None, help="Chicago data folder (default as radar bench)."
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "chicago.json")
    args = parser.parse_args()

    folder = resolve_data_dir(args.data)
    t0 = time.perf_counter()
    frames = prepare(folder)
    feature_s = time.perf_counter() - t0
    runs, results, seconds = [], [], []
    for seed in args.seeds:
        t1 = time.perf_counter()
        result = run_benchmark(seed=seed, frames=frames)
        seconds.append(time.perf_counter() - t1)
        summary = result.summary()
        runs.append(summary)
        results.append(result)
        model = summary["metrics"]["model"]
        print(
            f"seed {seed}: setting {result.setting.name}, AUC {model['auc']:.3f}, "
            f"days earlier {model['days_earlier']:.2f}, first-half share {model['first_half_share']:.1%} "
            f"({seconds[-1]:.0f}s)",
            file=sys.stderr,
        )

    med = medians(runs)
    # the seed whose model AUC is the median (the lower middle for an even count) shows the group tables
    order = sorted(range(len(runs)), key=lambda i: runs[i]["metrics"]["model"]["auc"])
    mid = results[order[(len(order) - 1) // 2]]
    model, city = med["model"], med["city"]
    verdict = {
        "auc_beats_city": model["auc"] > city["auc"],
        "days_earlier_beats_city_published": model["days_earlier"] > CITY_PUBLISHED["days_earlier"],
        "days_earlier_beats_city_stored_score": model["days_earlier"] > city["days_earlier"],
        "first_half_share_beats_city_stored_score": model["first_half_share"] > city["first_half_share"],
        "first_half_gain_beats_city_published": model["first_half_gain"] > CITY_PUBLISHED["first_half_gain"],
    }
    title = (
        f"Chicago food inspections, test 2014-09-02..2014-10-31: {mid.info['test_rows']} inspections, "
        f"{mid.info['test_positives']} with a critical violation; median of {len(runs)} seeds"
    )
    print(format_table(med, title))
    lo_hi = spread(runs, "model")
    print(
        f"model range over seeds: AUC {lo_hi['auc'][0]:.3f}-{lo_hi['auc'][1]:.3f}, days earlier "
        f"{lo_hi['days_earlier'][0]:.2f}-{lo_hi['days_earlier'][1]:.2f}, first-half share "
        f"{lo_hi['first_half_share'][0]:.1%}-{lo_hi['first_half_share'][1]:.1%}"
    )
    print(
        f"AUC within inspector (median): model {model['auc_within_inspector']:.3f}, "
        f"city {city['auc_within_inspector']:.3f}, simple {med['simple']['auc_within_inspector']:.3f}"
    )
    print(f"verdict: {verdict}")
    print(f"\nby inspector (seed {mid.seed})\n{format_fairness(mid.fairness['inspector'], 'Inspector')}")
    print(f"\nby police district (seed {mid.seed})\n{format_fairness(mid.fairness['district'], 'district')}")

    report = {
        "command": "python bench/chicago.py " + " ".join(sys.argv[1:]),
        "data_dir": str(folder),
        "seeds": args.seeds,
        "median": med,
        "model_range": lo_hi,
        "city_published": CITY_PUBLISHED,
        "verdict": verdict,
        "median_seed": mid.seed,
        "fairness_median_seed": {k: json.loads(v.to_json(orient="records")) for k, v in mid.fairness.items()},
        "per_seed": runs,
        "seconds": {"features": round(feature_s, 1), "per_seed_median": round(statistics.median(seconds), 1)},
        "environment": {
            "python": platform.python_version(),
            "lightgbm": lightgbm.__version__,
            "pandas": pd.__version__,
            "machine": platform.machine(),
            "num_threads": 1,
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(args.out)
    print(f"\nwritten {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
