"""Feature build time (24 monthly snapshots, one Spark pass) and what each indicator dimension adds to the model.

**Timing** (``--scales``): simulate each city and ingest + resolve it once (kept in ``--work`` for later runs),
then run the features stage (events and 24 monthly snapshots with labels, published to the lake exactly as
``radar run --stage features`` does) ``--repeats`` times in one SparkSession and take the median. Baseline:
the previous snapshot builder (an events x dates cross join, commit ``19b6cf8``, loaded with ``git show``) on
the same events with its own 35-feature catalog; the sweep builder is timed on that catalog too, so the ratio
compares like with like.

**Ablation** (``--ablation-scale``): train ``radar.models.train_and_evaluate`` on the labelled snapshots with
every feature built with the snapshots, then without each SAMR dimension in turn, and with the previous
catalog's 35 features. Reported: AUC-PR and lift@10% on the time-ordered validation months (labels: the
detected adverse events), and against the simulation's truth: the model refit on all labelled rows scores the
entities alive at the as-of date, judged by their true violations (detected or not) in the 180 days after it.

The differences are small, so the ablation runs on several simulated cities (``--ablation-seeds``) and the JSON
gets, besides each seed's entry, a summary per feature set and scale (key ``ablation_summary``): the AUC-PR lost
on the validation months and against the truth, mean / min / max over the seeds, and in how many seeds removing
the dimension hurt (lost > 0).

    .venv/bin/python bench/features.py --scales small city --repeats 3 --ablation-scale small
    .venv/bin/python bench/features.py --scales --repeats 1 --no-baseline --ablation-scale small --ablation-seeds 7 11 23
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
import types
from datetime import date, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

ROOT = Path(__file__).resolve().parent.parent
BASELINE_COMMIT = "19b6cf8"
AS_OF = date(2024, 6, 30)


# ---------------------------------------------------------------- preparing a city
def prepare(scale: str, seed: int, work: Path) -> tuple[Path, Path]:
    """The simulated city and a lake with ingest and resolve done (made once, reused)."""
    city, lake = work / f"{scale}-{seed}", work / f"{scale}-{seed}-lake"
    if not (city / "truth" / "scenario.json").exists():
        from radar.simulate import simulate_city

        print(f"simulating {scale} (seed {seed}) ...", flush=True)
        simulate_city(scale, seed, city)
    if not (lake / "resolve" / "entities" / f"as_of={AS_OF}").exists():
        print(f"ingest + resolve {scale} ...", flush=True)
        subprocess.run(
            [sys.executable, "-m", "radar.cli", "run", "--input", str(city / "raw"), "--as-of", AS_OF.isoformat(),
             "--lake", str(lake), "--stage", "ingest", "--stage", "resolve"],
            check=True, cwd=ROOT,
        )
    return city, lake


def baseline_builder() -> tuple[Any, Any] | None:
    """The previous builder and catalog (commit 19b6cf8), or None when git cannot show them."""
    from radar.config import FeatureCatalog

    try:
        src = subprocess.run(["git", "show", f"{BASELINE_COMMIT}:radar/features/snapshots.py"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
        cat = subprocess.run(["git", "show", f"{BASELINE_COMMIT}:conf/features.yaml"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    import yaml

    mod = types.ModuleType("radar_features_snapshots_19b6cf8")
    exec(compile(src, f"{BASELINE_COMMIT}:radar/features/snapshots.py", "exec"), mod.__dict__)
    return mod, FeatureCatalog.model_validate(yaml.safe_load(cat))


# ---------------------------------------------------------------- timing
def _median(xs: list[float]) -> float:
    return round(statistics.median(xs), 1)


def time_scale(scale: str, seed: int, repeats: int, work: Path, baseline: bool) -> dict[str, Any]:
    from pyspark.sql import functions as F

    from radar.features.snapshots import build_snapshots
    from radar.jobs import features as job
    from radar.jobs.pipeline import make_context
    from radar.jobs.resolve import ATTRIBUTES, ENTITIES
    from radar.reference import city_districts

    _, lake = prepare(scale, seed, work)
    ctx = make_context(lake, AS_OF)
    spark, pol = ctx.spark, ctx.policy
    runs = []
    for r in range(repeats):
        t0 = time.perf_counter()
        figures = job.run(ctx)
        runs.append({"total": time.perf_counter() - t0, **figures["phase_seconds"]})
        print(f"  {scale} features stage run {r + 1}: {runs[-1]['total']:.1f}s "
              f"(events {figures['phase_seconds']['events']}s, snapshots {figures['phase_seconds']['snapshots']}s)", flush=True)
    snaps = ctx.lake.read_spark(spark, job.SNAPSHOTS, AS_OF)
    out: dict[str, Any] = {
        "scale": scale,
        "seed": seed,
        "entities": ctx.lake.read_spark(spark, ENTITIES, AS_OF).count(),
        "events": figures["events"],
        "snapshot_rows": snaps.count(),
        "snapshot_dates": snaps.select("snapshot_date").distinct().count(),
        "features": figures["features"],
        "repeats": repeats,
        "median_seconds": {k: _median([x[k] for x in runs]) for k in runs[0]},
        "all_runs": [{k: round(v, 1) for k, v in x.items()} for x in runs],
    }
    old = baseline_builder() if baseline else None
    if old is not None:
        mod, old_catalog = old
        # the previous builder stops counting a record at its repair only: give the sweep the same rule
        events = ctx.lake.read_spark(spark, job.EVENTS, AS_OF).withColumn("stop_date", F.col("repair_date"))
        entities = ctx.lake.read_spark(spark, ENTITIES, AS_OF)
        attributes = ctx.lake.read_spark(spark, ATTRIBUTES, AS_OF)
        districts = list(city_districts(pol.resolve.city_division, pol.resolve.extra_divisions))
        args = (entities, events, attributes, old_catalog, pol.features, pol.labels, AS_OF, districts,
                pol.graph.hub_cap)
        timed: dict[str, list[float]] = {"sweep": [], "cross_join": []}
        for r in range(repeats):
            for name, build in (("sweep", build_snapshots), ("cross_join", mod.build_snapshots)):
                t0 = time.perf_counter()
                ctx.lake.publish_spark(build(*args), f"bench/snapshots_{name}", AS_OF,
                                       partitions=ctx.profile.spark.shuffle_partitions)
                timed[name].append(time.perf_counter() - t0)
                print(f"  {scale} previous catalog ({len(old_catalog.features)} features), {name} builder run "
                      f"{r + 1}: {timed[name][-1]:.1f}s", flush=True)
        # the two builders agree on the previous catalog (the sweep is exact, not an approximation)
        a = ctx.lake.read_spark(spark, "bench/snapshots_sweep", AS_OF)
        b = ctx.lake.read_spark(spark, "bench/snapshots_cross_join", AS_OF)
        cols = [f.name for f in old_catalog.features]
        key = ["entity_id", "snapshot_date"]
        j = a.select(*key, *[F.col(c).alias(f"a_{c}") for c in [*cols, "label"]]).join(
            b.select(*key, *[F.col(c).alias(f"b_{c}") for c in [*cols, "label"]]), key, "full")
        differ = j.where(
            F.greatest(*[~F.col(f"a_{c}").eqNullSafe(F.col(f"b_{c}")) & ~(F.abs(F.col(f"a_{c}") - F.col(f"b_{c}"))
                                                                        < 0.01) for c in [*cols, "label"]])
        ).count()
        shutil.rmtree(ctx.lake.table_dir("bench"), ignore_errors=True)
        sweep, cross = _median(timed["sweep"]), _median(timed["cross_join"])
        out["baseline"] = {
            "catalog": f"{BASELINE_COMMIT} ({len(old_catalog.features)} features)",
            "median_seconds_sweep": sweep,
            "median_seconds_cross_join": cross,
            "cross_join_to_sweep_ratio": round(cross / sweep, 2) if sweep else None,
            "rows_that_differ": differ,
            "all_runs": {k: [round(x, 1) for x in v] for k, v in timed.items()},
        }
    ctx.spark.stop()
    return out


# ---------------------------------------------------------------- ablation
def ablation(scale: str, seed: int, work: Path) -> dict[str, Any]:
    import numpy as np
    import pandas as pd
    import polars as pl

    from radar.config import feature_catalog, policy
    from radar.models import evaluate_scores, train_and_evaluate
    from radar.models.estimator import positive_proba

    city, lake = prepare(scale, seed, work)
    part = lake / "features" / "snapshots" / f"as_of={AS_OF}"
    if not part.exists():
        from radar.jobs import features as job
        from radar.jobs.pipeline import make_context

        ctx = make_context(lake, AS_OF)
        job.run(ctx)
        ctx.spark.stop()
    snaps = pl.read_parquet(str(part / "*.parquet")).to_pandas()
    ents = pl.read_parquet(str(lake / "resolve" / "entities" / f"as_of={AS_OF}" / "*.parquet")).select(
        "entity_id", "uscc").to_pandas()
    viol = pd.read_parquet(city / "truth" / "violations.parquet")
    horizon = policy().labels.horizon_days
    later = viol[(viol["date"] > AS_OF) & (viol["date"] <= AS_OF + timedelta(days=horizon))]
    truth_uscc = set(later["uscc"])
    catalog = feature_catalog()
    built = catalog.built()
    old = baseline_builder()
    sets: dict[str, list[str]] = {"all": [f.name for f in built]}
    for dim, label in catalog.dimensions.items():
        sets[f"without {dim} ({label})"] = [f.name for f in built if f.dimension != dim]
    if old is not None:
        sets[f"previous catalog ({BASELINE_COMMIT})"] = [f.name for f in old[1].features]
    labelled = snaps[snaps["label_complete"]].copy()
    now = snaps[pd.to_datetime(snaps["snapshot_date"]) == pd.Timestamp(AS_OF)].merge(ents, on="entity_id", how="left")
    y_truth = now["uscc"].isin(truth_uscc).to_numpy().astype(int)
    tp = policy().train
    rows = {}
    for name, cols in sets.items():
        t0 = time.perf_counter()
        res = train_and_evaluate(labelled[["entity_id", "snapshot_date", *cols, "label"]], cols, policy=tp)
        m = res.metrics["model"]
        truth = evaluate_scores(y_truth, positive_proba(res.model, now), k=tp.precision_at_k)
        rows[name] = {
            "features": len(cols),
            "validation_auc_pr": round(m["auc_pr"], 4),
            "validation_lift_at_10pct": round(m["lift_at_10pct"], 2),
            "truth_auc_pr": round(truth["auc_pr"], 4),
            "truth_lift_at_10pct": round(truth["lift_at_10pct"], 2),
            "seconds": round(time.perf_counter() - t0, 1),
        }
        print(f"  {name:<45} {len(cols):>3} features  val AUC-PR {m['auc_pr']:.4f} lift@10% "
              f"{m['lift_at_10pct']:.2f} | truth AUC-PR {truth['auc_pr']:.4f} lift@10% {truth['lift_at_10pct']:.2f}",
              flush=True)
    full = rows["all"]
    for r in rows.values():
        r["validation_auc_pr_lost"] = round(full["validation_auc_pr"] - r["validation_auc_pr"], 4)
        r["truth_auc_pr_lost"] = round(full["truth_auc_pr"] - r["truth_auc_pr"], 4)
    return {
        "scale": scale,
        "seed": seed,
        "labelled_rows": len(labelled),
        "validation": "last train.validation_months of labelled snapshots; labels = detected adverse events",
        "truth": f"true violations (detected or not) in the {horizon} days after {AS_OF}, entities alive then",
        "truth_positive_rate": round(float(np.mean(y_truth)), 4),
        "entities_scored": len(now),
        "runs": rows,
    }


def ablation_summary(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per scale and feature set, the AUC-PR lost (validation and truth) over the seeds: mean, min, max, and in
    how many seeds the set without it scored lower (lost > 0)."""
    out = []
    for scale in sorted({e["scale"] for e in entries}):
        runs = sorted((e for e in entries if e["scale"] == scale), key=lambda e: e["seed"])
        seeds = [e["seed"] for e in runs]
        names = [n for n in runs[0]["runs"] if n != "all" and all(n in e["runs"] for e in runs)]
        sets = {}
        for name in names:
            row: dict[str, Any] = {"features": runs[0]["runs"][name]["features"]}
            for part in ("validation", "truth"):
                lost = [e["runs"][name][f"{part}_auc_pr_lost"] for e in runs]
                row[f"{part}_auc_pr_lost"] = {
                    "mean": round(statistics.fmean(lost), 4),
                    "min": round(min(lost), 4),
                    "max": round(max(lost), 4),
                    "seeds_hurt": sum(x > 0 for x in lost),
                    "per_seed": dict(zip(map(str, seeds), lost, strict=True)),
                }
            sets[name] = row
        out.append({
            "scale": scale,
            "seeds": seeds,
            "all_features": {part: {str(e["seed"]): e["runs"]["all"][f"{part}_auc_pr"] for e in runs}
                             for part in ("validation", "truth")},
            "sets": sets,
        })
    return out


def print_ablation_summary(summary: list[dict[str, Any]]) -> None:
    for s in summary:
        n = len(s["seeds"])
        print(f"\nablation at {s['scale']} over seeds {', '.join(map(str, s['seeds']))}: AUC-PR lost without the set, "
              f"mean [min, max] (seeds where it hurt / {n})")
        print(f"  {'all features: AUC-PR by seed':<45}     val "
              + " ".join(f"{v:.4f}" for v in s["all_features"]["validation"].values())
              + " | truth " + " ".join(f"{v:.4f}" for v in s["all_features"]["truth"].values()))
        for name, r in s["sets"].items():
            v, t = r["validation_auc_pr_lost"], r["truth_auc_pr_lost"]
            print(f"  {name:<45} {r['features']:>3}  val {v['mean']:+.4f} [{v['min']:+.4f}, {v['max']:+.4f}] "
                  f"({v['seeds_hurt']}/{n}) | truth {t['mean']:+.4f} [{t['min']:+.4f}, {t['max']:+.4f}] "
                  f"({t['seeds_hurt']}/{n})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", nargs="*", default=["small", "city"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-baseline", action="store_true", help="skip the previous builder")
    ap.add_argument("--ablation-scale", default="small", help="scale of the ablation ('' to skip)")
    ap.add_argument("--ablation-seeds", type=int, nargs="+", default=[7])
    ap.add_argument("--work", type=Path, default=Path("/tmp/radar-bench-features"))
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "features.json")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    timing = []
    for scale in args.scales:
        res = time_scale(scale, args.seed, args.repeats, args.work, not args.no_baseline)
        timing.append(res)
        ms = res["median_seconds"]
        print(f"\n{scale}: {res['entities']} entities, {res['events']} events, {res['snapshot_rows']} rows x "
              f"{res['features']} features over {res['snapshot_dates']} snapshot dates; median of {res['repeats']}: "
              f"features stage {ms['total']}s (events {ms['events']}s, snapshots {ms['snapshots']}s)")
        if "baseline" in res:
            b = res["baseline"]
            print(f"  previous catalog: sweep {b['median_seconds_sweep']}s vs cross join "
                  f"{b['median_seconds_cross_join']}s = {b['cross_join_to_sweep_ratio']}x; rows that differ: "
                  f"{b['rows_that_differ']}\n")
    abl = []
    if args.ablation_scale:
        for seed in args.ablation_seeds:
            print(f"\nablation at {args.ablation_scale} (seed {seed})")
            abl.append(ablation(args.ablation_scale, seed, args.work))
    doc = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "load_average_at_end": list(os.getloadavg())},
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "command": "python bench/features.py " + " ".join(sys.argv[1:]),
        "timing": timing,
        "ablation": abl,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.out.exists():  # keep results of scales, seeds or parts not rerun this time
        prev = json.loads(args.out.read_text(encoding="utf-8"))
        done = {(t["scale"], t["seed"]) for t in timing}
        for t in prev.get("timing", []):
            if (t["scale"], t["seed"]) in done:
                continue
            # an entry kept from an earlier run keeps that run's provenance (the top level is this run's)
            t.setdefault("command", prev.get("command"))
            t.setdefault("date", prev.get("date"))
            t.setdefault("load_average_at_end", prev.get("machine", {}).get("load_average_at_end"))
            doc["timing"].append(t)
        done = {(a["scale"], a["seed"]) for a in abl}
        for a in prev.get("ablation", []):
            if (a["scale"], a["seed"]) not in done:
                a.setdefault("command", prev.get("command"))
                a.setdefault("date", prev.get("date"))
                doc["ablation"].append(a)
        doc["ablation"].sort(key=lambda a: (a["scale"], a["seed"]))
    doc["ablation_summary"] = ablation_summary(doc["ablation"])
    if abl:
        print_ablation_summary(doc["ablation_summary"])
    args.out.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
