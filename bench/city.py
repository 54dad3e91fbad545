"""The whole pipeline on one (large) simulated city: every stage's wall time and phases, and the ingest floor.

Takes a city already simulated (``radar simulate --scale city --seed 7 --out CITY``: simulating one is
slow, so it is reused), runs every stage into ``--lake`` (kept for the other benchmarks, e.g.
``bench/models.py --city CITY --lake LAKE``), and writes each stage's seconds, its phases where the job
reports them, the load average when it ended and the row counts. ``--stages`` runs some stages only, on a
lake that already has the earlier ones; ``--floor`` also times the plain Spark CSV-to-Parquet copy of the
same files (the ingest floor).

    .venv/bin/python bench/city.py --city CITY --lake LAKE --floor --out bench/results/city.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from stages import csv_copy_floor  # noqa: E402

KEPT = ("seconds", "phase_seconds", "train_rows", "validation", "entities")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--city", type=Path, required=True, help="a simulated city (with raw/ and truth/)")
    ap.add_argument("--lake", type=Path, required=True)
    ap.add_argument("--stages", nargs="*", default=None, help="only these stages (default: all)")
    ap.add_argument("--floor", action="store_true", help="also time the CSV-to-Parquet copy (twice)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "city.json")
    args = ap.parse_args()
    from radar.jobs.pipeline import make_context, run_all

    scenario = json.loads((args.city / "truth" / "scenario.json").read_text(encoding="utf-8"))
    as_of = date.fromisoformat(scenario["as_of"])
    out: dict[str, Any] = json.loads(args.out.read_text(encoding="utf-8")) if args.out.exists() else {}
    out.update({"city": str(args.city), "scale": scenario["scale"], "seed": scenario["seed"],
                "entities": scenario["entity_count"], "as_of": scenario["as_of"]})
    stages = out.setdefault("stages", {})

    def progress(name: str, info: dict[str, Any]) -> None:
        kept = {k: info[k] for k in KEPT if k in info}
        if isinstance(info.get("snapshots"), dict):  # the graph stage's snapshot dates and seconds
            kept["snapshots"] = info["snapshots"]
        stages[name] = kept | {
            "load_average_at_end": round(os.getloadavg()[0], 1),
            "date": datetime.now().strftime("%Y-%m-%d %H:%M"),
        }
        print(name, {k: v for k, v in stages[name].items() if k != "validation"}, flush=True)
        args.out.write_text(json.dumps(out, indent=2, ensure_ascii=False, default=str), encoding="utf-8")

    t0 = time.perf_counter()
    report = run_all(args.city / "raw", as_of, args.lake, stages=args.stages, progress=progress)
    if "ingest" in report["stages"]:
        types = report["stages"]["ingest"]["record_types"].values()
        out["rows_in"] = sum(t["accepted"] + t["quarantined"] for t in types)
        out["rows_per_second_ingest"] = round(out["rows_in"] / report["stages"]["ingest"]["seconds"])
    if args.floor:
        ctx = make_context(args.lake, as_of)
        runs = [csv_copy_floor(ctx.spark, args.city / "raw", args.lake.parent / f"floor-{i}") for i in range(2)]
        out["floor_csv_to_parquet_seconds"] = {"runs": [round(r, 1) for r in runs],
                                               "load_average_at_end": round(os.getloadavg()[0], 1)}
    out["command"] = "bench/city.py " + " ".join(sys.argv[1:])
    out["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    print(f"{time.perf_counter() - t0:.0f}s; written {args.out}")


if __name__ == "__main__":
    main()
