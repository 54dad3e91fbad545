"""Wall time of each pipeline stage on simulated cities, with the ingest floor as a baseline.

For each scale: simulate the city once, then run every stage ``--repeats`` times into fresh lakes (one
SparkSession, as ``radar run`` does) and report the median seconds per stage. The baseline is a plain Spark
CSV-to-Parquet copy of the same raw files (all columns as text): the floor any ingest must pay.

    .venv/bin/python bench/stages.py --scales tiny small --repeats 3 --out bench/results/stages.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def csv_copy_floor(spark: Any, raw: Path, out: Path) -> float:
    """Seconds to copy every raw CSV to Parquet with Spark (header, all strings, no parsing)."""
    from radar.config import sources
    from radar.ingest.files import discover

    files = [f for f in discover(raw, sources()) if f.problem is None]
    t0 = time.perf_counter()
    for i, f in enumerate(files):
        df = spark.read.csv(str(f.path), header=True, encoding=f.spark_encoding, sep=f.delimiter)
        df.write.mode("overwrite").parquet(str(out / f"f{i}"))
    return time.perf_counter() - t0


def bench_scale(scale: str, seed: int, repeats: int, work: Path) -> dict[str, Any]:
    from radar.jobs.pipeline import make_context, run_all
    from radar.simulate import simulate_city

    city = work / f"city-{scale}"
    t0 = time.perf_counter()
    scenario = simulate_city(scale, seed, city)
    simulate_s = time.perf_counter() - t0
    as_of = date.fromisoformat(scenario["as_of"])
    runs: list[dict[str, float]] = []
    floors: list[float] = []
    rows = None
    for r in range(repeats):
        lake = work / f"lake-{scale}-{r}"
        report = run_all(city / "raw", as_of, lake)
        runs.append({k: v["seconds"] for k, v in report["stages"].items()})
        rows = sum(v["accepted"] + v["quarantined"] for v in report["stages"]["ingest"]["record_types"].values())
        ctx = make_context(lake, as_of)
        floors.append(csv_copy_floor(ctx.spark, city / "raw", work / f"floor-{scale}-{r}"))
        shutil.rmtree(lake, ignore_errors=True)
        shutil.rmtree(work / f"floor-{scale}-{r}", ignore_errors=True)
    stages = {k: statistics.median(run[k] for run in runs) for k in runs[0]}
    total = statistics.median(sum(run.values()) for run in runs)
    floor = statistics.median(floors)
    return {
        "scale": scale,
        "entities": scenario["entity_count"],
        "raw_rows": rows,
        "raw_bytes": sum(p.stat().st_size for p in (city / "raw").iterdir()),
        "simulate_seconds": round(simulate_s, 1),
        "repeats": repeats,
        "median_seconds": {k: round(v, 1) for k, v in stages.items()},
        "median_total_seconds": round(total, 1),
        "all_runs": runs,
        "ingest_floor_csv_to_parquet_seconds": round(floor, 1),
        "ingest_to_floor_ratio": round(stages["ingest"] / floor, 2) if floor else None,
        "ingest_rows_per_second": round(rows / stages["ingest"]) if rows else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", nargs="+", default=["tiny", "small"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=Path("bench/results/stages.json"))
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="radar-bench-"))
    results = []
    try:
        for scale in args.scales:
            res = bench_scale(scale, args.seed, args.repeats, work)
            results.append(res)
            print(f"\n{scale}: {res['entities']} entities, {res['raw_rows']} raw rows, "
                  f"median of {res['repeats']} runs (seconds)")
            for k, v in res["median_seconds"].items():
                print(f"  {k:<9} {v:>8.1f}")
            print(f"  {'total':<9} {res['median_total_seconds']:>8.1f}")
            print(f"  ingest floor (Spark CSV->Parquet copy) {res['ingest_floor_csv_to_parquet_seconds']}s; "
                  f"ingest/floor = {res['ingest_to_floor_ratio']}x; {res['ingest_rows_per_second']} rows/s")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    doc = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
           "date": time.strftime("%Y-%m-%d %H:%M"), "results": results}
    args.out.write_text(json.dumps(doc, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"\nwritten {args.out}")


if __name__ == "__main__":
    main()
